"""`audit bundle` / `audit check` (SPEC §5, issue 21): a statement re-checked
offline, every edited byte caught and named, nothing of another rep inside."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
import zlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo import QUARTER, run_demo
from ledger.application import Ledger
from ledger.chain import GENESIS, Anchor, ChainHasher, event_digest
from ledger.chain_guard import log_rows
from ledger.domain import event_topic, type_of_topic
from ledger.events import canonical_json
from policies.periods import parse_period
from policies.plan import load_plan
from projections.audit_check import AuditBundle, BundleReport, _fold, _records, check_bundle
from projections.service import Reports
from projections.statement import AsOf, Calculator
from tests.builders import enrol, jsonl, line, pay_period, run_cli, stored_record
from tests.builders import sale as sale_line
from tests.unit.shapes import plan_toml

REPS = {"rep-li": "Li Wei", "rep-chen": "Chen Jing", "rep-wang": "Wang Fang"}
# (rep, period): Q3 paid (the recorded statement), Q4 open (a correction of Q3 in it)
BUNDLED = [("rep-li", "2026-Q3"), ("rep-li", "2026-Q4"), ("rep-chen", "2026-Q3")]
PERIODS = ["2026-Q3", "2026-Q4"]
# The demo's bundles by (rep, period): every rep's, for each of PERIODS.
Bundles = dict[tuple[str, str], bytes]


_OVERRIDES = "[override]\nrates = [0.02, 0.01]\n"


def _mismatched(report: BundleReport) -> list[str]:
    return [f.part for f in report.mismatches]


@pytest.fixture(scope="module")
def demo_bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    """Every demo rep's Q3 (paid) and Q4 (open) bundle, from one SQLite demo."""
    path = tmp_path_factory.mktemp("bundle") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    try:
        run_demo(ledger)
        reports = Reports(ledger)
        return {
            (rep, period): reports.audit_bundle(rep, period) for rep in REPS for period in PERIODS
        }
    finally:
        ledger.close()


