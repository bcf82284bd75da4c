"""SPEC §2 "Bounds", at the edge: each out-of-bounds value is refused naming its
field, each in-bounds one keeps the canonical form (and content hash) it had."""

from __future__ import annotations

import json
import tomllib
import tracemalloc
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.errors import BatchRejectedError
from ledger.events import KpiScored, make_event
from ledger.ingestion.parse import parse_line
from ledger.writes import Input
from policies.money import canonical_money, check_money, decimal_places, minor_units
from policies.periods import Period, parse_period, stored_period
from policies.plan import Plan, PlanError, load_plan, plan_document
from tests.builders import PLAN_TOML

AT = "2026-07-14T10:00:00+08:00"


def _parse(event: dict[str, Any], *, raw: str | None = None) -> tuple[Any, list[tuple[str, str]]]:
    item, errors = parse_line(raw if raw is not None else json.dumps(event), line=7)
    assert all(e.line == 7 for e in errors)
    return item, [(e.field or "", e.reason) for e in errors]


def _event(type_: str, **fields: Any) -> dict[str, Any]:
    """A line of ``type_`` at AT with ``fields``, in their order."""
    return {"type": type_, "occurred_at": AT, **fields}


R1_Q3 = {"rep_id": "r1", "period": "2026-Q3"}


def _sale(**fields: Any) -> dict[str, Any]:
    sale = _event("SaleRecorded", sale_id="S1", rep_id="r1", amount="1000.00", currency="CNY")
    return sale | fields


def _score(score: Any, **fields: Any) -> dict[str, Any]:
    return _event("KpiScored", **R1_Q3, kpi="customer_satisfaction", score=score) | fields


def _target(value: Any, **fields: Any) -> dict[str, Any]:
    target = {"target_id": "T1", **R1_Q3, "kpi": "sales_amount", "value": value, "reason": "quota"}
    return _event("TargetSet", **target) | fields


def _rep(**fields: Any) -> dict[str, Any]:
    return _event("RepEnrolled", rep_id="r9", name="Li Wei", plan_id="field-sales") | fields


def _case(**fields: Any) -> dict[str, Any]:
    case = {"case_id": "C1", "rep_id": "r1", "code": "late", "severity": "minor"}
    return _event("ViolationRecorded", **case, description="late report") | fields


