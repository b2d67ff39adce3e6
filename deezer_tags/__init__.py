"""The engine behind the Deezer Contextual Tags loading script.

The loading script (``deezer_contextual_tags.py``) only wires builder configs to
this package; everything that talks to the network or the disk lives here.
"""

__version__ = "0.1.0"

# The 15 context tags, in the order of the Zenodo CSV's columns.
TAGS = (
    "car", "chill", "club", "dance", "gym", "happy", "night", "party",
    "relax", "running", "sad", "sleep", "summer", "work", "workout",
)


def load_dataset(name: str = "full", cache_dir: str | None = None, **kwargs):
    """The dataset's ``DatasetDict`` (config ``name``: "full", "previews" or "metadata"), built
    if need be, on any datasets line from 3.6 to 5.x: ``load_dataset`` on the loading script
    where datasets runs scripts (3.x), the builder class itself where it does not (4+).
    ``kwargs``: the config's (max_tracks, youtube_budget, ...) and load_dataset's own
    (download_mode, verification_mode, num_proc, streaming, split)."""
    from deezer_tags.direct import load

    return load(name, cache_dir, **kwargs)