class TestChecksOffline:
    def test_paid_and_open_periods_check_on_both_stores(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A bundle made from either store checks: the chain, every event's link,
        the plan, the run's recorded statement and the statement byte for byte."""
        ledger = make_ledger()
        run_demo(ledger)
        reports = Reports(ledger)
        for rep, period in BUNDLED:
            raw = reports.audit_bundle(rep, period)
            report = check_bundle(raw)
            assert report.exit_code == 0, report.to_dict()
            parts = {f.part for f in report.findings}
            assert {"engine", "chain", "head", "statement", "plan field-sales v1"} <= parts
            bundle = orjson.loads(raw)
            served = reports.statement(rep, period)
            assert canonical_json(bundle["statement"]) == canonical_json(served)
            assert report.total == served["total"]
        paid = orjson.loads(reports.audit_bundle("rep-li", "2026-Q3"))
        assert paid["statement"]["status"] == "paid"
        assert [e["run_id"] for e in paid["events"] if "run_id" in e] == [
            paid["statement"]["paid"]["run_id"]
        ]

    def test_collection_fx_overrides_and_a_corrected_period_check_against_an_anchor(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        """Pay on collection, a USD sale converted, a manager's overrides, a
        transfer, a paid quarter corrected by a later cancellation: every
        bundle of the rep, their report and both managers checks offline, and
        passes through the paid run's own link (the payroll export's head)."""
        ledger = make_ledger()
        plan = plan_toml(commission='basis = "collection"\n', tail=_OVERRIDES)
        ledger.publish_plan(load_plan(plan, "toml"), actor="admin")
        ledger.import_lines(
            jsonl(
                enrol("m1"), enrol("m2"), enrol("x", manager_id="m1"), enrol("y", manager_id="m1")
            ),
            actor="hr-sync",
        )
        at = "2026-07-01T00:00:00+08:00"
        rate = line("FxRateSet", at=at, actor="fin-amy", base="USD", quote="CNY", rate="7.1")
        ledger.import_lines(jsonl(rate), actor="fin-amy")
        moved = {"occurred_at": "2026-09-01T00:00:00+08:00", "team": "south"}
        usd = line("SaleRecorded", sale_id="S-2", rep_id="x", amount="10000.00", currency="USD")
        ledger.import_lines(
            jsonl(
                sale_line("S-1", "x", "50000.00"),
                {**usd, "occurred_at": "2026-07-20T10:00:00+08:00"},
                sale_line("S-3", "y", "40000.00"),
                *(
                    line(
                        "PaymentReceived",
                        at=f"2026-08-0{n}T10:00:00+08:00",
                        payment_id=f"P-{n}",
                        sale_id=f"S-{n}",
                        amount=amount,
                    )
                    for n, amount in ((1, "20000.00"), (2, "10000.00"), (3, "40000.00"))
                ),
                {**line("RepTransferred", rep_id="x", manager_id="m2"), **moved},
                sale_line("S-4", "x", "7777.00", at="2026-09-05T10:00:00+08:00"),
            ),
            actor="crm-sync",
        )
        run_id = pay_period(Reports(ledger), "2026-Q3")
        cancel = line("SaleCancelled", at="2026-09-20T10:00:00+08:00", sale_id="S-2", reason="x")
        later = sale_line("S-5", "x", at="2026-10-05T10:00:00+08:00")
        ledger.import_lines(jsonl(cancel, later), actor="crm-sync")
        reports = Reports(ledger)
        q4 = reports.statement("x", "2026-Q4")
        assert "correction" in {line["kind"] for line in q4["lines"]}
        for rep in ("x", "y", "m1", "m2"):
            for period in PERIODS:
                raw = reports.audit_bundle(rep, period)
                doc = orjson.loads(raw)
                run = _event(doc, "PayoutCalculated")
                assert run["run_id"] == run_id
                exported = Anchor(run["position"], run["hash"])
                report = check_bundle(raw, anchors=[exported])
                assert report.exit_code == 0, (rep, period, report.to_dict())
        forged, _ = _rewritten_after_the_run(reports.audit_bundle("x", "2026-Q4"))
        head = orjson.loads(reports.audit_bundle("x", "2026-Q4"))["chain"]["head"]
        caught = check_bundle(forged, anchors=[Anchor(head["position"], head["hash"])])
        assert _mismatched(caught) == [f"anchor {head['position']}"]

    def test_the_same_ledger_gives_the_same_bytes(self, tmp_path: Path) -> None:
        ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
        run_demo(ledger)
        reports = Reports(ledger)
        assert reports.audit_bundle("rep-li", "2026-Q4") == reports.audit_bundle(
            "rep-li", "2026-Q4"
        )
        ledger.close()

    def test_the_checker_imports_no_storage(self) -> None:
        """`audit check` needs no database: its module pulls in no store."""
        code = (
            "import sys, projections.audit_check\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in {'psycopg', 'sqlite3'} or m in "
            "{'ledger.application', 'projections.service', 'projections.storage', "
            "'ledger.backends.sqlite', 'ledger.backends.postgres'}]\n"
            "assert not bad, bad\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

    def test_hmac_chain_needs_the_key(self, tmp_path: Path) -> None:
        """In HMAC mode the links are checked with the key, said so without it,
        and a wrong key is a mismatch."""
        ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", chain_key="k-0123456789abcdef")
        run_demo(ledger)
        raw = Reports(ledger).audit_bundle("rep-wang", "2026-Q3")
        ledger.close()
        assert orjson.loads(raw)["chain"]["mode"] == "hmac-sha256"
        assert check_bundle(raw, key=b"k-0123456789abcdef").exit_code == 0
        without = check_bundle(raw)
        assert without.exit_code == 2
        assert [f.part for f in without.unchecked] == ["chain"]
        assert "needs the chain key" in without.unchecked[0].detail
        assert "LEDGER_CHAIN_KEY" in without.unchecked[0].detail
        wrong = check_bundle(raw, key=b"not-the-key-at-all")
        assert wrong.exit_code == 1
        assert "chain" in _mismatched(wrong)

    def test_a_managers_bundle_holds_a_report_enrolled_before_them(self, ledger: Ledger) -> None:
        """x names m as manager before m is enrolled (on an override plan): m's
        statement rests on x's enrolment, which the bundle left out — so its
        check failed on events the ledger accepted."""
        plan = load_plan(plan_toml(tail=_OVERRIDES), "toml")
        ledger.publish_plan(plan, actor="admin")
        ledger.import_lines(
            jsonl(enrol("x", manager_id="m"), enrol("m"), sale_line("S1", "x", "10000.00")),
            actor="hr-sync",
        )
        reports = Reports(ledger)
        assert reports.statement("m", "2026-Q3")["total"] == "200.00"
        report = check_bundle(reports.audit_bundle("m", "2026-Q3"))
        assert report.exit_code == 0, _mismatched(report)

    def test_a_bundle_calling_its_chain_plain_fails_a_check_with_the_key(
        self, demo_bundles: Bundles
    ) -> None:
        """Whoever rewrites a keyed ledger's bundle can relink it with plain
        SHA-256 and say so: checked with the key, it never passes on its word."""
        raw = demo_bundles["rep-li", PERIODS[0]]
        assert orjson.loads(raw)["chain"]["mode"] == "sha256"
        assert check_bundle(raw).exit_code == 0
        keyed = check_bundle(raw, key=b"k-0123456789abcdef")
        assert keyed.exit_code == 1
        assert "chain" in _mismatched(keyed)


_PRIVATE_CASE = {"severity": "minor", "description": "private-case"}


def _edit(raw: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = orjson.loads(raw)
    change(doc)
    edited = canonical_json(doc)
    assert edited != raw, "the edit changed nothing"
    return edited


def _event(doc: dict[str, Any], type_: str, index: int = 0) -> dict[str, Any]:
    found: list[dict[str, Any]] = [e for e in doc["events"] if e["type"] == type_]
    return found[index]


def _set_state(e: dict[str, Any], old: str, new: str) -> None:
    assert old in e["state"]
    e["state"] = e["state"].replace(old, new)


def _flip_hex(text: str) -> str:
    return ("1" if text[0] != "1" else "2") + text[1:]


def _at(event: dict[str, Any]) -> int:
    return int(event["position"])


def _named(event: dict[str, Any]) -> str:
    """How the check names an event: its position and type."""
    return f"event {event['position']} ({event['type']})"


EDITS: dict[str, tuple[Callable[[dict[str, Any]], None], str | Callable[[dict[str, Any]], str]]] = {
    # name: (edit, the part the check must name, or how to find it in the bundle)
    "sale amount in an event payload": (
        lambda d: _set_state(
            _event(d, "SaleRecorded"), '"amount":"120000.00"', '"amount":"120001.00"'
        ),
        lambda d: _named(_event(d, "SaleRecorded")),
    ),
    "an event's hash": (
        lambda d: _event(d, "KpiScored").update(hash=_flip_hex(_event(d, "KpiScored")["hash"])),
        lambda d: _named(_event(d, "KpiScored")),
    ),
    "the plan section": (
        lambda d: d["plans"][0]["plan"]["commission"].update(default_rate="0.06"),
        "plan field-sales v1",
    ),
    "the plan's event": (
        lambda d: _set_state(
            _event(d, "PlanPublished"), '"default_rate":"0.05"', '"default_rate":"0.06"'
        ),
        lambda d: _named(_event(d, "PlanPublished")),
    ),
    "the statement's total": (
        lambda d: d["statement"].update(total="99999.00"),
        "statement",
    ),
    "a statement line": (
        lambda d: d["statement"]["lines"][0].update(amount="1.00"),
        "statement",
    ),
    "the head": (
        lambda d: d["chain"]["head"].update(hash=_flip_hex(d["chain"]["head"]["hash"])),
        "head",
    ),
    "another rep's link": (
        lambda d: d["links"][0].__setitem__(-1, _flip_hex(d["links"][0][-1])),  # its digest
        # the first disclosed event after the link is where the chain stops adding up
        lambda d: _named(
            min((e for e in d["events"] if e["position"] > d["links"][0][0]), key=_at)
        ),
    ),
    "the run's recorded statement": (
        lambda d: _event(d, "PayoutCalculated")["statement"].update(payable="1.00"),
        "run ",
    ),
    "the engine": (
        lambda d: d["engine"].update(code_sha256=_flip_hex(d["engine"]["code_sha256"])),
        "engine",
    ),
    "two events in another order": (
        lambda d: d["events"].insert(1, d["events"].pop(2)),
        "statement",
    ),
    "an event left out": (
        lambda d: d["events"].remove(_event(d, "KpiScored")),
        # the next disclosed event is where the chain stops adding up
        lambda d: _named(
            min(
                (e for e in d["events"] if e["position"] > _event(d, "KpiScored")["position"]),
                key=_at,
            )
        ),
    ),
    "an event added at a taken position": (
        lambda d: d["events"].append({**_event(d, "KpiScored"), "position": d["links"][0][0]}),
        "chain",
    ),
    "the hash before the segment": (
        lambda d: d["chain"].update(previous_hash=_flip_hex(d["chain"]["previous_hash"])),
        "chain",
    ),
}


class TestEditsAreCaught:
    @pytest.mark.parametrize("name", list(EDITS))
    @pytest.mark.parametrize("period", PERIODS)
    def test_an_edited_part_fails_and_is_named(
        self, demo_bundles: Bundles, name: str, period: str
    ) -> None:
        change, named = EDITS[name]
        raw = demo_bundles["rep-li", period]
        part = named if isinstance(named, str) else named(orjson.loads(raw))
        report = check_bundle(_edit(raw, change))
        assert report.exit_code == 1
        assert any(p.startswith(part) for p in _mismatched(report)), report.to_dict()

    @pytest.mark.parametrize(
        "change",
        [
            lambda e: _set_state(e, '"amount":"120000.00"', '"amount":"1200000.00"'),
            lambda e: e.update(hash=_flip_hex(e["hash"])),
        ],
        ids=["its-bytes", "its-hash"],
    )
    def test_one_edited_event_is_the_one_named(
        self, demo_bundles: Bundles, change: Callable[[dict[str, Any]], None]
    ) -> None:
        """The links after an edit were all recomputed from it, so every later
        event and the head were named as changed too (17 of them for one sale's
        amount), and the run's computed_at called no link of the segment: the
        auditor is told of the one edited event, and only it."""
        raw = demo_bundles["rep-li", "2026-Q4"]
        doc = orjson.loads(raw)
        edited = _event(doc, "SaleRecorded")
        assert len([e for e in doc["events"] if _at(e) > _at(edited)]) > 5
        report = check_bundle(_edit(raw, lambda d: change(_event(d, "SaleRecorded"))))
        links = [p for p in _mismatched(report) if p.startswith(("event ", "head"))]
        assert links == [_named(edited)]
        assert "chain" in _mismatched(report)
        # nor is the run's computed_at, a link after the edit, called no link
        runs = [f.detail for f in report.mismatches if f.part.startswith("run ")]
        assert [d for d in runs if "no link of the segment" in d] == []

    def test_events_out_of_order_are_named_in_words(self, demo_bundles: Bundles) -> None:
        """Said as a Python repr, ``ValueError('its events are not in the order…')``."""
        raw = demo_bundles["rep-li", "2026-Q4"]
        report = check_bundle(_edit(raw, lambda d: d["events"].reverse()))
        statement = next(f for f in report.mismatches if f.part == "statement")
        last, before = (_at(e) for e in orjson.loads(raw)["events"][-2:][::-1])
        assert statement.detail == (
            "cannot be recomputed: the bundle lists its events out of the log's order "
            f"(event {before} after event {last}): a bundle lists them by position, so the "
            "file was edited"
        )

    def test_what_it_quotes_of_an_edited_file_reaches_no_terminal_raw(
        self, demo_bundles: Bundles
    ) -> None:
        """A rep id or run id edited to hold an escape sequence was printed as
        is by `audit check` — the auditor's window title set, the screen
        cleared: every finding and the rep, period and total are escaped."""
        escape = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e"

        def change(d: dict[str, Any]) -> None:
            d["rep_id"] += escape
            _event(d, "PayoutCalculated")["run_id"] += escape
            d["statement"]["total"] += escape

        report = check_bundle(_edit(demo_bundles["rep-li", "2026-Q4"], change))
        assert report.exit_code == 1
        said = [report.rep_id, report.period, report.total]
        said += [f.part + f.detail for f in report.findings]
        assert [s for s in said if re.search("[\x00-\x1f\x7f-\x9f\u202e]", s or "")] == []
        assert "\\x1b]0;pwned" in str(report.rep_id)

    def test_a_position_claimed_twice_is_named(self, demo_bundles: Bundles) -> None:
        raw = demo_bundles["rep-li", "2026-Q4"]
        doc = orjson.loads(raw)
        kpi = _event(doc, "KpiScored")
        report = check_bundle(_edit(raw, lambda d: d["events"].append(dict(kpi))))
        chain = next(f for f in report.mismatches if f.part == "chain")
        assert chain.detail.startswith(f"position {_at(kpi)} is claimed by 2 entries")

    def test_a_hand_edit_that_breaks_the_canonical_form_is_named(
        self, demo_bundles: Bundles
    ) -> None:
        raw = demo_bundles["rep-li", "2026-Q3"]
        pretty = json.dumps(json.loads(raw), indent=1).encode()
        assert _mismatched(check_bundle(pretty)) == ["file"]

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def test_any_flipped_byte_fails_without_a_traceback(
        self, demo_bundles: Bundles, data: st.DataObject
    ) -> None:
        """Any byte of the file changed: the check fails, saying what, and never raises."""
        raw = demo_bundles["rep-li", "2026-Q4"]
        index = data.draw(st.integers(0, len(raw) - 1), label="index")
        value = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]), label="byte")
        edited = raw[:index] + bytes([value]) + raw[index + 1 :]
        report = check_bundle(edited)
        assert report.exit_code == 1
        assert report.mismatches
        assert all(f.detail for f in report.mismatches)

    @pytest.mark.parametrize(
        "change",
        [
            lambda d: _event(d, "KpiScored").update(type="K" * 100_000),
            lambda d: d.update(rep_id="r" * 100_000),
            lambda d: d["links"][0].__setitem__(1, "t" * 100_000),  # its recorded_at
        ],
        ids=["event-type", "rep-id", "link-time"],
    )
    def test_a_huge_field_is_named_in_a_short_line(
        self, demo_bundles: Bundles, change: Callable[[dict[str, Any]], None]
    ) -> None:
        """A field far longer than any id, time or type name is refused as the
        file's shape, its name in the finding, not its 100,000 characters echoed."""
        report = check_bundle(_edit(demo_bundles["rep-li", "2026-Q4"], change))
        assert report.exit_code == 1
        assert _mismatched(report) == ["file"]
        assert all(len(f.detail) < 1_000 for f in report.findings), report.to_dict()

    def test_every_position_flipped_to_one_other_character(self, demo_bundles: Bundles) -> None:
        """A loop over every byte of a bundle: each changed to a character of
        its own kind (a digit to a digit, a letter to a letter) fails."""
        raw = demo_bundles["rep-wang", "2026-Q3"]
        for index in range(0, len(raw), 7):
            byte = raw[index]
            if chr(byte).isdigit():
                other = ord("0") + (byte - ord("0") + 1) % 10
            elif chr(byte).isalpha():
                other = byte ^ 0x01
            else:
                other = byte ^ 0x20
            edited = raw[:index] + bytes([other]) + raw[index + 1 :]
            assert check_bundle(edited).exit_code == 1, (index, raw[index - 20 : index + 20])


def _relinked(doc: dict[str, Any], key: bytes | None = None) -> bytes:
    """``doc`` with every link recomputed (links 2) after an edit, its head and
    its statement's moved to match — what anyone holding the bundle can do on
    a plain chain, and only the key holder on a keyed one."""
    hasher = ChainHasher(key, links=2)
    digests = {int(link[0]): (str(link[1]), str(link[2])) for link in doc["links"]}
    for e in doc["events"]:
        content = e.get("content_sha256") or hashlib.sha256(e["state"].encode()).hexdigest()
        digest = event_digest(
            e["event_id"], e["stream"], e["version"], event_topic(e["type"]), content
        )
        digests[e["position"]] = (e["recorded_at"], digest)
    previous, hashes = doc["chain"]["previous_hash"], {}
    for position in sorted(digests):
        recorded_at, digest = digests[position]
        previous = hasher.link_hash_of_digest(
            previous, position=position, recorded_at=recorded_at, digest=digest
        )
        hashes[position] = previous
    for e in doc["events"]:
        e["hash"] = hashes[e["position"]]
    doc["chain"]["head"]["hash"] = doc["statement"]["chain_head"]["hash"] = previous
    return canonical_json(doc)


def _rewritten_after_the_run(raw: bytes, key: bytes | None = None) -> tuple[bytes, int]:
    """The bundle with the actor of its last event after the payout run (one the
    statement does not show) rewritten and every link recomputed; the
    position rewritten."""
    doc = orjson.loads(raw)
    run = _event(doc, "PayoutCalculated")
    later = [e for e in doc["events"] if e["position"] > run["position"] and "state" in e]
    target = later[-1]
    actor = re.search(r'"actor":"[^"]+"', target["state"])
    assert actor is not None
    target["state"] = target["state"].replace(actor.group(), '"actor":"mallory"')
    return _relinked(doc, key), int(target["position"])


def _anchor(raw: bytes, position: int) -> Anchor:
    """The genuine link at ``position`` of a bundle's disclosed events (or its head)."""
    doc = orjson.loads(raw)
    if position == doc["chain"]["head"]["position"]:
        return Anchor(position, doc["chain"]["head"]["hash"])
    return Anchor(position, next(e["hash"] for e in doc["events"] if e["position"] == position))


class TestWhatEachModeDetects:
    """The README's table for `audit check`: a rewrite whose links are all
    recomputed agrees with itself; an anchor (a head published earlier)
    catches it at or before the anchor, the chain key catches it anywhere."""

    def test_a_relinked_rewrite_passes_alone_and_fails_against_an_anchor(
        self, demo_bundles: Bundles
    ) -> None:
        raw = demo_bundles["rep-li", "2026-Q4"]
        forged, position = _rewritten_after_the_run(raw)
        genuine_head = _anchor(raw, orjson.loads(raw)["chain"]["head"]["position"])
        run_link = _anchor(raw, _event(orjson.loads(raw), "PayoutCalculated")["position"])
        assert check_bundle(raw, anchors=[genuine_head, run_link]).exit_code == 0
        alone = check_bundle(forged)
        assert alone.exit_code == 0  # plain links anyone can recompute prove nothing alone
        assert alone.head != f"{genuine_head.position}:{genuine_head.hash}"
        caught = check_bundle(forged, anchors=[genuine_head])
        assert caught.exit_code == 1
        assert _mismatched(caught) == [f"anchor {genuine_head.position}"]
        assert "not those of the chain the anchor was published from" in (
            caught.mismatches[0].detail
        )
        assert run_link.position < position  # an anchor proves the events up to it only
        assert check_bundle(forged, anchors=[run_link]).exit_code == 0

    def test_an_anchor_outside_the_segment_is_not_checked(self, demo_bundles: Bundles) -> None:
        raw = demo_bundles["rep-li", "2026-Q4"]
        head = orjson.loads(raw)["chain"]["head"]["position"]
        report = check_bundle(raw, anchors=[Anchor(head + 1, "a" * 64), Anchor(0, GENESIS)])
        assert report.exit_code == 2
        assert [f.part for f in report.unchecked] == [f"anchor {head + 1}"]
        assert "outside the bundle's segment" in report.unchecked[0].detail
        assert any(f.part == "anchor 0" and f.ok for f in report.findings)

    def test_a_keyed_chain_catches_a_relink_without_the_key(self, tmp_path: Path) -> None:
        key = b"k-0123456789abcdef"
        ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", chain_key=key.decode())
        run_demo(ledger)
        raw = Reports(ledger).audit_bundle("rep-li", "2026-Q4")
        ledger.close()
        guessed, _ = _rewritten_after_the_run(raw, key=b"a-guess-at-the-key")
        report = check_bundle(guessed, key=key)
        assert report.exit_code == 1
        assert "chain" in _mismatched(report)
        assert check_bundle(guessed).exit_code == 2  # without the key: not checked
        doc = orjson.loads(raw)
        appended = {**_event(doc, "KpiScored"), "position": doc["chain"]["head"]["position"] + 1}
        doc["events"].append(appended)
        doc["chain"]["head"]["position"] = doc["statement"]["chain_head"]["position"] = appended[
            "position"
        ]
        forged_append = check_bundle(_relinked(doc, key=b"a-guess-at-the-key"), key=key)
        assert "chain" in _mismatched(forged_append)


def _withheld(raw: bytes, type_: str) -> bytes:
    """The bundle with the rep's first ``type_`` event turned into a bare link
    (its digest computed from what the bundle showed of it) and the statement
    restated as the events left recompute it: no link changes, on a keyed chain
    as on a plain one."""
    doc = orjson.loads(raw)
    hidden = _event(doc, type_)
    doc["events"].remove(hidden)
    content = hashlib.sha256(hidden["state"].encode()).hexdigest()
    topic = event_topic(hidden["type"])
    digest = event_digest(hidden["event_id"], hidden["stream"], hidden["version"], topic, content)
    doc["links"] = sorted([*doc["links"], [_at(hidden), hidden["recorded_at"], digest]])
    bundle = AuditBundle.model_validate_json(canonical_json(doc))
    records = _records(bundle, BundleReport())
    assert records is not None
    head = bundle.chain.head
    at = AsOf(head.position, doc["statement"]["as_of"]["recorded_at"], head.hash)
    doc["statement"] = Calculator(_fold(records), at).statement(
        bundle.rep_id, parse_period(bundle.period)
    )
    return canonical_json(doc)


class TestTheKeyedSeal:
    """On a keyed chain the ledger seals the bundle whole with the chain key: a
    rep's event left out as a bare link, with the statement restated, changes
    no link — the key holder's check passed it, all matched."""

    def test_a_withheld_cancellation_is_caught_by_the_seal(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        key = b"k-0123456789abcdef"
        ledger = make_ledger(chain_key=key.decode())
        run_demo(ledger)
        raw = Reports(ledger).audit_bundle("rep-li", "2026-Q4")
        genuine = check_bundle(raw, key=key)
        assert genuine.exit_code == 0, genuine.to_dict()
        assert [f.ok for f in genuine.findings if f.part == "seal"] == [True]
        forged = _withheld(raw, "SaleCancelled")  # Li's clawback gone
        assert orjson.loads(forged)["statement"]["total"] != orjson.loads(raw)["statement"]["total"]
        report = check_bundle(forged, key=key)
        assert report.exit_code == 1
        assert _mismatched(report) == ["seal"]  # every link and the statement agree
        assert "left out as a bare link" in report.mismatches[0].detail
        assert check_bundle(forged).exit_code == 2  # without the key: the seal is not checked

    def test_an_unsealed_keyed_bundle_is_not_all_matched(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A seal removed (or a bundle made before bundles were sealed): its links
        check, but not that nothing was left out — exit 2, never 0."""
        key = b"k-0123456789abcdef"
        ledger = make_ledger(chain_key=key.decode())
        run_demo(ledger)
        doc = orjson.loads(Reports(ledger).audit_bundle("rep-wang", "2026-Q3"))
        del doc["seal"]
        report = check_bundle(canonical_json(doc), key=key)
        assert report.exit_code == 2
        assert [f.part for f in report.unchecked] == ["seal"]
        assert "not that none of the rep's events was left out" in report.unchecked[0].detail

    def test_what_all_matched_does_not_prove_is_said(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        """Exit 0 said "all matched" and, in --json, only ``"ok": true``: not
        that plain links prove nothing of the ledger without an anchor, nor
        that a left-out event changes no link. Only a checked seal proves all."""
        key = b"k-0123456789abcdef"
        ledger = make_ledger(chain_key=key.decode())
        run_demo(ledger)
        raw = Reports(ledger).audit_bundle("rep-li", "2026-Q4")
        sealed = check_bundle(raw, key=key)
        assert sealed.exit_code == 0
        assert sealed.unproven == []
        assert sealed.to_dict()["unproven"] == []
        keyless = check_bundle(raw)
        assert keyless.exit_code == 2
        assert [u.split(":")[0] for u in keyless.unproven] == [
            "that these events are the ledger's",
            "that none of the rep's events was left out",
        ]

    def test_a_plain_bundle_says_what_it_leaves_unproven(self, demo_bundles: Bundles) -> None:
        raw = demo_bundles["rep-li", "2026-Q4"]
        doc = orjson.loads(raw)
        head = _anchor(raw, doc["chain"]["head"]["position"])
        run = _anchor(raw, _event(doc, "PayoutCalculated")["position"])
        alone, at_head, at_run = (check_bundle(raw, anchors=a) for a in ([], [head], [run]))
        assert [r.exit_code for r in (alone, at_head, at_run)] == [0, 0, 0]
        left_out = "that none of the rep's events was left out"
        assert [u.split(":")[0] for u in alone.unproven] == [
            "that these events are the ledger's",
            f"{left_out}",
        ]
        assert f"verify --anchor {head.position}:{head.hash}" in alone.unproven[0]
        assert alone.to_dict()["unproven"] == alone.unproven
        assert [u.split(":")[0] for u in at_head.unproven] == [left_out]
        assert at_run.unproven[0].startswith(
            f"that the events after position {run.position} (to the head {head.position})"
        )

    def test_a_plain_bundle_carries_no_seal(self, demo_bundles: Bundles) -> None:
        raw = demo_bundles["rep-li", "2026-Q3"]
        assert "seal" not in orjson.loads(raw)
        report = check_bundle(_edit(raw, lambda d: d.update(seal="a" * 64)))
        assert _mismatched(report) == ["seal"]


class TestAWrongChainKey:
    """A bundle checked with another key than its ledger's: every link failed,
    each finding saying "(or the chain key is wrong)" — the auditor read a
    mismatch per event, and never once, first, that the key is the cause."""

    def test_the_key_is_blamed_once_and_first_and_an_edit_is_not(
        self, make_ledger: Callable[..., Ledger], tmp_path: Path
    ) -> None:
        key = "k-0123456789abcdef"
        ledger = make_ledger(chain_key=key)
        run_demo(ledger)
        raw = Reports(ledger).audit_bundle("rep-li", "2026-Q4")
        (tmp_path / "b.json").write_bytes(raw)
        wrong = check_bundle(raw, key=b"another-key-0123456")
        assert wrong.exit_code == 1
        assert wrong.wrong_key is not None
        assert wrong.wrong_key.startswith("the chain key given is probably wrong")
        assert wrong.to_dict()["wrong_key"] == wrong.wrong_key
        events = [f for f in wrong.mismatches if f.part.startswith("event ")]
        assert len(events) > 5  # each still named by its position and type
        assert all(re.fullmatch(r"event \d+ \([A-Za-z]+\)", f.part) for f in events)
        assert [f.detail for f in wrong.mismatches if "wrong" in f.detail] == []

        cli = run_cli("audit", "check", "b.json", "--key", "another-key-0123456", cwd=tmp_path)
        assert cli.returncode == 1
        assert "probably wrong" in cli.stderr.splitlines()[0], cli.stderr
        assert "or the chain key is wrong" not in " ".join((cli.stdout + cli.stderr).split())
        args = ("audit", "check", "b.json", "--json", "--key", "another-key-0123456")
        as_json = json.loads(run_cli(*args, cwd=tmp_path).stdout)
        assert as_json["wrong_key"].startswith("the chain key given is probably wrong")

        # the right key, one event edited: just that event, the key not blamed
        edit = lambda d: _set_state(  # noqa: E731
            _event(d, "SaleRecorded"), '"amount":"120000.00"', '"amount":"1200000.00"'
        )
        edited = check_bundle(_edit(raw, edit), key=key.encode())
        links = [p for p in _mismatched(edited) if p.startswith(("event ", "head"))]
        assert links == [_named(_event(orjson.loads(raw), "SaleRecorded"))]
        assert edited.wrong_key is None
        assert edited.to_dict()["wrong_key"] is None
        assert [f.detail for f in edited.mismatches if "wrong" in f.detail] == []
        assert check_bundle(raw, key=key.encode()).wrong_key is None


def _sales_by_rep() -> dict[str, list[dict[str, Any]]]:
    """Each demo rep's sales (those they are credited with, splits included)."""
    sales: dict[str, list[dict[str, Any]]] = {rep: [] for rep in REPS}
    for e in QUARTER:
        if e["type"] != "SaleRecorded":
            continue
        credited = {s["rep_id"] for s in e.get("splits", [])} or {e["rep_id"]}
        for rep in credited:
            sales[rep].append(e)
    return sales


def _amount_patterns(amount: str) -> list[re.Pattern[str]]:
    """An amount as a bundle could spell it: 90000, 90000.00 or 90,000.00 — as
    a number, not digits inside a hash."""
    whole = amount.split(".", maxsplit=1)[0]
    grouped = f"{int(whole):,}"
    return [
        re.compile(rf"(?<![0-9a-f.,]){re.escape(spelling)}(?:\.0+)?(?![0-9a-f,])")
        for spelling in {whole, grouped}
    ]


class TestGzip:
    def test_a_gzipped_bundle_checks_and_a_damaged_one_is_named(
        self, demo_bundles: Bundles
    ) -> None:
        raw = demo_bundles["rep-chen", "2026-Q3"]
        packed = gzip.compress(raw, 9, mtime=0)
        assert check_bundle(packed).exit_code == 0
        named = 0
        for index in range(10, len(packed), max(1, len(packed) // 40)):
            damaged = packed[:index] + bytes([packed[index] ^ 0x10]) + packed[index + 1 :]
            report = check_bundle(damaged)
            if _unpacks_to(damaged) == raw:
                # a bit deflate never reads (the padding after the last block, an
                # unused code length): the bundle inside is intact, byte for byte
                assert report.exit_code == 0, index
                continue
            assert report.exit_code == 1, index
            assert report.mismatches
            named += 1
        assert named >= 35  # of 40 flips: nearly every bit of a deflate stream is read


def _unpacks_to(packed: bytes) -> bytes | None:
    try:
        return gzip.decompress(packed)
    except (OSError, EOFError, zlib.error):
        return None


class TestPrivacy:
    @pytest.mark.parametrize(("period", "rep"), [(p, r) for p in PERIODS for r in REPS])
    def test_a_bundle_holds_nothing_of_another_rep(
        self, demo_bundles: Bundles, rep: str, period: str
    ) -> None:
        """Grep the file for every other rep's id, name, sale ids and sale amounts.

        The one exception is a sale the rep shares (S-1002, split between Li and
        Chen): it is the rep's own event too, so the co-seller's id in its split
        is there — as the rep's own statement API shows it (README).
        """
        text = demo_bundles[rep, period].decode()
        sales = _sales_by_rep()
        own = {s["sale_id"] for s in sales[rep]}
        co_sellers = {split["rep_id"] for s in sales[rep] for split in s.get("splits", [])} - {rep}
        # The rep's own figures, which may equal another's by chance: a sale's
        # amount and its credited share of it (Chen's half of S-1002 is 30000.00,
        # as is Li's S-1008), their targets' values (Wang's 120000, as Li's S-1001).
        own_figures = {Decimal(s["amount"]) for s in sales[rep]} | {
            Decimal(s["amount"]) * Decimal(split["share"])
            for s in sales[rep]
            for split in s.get("splits", [])
            if split["rep_id"] == rep
        }
        own_figures |= {
            Decimal(e["value"]) for e in QUARTER if e.get("rep_id") == rep and "value" in e
        }
        found = []
        for other, name in REPS.items():
            if other == rep:
                continue
            if other not in co_sellers and other in text:
                found.append(other)
            if name in text:
                found.append(name)
            for sale in sales[other]:
                if sale["sale_id"] in own:
                    continue  # shared with this rep
                if sale["sale_id"] in text:
                    found.append(sale["sale_id"])
                if Decimal(sale["amount"]) in own_figures:
                    continue
                found += [p.pattern for p in _amount_patterns(sale["amount"]) if p.search(text)]
        assert found == []

    def test_a_managers_bundle_holds_only_what_their_overrides_rest_on(
        self, ledger: Ledger
    ) -> None:
        """m is paid overrides on x's sales, so x's sales are m's events too —
        but x's coaching, cases, scores, targets, adjustments and disputes are
        x's alone: none of m's pay rests on them. The replay index listed them
        for m as well, so m's bundle (and `GET /events` with m's token) held
        them whole, even those recorded after x had moved to another manager."""
        plan = load_plan(plan_toml(tail=_OVERRIDES), "toml")
        ledger.publish_plan(plan, actor="admin")

        def by_m(type_: str, **fields: str) -> dict[str, Any]:
            return line(type_, at="2026-08-03T10:00:00+08:00", actor="m", rep_id="x", **fields)

        ledger.import_lines(
            jsonl(
                enrol("m"),
                enrol("x", manager_id="m"),
                sale_line("S1", "x", "10000.00"),
                by_m("CoachingRecorded", topic="private-topic"),
                by_m("ViolationRecorded", case_id="C-x", code="late", **_PRIVATE_CASE),
                by_m("KpiScored", period="2026-Q3", kpi="market_feedback", score="0.123457"),
            ),
            actor="hr-sync",
        )
        reports = Reports(ledger)
        raw = reports.audit_bundle("m", "2026-Q3")
        assert check_bundle(raw).exit_code == 0
        whole = {e["type"]: e for e in orjson.loads(raw)["events"]}
        assert "SaleRecorded" in whole  # what the override rests on
        assert [
            t for t in ("CoachingRecorded", "ViolationRecorded", "KpiScored") if t in whole
        ] == []
        text = raw.decode()
        assert [w for w in ("private-topic", "private-case", "0.123457") if w in text] == []
        assert reports.statement("m", "2026-Q3")["total"] == "200.00"
        for record in ledger.iter_log():
            if record.type in {"CoachingRecorded", "ViolationRecorded", "KpiScored"}:
                assert reports.reps_of_event(record) == ["x"], record.type

    def test_a_former_reports_later_sales_are_not_in_the_managers_bundle(
        self, ledger: Ledger
    ) -> None:
        """x reported to m (paid overrides) and moved to n on 1 September: x's
        August sale is m's override, x's September sale is not — yet the
        replay index lists every sale of x's for m (a transfer recorded later
        could move a sale onto m's watch), and m's bundle held it whole, amount
        and customer. It is a bare link now; the bundle still checks."""
        plan = load_plan(plan_toml(tail=_OVERRIDES), "toml")
        ledger.publish_plan(plan, actor="admin")
        ledger.import_lines(
            jsonl(
                enrol("m"),
                enrol("n"),
                enrol("x", manager_id="m"),
                sale_line("S-AUG", "x", "10000.00", at="2026-08-03T10:00:00+08:00"),
                line(
                    "RepTransferred",
                    at="2026-09-01T09:00:00+08:00",
                    actor="hr-sync",
                    rep_id="x",
                    manager_id="n",
                ),
                sale_line(
                    "S-SEP",
                    "x",
                    "7777.00",
                    at="2026-09-03T10:00:00+08:00",
                    customer_id="CUST-of-n",
                ),
            ),
            actor="hr-sync",
        )
        reports = Reports(ledger)
        assert reports.statement("m", "2026-Q3")["total"] == "200.00"  # 2 % of August's
        raw = reports.audit_bundle("m", "2026-Q3")
        assert check_bundle(raw).exit_code == 0
        sold = [e["state"] for e in orjson.loads(raw)["events"] if e["type"] == "SaleRecorded"]
        assert [s for s in sold if "S-AUG" in s] != []
        # the amount as written ("7777" alone can turn up in a hash or an id)
        assert [w for w in ("S-SEP", "7777.00", "CUST-of-n") if w in raw.decode()] == []
        assert check_bundle(reports.audit_bundle("n", "2026-Q3")).exit_code == 0
        september = stored_record(ledger, "SaleRecorded", sale_id="S-SEP")
        august = stored_record(ledger, "SaleRecorded", sale_id="S-AUG")
        assert "m" not in reports.reps_of_event(september)
        assert "m" in reports.reps_of_event(august)

    def test_the_run_appears_as_its_hash_and_the_reps_own_statement(
        self, demo_bundles: Bundles
    ) -> None:
        doc = orjson.loads(demo_bundles["rep-wang", "2026-Q3"])
        run = _event(doc, "PayoutCalculated")
        assert "state" not in run
        assert run["statement"]["rep_id"] == "rep-wang"
        assert set(run) >= {"content_sha256", "hash", "run_id", "computed_at"}
        # the others: position, time and digest (links 2), no payload
        assert doc["chain"]["links"] == 2
        assert all(len(link) == 3 for link in doc["links"])

    def test_a_bare_link_says_neither_whose_stream_nor_what_type(self, tmp_path: Path) -> None:
        """Links 1 showed another rep's event as its stream — a UUIDv5 anyone can
        compute from a natural key (``case:CASE-102``, ``rep:rep-wang``) — and
        its type: Li learnt that Wang was coached, and when. Links 2 show a
        position, a time and a digest; the bundle still checks."""
        ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
        try:
            run_demo(ledger)
            bundle = Reports(ledger).audit_bundle("rep-li", "2026-Q3")
            rows = list(log_rows(ledger.chain))
        finally:
            ledger.close()
        doc = orjson.loads(bundle)
        text = orjson.dumps(doc["links"]).decode()
        disclosed = {e["position"] for e in doc["events"]}
        others = [r for r in rows if r.position not in disclosed]
        assert len(others) == len(doc["links"]) > 0
        streams = {r.originator_id.hex for r in others if r.originator_id is not None}
        assert [s for s in streams if s in text] == []
        types = {type_of_topic(r.topic) for r in others if r.topic is not None}
        assert {"CoachingRecorded", "KpiScored"} <= types
        assert [t for t in types if t in text] == []
        assert check_bundle(bundle).ok


class TestOnlyTheRepsPlans:
    @pytest.mark.parametrize("period", PERIODS)
    def test_a_bundle_discloses_only_the_plans_the_rep_follows(
        self, demo_bundles: Bundles, period: str
    ) -> None:
        """The demo publishes three plans; Li follows field-sales only: the others'
        versions are in the chain as bare links, their bands and quotas not at all."""
        doc = orjson.loads(demo_bundles["rep-li", period])
        assert {p["id"] for p in doc["plans"]} == {"field-sales"}
        disclosed = [e for e in doc["events"] if e["type"] == "PlanPublished"]
        assert disclosed
        assert all('"id":"field-sales"' in e["state"] for e in disclosed)
        # inside-sales and inside-leads: bare links, their type not even said
        assert "PlanPublished" not in orjson.dumps(doc["links"]).decode()
        text = demo_bundles["rep-li", period].decode()
        assert "inside-sales" not in text
        assert "inside-leads" not in text
        assert check_bundle(demo_bundles["rep-li", period]).exit_code == 0
