"""One recording sounds the same wherever the local web plays it, and another does not.

A track's preview is a 30.72 s excerpt of its recording; the video of that recording plays
it from second 0, so the preview's sound is found in the video's at the preview's offset.
Audio is compared as the acoustic check of a real build would: decoded by ffmpeg, turned
into chroma, and the Pearson correlation of the preview's chroma with the video's taken at
every offset.
"""

from __future__ import annotations

import io
import json
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import requests
import soundfile

from deezer_tags.testing import LocalWeb, Scenario, media, read_public
from deezer_tags.testing.audio import PREVIEW_SECONDS, preview_mp3, render_mp3
from deezer_tags.testing.scenario import preview_offset, track_duration, video_id_of

RATE, HOP = 11_025, 512  # mono at 11 kHz, a chroma frame every 46 ms
FRAMES_PER_SECOND = RATE / HOP
SHARED = (79472617, 81768058)  # the id map names NMg2mhqJR8g for both
SHARED_VIDEO = "NMg2mhqJR8g"
OTHER, OTHER_VIDEO = 552402, "Lrle0x_DHBM"  # another recording


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    youtube_map = json.loads(read_public("seed-repo/id_to_url.json"))
    ids = [*SHARED, OTHER, *map(int, list(youtube_map)[:80])]
    return Scenario.from_public_data(track_ids=ids, live_take_fraction=0.2)


@pytest.fixture(scope="module")
def web(scenario):
    with LocalWeb(scenario, quota=10_000, window=1.0) as running:
        yield running


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


def decode(data: bytes) -> np.ndarray:
    """Mono float samples at RATE; ffmpeg must report no error while decoding."""
    done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", "pipe:0",
                           "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
                          input=data, capture_output=True, check=True, timeout=120)
    assert done.stderr == b"", done.stderr.decode(errors="replace")
    return np.frombuffer(done.stdout, "<f4")


def chroma(samples: np.ndarray) -> np.ndarray:
    import librosa  # noqa: PLC0415 - slow to import; only these tests need it

    return librosa.feature.chroma_stft(y=np.ascontiguousarray(samples), sr=RATE, n_fft=2048, hop_length=HOP)


def scores(preview: np.ndarray, video: np.ndarray) -> np.ndarray:
    """The Pearson correlation of the preview's chroma (12 x L) with each 12 x L window of
    the video's, by the window's first frame."""
    length = preview.shape[1]
    centred = preview - preview.mean()
    centred /= np.linalg.norm(centred)
    windows = np.lib.stride_tricks.sliding_window_view(video, length, axis=1)
    dots = np.einsum("bl,btl->t", centred, windows)
    sums = np.concatenate([[0.0], np.cumsum(video.sum(axis=0))])
    squares = np.concatenate([[0.0], np.cumsum((video ** 2).sum(axis=0))])
    window_sum, window_square = sums[length:] - sums[:-length], squares[length:] - squares[:-length]
    return dots / np.sqrt(np.maximum(window_square - window_sum ** 2 / preview.size, 1e-12))


def at(found: np.ndarray, seconds: float) -> float:
    """The score at ``seconds`` into the video (the best of the nearest two frames)."""
    k = min(int(seconds * FRAMES_PER_SECOND), len(found) - 2)  # a video may end before its recording
    return float(found[k:k + 2].max())


def preview_of(web: LocalWeb, http: requests.Session, track_id: int) -> bytes:
    body = http.get(f"{web.base_url}/deezer/track/{track_id}", timeout=10).json()
    data = http.get(body["preview"], timeout=10).content
    samples, rate = soundfile.read(io.BytesIO(data))
    assert (len(samples), rate) == (round(PREVIEW_SECONDS * 44_100), 44_100)  # exact, no decoding error
    return data


def media_of(web: LocalWeb, http: requests.Session, video_id: str, itag: int) -> bytes:
    response = http.get(web.media_url(video_id, itag), timeout=30)
    assert response.status_code == 200
    return response.content


