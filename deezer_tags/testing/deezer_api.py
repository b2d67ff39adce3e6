"""Deezer API bodies, shaped like the recorded real ones (deezer-api-recorded/ cassettes).

Same keys in the same order, same nesting, same JSON types, and PHP's escaped slashes.
Links and pictures point at the real Deezer hosts: clients only display them.
"""

from __future__ import annotations

import hashlib
import json

from .scenario import TrackSpec

NO_DATA = b'{"error":{"type":"DataException","message":"no data","code":800}}'
QUOTA_EXCEEDED = b'{"error":{"type":"Exception","message":"Quota limit exceeded","code":4}}'
CONTENT_TYPE = "application/json; charset=utf-8"

# The recorded track's available_countries.
_COUNTRIES = (
    "AE AF AG AI AL AM AO AQ AR AS AT AU AZ BA BB BD BE BF BG BH BI BJ BN BO BQ BR BT BV BW BY CA CC "
    "CD CF CG CH CI CK CL CM CN CO CR CV CW CX CY CZ DE DJ DK DM DZ EC EE EG EH ER ES ET FI FJ FK FM "
    "FR GA GB GD GE GH GM GN GQ GR GS GT GU GW HK HM HN HR HU ID IE IL IN IO IQ IS IT JM JO JP KE KG "
    "KH KI KM KN KR KW KY KZ LA LB LC LK LR LS LT LU LV LY MA MD ME MG MH MK ML MM MN MP MR MS MT MU "
    "MV MW MX MY MZ NA NE NF NG NI NL NO NP NR NU NZ OM PA PE PG PH PK PL PN PS PT PW PY QA RO RS RU "
    "RW SA SB SC SD SE SG SI SJ SK SL SN SO SS ST SV SX SY SZ TC TD TG TH TJ TK TL TM TN TO TR TV TW "
    "TZ UA UG US UY UZ VC VE VG VI VN VU WS YE ZA ZM ZW"
).split()

_IMAGES = "https://e-cdns-images.dzcdn.net/images"
_SIZES = (("small", "56x56"), ("medium", "250x250"), ("big", "500x500"), ("xl", "1000x1000"))


def _share(kind: str, item_id: int, now: int) -> str:
    return f"https://www.deezer.com/{kind}/{item_id}?utm_source=deezer&utm_content={kind}-{item_id}&utm_term=0_{now}&utm_medium=web"


def _pictures(prefix: str, kind: str, item_id: int) -> dict[str, str]:
    md5 = hashlib.md5(f"{kind}:{item_id}".encode()).hexdigest()
    return {f"{prefix}_{name}": f"{_IMAGES}/{kind}/{md5}/{size}-000000-80-0-0.jpg" for name, size in _SIZES}


def _artist(track: TrackSpec, now: int, english: bool) -> dict[str, object]:
    aid = track.artist_id
    return {
        "id": aid,
        "name": track.artist_name if english or not track.artist_name_localized else track.artist_name_localized,
        "link": f"https://www.deezer.com/artist/{aid}",
        "share": _share("artist", aid, now),
        "picture": f"https://api.deezer.com/artist/{aid}/image",
        **_pictures("picture", "artist", aid),
        "radio": True,
        "tracklist": f"https://api.deezer.com/artist/{aid}/top?limit=50",
        "type": "artist",
    }


def _album(track: TrackSpec) -> dict[str, object]:
    alb = track.album_id
    return {
        "id": alb,
        "title": track.album_title,
        "link": f"https://www.deezer.com/album/{alb}",
        "cover": f"https://api.deezer.com/album/{alb}/image",
        **_pictures("cover", "cover", alb),
        "release_date": track.release_date,
        "tracklist": f"https://api.deezer.com/album/{alb}/tracks",
        "type": "album",
    }


def track_body(track: TrackSpec, preview_url: str, now: int, *, english: bool = True) -> bytes:
    """The /track/{id} body; ``preview_url`` is "" for a track without a preview. Unless
    ``english`` (the caller sent Accept-Language: en), names come localized, as Deezer
    gives them by the caller's IP (see scenario.LOCALIZED_ARTIST_PERCENT)."""
    tid = track.id
    artist = _artist(track, now, english)
    body = {
        "id": tid,
        "readable": track.readable,
        "title": track.title,
        "title_short": track.title_short,
        "title_version": track.title_version,
        "isrc": track.isrc,
        "link": f"https://www.deezer.com/track/{tid}",
        "share": _share("track", tid, now),
        "duration": track.duration,
        "track_position": track.track_position,
        "disk_number": 1,
        "rank": track.rank,
        "release_date": track.release_date,
        "explicit_lyrics": False,
        "explicit_content_lyrics": 0,
        "explicit_content_cover": 0,
        "preview": preview_url,
        "bpm": track.bpm,
        "gain": track.gain,
        "available_countries": _COUNTRIES,
        "contributors": [{**artist, "role": "Main"}],
        "artist": artist,
        "album": _album(track),
        "type": "track",
    }
    # PHP's json_encode defaults: \uXXXX escapes and escaped slashes.
    return json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode()
