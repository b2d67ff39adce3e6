"""The index points of YouTube's DASH files, read from their first bytes."""

from __future__ import annotations

import pytest

from deezer_tags.seekpoints import HEAD_BYTES, seek_points
from deezer_tags.testing import LocalWeb, Scenario, media


@pytest.fixture(scope="module")
def web():
    with LocalWeb(Scenario.from_public_data(seed=1)) as running:
        yield running


@pytest.mark.parametrize("layouts", [("webm", "fragmented"), ("fragmented",), ("faststart",)])
def test_the_points_are_the_files_own_fragments_and_clusters(web, layouts):
    video = next(v for v in web.scenario.videos.values()
                 if tuple(f.layout for f in media.formats_of(v.video_id, web.scenario.seed)) == layouts)
    for fmt in media.formats_of(video.video_id, web.scenario.seed):
        muxed = web.media_file(video.video_id, fmt.itag)
        points = seek_points(muxed.data[:HEAD_BYTES])
        if fmt.layout == "faststart":
            assert points == []  # its tables need no index points: ffmpeg seeks to the sample
            continue
        # Each fragment or cluster starts at a point: the times of the packets that head them
        # (to within Opus's 6.5 ms pre-skip, which the packet times leave out).
        assert points == pytest.approx([muxed.packet_times[g.first_packet] for g in muxed.groups], abs=0.01)
        assert len(points) == pytest.approx(video.duration / 10, abs=1)
        assert seek_points(muxed.data[:muxed.index_range[1]]) == []  # the index cut short: none


def test_bytes_that_are_no_media_file_give_no_points():
    # ... nor does a sidx whose timescale is 0 (its times have no unit).
    zero_timescale = (b"\x00\x00\x00\x10ftypdash\x00\x00\x00\x00"
                      + b"\x00\x00\x00\x2csidx" + bytes(4) + (1).to_bytes(4, "big") + bytes(4) + bytes(8)
                      + (1).to_bytes(4, "big") + bytes(4) + (1000).to_bytes(4, "big") + bytes(4))
    for head in (b"", b"<html>not audio</html>", b"\x00\x00\x00\x18ftyp", b"\x1a\x45\xdf\xa3\x9f",
                 zero_timescale):
        assert seek_points(head) == []