# (name, event, field refused or None, the refusal's words or the stored value)
CASES: list[tuple[str, dict[str, Any], str | None, str]] = [
    # dates: 2000-2199 in their own offset
    ("first instant", _sale(occurred_at="2000-01-01T00:00:00+14:00"), None, ""),
    ("last instant", _sale(occurred_at="2199-12-31T23:59:59.999999-12:00"), None, ""),
    ("1999", _sale(occurred_at="1999-12-31T23:59:59-12:00"), "occurred_at", "2000-2199"),
    ("2200", _sale(occurred_at="2200-01-01T00:00:00+14:00"), "occurred_at", "2000-2199"),
    ("9999", _sale(occurred_at="9999-12-31T00:00:00+00:00"), "occurred_at", "2000-2199"),
    # periods likewise
    ("period 2000-Q1", _score("1", period="2000-Q1"), None, ""),
    ("period 2199-Q4", _score("1", period="2199-Q4"), None, ""),
    ("period 2199-12", _score("1", period="2199-12"), None, ""),
    ("period 9999-Q4", _score("1", period="9999-Q4"), "period", "2000-2199"),
    ("period 1999-12", _score("1", period="1999-12"), "period", "2000-2199"),
    ("period 2200-01", _score("1", period="2200-01"), "period", "2000-2199"),
    ("period in other digits", _score("1", period="٢٠٢٦-Q3"), "period", "look like"),
    # money: below 10^12, decimals of its currency
    ("largest money", _sale(amount="999999999999.99"), None, "999999999999.99"),
    ("10^12", _sale(amount="1000000000000.00"), "amount", "below 10^12"),
    ("16 digits", _sale(amount="1234567890123456"), "amount", "decimal text"),
    ("CNY 3 decimals", _sale(amount="10.001"), "amount", "CNY money has at most 2"),
    ("JPY whole", _sale(amount="1234", currency="JPY"), None, "1234.00"),
    ("JPY .00", _sale(amount="1234.00", currency="JPY"), None, "1234.00"),
    ("JPY fraction", _sale(amount="1234.5", currency="JPY"), "amount", "JPY money has no decimals"),
    ("KRW fraction", _sale(amount="1.01", currency="KRW"), "amount", "KRW money has no decimals"),
    ("KWD 3 decimals", _sale(amount="1.505", currency="KWD"), None, "1.505"),
    ("KWD 1 decimal", _sale(amount="1.5", currency="KWD"), None, "1.50"),
    ("BHD 4 decimals", _sale(amount="1.5055", currency="BHD"), "amount", "at most 3"),
    ("money exponent", _sale(amount="1e3"), "amount", "decimal text"),
    ("case money 4 decimals", _case(amount="1.0001"), None, "1.0001"),
    ("case money 5 decimals", _case(amount="1.00001"), "amount", "decimal text"),
    ("case money 10^12", _case(amount="1000000000000"), "amount", "below 10^12"),
    # scores [0, 100], at most 6 decimals
    ("score 0", _score("0"), None, "0"),
    ("score 100", _score("100"), None, "100"),
    ("score 100.000001", _score("100.000001"), "score", "[0, 100]"),
    ("score 6 decimals", _score("0.123456"), None, "0.123456"),
    ("score 7 decimals", _score("0.1234567"), "score", "at most 6 decimal places"),
    ("score trailing zeros", _score("0.9000000000"), None, "0.9"),
    ("score negative", _score("-0.000001"), "score", "[0, 100]"),
    ("score text exponent", _score("1e1000000"), "score", "[0, 100]"),
    ("score tiny exponent", _score("1e-1000000"), "score", "at most 6 decimal places"),
    ("score small exponent", _score("9.5E-1"), None, "0.95"),
    ("score long text", _score("0." + "0" * 80 + "1"), "score", "short decimal"),
    ("score NaN", _score("NaN"), "score", "finite"),
    # shares (0, 1], at most 6 decimals
    (
        "share 1",
        _sale(splits=[{"rep_id": "r1", "share": "1"}]),
        None,
        "",
    ),
    (
        "share 1.0000001",
        _sale(splits=[{"rep_id": "r1", "share": "1.0000001"}]),
        "splits[0].share",
        "(0, 1]",
    ),
    (
        "share 0",
        _sale(splits=[{"rep_id": "r1", "share": "0"}, {"rep_id": "r2", "share": "1"}]),
        "splits[0].share",
        "(0, 1]",
    ),
    (
        "share 7 decimals",
        _sale(splits=[{"rep_id": "r1", "share": "0.9999999"}]),
        "splits[0].share",
        "at most 6 decimal places",
    ),
    (
        "101 splits",
        _sale(splits=[{"rep_id": f"r{i}", "share": "0.01"} for i in range(101)]),
        "splits",
        "at most 100",
    ),
    # a target value: positive, below 10^12, at most 6 decimals
    ("target largest", _target("999999999999.999999"), None, "999999999999.999999"),
    ("target 10^12", _target("1000000000000"), "value", "(0, 10^12)"),
    ("target 0", _target("0"), "value", "(0, 10^12)"),
    ("target 7 decimals", _target("0.0000001"), "value", "at most 6 decimal places"),
    ("target text exponent", _target("1e1000000"), "value", "(0, 10^12)"),
    ("target integer", _target(200000), None, "200000"),
    # text at most 10,000 characters, ids at most 128
    ("text 10,000", _case(description="x" * 10_000), None, ""),
    ("text 10,001", _case(description="x" * 10_001), "description", "at most 10000"),
    ("id 128", _case(case_id="C" * 128), None, ""),
    ("id 129", _case(case_id="C" * 129), "case_id", "pattern"),
    ("evidence 100", _case(evidence=["ref"] * 100), None, ""),
    ("evidence 101", _case(evidence=["ref"] * 101), "evidence", "at most 100"),
    ("evidence item 10,001", _case(evidence=["x" * 10_001]), "evidence[0]", "at most 10000"),
    (
        "rep name 10,000",
        _event("RepEnrolled", rep_id="r9", name="n" * 10_000, plan_id="field-sales"),
        None,
        "",
    ),
    # control characters: none in a name or free text but tabs and line breaks
    # (which an earlier version stored in names: sent again, they are the same fact)
    ("name NUL", _rep(name="a\x00b"), "name", "U+0000 at character 2"),
    ("name escape", _rep(name="a\x1b[31mb"), "name", "U+001B"),
    ("name C1", _rep(name="a\x85b"), "name", "U+0085"),
    ("name DEL", _rep(name="a\x7fb"), "name", "U+007F"),
    ("name tab and line breaks", _rep(name="Li\tWei\r\nWang\u2028Fang"), None, ""),
    ("name in other scripts", _rep(name="王芳 Zoë O'Brien-Ławska"), None, ""),
    ("text NUL", _case(description="late\x00"), "description", "U+0000"),
    ("text escape", _case(description="\x1b]0;pwned\x07"), "description", "U+001B"),
    ("text C1", _case(description="late\x9b"), "description", "U+009B"),
    ("text lines and tabs", _case(description="line 1\r\nline 2\n\tindented"), None, ""),
    ("evidence item NUL", _case(evidence=["ref\x00"]), "evidence[0]", "U+0000"),
    ("reason NUL", _event("SaleCancelled", sale_id="S1", reason="x\x00"), "reason", "U+0000"),
]


