"""What a build may touch: only the configured hosts, only the cache dir, never a shell,
and the user's YouTube cookies never written anywhere. (Hostile id-map entries and
off-CDN preview URLs are in test_bad_inputs.py.)"""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from deezer_tags.testing import LocalWeb, Scenario

from conftest import FAST_QUOTA

PACKAGE = Path(__file__).resolve().parents[1] / "deezer_tags"
SECRET = "SIDsecret0123456789abcdef"
COOKIES = ("# Netscape HTTP Cookie File\n"
           f".youtube.com\tTRUE\t/\tTRUE\t2147483647\tSID\t{SECRET}\n"
           f".127.0.0.1\tTRUE\t/\tFALSE\t2147483647\tHSID\t{SECRET}\n")
# A stand-in ffmpeg first on PATH: it writes down its arguments, then runs the real one.
FFMPEG_SPY = """#!{python}
import json, os, sys
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""
SERVICE_PREFIXES = ("/zenodo/", "/github/", "/deezer/", "/cdn/", "/youtube/", "/media/")


def test_a_full_build_contacts_only_the_services_and_keeps_the_cookies_to_itself(tmp_path):
    import imageio_ffmpeg

    spy_dir, calls = tmp_path / "bin", tmp_path / "ffmpeg-calls.jsonl"
    spy_dir.mkdir()
    spy = spy_dir / "ffmpeg"
    spy.write_text(FFMPEG_SPY.format(python=sys.executable, log=str(calls), real=imageio_ffmpeg.get_ffmpeg_exe()))
    spy.chmod(spy.stat().st_mode | stat.S_IXUSR)
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(COOKIES)
    cache, temp = tmp_path / "cache", tmp_path / "tmp"
    temp.mkdir()

    scenario = Scenario.from_public_data(no_preview_fraction=0.3, previewless_in_map=True, seed=2)
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        env = {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{web.quota}/{web.window}",
               "PATH": f"{spy_dir}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(temp)}
        result = subprocess.run(
            [sys.executable, "-m", "deezer_tags", "build", "--config", "full", "--max-tracks", "40",
             "--cache-dir", str(cache), "--youtube-cookies", str(cookies)],
            capture_output=True, text=True, env=env, timeout=300)
        served = web.requests
        base = urlsplit(web.base_url)
    assert result.returncode == 0, result.stderr

    # Every request the local web saw was for one of its services.
    assert served and all(r.path.startswith(SERVICE_PREFIXES) for r in served), \
        sorted({r.path for r in served if not r.path.startswith(SERVICE_PREFIXES)})
    # ffmpeg ran (a quarter of the tracks have no preview), each time on the loopback relay
    # (which fetched from /media/ only, as the log above shows), handed as one argument,
    # never through a shell, and with no headers: the cookies stay with the relay.
    calls_made = [json.loads(line) for line in calls.read_text().splitlines()]
    # Besides the cuts, only the report's version probe (build_report.json's provenance).
    assert ["-version"] in calls_made
    runs = [args for args in calls_made if args != ["-version"]]
    assert runs, "no YouTube clip was cut: the spy saw nothing"
    assert any(r.path.startswith("/media/") for r in served)
    for args in runs:
        url = urlsplit(args[args.index("-i") + 1])
        assert (url.scheme, url.hostname) == ("http", "127.0.0.1") and url.port != base.port, args
        assert "-headers" not in args, args

    # The cookies' secret is nowhere: not in the output, not in any file of the cache
    # (manifest, reports, Arrow files), not left in the temp dir.
    assert SECRET not in result.stdout + result.stderr
    leaks = [p for p in cache.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []
    assert list(temp.rglob("*")) == [], "the build left files in the temp dir"
    # Everything the build wrote is inside the cache dir, as real files.
    work = (cache / "deezer_tags").resolve()
    audio = list((work / "audio").iterdir())
    assert audio and all(p.resolve().parent == work / "audio" and not p.is_symlink() for p in audio)


def test_no_module_starts_a_shell():
    """subprocess with shell=True, os.system, os.popen: none, anywhere in the package."""
    offences = []
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            if name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
                offences.append(f"{source.name}:{node.lineno} {name}")
            for keyword in node.keywords:
                if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value):
                    offences.append(f"{source.name}:{node.lineno} shell=")
    assert offences == []