def test_a_preview_is_heard_in_its_video_at_its_offset_in_both_formats(web, http, scenario):
    video = next(  # a master of a track, holding all of its preview, with both formats
        v for v in scenario.videos.values()
        if v.track_id in scenario.tracks and v.take == "master" and v.video_id != OTHER_VIDEO
        and v.duration >= scenario.recording_seconds(v.track_id)
        and [f.itag for f in media.formats_of(v.video_id, scenario.seed)] == [251, 140])
    tid = video.track_id
    key, seconds, offset = scenario.preview_excerpt(tid)
    assert key == scenario.video_recording(video) == f"track:{tid}" and seconds == scenario.tracks[tid].duration
    assert 0 <= offset <= seconds - PREVIEW_SECONDS and offset == scenario.preview_offset(tid)
    preview = chroma(decode(preview_of(web, http, tid)))
    other = scenario.videos[OTHER_VIDEO]
    for itag in (251, 140):
        found = scores(preview, chroma(decode(media_of(web, http, video.video_id, itag))))
        assert abs(len(found) / FRAMES_PER_SECOND - (video.duration - PREVIEW_SECONDS)) < 1
        assert at(found, offset) > 0.8, itag
        assert abs(int(np.argmax(found)) / FRAMES_PER_SECOND - offset) < 0.1, itag  # found where it was cut
        wrong = offset + 10 if offset + 10 < len(found) / FRAMES_PER_SECOND else offset - 10
        assert at(found, wrong) < 0.3, itag
        elsewhere = scores(preview, chroma(decode(media_of(web, http, other.video_id, itag))))
        assert elsewhere.max() < 0.5, itag  # another recording: nowhere


def test_a_live_take_looks_like_the_song_but_does_not_sound_like_its_preview(web, http, scenario):
    youtube_map = json.loads(scenario.files["youtube_map"])
    live = [v for v in scenario.videos.values() if v.take == "live" and v.track_id in scenario.tracks]
    assert live and all(v.video_id in scenario.live_take_ids and not v.wrong for v in live)
    live = [v for v in live if v.duration >= scenario.recording_seconds(v.track_id)]  # holding all the preview
    video = live[0]
    track = scenario.tracks[video.track_id]
    # What a title/duration matcher sees: the song's title and about its duration.
    assert video.title == youtube_map[str(track.id)]["title"] and abs(video.duration - track.duration) <= 2
    page = http.get(web.config_kwargs()["youtube_watch_url"].format(video_id=video.video_id), timeout=10)
    assert page.status_code == 200 and video.title.split(" - ")[-1].split(" (")[0] in page.text
    assert scenario.video_recording(video) == f"live:{scenario.recording_of(track.id)}"
    _, _, offset = scenario.preview_excerpt(track.id)
    preview = chroma(decode(preview_of(web, http, track.id)))
    itag = media.formats_of(video.video_id, scenario.seed)[0].itag
    found = scores(preview, chroma(decode(media_of(web, http, video.video_id, itag))))
    # The master, as the same video would carry it, against the live take.
    master = media.media_file(video.video_id, video.duration, media.format_of(video.video_id, itag, scenario.seed),
                              scenario.recording_of(track.id))
    expected = scores(preview, chroma(decode(master.data)))
    assert at(expected, offset) > 0.8
    assert found.max() < 0.65 and found.max() < at(expected, offset) - 0.3


def test_tracks_naming_one_video_have_previews_cut_from_one_recording(web, http, scenario):
    first, second = SHARED
    assert scenario.videos[SHARED_VIDEO].track_id == first
    assert scenario.recording_of(first) == scenario.recording_of(second) == f"track:{first}"
    assert scenario.recording_seconds(second) == scenario.tracks[first].duration != scenario.tracks[second].duration
    key, seconds, _ = scenario.preview_excerpt(first)
    whole = chroma(decode(render_mp3(media.plan(key, seconds), seconds, "the master")))
    a, b = (preview_of(web, http, t) for t in SHARED)
    assert a != b
    for tid, data in zip(SHARED, (a, b), strict=True):
        found = scores(chroma(decode(data)), whole)
        assert at(found, scenario.preview_excerpt(tid)[2]) > 0.9, tid
    assert scores(chroma(decode(preview_of(web, http, OTHER))), whole).max() < 0.5


# -- the pure parts -------------------------------------------------------------------------

def test_an_excerpt_is_the_plan_from_an_offset():
    pieces = media.plan("track:1", 200)
    assert abs(sum(p[2] for p in pieces) - 200) < 1e-9
    cut = media.excerpt(pieces, 37.5, PREVIEW_SECONDS)
    assert abs(sum(p[2] for p in cut) - PREVIEW_SECONDS) < 1e-9
    ends = np.cumsum([p[2] for p in pieces])
    i = int(np.searchsorted(ends, 37.5, side="right"))  # the piece playing at 37.5 s
    sound, start, length = pieces[i]
    head = 37.5 - (ends[i] - length)
    assert cut[0] == pytest.approx((sound, start + head, length - head))
    assert cut[1:-1] == pieces[i + 1:i + len(cut) - 1]
    assert cut[-1][:2] == pieces[i + len(cut) - 1][:2]
    assert media.excerpt(pieces, 0, 200) == pieces
    shorter = media.plan("track:1", 150)
    assert shorter[:-1] == pieces[:len(shorter) - 1]  # prefix-stable