class TestEventBounds:
    @pytest.mark.parametrize(("name", "event", "field", "words"), CASES, ids=[c[0] for c in CASES])
    def test_bound(self, name: str, event: dict[str, Any], field: str | None, words: str) -> None:
        """In bounds: accepted in canonical form. Outside: refused, the field named."""
        item, errors = _parse(event)
        if field is None:
            assert errors == [], errors
            assert item is not None
            if words:
                payload = item.payload()
                stored = payload.get("amount") or payload.get("score") or payload.get("value")
                assert stored == words
            return
        assert item is None
        assert [f for f, _ in errors] == [field], errors
        assert words in errors[0][1]

    @pytest.mark.parametrize(
        "raw",
        [
            '"1e1000000"',  # text: once a 500
            "1e999999",  # a JSON number: once stored as a 1 MB event
            "1" + "0" * 4_000,  # an integer of 4,001 digits
        ],
    )
    @pytest.mark.parametrize("field", ["score", "value"])
    def test_a_huge_exponent_is_refused_without_being_written_out(
        self, raw: str, field: str
    ) -> None:
        """An exponent form is refused from its digits: the parse never makes the
        megabyte of text (or number) it stands for (measured as allocation, not time)."""
        template = _score("SCORE") if field == "score" else _target("SCORE")
        text = json.dumps(template).replace('"SCORE"', raw)
        tracemalloc.start()
        try:
            item, errors = _parse({}, raw=text)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert item is None
        assert [f for f, _ in errors] == [field]
        assert all(len(reason) < 300 for _, reason in errors)
        assert peak < 200_000, f"the parse allocated {peak} bytes"

    @pytest.mark.parametrize(
        ("raw", "stored"), [("0.5", "0.5"), ("100.0", "100"), ("95e-2", "0.95")]
    )
    def test_a_json_number_score_is_read_exactly(self, raw: str, stored: str) -> None:
        """A JSON number is decoded as the exact decimal it spells, then bounded."""
        item, errors = _parse({}, raw=json.dumps(_score("SCORE")).replace('"SCORE"', raw))
        assert errors == []
        assert item.payload()["score"] == stored

    def test_an_integer_of_thousands_of_digits_is_bad_json_not_a_crash(self) -> None:
        """Python refuses to convert a 5,000-digit integer: that is bad input (once a 500)."""
        text = json.dumps(_score("SCORE")).replace('"SCORE"', "1" + "0" * 5_000)
        item, errors = _parse({}, raw=text)
        assert item is None
        assert errors[0][1].startswith("malformed JSON")

    def test_several_bad_fields_are_each_named(self) -> None:
        """Every bad field of a line is named, not only the first."""
        _, errors = _parse(
            _score("101", occurred_at="9999-01-01T00:00:00+00:00", period="9999-Q1", actor="a b")
        )
        assert sorted(f for f, _ in errors) == ["actor", "occurred_at", "period", "score"]


# content hashes of these lines as the ledger computed them before the bounds
# (main at 5dec37b): imports of files already stored stay idempotent
HASHES_BEFORE: list[tuple[dict[str, Any], str]] = [
    (
        _sale(amount="1234.5", occurred_at=AT),
        "e280dab4486e89bb95784d3266b061926fa95d7b836ece913b0d094f5a852c87",
    ),
    (
        _sale(sale_id="S2", amount="1234", currency="JPY"),
        "3078ec058802d4408a5097ba16328c7dc22a8d654acd72f4de84cb9f6827526f",
    ),
    (
        _sale(
            sale_id="S3",
            amount="1.5",
            currency="KWD",
            splits=[{"rep_id": "r1", "share": "0.50"}, {"rep_id": "r2", "share": "0.5"}],
        ),
        "c5095aed9beab08c095fc99ca3f4b6f01fbcb6b8f2b3c1eafe50803863dec065",
    ),
    (
        _score("0.90", kpi="k"),
        "6daa985d4585ba9190d531c40abdbc836f25519201e4006480e0fd238c31c334",
    ),
    (
        _target("200000.000", target_id="T", reason="r"),
        "ee5f774ea42091a6123af0f5ee394204133c1e0ede84d088bc1744b2ffbc397d",
    ),
    (
        _event("AdjustmentRequested", adjustment_id="A", **R1_Q3, amount="-150", reason="r"),
        "4c2c12ec57607c1505d0ac58f0b6da5cb3082965e18446c953261c9b626d3525",
    ),
    (
        _case(
            case_id="C",
            code="x",
            severity="red_line",
            description="d",
            evidence=["a", "b"],
            amount="0.1",
        ),
        "7eb10acc3ca8620b70a732cda46a823327b0f98cbc0cb2363bdd119398407545",
    ),
]


