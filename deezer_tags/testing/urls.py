"""The local web's URL layout: production's paths under one local base URL per service."""

ZENODO_PREFIX = "/zenodo/"
ZENODO_MATRIX = "/zenodo/records/3648287/files/Context_tags_dataset.csv"

GITHUB_PREFIX = "/github/"
SPLITS_DIR = "/github/KarimMibrahim/context_classification_cnn/a94aad918b8cbca6ee674e673a8b2cbb1949d456/GroundTruth/"
YOUTUBE_MAP = "/github/SeungHeonDoh/deezer_contextual_tag/0941ed22784c3d389cac2b96d2c139d945c68fdd/dataset/id_to_url.json"

API_PREFIX = "/deezer/"
TRACK_PREFIX = "/deezer/track/"
CDN_PREFIX = "/cdn/stream/"
WATCH_PATH = "/youtube/watch"
SEARCH_PATH = "/youtube/results"  # ?search_query=...&n=...: an RSS feed of watch URLs
MUSIC_SEARCH_PATH = "/youtube/music/search"  # ?q=...: YouTube Music's song search, an RSS feed
MEDIA_PREFIX = "/media/"

# Served path -> Scenario.files key.
FILE_PATHS = {
    ZENODO_MATRIX: "annotation",
    SPLITS_DIR + "train_ground_truth.csv": "train",
    SPLITS_DIR + "validation_ground_truth.csv": "validation",
    SPLITS_DIR + "test_ground_truth.csv": "test",
    SPLITS_DIR + "ground_truth_folds.csv": "folds",
    YOUTUBE_MAP: "youtube_map",
}

YOUTUBE_HOSTS = "youtube.com,www.youtube.com,m.youtube.com,music.youtube.com,youtu.be"


def engine_config(base: str) -> dict[str, str]:
    """The engine's endpoint settings (builder kwargs) that point it at a local web on ``base``."""
    return {
        "zenodo_url": base + ZENODO_MATRIX,
        "splits_url": base + SPLITS_DIR,
        "youtube_map_url": base + YOUTUBE_MAP,
        "api_url": base + API_PREFIX.rstrip("/"),
        "preview_hosts": "127.0.0.1",
        "youtube_hosts": YOUTUBE_HOSTS,
        "youtube_watch_url": base + WATCH_PATH + "?v={video_id}",
        "media_hosts": "127.0.0.1",
        "youtube_search_url": base + SEARCH_PATH + "?search_query={query}",
        "youtube_music_search_url": base + MUSIC_SEARCH_PATH + "?q={query}",
    }
