"""Is a video the preview's recording? Find the 30 s preview inside the video's audio and
score how alike they are there.

Both are decoded by ffmpeg to mono at 11,025 Hz and turned into a log-mel spectrogram:
the loudness of 48 bands up to 5 kHz every 23 ms. The preview's spectrogram slides along
the video's; at each offset the score is their correlation, each band centred on its own
mean over the 30 s (so a louder or differently equalised upload scores the same: EQ and
gain are a constant per band in the log domain). The best offset is where the preview sits
in the video, and its score says whether it is the same recording:
- the same master, however encoded (Deezer's MP3, YouTube's AAC or Opus), lines up frame
  by frame for the whole 30 s: the score is high;
- another take of the song (live, re-recorded) plays the same notes with another timing
  and another sound, so it lines up for a moment at best; another song not at all: low.
Not chroma: chroma is made to see the same song in any performance (it finds covers),
which is the question the matcher already answers; this one is "the same recording?".
The threshold between the two (SAME_RECORDING) is justified in the README from the
scores measured on the local web.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 11_025       # Hz, mono: nothing above 5 kHz is compared
N_FFT = 1024        # 93 ms windows
HOP = 256           # 23 ms between frames
BANDS = 48          # mel bands ...
TOP_HZ = 5000       # ... up to this
SAME_RECORDING = 0.75  # at or above: the same recording. The middle of the gap measured on the local web (README)
FEATURES = f"log-mel, {BANDS} bands to {TOP_HZ} Hz, every {HOP / RATE * 1000:.0f} ms, per-band centred correlation"
MIN_OVERLAP = 10.0  # seconds of the preview that must lie inside the video to be compared
# Seconds the preview may hang over the video's start or end: an upload may be trimmed (a
# fade cut short, a second of silence dropped) while the preview runs to the recording's end.
OVERHANG = 5.0


class DecodeFailed(Exception):
    """ffmpeg could not decode the audio (its message, shortened)."""


@dataclass(frozen=True)
class Match:
    score: float          # Pearson correlation at the best offset, -1 to 1
    offset: float         # seconds into the video where the preview starts
    compared: float       # seconds of the preview compared (all of it, unless the video is shorter)

    @property
    def same(self) -> bool:
        return self.score >= SAME_RECORDING


def decode(source: str | Path, *, exe: str, timeout: float = 180.0,
           extra_input_args: tuple[str, ...] = ()) -> np.ndarray:
    """The audio of ``source`` (a file or a URL ffmpeg reads) as mono float32 at RATE."""
    args = [exe, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", *extra_input_args,
            "-i", str(source), "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DecodeFailed(f"ffmpeg took more than {timeout:.0f} s to decode") from None
    if done.returncode != 0 or not done.stdout:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DecodeFailed((said[-1] if said else f"ffmpeg exited with {done.returncode}")[:300])
    return np.frombuffer(done.stdout, dtype="<f4")


def spectrogram(samples: np.ndarray) -> np.ndarray:
    """BANDS x frames log-mel spectrogram of mono samples at RATE."""
    import librosa  # noqa: PLC0415 - only a build that calibrates pays for importing it

    if len(samples) < N_FFT:
        samples = np.pad(samples, (0, N_FFT - len(samples)))
    power = librosa.feature.melspectrogram(y=np.ascontiguousarray(samples, dtype=np.float32), sr=RATE,
                                           n_fft=N_FFT, hop_length=HOP, n_mels=BANDS, fmax=TOP_HZ)
    return np.log(power + 1e-6)


def best_match(preview: np.ndarray, video: np.ndarray) -> Match:
    """Where the preview's spectrogram (bands x L) best lines up in the video's (bands x M),
    and how well: every offset where the preview lies inside the video, and those where it
    hangs over either end by up to OVERHANG (scored on the overlap). A video shorter than the
    preview is slid along the preview instead."""
    seconds_per_frame = HOP / RATE
    flipped = video.shape[1] < preview.shape[1]
    needle, haystack = (video, preview) if flipped else (preview, video)
    length, room = needle.shape[1], haystack.shape[1]
    if length * seconds_per_frame < MIN_OVERLAP:
        return Match(0.0, 0.0, round(length * seconds_per_frame, 2))
    scores = _inside(needle, haystack)
    best = int(np.argmax(scores))
    found = (float(scores[best]), best, length)
    hang = min(int(OVERHANG / seconds_per_frame), length - int(MIN_OVERLAP / seconds_per_frame))
    for cut in range(1, max(hang, 0) + 1):
        kept = length - cut
        for lag, part, window in ((-cut, needle[:, cut:], haystack[:, :kept]),
                                  (room - kept, needle[:, :kept], haystack[:, room - kept:])):
            score = _correlation(part, window)
            if score > found[0]:
                found = (score, lag, kept)
    score, lag, compared = found
    offset = -lag if flipped else lag
    return Match(round(score, 4), round(offset * seconds_per_frame, 2), round(compared * seconds_per_frame, 2))


def _inside(needle: np.ndarray, haystack: np.ndarray) -> np.ndarray:
    """The correlation at every offset where the needle lies wholly inside the haystack,
    each band centred on its own mean over the window."""
    from scipy.signal import fftconvolve  # noqa: PLC0415 - scipy comes with librosa

    length = needle.shape[1]
    centred = needle - needle.mean(axis=1, keepdims=True)
    centred /= np.linalg.norm(centred) or 1.0
    # Each band of the needle sums to 0, so the window's own band means drop out of the dot.
    dots = fftconvolve(haystack, centred[:, ::-1], mode="valid", axes=1).sum(axis=0)
    zero = np.zeros((haystack.shape[0], 1))
    sums = np.concatenate([zero, np.cumsum(haystack, axis=1)], axis=1)
    squares = np.concatenate([zero, np.cumsum(haystack ** 2, axis=1)], axis=1)
    window_sum = sums[:, length:] - sums[:, :-length]
    window_square = squares[:, length:] - squares[:, :-length]
    spread = np.sqrt(np.maximum((window_square - window_sum ** 2 / length).sum(axis=0), 1e-12))
    return dots / spread


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-12))


def compare(preview_samples: np.ndarray, video_samples: np.ndarray) -> Match:
    return best_match(spectrogram(preview_samples), spectrogram(video_samples))
