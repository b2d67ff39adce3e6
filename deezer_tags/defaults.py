"""The engine's defaults that more than one place states (the loading script's config, the
CLI, ``Build``, the pipeline, the benchmarks): one home for each."""

API_WORKERS = 16        # Deezer calls in flight
PREVIEW_WORKERS = 8
# Each waits on YouTube (pages, manifest, media: ~1 s a clip) and runs an ffmpeg: at the real
# quota, without a YouTube budget that binds, 2 kept the build at 1.86 x the quota floor on 2
# cores, 4 at 1.08 x; with the calibration beside the build (200 tracks in 2,000) 4 gave
# 1.15-1.22 x, 6 gave 1.09-1.15 x. Under the default budget most of them wait on it.
YOUTUBE_WORKERS = 6
