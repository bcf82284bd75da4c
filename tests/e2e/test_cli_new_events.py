"""The installed command imports SPEC §2's new events and prints what they pay:
a USD sale converted at its rate, and a payment's refusal naming its line and
field (SPEC §3.1 currencies, pay on collection)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import ROOT, enrol, jsonl, line, run_cli, sale


def test_import_a_rate_a_usd_sale_and_a_payment_then_the_statement(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            jsonl(
                enrol("r1"),
                line("FxRateSet", actor="fin-amy", base="USD", quote="CNY", rate="7.1"),
                {**sale("S1", "r1", "1000.00"), "currency": "USD"},
                line("PaymentReceived", payment_id="P1", sale_id="S1", amount="400.00"),
            )
        )
        + "\n",
        encoding="utf-8",
    )
    plan = ROOT / "samples" / "field-sales.toml"
    imported = run_cli("import", str(events), "--plan", str(plan), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "stored 4 events" in imported.stdout

    shown = run_cli("statement", "--rep", "r1", "--period", "2026-Q3", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    statement = json.loads(shown.stdout)
    (commission,) = [x for x in statement["lines"] if x["kind"] == "commission"]
    assert commission["amount"] == "355.00", "1,000 USD × 7.1 = 7,100 CNY × 0.05"
    assert "fx_converted" in [s["code"] for s in commission["explanation"]]

    over = tmp_path / "over.jsonl"
    over.write_text(
        "\n".join(jsonl(line("PaymentReceived", payment_id="P2", sale_id="S1", amount="600.01")))
        + "\n",
        encoding="utf-8",
    )
    refused = run_cli("import", str(over), cwd=tmp_path)
    assert refused.returncode != 0
    assert "line 1" in refused.stderr + refused.stdout
    assert "amount" in refused.stderr + refused.stdout
