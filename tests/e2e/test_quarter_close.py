"""A quarter close as finance does it (issue 19, acceptance 2): the CLI in
subprocesses, and a rep's dispute over HTTP.

Finance lists what waits for it, approves one adjustment and rejects another;
a manager looks at their team's summary; a payout run is calculated, approved
by a second person, paid and exported; the rep disputes it over HTTP; finance
lists the dispute, upholds it with an adjustment, a second person approves
that, and it is paid with the next period.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.builders import process_env

CLI = str(Path(sys.executable).parent / "incentive-ledger")
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SECRET = "e2e-token-secret-0123456789abcdef"


class Shell:
    """The CLI against one database, as a user at a terminal runs it."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.url = url
        self.cwd = cwd

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [CLI, *args, "--db", self.url],
            cwd=self.cwd,
            env=process_env(LEDGER_TOKEN_SECRET=SECRET),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def _subjects(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["subject_id"]: item for item in listing["items"]}


def test_a_quarter_close(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    sh = Shell(url, tmp_path)

    # The quarter as the CRM and HR recorded it, and two adjustments fin-carl asked for.
    sh.run(
        "import",
        str(SAMPLES / "q3-events.jsonl"),
        "--plan",
        str(SAMPLES / "field-sales.toml"),
        "--actor",
        "hr-sync",
    )
    # the README's file, shipped beside the quarter's events
    asks = SAMPLES / "q3-adjustments.jsonl"
    sh.run("import", str(asks), "--actor", "fin-carl")

    # 1. Finance lists what waits for it: not what they recorded themselves.
    queue = _subjects(sh.json("pending", "--actor", "fin-amy"))
    assert set(queue) == {"ADJ-LI-SHOW", "ADJ-CHEN-TAXI"}
    assert queue["ADJ-LI-SHOW"]["amount"] == "1500.00"
    assert queue["ADJ-LI-SHOW"]["recorded_by"] == "fin-carl"
    assert "adjustment needs an approval" in queue["ADJ-LI-SHOW"]["rule"]
    assert sh.json("pending", "--actor", "fin-carl")["items"] == []  # maker-checker
    table = sh.run("pending", "--actor", "fin-amy").stdout
    assert "ADJ-LI-SHOW" in table
    assert "1500.00" in table

    # 2. ... approves one and rejects the other (a rejection says why).
    assert (
        "approved adjustment ADJ-LI-SHOW"
        in sh.run("approve", "ADJ-LI-SHOW", "--actor", "fin-amy", "--note", "lead confirmed").stdout
    )
    no_note = sh.run("reject", "ADJ-CHEN-TAXI", "--actor", "fin-amy", ok=False)
    assert no_note.returncode == 2
    assert "--note" in no_note.stderr
    sh.run("reject", "ADJ-CHEN-TAXI", "--actor", "fin-amy", "--note", "covered by policy")
    assert sh.json("pending", "--actor", "fin-amy")["items"] == []
    own = sh.run("approve", "ADJ-LI-SHOW", "--actor", "fin-carl", ok=False)
    assert own.returncode == 1
    assert "line" not in own.stderr  # a command's input has no line numbers

    # 3. The team's summary: every rep, with the team subtotal.
    summary = sh.json("summary", "--period", "2026-Q3")
    by_rep = {item["rep_id"]: item for item in summary["items"]}
    assert set(by_rep) == {"rep-li", "rep-chen"}
    assert all(item["status"] == "open" for item in by_rep.values())
    li_payable = by_rep["rep-li"]["payable"]
    [east] = summary["teams"]
    assert east["team"] == "east"
    assert east["reps"] == 2
    assert east["payable"] == f"{sum(float(i['payable']) for i in by_rep.values()):.2f}"
    assert sh.json("reps", "--team", "east")["total"] == 2

    # 4. A payout run: calculated by one, approved and paid by another, exported.
    run_id = sh.run("payout", "run", "--period", "2026-Q3", "--actor", "fin-amy").stdout.strip()
    runs = sh.json("runs", "--period", "2026-Q3")
    assert [(r["run_id"], r["status"]) for r in runs["items"]] == [(run_id, "calculated")]
    assert run_id in _subjects(sh.json("pending", "--actor", "fin-bob"))
    assert run_id not in _subjects(sh.json("pending", "--actor", "fin-amy"))
    sh.run("payout", "approve", run_id, "--actor", "fin-bob")
    sh.run("payout", "pay", run_id, "--actor", "fin-bob")
    paid = sh.json("runs", "--status", "paid")
    assert [r["run_id"] for r in paid["items"]] == [run_id]
    export = list(csv.DictReader(io.StringIO(sh.run("payout", "export", run_id).stdout)))
    assert {row["rep_id"]: row["payable"] for row in export}["rep-li"] == li_payable
    assert {row["status"] for row in export} == {"paid"}
    assert {i["status"] for i in sh.json("summary", "--period", "2026-Q3")["items"]} == {"paid"}

    # 5. The manager's view and the rep's dispute, over HTTP.
    manager = sh.run("token", "create", "--actor", "mgr-zhao", "--role", "manager").stdout.strip()
    rep = sh.run(
        "token", "create", "--actor", "rep-li", "--role", "rep", "--rep", "rep-li"
    ).stdout.strip()
    settings = Settings(database_url=url, token_secret=SECRET)  # type: ignore[arg-type]
    with TestClient(create_app(settings)) as client:
        team = client.get(
            "/periods/2026-Q3/summary", headers={"Authorization": f"Bearer {manager}"}
        )
        assert team.status_code == 200
        assert team.json()["teams"][0]["payable"] == east["payable"]
        raised = client.post(
            "/disputes",
            json={"run_id": run_id, "message": "the trade show lead was worth 2000"},
            headers={"Authorization": f"Bearer {rep}"},
        )
        assert raised.status_code == 201, raised.text
        dispute_id = raised.json()["dispute_id"]

    # 6. Finance lists it, upholds it with an adjustment, a second person approves.
    open_disputes = sh.json("disputes", "--status", "open")
    [dispute] = open_disputes["items"]
    assert (dispute["dispute_id"], dispute["rep_id"], dispute["run_id"]) == (
        dispute_id,
        "rep-li",
        run_id,
    )
    assert dispute["raised_by"] == "rep-li"
    resolved = sh.json(
        "dispute",
        "resolve",
        dispute_id,
        "--outcome",
        "upheld",
        "--note",
        "lead was worth 2000",
        "--amount",
        "500.00",
        "--actor",
        "fin-amy",
    )
    adjustment_id = resolved["adjustment_id"]
    assert sh.json("disputes", "--status", "open")["items"] == []
    waiting = _subjects(sh.json("pending", "--actor", "fin-bob"))[adjustment_id]
    assert (waiting["amount"], waiting["period"]) == ("500.00", "2026-Q4")
    sh.run("approve", adjustment_id, "--actor", "fin-bob")

    # 7. ... and it is paid with the next period.
    next_run = sh.run("payout", "run", "--period", "2026-Q4", "--actor", "fin-amy").stdout.strip()
    sh.run("payout", "approve", next_run, "--actor", "fin-bob")
    sh.run("payout", "pay", next_run, "--actor", "fin-bob")
    statement = sh.json("statement", "--rep", "rep-li", "--period", "2026-Q4")
    assert statement["status"] == "paid"
    adjustments = [line for line in statement["lines"] if line["kind"] == "adjustment"]
    assert [a["amount"] for a in adjustments] == ["500.00"]
    export = list(csv.DictReader(io.StringIO(sh.run("payout", "export", next_run).stdout)))
    assert {row["rep_id"]: row["payable"] for row in export}["rep-li"] == "500.00"
    assert {r["status"] for r in sh.json("runs")["items"]} == {"paid"}
