"""Building without the loading script, for datasets 4 and later (which run no scripts).

`load_dataset("deezer_contextual_tags.py")` raises "Dataset scripts are no longer supported"
on 4+; the builder class itself works on every line when code makes it. Its Arrow cache is
then `<cache_dir>/deezer_contextual_tags/<config>[-<suffix>]/<version>/`, without the
script-hash level that 3.x's script loading adds (export.find_built reads both).
"""

from __future__ import annotations


def build(config: str, cache_dir: str | None, download_mode: str | None = None, **config_kwargs):
    """Build `config` with the installed builder class, as `load_dataset` on the script would,
    and return its DatasetDict."""
    import deezer_contextual_tags

    builder = deezer_contextual_tags.DeezerContextualTags(config_name=config, cache_dir=cache_dir, **config_kwargs)
    builder.download_and_prepare(download_mode=download_mode)
    return builder.as_dataset()
