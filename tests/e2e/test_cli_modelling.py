"""`whatif`, `plan check` and `estimate` on the command line (typer's CliRunner):
table, JSON and CSV, bad input named, nothing recorded."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from demo import PLAN_TOML, run_demo
from ledger.application import Ledger
from tests.builders import SAMPLE_EVENTS
from tests.payout_scenes import cli

CANDIDATE = PLAN_TOML.replace("version = 1", "version = 2").replace(
    "[bonus]",
    '[commission.tiers]\nmeasure = "attainment"\nmethod = "marginal"\n'
    "bands = [ { from = 0.0, multiplier = 1.0 }, { from = 0.5, multiplier = 1.5 } ]\n\n[bonus]",
)


@pytest.fixture
def demo_db(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger(url)
    run_demo(ledger)
    ledger.close()
    plan = tmp_path / "candidate.toml"
    plan.write_text(CANDIDATE, encoding="utf-8")
    return url, plan


def _head(url: str) -> int:
    ledger = Ledger(url)
    try:
        head = ledger.head()
        return head.position if head else 0
    finally:
        ledger.close()


class TestWhatIf:
    def test_table_json_and_csv(self, demo_db: tuple[str, Path], tmp_path: Path) -> None:
        url, plan = demo_db
        head = _head(url)
        out = tmp_path / "whatif.csv"
        args = ["whatif", "--plan", str(plan), "--period", "2026-Q3", "--period", "2026-Q4"]
        table = cli(*args, "--db", url, "--actor", "fin-amy", "--csv", str(out))
        assert table.exit_code == 0, table.output
        assert "What-if: plan field-sales version 2" in table.output
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        li = next(r for r in rows if (r["rep_id"], r["period"]) == ("rep-li", "2026-Q4"))
        assert li["difference_total"] == "2300.00"
        assert rows[-1]["rep_id"] == "*"

        as_json = cli(*args, "--db", url, "--actor", "fin-amy", "--json", "--locale", "zh-CN")
        assert as_json.exit_code == 0, as_json.output
        body = json.loads(as_json.output)
        assert body["recorded"] is False
        assert body["text"].startswith("假设分析")

        on_stdout = cli(*args, "--db", url, "--actor", "fin-amy", "--format", "csv")
        assert on_stdout.exit_code == 0, on_stdout.output
        assert on_stdout.output == out.read_text(encoding="utf-8")
        assert _head(url) == head

    def test_plan_check_is_a_dry_run(self, demo_db: tuple[str, Path]) -> None:
        url, plan = demo_db
        head = _head(url)
        result = cli("plan", "check", str(plan), "--period", "2026-Q4", "--db", url, "--json")
        assert result.exit_code == 0, result.output
        totals = json.loads(result.output)["totals"]
        assert totals[0]["difference"]["total"] == "4250.00"
        assert _head(url) == head

    def test_bad_period_and_bad_plan_are_named(
        self, demo_db: tuple[str, Path], tmp_path: Path
    ) -> None:
        url, plan = demo_db
        bad = cli("whatif", "--plan", str(plan), "--period", "2026-Q9", "--db", url, "--json")
        assert bad.exit_code == 1
        assert "2026-Q9" in json.loads(bad.output)["detail"]
        broken = tmp_path / "broken.toml"
        broken.write_text(CANDIDATE.replace("cap = 2.0", "cap = -1"), encoding="utf-8")
        refused = cli("whatif", "--plan", str(broken), "--period", "2026-Q4", "--db", url)
        assert refused.exit_code == 1
        assert "bonus.cap" in refused.output


class TestEstimate:
    def test_one_more_sale(self, demo_db: tuple[str, Path]) -> None:
        url, _ = demo_db
        head = _head(url)
        args = ["estimate", "--rep", "rep-li", "--amount", "50000", "--category", "software"]
        result = cli(*args, "--date", "2026-11-20", "--db", url, "--json")
        assert result.exit_code == 0, result.output
        body = json.loads(result.output)
        assert body["by_kind"] == {"commission": "4000.00"}
        assert body["difference"]["total"] == "4000.00"
        text = cli(
            *args,
            "--date",
            "2026-11-20",
            "--split",
            "rep-li=0.5",
            "--split",
            "rep-wang=0.5",
            "--db",
            url,
        )
        assert text.exit_code == 0, text.output
        assert "commission: 0.00 → 2000.00 (2000.00)" in text.output
        assert _head(url) == head

    def test_a_paid_period_is_refused_naming_date(self, demo_db: tuple[str, Path]) -> None:
        url, _ = demo_db
        result = cli(
            "estimate", "--rep", "rep-li", "--amount", "5", "--date", "2026-08-01", "--db", url
        )
        assert result.exit_code == 1
        assert "date" in result.output
        assert "is paid" in result.output


class TestOverrideWithoutReports:
    """`plan publish` and `plan check` name ``plan.override`` for an override on
    a plan whose reps have no reports (the demo's field-sales reps report to
    mgr-zhao, who is on no plan), and say so when nobody follows the plan yet."""

    def test_refused_by_publish_and_by_check(
        self, demo_db: tuple[str, Path], tmp_path: Path
    ) -> None:
        url, _ = demo_db
        head = _head(url)
        plan = tmp_path / "override.toml"
        plan.write_text(CANDIDATE + "\n[override]\nrates = [0.02]\n", encoding="utf-8")
        published = cli("plan", "publish", str(plan), "--db", url, "--actor", "it-admin")
        assert published.exit_code == 1
        assert "plan.override" in published.output
        assert "has reports" in published.output
        checked = cli("plan", "check", str(plan), "--period", "2026-Q4", "--db", url, "--json")
        assert checked.exit_code == 1
        assert [e["field"] for e in json.loads(checked.output)["errors"]] == ["plan.override"]
        assert _head(url) == head

    def test_a_plan_nobody_follows_is_published_with_a_warning(
        self, demo_db: tuple[str, Path], tmp_path: Path
    ) -> None:
        url, _ = demo_db
        plan = tmp_path / "leads.toml"
        text = PLAN_TOML.replace('id = "field-sales"', 'id = "team-leads"')
        plan.write_text(text + "\n[override]\nrates = [0.02]\n", encoding="utf-8")
        shown = cli("plan", "publish", str(plan), "--db", url, "--actor", "it-admin")
        assert shown.exit_code == 0, shown.output
        assert "warning: field plan.override: Plan team-leads v1 has an override" in " ".join(
            shown.output.split()
        )
        again = plan.with_name("leads2.toml")
        again.write_text(
            text.replace("version = 1", "version = 2") + "\n[override]\nrates = [0.03]\n",
            encoding="utf-8",
        )
        as_json = cli("plan", "publish", str(again), "--db", url, "--actor", "it-admin", "--json")
        assert as_json.exit_code == 0, as_json.output
        body = json.loads(as_json.stdout)
        assert [w["code"] for w in body["warnings"]] == ["override_unfollowed"]


class TestPublishedVersion:
    """A plan version is published once: the same document again is said to be
    published already (as `import --plan` says it) and stores nothing; another
    document under that version is refused naming ``plan.version`` and saying
    to publish a new version — not that the same file is "other content"."""

    def test_the_same_plan_again_is_already_published(self, db_url: str, tmp_path: Path) -> None:
        plan = tmp_path / "field-sales.toml"
        plan.write_text(PLAN_TOML, encoding="utf-8")
        first = cli("plan", "publish", str(plan), "--db", db_url, "--actor", "it-admin")
        assert first.exit_code == 0, first.output
        assert "plan field-sales version 1 published" in first.output
        reps = cli("import", str(SAMPLE_EVENTS), "--db", db_url, "--actor", "hr-sync")
        assert reps.exit_code == 0, reps.output
        head = _head(db_url)
        again = cli("plan", "publish", str(plan), "--db", db_url, "--actor", "it-admin")
        assert again.exit_code == 0, again.output
        assert "plan field-sales version 1 already published" in again.output
        assert _head(db_url) == head

        changed = tmp_path / "changed.toml"
        changed.write_text(
            PLAN_TOML.replace("default_rate = 0.05", "default_rate = 0.06"), encoding="utf-8"
        )
        for args in (
            ("plan", "publish", str(changed), "--actor", "it-admin"),
            ("plan", "check", str(plan), "--period", "2026-Q3"),
        ):
            refused = cli(*args, "--db", db_url)
            assert refused.exit_code == 1, refused.output
            said = " ".join(refused.output.split())
            assert "plan.version" in said
            assert "plan field-sales version 1 is already published" in said, said
            assert "publish a change as a new version" in said
            assert "other content" not in said
        assert _head(db_url) == head


def test_a_bad_plan_file_is_named_with_each_field(db_url: str, tmp_path: Path) -> None:
    """`import --plan` reads two files: the refusal names the plan's (it said
    "invalid plan: ..." alone), and --json lists each bad field."""
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\nversion = 1\n', encoding="utf-8")
    plain = cli("import", str(SAMPLE_EVENTS), "--plan", str(bad), "--db", db_url)
    assert plain.exit_code == 1
    assert f"invalid plan {bad}: effective_from: Field required" in " ".join(plain.output.split())
    as_json = cli("plan", "publish", str(bad), "--db", db_url, "--json")
    assert as_json.exit_code == 1
    body = json.loads(as_json.output)
    assert body["detail"].startswith(f"invalid plan {bad}: ")
    assert {"field": "currency", "reason": "Field required"} in body["errors"]