class TestCommands:
    def test_make_event_refuses_like_an_import(self) -> None:
        """A command's event (the CLI's, the API's) meets the same bounds, its field named."""
        with pytest.raises(BatchRejectedError) as caught:
            make_event(
                KpiScored,
                occurred_at=datetime(9999, 1, 1, tzinfo=UTC),
                rep_id="r1",
                period="9999-Q4",
                kpi="k",
                score="1e1000000",
            )
        assert sorted(e.field or "" for e in caught.value.errors) == [
            "occurred_at",
            "period",
            "score",
        ]


class TestCanonicalForm:
    @pytest.mark.parametrize(("event", "sha256"), HASHES_BEFORE)
    def test_content_hashes_of_in_bounds_events_are_unchanged(
        self, event: dict[str, Any], sha256: str
    ) -> None:
        """The bounds change no stored byte of an event they accept."""
        item, errors = _parse(event)
        assert errors == []
        assert Input.of(item, "crm-sync").content_sha256 == sha256

    @pytest.mark.parametrize(
        ("text", "stored"),
        [
            ("1234.5", "1234.50"),
            ("1234", "1234.00"),
            ("-0.1", "-0.10"),
            ("1.500", "1.50"),
            ("1.505", "1.505"),
            ("1.5050", "1.505"),
            ("1.0001", "1.0001"),
            ("-0.00", "0.00"),
            ("-0", "0.00"),
            ("-0.0000", "0.00"),
        ],
    )
    def test_one_value_one_text(self, text: str, stored: str) -> None:
        """Cents as two decimals; a third (or fourth) only when the amount needs it;
        zero unsigned."""
        assert str(canonical_money(Decimal(text))) == stored

    @pytest.mark.parametrize(
        ("event", "field", "signed", "stored"),
        [
            (_case, "amount", '"-0.00"', "0.00"),
            (_case, "amount", '"-0"', "0.00"),
            (_score, "score", '"-0"', "0"),
            (_score, "score", '"-0.000000"', "0"),
            (_score, "score", "-0.0", "0"),  # a JSON number
            (_score, "score", "-0", "0"),
        ],
    )
    def test_a_signed_zero_is_zero(self, event: Any, field: str, signed: str, stored: str) -> None:
        """``"-0.00"`` and ``"0.00"`` are one value: stored as one text, with
        one content hash (a score of "-0" and one of "0" were two facts)."""
        zero, errors = _parse({}, raw=json.dumps(event(**{field: "0"})))
        assert errors == []
        item, errors = _parse({}, raw=json.dumps(event(**{field: "Z"})).replace('"Z"', signed))
        assert errors == []
        assert item.payload()[field] == stored
        assert Input.of(item, "x").content_sha256 == Input.of(zero, "x").content_sha256

    @pytest.mark.parametrize(
        ("currency", "units"), [("CNY", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3)]
    )
    def test_minor_units(self, currency: str, units: int) -> None:
        assert minor_units(currency) == units

    def test_decimal_places_reads_digits(self) -> None:
        assert [decimal_places(Decimal(t)) for t in ["1.50", "100", "0", "1E+5", "1E-9"]] == [
            1,
            0,
            0,
            0,
            9,
        ]
        with pytest.raises(ValueError, match="below 10"):
            check_money(Decimal("-1E+12"))


