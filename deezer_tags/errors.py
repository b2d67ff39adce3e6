"""Errors a user can act on. Each message says what happened and what to do, in one sentence."""


class UserError(Exception):
    """Base for errors the CLI prints as one sentence instead of a traceback."""


class ChecksumMismatchError(UserError):
    pass


class MalformedSourceError(UserError):
    pass


class QuotaExhaustedError(UserError):
    pass


class BuildLockedError(UserError):
    pass


class BadTrackSelectionError(UserError):
    pass
