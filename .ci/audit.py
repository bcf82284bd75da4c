"""pip-audit over a lock file, where its vulnerability data is reachable.

Usage: ``python .ci/audit.py requirements-dev.txt [--osv-url URL]`` (``make audit``).

pip-audit reads advisories from PyPI's JSON API, one request per pinned release
(``https://pypi.org/pypi/NAME/VERSION/json``), or from OSV (``api.osv.dev``). A
network may serve PyPI's package index (so installs work) and not those, and
then every package would fail to audit. So one pinned release of the lock is
asked for first, from each service in turn: the audit runs against the first
that answers as pip-audit expects, and fails when it finds a vulnerability; when
neither answers, it is skipped with a message naming what was tried and what
came back, and the exit status is 0. ``--osv-url`` names an OSV service of your
own (a mirror inside a closed network): then only that one is asked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)
_OSV_URL = "https://api.osv.dev/v1/query"
_TIMEOUT_S = 10


def _first_pin(lock: Path) -> tuple[str, str]:
    found = _PIN.search(lock.read_text(encoding="utf-8"))
    if found is None:
        sys.exit(f"audit: no name==version pin in {lock}")
    return found.group(1), found.group(2)


def _ask(request: urllib.request.Request, key: str) -> str | None:
    """None when the service answered as pip-audit needs (JSON with ``key``),
    else what went wrong."""
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))
    except ValueError:
        return "an answer that is not JSON"
    if not isinstance(answer, dict) or (key not in answer and answer != {}):
        return f"JSON without {key!r}"
    return None


def _ask_osv(osv_url: str, name: str, version: str) -> str | None:
    body = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version})
    if not osv_url.startswith(("https://", "http://")):
        return "not an http(s) URL"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        osv_url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    return _ask(request, "vulns")  # OSV answers {} for a release with no advisories


def _probe(name: str, version: str, osv_url: str | None) -> tuple[str | None, list[str]]:
    """The service to audit with (None: none reachable), and what each probe saw."""
    if osv_url is not None:
        problem = _ask_osv(osv_url, name, version)
        return ("osv", []) if problem is None else (None, [f"{osv_url}: {problem}"])
    pypi_url = f"https://pypi.org/pypi/{name}/{version}/json"
    pypi = _ask(urllib.request.Request(pypi_url), "vulnerabilities")
    if pypi is None:
        return "pypi", []
    osv = _ask_osv(_OSV_URL, name, version)
    if osv is None:
        return "osv", []
    return None, [f"{pypi_url}: {pypi}", f"{_OSV_URL}: {osv}"]


def _arguments() -> tuple[Path, str | None]:
    args = sys.argv[1:]
    osv_url = None
    if "--osv-url" in args:
        at = args.index("--osv-url")
        if at + 1 >= len(args):
            sys.exit("audit: --osv-url needs a URL")
        osv_url = args[at + 1]
        del args[at : at + 2]
    return Path(args[0] if args else "requirements-dev.txt"), osv_url


def main() -> int:
    lock, osv_url = _arguments()
    service, seen = _probe(*_first_pin(lock), osv_url)
    if service is None:
        sys.stdout.write(
            "audit: SKIPPED, pip-audit's vulnerability data is not reachable from here "
            f"(nothing was audited): {'; '.join(seen)}\n"
        )
        return 0
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        str(lock),
        "--require-hashes",
        "--disable-pip",
        "--strict",
        "--progress-spinner",
        "off",
        "--vulnerability-service",
        service,
        *(["--osv-url", osv_url] if osv_url else []),
    ]
    sys.stdout.write(f"audit: {lock} against {service}\n")
    sys.stdout.flush()
    return subprocess.run(command, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
