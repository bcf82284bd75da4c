"""`python -m bench.crm [--rows N] [--store sqlite|postgres] [--via cli|library]
[--seed S]`: a CRM export's import, its rows/s and its peak memory.

Writes a seeded Salesforce "opportunities with splits" export of N rows (the
columns and mapping of `samples/crm/salesforce.toml`): sales of the demo's
three reps, a third of them split in two or three rows, some cancelled (the
sale and its cancellation on one row), some lost or open (rows the mapping
ignores). A split sale's first row is in the first half of the file and its
other rows anywhere in the second, as a report sorted by anything but the
opportunity gives them. Then the demo organisation is made in a fresh store and
the export imported in a process of its own, so its peak RSS (``ru_maxrss``, a
high-water mark nothing resets) is the import's: ``--via cli`` (the default)
runs `incentive-ledger import FILE.csv --mapping ... --json` (this checkout's
`cli.py`), ``--via library`` calls `ledger.crm.import_export` and also says
the process's peak before it (``before_mib``: the interpreter and the modules).
One JSON line: {"bench": "crm_import", "store", "via", "file_mib", "rows",
"stored", "seconds", "rows_per_s", "peak_rss_mib", ...}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "samples" / "crm" / "salesforce.toml"
HEADER = (
    "Opportunity ID",
    "Opportunity Name",
    "Account ID",
    "Account Name",
    "Stage",
    "Close Date",
    "Amount",
    "Opportunity Currency",
    "Opportunity Owner",
    "Product Family",
    "Split Owner",
    "Split Percent",
    "Cancellation Date",
    "Cancellation Reason",
)
OWNERS = ("Li Wei", "Chen Jing", "Wang Fang")
SPLITS = {1: ("100.00%",), 2: ("60.00%", "40.00%"), 3: ("50.00%", "30.00%", "20.00%")}
_Q4 = date(2026, 10, 1)


def _split_rows(k: int) -> int:
    """How many rows sale ``k`` has: 1 for six in ten, 2 for three, 3 for one."""
    return 1 if k % 10 < 6 else 2 if k % 10 < 9 else 3


def _sales_for(rows: int, seed: int) -> int:
    """How many sales make at least ``rows`` rows."""
    sales = total = 0
    while total < rows:
        total += len(_sale_rows(sales, seed))
        sales += 1
    return sales


def _sale_rows(k: int, seed: int) -> list[list[str]]:
    """The rows of sale ``k`` (the same for the same seed)."""
    pick = random.Random(seed * 1_000_003 + k)
    stage = pick.choices(("Closed Won", "Cancelled", "Closed Lost", "Prospecting"), (85, 5, 7, 3))[
        0
    ]
    owner = pick.choice(OWNERS)
    closed = _Q4 + timedelta(days=pick.randrange(60))
    amount = f"{pick.randrange(1_000, 200_000):,}.{pick.randrange(100):02d}"
    account = f"0015g{k % 5_000:013d}"
    family = pick.choice(("Software", "Hardware"))
    cancelled = stage == "Cancelled"
    n = _split_rows(k) if stage in {"Closed Won", "Cancelled"} else 1
    others = [o for o in OWNERS if o != owner]
    shares = [owner, *pick.sample(others, n - 1)]
    return [
        [
            f"0065g{k:013d}",
            f"Opportunity {k}",
            account,
            f"Account {k % 5_000}",
            stage,
            closed.strftime("%m/%d/%Y"),
            amount,
            "CNY",
            owner,
            family,
            who,
            percent,
            (closed + timedelta(days=20)).strftime("%m/%d/%Y") if cancelled else "",
            "customer went into administration" if cancelled else "",
        ]
        for who, percent in zip(shares, SPLITS[n], strict=True)
    ]


def export_rows(rows: int, seed: int) -> Iterator[list[str]]:
    """About N data rows (the last sale's splits whole: up to 2 more), generated
    as they are written (nothing held): every sale's
    first row in order, then the later split rows of every split sale in a
    scattered order (a permutation ``j = a·i mod n`` of the sales)."""
    sales = _sales_for(rows, seed)
    for k in range(sales):
        yield _sale_rows(k, seed)[0]
    step = next(a for a in range(sales // 2 + 1, sales + 2) if _coprime(a, sales))
    for i in range(sales):
        yield from _sale_rows((i * step) % sales, seed)[1:]


def _coprime(a: int, b: int) -> bool:
    while b:
        a, b = b, a % b
    return a == 1


def write_export(path: Path, rows: int, seed: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        out = csv.writer(file)
        out.writerow(HEADER)
        out.writerows(export_rows(rows, seed))


def _peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    """A process's peak resident set (Linux reports ``ru_maxrss`` in KiB):
    this one's, or that of the largest child waited for."""
    return resource.getrusage(who).ru_maxrss / 1024


def _library(url: str, export: Path) -> dict[str, Any]:
    """The measured import through the library, in the child process."""
    from ledger.application import Ledger
    from ledger.crm import import_export, load_mapping

    ledger = Ledger(url)
    try:
        mapping = load_mapping(MAPPING.read_text(encoding="utf-8"))
        before = _peak_mib()
        started = time.perf_counter()
        done = import_export(ledger, export, mapping, actor="bench")
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    return {
        "rows": done.rows,
        "stored": done.result.stored,
        "seconds": round(seconds, 2),
        "rows_per_s": round(done.rows / seconds),
        "peak_rss_mib": round(_peak_mib(), 1),
        "before_mib": round(before, 1),
        "pid": os.getpid(),
    }


def _measured(via: str, url: str, export: Path) -> dict[str, Any]:
    """The import in a process of its own (the only child this one waits for,
    so the children's peak is its peak)."""
    if via == "library":
        command = [sys.executable, "-m", "bench.crm", "--phase", "import"]
        command += ["--url", url, "--export", str(export)]
        child = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        return dict(json.loads(child.stdout.splitlines()[-1]))
    command = [sys.executable, str(ROOT / "cli.py"), "import", str(export), "--mapping"]
    command += [str(MAPPING), "--db", url, "--actor", "bench", "--json"]
    started = time.perf_counter()
    child = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    summary = json.loads(child.stdout)
    return {
        "rows": summary["rows"],
        "stored": summary["stored"],
        "seconds": round(seconds, 2),
        "rows_per_s": round(summary["rows"] / seconds),
        "peak_rss_mib": round(_peak_mib(resource.RUSAGE_CHILDREN), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crm", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--via", choices=("cli", "library"), default="cli")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phase", choices=("all", "import"), default="all", help="internal")
    parser.add_argument("--url", help="internal: the store the import phase writes")
    parser.add_argument("--export", type=Path, help="internal: the export it imports")
    args = parser.parse_args()
    if args.phase == "import":
        print(json.dumps(_library(args.url, args.export)), flush=True)
        return

    from bench.__main__ import drop, fresh_url
    from demo import run_demo
    from ledger.application import Ledger

    with tempfile.TemporaryDirectory(prefix="bench-crm-") as work:
        export = Path(work) / "opportunities.csv"
        write_export(export, args.rows, args.seed)
        mib = export.stat().st_size / 2**20
        url = fresh_url(args.store, Path(work))
        try:
            ledger = Ledger(url)
            try:
                run_demo(ledger)
            finally:
                ledger.close()
            figures = _measured(args.via, url, export)
        finally:
            drop(url)
    line = {"bench": "crm_import", "store": args.store, "via": args.via, "file_mib": round(mib, 1)}
    print(json.dumps(line | figures), flush=True)


if __name__ == "__main__":
    main()