def test_a_live_plan_replays_the_masters_sounds_in_another_timing():
    master = media.plan("track:1", 300)
    live = media.live_plan("track:1", 240)
    assert abs(sum(p[2] for p in live) - 240) < 1e-9 and live == media.live_plan("track:1", 240)
    assert media.recording("live:track:1", 240) == live and media.recording("track:1", 300) == master
    for (sound, start, length), (m_sound, m_start, m_length) in zip(live[:-1], master, strict=False):
        assert sound == m_sound
        assert 0.8 * m_length - 1e-9 <= length <= 1.2 * m_length + 1e-9
        assert abs(start - m_start) <= 1.0 + 1e-9 and 0 <= start <= PREVIEW_SECONDS - length + 1e-9
    assert [p[2] for p in live[:5]] != [p[2] for p in master[:5]]


def test_preview_offsets_leave_room_for_the_preview_and_are_seeded():
    offsets = [preview_offset(0, t, 200) for t in range(300)]
    assert all(0 <= o <= 200 - PREVIEW_SECONDS for o in offsets)
    assert max(offsets) > 150 and min(offsets) < 20 and offsets == [preview_offset(0, t, 200) for t in range(300)]
    assert offsets != [preview_offset(1, t, 200) for t in range(300)]
    assert preview_offset(0, 5, 20) == 0.0  # shorter than a preview: from the start


def test_preview_bytes_follow_the_excerpt(scenario):
    tid = SHARED[1]
    data = preview_mp3(tid, *scenario.preview_excerpt(tid))
    assert data == preview_mp3(tid, *scenario.preview_excerpt(tid))
    key, seconds, offset = scenario.preview_excerpt(tid)
    assert data != preview_mp3(tid, key, seconds, offset + 5)
    assert b"deezer track %d" % tid in data[:200]


def test_which_recording_a_video_carries():
    scenario = Scenario.from_public_data(track_ids=[OTHER])
    youtube_map = json.loads(scenario.files["youtube_map"])
    named: dict[str, int] = {}
    for key, entry in youtube_map.items():
        named.setdefault(video_id_of(entry["url"]), int(key))
    for key, entry in list(youtube_map.items())[:3000]:
        assert scenario.recording_of(int(key)) == f"track:{named[video_id_of(entry['url'])]}"
        assert scenario.recording_seconds(int(key)) == track_duration(scenario.seed, named[video_id_of(entry["url"])])
    assert scenario.recording_of(123) == "track:123"  # not in the map: its own
    wrong = scenario.add_video("zzzzzzzzzz2", "Full Album", 3000, track_id=OTHER, wrong=True)
    unrelated = scenario.add_video("zzzzzzzzzz3", "Something Else", 200)
    assert scenario.video_recording(wrong) == "video:zzzzzzzzzz2"
    assert scenario.video_recording(unrelated) == "video:zzzzzzzzzz3"
    with pytest.raises(ValueError):
        scenario.add_video("zzzzzzzzzz4", "x", 200, take="bootleg")


def test_live_takes_are_seeded_exact_and_apart_from_wrong_videos():
    a = Scenario.from_public_data(track_ids=[], wrong_video_fraction=0.1, live_take_fraction=0.05)
    b = Scenario.from_public_data(track_ids=[], wrong_video_fraction=0.1, live_take_fraction=0.05)
    none = Scenario.from_public_data(track_ids=[], wrong_video_fraction=0.1)
    assert a.live_take_ids == b.live_take_ids and len(a.live_take_ids) == round(0.05 * len(a.videos))
    assert {v.video_id for v in a.videos.values() if v.take == "live"} == a.live_take_ids
    assert not any(a.videos[v].wrong for v in a.live_take_ids)
    assert {v for v in a.videos if a.videos[v].wrong} == {v for v in none.videos if none.videos[v].wrong}
    assert not none.live_take_ids
    with pytest.raises(ValueError):
        Scenario.from_public_data(track_ids=[], wrong_video_fraction=0.5, live_take_fraction=0.6)


def test_an_art_track_carries_its_tracks_master():
    scenario = Scenario.from_public_data(track_ids=list(SHARED), art_track_fraction=1.0)
    art = scenario.art_tracks()
    assert {scenario.video_recording(v) for v in art} == {f"track:{SHARED[0]}"}
