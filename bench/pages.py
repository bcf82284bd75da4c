"""`python -m bench.pages [--sales N] [--rounds R]`: how long the statement page
of a rep with N sales in one period (default 10,000) takes to render, signed in
through a one-time link, over HTTP in-process (TestClient) on SQLite.

Prints one JSON line per language: {"bench": "statement_page", "store", "sales",
"locale", "value" (median seconds), "min", "max", "bytes", "unit"}. The issue's
figure: the summary renders in under 1 s."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from demo import PLAN_TOML
from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports

SECRET = "bench-token-secret-0123456789abcdef"


def event_line(type_: str, at: str, actor: str, **fields: Any) -> str:
    """One import line: ``at`` a local time in UTC+8 (``2026-07-01T10:00:00``)."""
    return json.dumps({"type": type_, "occurred_at": f"{at}+08:00", "actor": actor, **fields})


def _sale(n: int) -> str:
    """The big rep's sale number ``n``, on a day of 2026-Q3."""
    day = 1 + n % 28
    month = 7 + (n // 28) % 3
    return event_line(
        "SaleRecorded",
        f"2026-{month:02d}-{day:02d}T10:00:00",
        "crm-sync",
        sale_id=f"S-{n:06d}",
        rep_id="rep-big",
        amount=f"{1000 + n % 97}.00",
        currency="CNY",
        category="software" if n % 3 else "hardware",
    )


def fill(ledger: Ledger, sales: int) -> None:
    """One rep, a target set before the quarter, ``sales`` sales in 2026-Q3."""
    ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
    lines = [
        event_line(
            "RepEnrolled",
            "2026-03-20T09:00:00",
            "hr-sync",
            rep_id="rep-big",
            name="Big Seller",
            plan_id="field-sales",
            team="east",
        ),
        event_line(
            "TargetSet",
            "2026-06-20T09:00:00",
            "mgr-zhao",
            target_id="T-BIG-Q3",
            rep_id="rep-big",
            period="2026-Q3",
            kpi="sales_amount",
            value="5000000",
            reason="Q3 target",
        ),
        *(_sale(n) for n in range(sales)),
    ]
    ledger.import_lines(lines, actor="bench")
    Reports(ledger).catch_up()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sales", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        ledger = Ledger(url)
        fill(ledger, args.sales)
        settings = Settings(database_url=url, token_secret=SECRET)  # type: ignore[arg-type]
        app = create_app(settings, ledger=ledger)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            code = app.state.signin_codes.issue(actor="fin-amy", role="finance")
            client.post("/app/signin", data={"code": code}, follow_redirects=False)
            path = "/app/reps/rep-big/statements/2026-Q3"
            for locale in ("en", "zh-CN"):
                timings = []
                size = 0
                for _ in range(args.rounds + 1):  # the first warms the caches
                    started = time.perf_counter()
                    answer = client.get(f"{path}?lang={locale}")
                    timings.append(time.perf_counter() - started)
                    assert answer.status_code == 200, answer.text[:500]
                    size = len(answer.content)
                timings = timings[1:]
                print(
                    json.dumps(
                        {
                            "bench": "statement_page",
                            "store": "sqlite",
                            "sales": args.sales,
                            "locale": locale,
                            "value": round(statistics.median(timings), 3),
                            "min": round(min(timings), 3),
                            "max": round(max(timings), 3),
                            "bytes": size,
                            "unit": "s",
                        }
                    ),
                    flush=True,
                )
        ledger.close()


if __name__ == "__main__":
    main()
