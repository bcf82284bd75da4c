"""The container's health probe: ``python -m api.healthcheck [URL]``.

Docker keeps the output of the last health checks (``docker inspect``), so the
probe prints one line saying why: the API's ``/health`` answer when healthy, or
the status and answer, or the connection error, when not. It exits 0 when the
API answers 2xx and 1 otherwise, and needs nothing but the standard library
(a probe must not fail for a reason of its own).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

__all__ = ["DEFAULT_URL", "main", "probe"]

DEFAULT_URL = "http://127.0.0.1:8000/health"
_TIMEOUT_S = 4.0  # under the compose file's 5 s health-check timeout
_SHOWN_BYTES = 2000


def _text(body: bytes) -> str:
    """An answer on one line, shortened: it goes into ``docker inspect``."""
    return " ".join(body[:_SHOWN_BYTES].decode("utf-8", "replace").split()) or "(empty)"


def probe(url: str = DEFAULT_URL, *, timeout_s: float = _TIMEOUT_S) -> tuple[bool, str]:
    """(healthy, the line to print) for one GET of ``url``."""
    if not url.startswith(("http://", "https://")):
        return False, f"unhealthy: {url!r} is not an http(s) URL"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            return True, f"healthy: {response.status} {_text(response.read(_SHOWN_BYTES))}"
    except urllib.error.HTTPError as exc:
        return False, f"unhealthy: {url} answered {exc.code}: {_text(exc.read(_SHOWN_BYTES))}"
    except urllib.error.URLError as exc:
        return False, f"unhealthy: {url} unreachable: {exc.reason}"
    except OSError as exc:  # a timeout while reading, a reset connection
        return False, f"unhealthy: {url} failed: {exc or type(exc).__name__}"


def main(argv: list[str] | None = None) -> int:
    """Probe the URL given (default: the API in this container) and report."""
    args = sys.argv[1:] if argv is None else argv
    healthy, line = probe(args[0] if args else DEFAULT_URL)
    sys.stdout.write(line + "\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
