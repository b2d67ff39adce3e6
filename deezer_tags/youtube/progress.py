"""The YouTube stream's progress as a running build tells it: its pace, what it spent and what
YouTube refused, the tracks left and an ETA from the budget. The pipeline keeps it in the
manifest (``info``), where `deezer-tags status` reads it from another process and the next
run finds the pace and any pause in force."""

from __future__ import annotations

import time

from deezer_tags.youtube.budget import Pace, PaceState, duration

EVERY = 5.0  # seconds between two records (and at the run's end)


class YouTubeProgress:
    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self._said_at = float("-inf")
        self.record: dict = {}

    def update(self, tracks_left: int, settled: dict[str, int], *, final: bool = False) -> dict | None:
        """The record to keep now (None: too soon after the last)."""
        now = time.monotonic()
        pace = self.pace
        changed = pace.state.as_dict() != self.record.get("pace_state")  # a pause is told at once
        if not final and not changed and now - self._said_at < EVERY:
            return None
        self._said_at = now
        done = sum(settled.values())
        videos_per_track = pace.spent["video"] / done if done else None
        seconds = pace.seconds_per("video")
        eta = None
        if seconds is not None:
            eta = round(tracks_left * (videos_per_track or 1.0) * seconds
                        + max(0.0, pace.state.pause_until - time.time()), 1)
        self.record = {
            "budget": str(pace.budget) if pace.budget else None,
            "seconds_per_video": None if seconds is None else round(seconds, 3),
            "spent": dict(pace.spent),
            "refusals": dict(pace.refusals),
            "tracks_left": tracks_left,
            "settled_this_run": dict(settled),
            "eta_seconds": eta,
            "updated_at": time.time(),
            "running": not final,
            "pace_state": pace.state.as_dict(),
        }
        return self.record

    def line(self) -> str:
        """The bar's postfix: the pace, or the pause, and the ETA."""
        record = self.record
        if not record or record["seconds_per_video"] is None:
            return ""
        paused = record["pace_state"]["pause_until"] - time.time()
        head = (f"paused {duration(paused)} (bot check)" if paused > 0
                else f"{record['seconds_per_video']:.1f} s/video")
        return head + (f", ETA {duration(record['eta_seconds'])}" if record["eta_seconds"] is not None else "")


def pace_state_of(record: dict | None) -> PaceState | None:
    """The pace a previous run left (None when there is none)."""
    state = (record or {}).get("pace_state")
    if not isinstance(state, dict):
        return None
    try:
        return PaceState(**state)
    except TypeError:
        return None
