"""Building without the loading script, for datasets 4 and later (which run no scripts).

`load_dataset("deezer_contextual_tags.py")` raises "Dataset scripts are no longer supported"
on 4+; the builder class itself works on every line when code makes it. Its Arrow cache is
then `<cache_dir>/deezer_contextual_tags/<config>[-<suffix>]/<version>/`, without the
script-hash level that 3.x's script loading adds (export.find_built reads both).
"""

from __future__ import annotations

# load_dataset's own arguments, as opposed to the config's kwargs (endpoints, max_tracks, ...).
LOAD_ARGUMENTS = ("download_mode", "verification_mode", "num_proc", "streaming", "split", "download_config")


def load(config: str, cache_dir: str | None = None, **kwargs):
    """`load_dataset` on the installed loading script on datasets 3.x, as a user would call it;
    on 4+, the same through the builder class (`build`)."""
    import datasets

    from deezer_tags.features import RUNS_SCRIPTS

    if RUNS_SCRIPTS:
        import deezer_contextual_tags

        return datasets.load_dataset(deezer_contextual_tags.__file__, config, cache_dir=cache_dir,
                                     trust_remote_code=True, **kwargs)
    return build(config, cache_dir, **kwargs)


def build(config: str, cache_dir: str | None = None, **kwargs):
    """Build `config` with the installed builder class, as `load_dataset` on the script would
    (its arguments in LOAD_ARGUMENTS are honoured), and return what it returns."""
    import deezer_contextual_tags

    args = {name: kwargs.pop(name) for name in LOAD_ARGUMENTS if name in kwargs}
    builder = deezer_contextual_tags.DeezerContextualTags(config_name=config, cache_dir=cache_dir, **kwargs)
    if args.get("streaming"):
        return builder.as_streaming_dataset(split=args.get("split"))
    builder.download_and_prepare(download_mode=args.get("download_mode"),
                                 verification_mode=args.get("verification_mode"),
                                 download_config=args.get("download_config"), num_proc=args.get("num_proc"))
    return builder.as_dataset(split=args.get("split"))
