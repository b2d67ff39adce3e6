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