class TestPeriods:
    @pytest.mark.parametrize(
        "text", ["2000-01", "2000-Q1", "2199-12", "2199-Q4", " 2026-Q3 ", "2026-07"]
    )
    def test_in_bounds(self, text: str) -> None:
        assert str(parse_period(text)) == text.strip()

    @pytest.mark.parametrize(
        "text", ["1999-12", "1999-Q4", "2200-01", "2200-Q1", "9999-Q4", "0001-01", "0000-Q1"]
    )
    def test_out_of_bounds_is_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match="2000-2199"):
            parse_period(text)

    def test_a_stored_period_past_the_edge_reads_back(self) -> None:
        """The read models key the period after a paid 2199-Q4 (its
        correction) by its text: read back, it is a period, not an input
        outside the bounds."""
        assert stored_period("2200-Q1") == parse_period("2199-Q4").next()
        assert stored_period("2200-01") == Period("month", 2200, 1)
        assert stored_period("2026-Q3") == parse_period("2026-Q3")
        for text in ("2026-13", "2026-Q5", " 2026-Q3", "Q3"):
            with pytest.raises(ValueError, match="not a stored period"):
                stored_period(text)

    def test_arithmetic_past_either_edge(self) -> None:
        """A Period steps past the bounds (a paid 2199-Q4's corrections land in
        the period after it; the ladder looks back a year before 2000)."""
        q4 = parse_period("2199-Q4")
        assert q4.last_day == date(2199, 12, 31)
        assert q4.next() == Period("quarter", 2200, 1)
        assert q4.next().previous() == q4
        dec = parse_period("2199-12")
        assert dec.last_day == date(2199, 12, 31)
        first = parse_period("2000-01")
        assert first.previous() == Period("month", 1999, 12)
        assert first.previous().next() == first


class TestPlanBounds:
    @pytest.mark.parametrize(
        ("old", "new", "field", "words"),
        [
            (
                "effective_from = 2026-01-01",
                "effective_from = 9999-01-01",
                "effective_from",
                "2000-2199",
            ),
            (
                "effective_from = 2026-01-01",
                "effective_from = 1999-12-31",
                "effective_from",
                "2000-2199",
            ),
            (
                "target_bonus = 10000",
                "target_bonus = 20000.505",
                "bonus.target_bonus",
                "CNY money has at most 2",
            ),
            ("target_bonus = 10000", 'target_bonus = "1e1000000"', "bonus.target_bonus", "10^12"),
            ("point_value = 100", "point_value = 1000000000000", "discipline.point_value", "10^12"),
            ("cap = 2.0", "cap = 1e1000000", "bonus.cap", "10^12"),
            (
                "coefficient = 1.5",
                "coefficient = 1.5000001",
                "bonus.tiers[2].coefficient",
                "6 decimal",
            ),
            (
                "window_days = 90",
                "window_days = 100000000000000000000",
                "clawback.window_days",
                "73,050",
            ),
            ("version = 1", "version = 10000000000000000000000", "version", "1,000,000,000"),
            (
                '"points:5"',
                '"points:99999999999999999999"',
                "discipline.minor_ladder[2]",
                "6 digits",
            ),
        ],
    )
    def test_refused_naming_the_field(self, old: str, new: str, field: str, words: str) -> None:
        """A plan's dates and numbers follow the bounds (a plan is an event too)."""
        assert old in PLAN_TOML
        with pytest.raises(PlanError) as caught:
            load_plan(PLAN_TOML.replace(old, new), "toml")
        assert [f for f, _ in caught.value.errors] == [field], caught.value.errors
        assert words in caught.value.errors[0][1]

    def test_money_in_the_plans_own_currency(self) -> None:
        """JPY plans pay whole yen; KWD plans may use fils."""
        jpy = PLAN_TOML.replace('currency = "CNY"', 'currency = "JPY"')
        with pytest.raises(PlanError, match="JPY money has no decimals"):
            load_plan(jpy.replace("point_value = 100", "point_value = 100.5"), "toml")
        kwd = PLAN_TOML.replace('currency = "CNY"', 'currency = "KWD"')
        plan = load_plan(kwd.replace("point_value = 100", "point_value = 0.125"), "toml")
        assert plan.discipline.point_value == Decimal("0.125")

    def test_a_plan_stored_before_the_bounds_still_reads(self) -> None:
        """A plan accepted before these bounds (a CNY point_value of 100.005, an
        effective_from in 1999) is refused as input, but read back as stored:
        a ledger that holds one still replays."""
        older = PLAN_TOML.replace("point_value = 100", "point_value = 100.005").replace(
            "effective_from = 2026-01-01", "effective_from = 1999-01-01"
        )
        with pytest.raises(PlanError):
            load_plan(older, "toml")
        document = tomllib.loads(older, parse_float=Decimal)
        plan = Plan.from_stored(document)
        assert Plan.from_stored(plan_document(plan)) == plan  # and as the store holds it
        assert plan.discipline.point_value == Decimal("100.005")
        assert plan.effective_from == date(1999, 1, 1)

    def test_a_plan_document_of_huge_integers_is_bad_json(self) -> None:
        with pytest.raises(PlanError, match="not valid JSON"):
            load_plan('{"version": 1' + "0" * 5000 + "}", "json")
