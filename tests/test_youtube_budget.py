"""The YouTube budget (youtube.budget.Pace): the pace every YouTube page request keeps, and
what "try again later" and the bot check do to it. Times are scaled: a window of a fraction
of a second stands for YouTube's hour."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from deezer_tags.errors import UserError, YouTubeBotCheckError
from deezer_tags.testing.requestlog import most_in_any_window
from deezer_tags.youtube import (
    Budget, Pace, PaceState, YouTubeBlocked, YouTubeStopped, YouTubeTimeUp, parse_budget, resolve_budget,
)
from deezer_tags.youtube.budget import BOT_CHECK_PAUSE, DEFAULT_BUDGET, SEARCHES_PER_VIDEO


def test_the_budget_is_written_like_the_quota_and_a_bad_one_is_one_sentence():
    assert parse_budget("250/3600") == Budget(250, 3600.0)
    assert parse_budget(" 5 / 0.5 ") == Budget(5, 0.5)
    assert Budget(250, 3600).searches == SEARCHES_PER_VIDEO * 250
    assert resolve_budget(environ={}) == parse_budget(DEFAULT_BUDGET)
    assert resolve_budget(environ={"DEEZER_TAGS_YOUTUBE_BUDGET": "10/60"}) == Budget(10, 60)
    assert resolve_budget("20/60", environ={"DEEZER_TAGS_YOUTUBE_BUDGET": "10/60"}) == Budget(20, 60)
    for bad in ("250", "0/3600", "250/0", "fast", "-1/60"):
        with pytest.raises(UserError, match=r"youtube_budget=.* is not VIDEOS/SECONDS.*250/3600"):
            parse_budget(bad)


@pytest.mark.parametrize("workers", [1, 8])
def test_requests_never_exceed_the_budget_in_any_window_whatever_the_workers(workers):
    pace = Pace(Budget(5, 0.5))
    answered: list[float] = []
    lock = threading.Lock()

    def request(_: int) -> None:
        with pace.spend("video"):
            time.sleep(0.005)  # YouTube answering
            with lock:
                answered.append(time.monotonic())

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(request, range(25)))
    wall = time.monotonic() - started
    assert most_in_any_window(answered, 0.5) <= 5
    assert wall >= 4 * 0.5 * 0.95  # 25 videos at 5 per 0.5 s: four windows at least
    assert pace.spent == {"video": 25, "search": 0}


def test_searches_have_their_own_pace_of_twice_the_videos():
    pace = Pace(Budget(4, 0.4))
    started = time.monotonic()
    for _ in range(16):
        with pace.spend("search"):
            pass
    searched = time.monotonic() - started
    assert 0.4 * 0.9 <= searched < 0.4 * 3  # 16 searches at 8 per 0.4 s: about two windows
    assert pace.spent["search"] == 16


def test_a_refused_session_halves_the_pace_and_quiet_windows_bring_it_back():
    pace = Pace(Budget(10, 0.2))
    assert pace.seconds_per("video") == pytest.approx(0.02)
    pace.slow_down()
    assert pace.seconds_per("video") == pytest.approx(0.04)
    assert pace.refusals["session_limit"] == 1
    time.sleep(0.25)  # a quiet window
    with pace.spend("video"):
        pass
    assert pace.seconds_per("video") < 0.04


def test_a_bot_check_pauses_every_request_then_they_resume_by_themselves(caplog):
    window = 0.2
    pace = Pace(Budget(100, window))
    pace.bot_check(YouTubeBlocked("Sign in to confirm you're not a bot"))
    started = time.monotonic()
    with pace.spend("search"):
        pass
    waited = time.monotonic() - started
    assert waited >= BOT_CHECK_PAUSE * window * 0.9
    assert pace.refusals["bot_check"] == 1
    said = [r.getMessage() for r in caplog.records]
    assert any("pauses for" in m and "resumes by itself" in m for m in said)
    assert sum("YouTube work resumes" in m for m in said) == 1


def test_bot_checks_in_a_row_double_the_pause_and_past_the_patience_the_run_stops():
    window = 0.05
    pace = Pace(Budget(100, window), patience=0.5)
    pauses = []
    with pytest.raises(YouTubeStopped):
        for _ in range(10):
            started = time.monotonic()
            pace.bot_check(YouTubeBlocked("not a bot"))
            pauses.append(pace.state.pause_windows)
            with pytest.raises(YouTubeBlocked):
                with pace.spend("video"):  # waits out the pause, then meets the bot check again
                    raise YouTubeBlocked("not a bot")
            assert time.monotonic() - started >= pace.state.pause_windows * window * 0.9
    assert pauses[:3] == [BOT_CHECK_PAUSE, 2 * BOT_CHECK_PAUSE, 4 * BOT_CHECK_PAUSE]
    assert isinstance(pace.gave_up, YouTubeBotCheckError)
    assert re.search(r"bot check for .* h: pass a cookies file", str(pace.gave_up))
    with pytest.raises(YouTubeStopped):  # nothing more is asked of YouTube in this run
        with pace.spend("search"):
            pass


def test_an_answer_between_bot_checks_starts_the_pauses_afresh():
    pace = Pace(Budget(100, 0.02))
    pace.bot_check(YouTubeBlocked("not a bot"))
    with pace.spend("video"):
        pass  # answered: the bot check had lifted
    pace.bot_check(YouTubeBlocked("not a bot"))
    assert pace.state.pause_windows == BOT_CHECK_PAUSE


def test_youtube_hours_ends_the_runs_youtube_work_even_during_a_pause():
    pace = Pace(Budget(100, 10.0), deadline=time.monotonic() + 0.3)
    pace.bot_check(YouTubeBlocked("not a bot"))  # a pause of 20 s, cut at the deadline
    started = time.monotonic()
    with pytest.raises(YouTubeTimeUp):
        with pace.spend("video"):
            pass
    assert time.monotonic() - started < 1.0


def test_a_pause_in_force_outlives_the_run_that_met_it():
    first = Pace(Budget(100, 0.2))
    first.bot_check(YouTubeBlocked("not a bot"))
    state = PaceState(**first.state.as_dict())
    resumed = Pace(Budget(100, 0.2), state=state)
    started = time.monotonic()
    with resumed.spend("video"):
        pass
    assert time.monotonic() - started >= 0.2  # what was left of the 0.4 s pause


def test_without_a_budget_a_bot_check_is_raised_at_once():
    pace = Pace(None)
    with pytest.raises(YouTubeBlocked):
        pace.bot_check(YouTubeBlocked("not a bot"))
