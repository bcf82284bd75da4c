"""Issue 16, acceptance 2: hypothesis generates events anywhere inside SPEC §2's
bounds and beyond them. Whatever is accepted then projects, verifies (the chain,
and projections equal to a fresh replay), rebuilds, and the statements of every
rep and period it touched compute; whatever is outside is refused with its line
and field named, and nothing is stored.

On SQLite (the table of boundary cases in `test_bounds` runs on both stores).
The expected outcome of each generated value is decided here from the SPEC's
words, independently of the ledger's code.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.errors import BatchRejectedError
from tests.builders import stored_count
from tests.integration.test_bounds import LAST_DAY, PLANS, REPS, assert_projects, seed_edges

MINOR = {"CNY": 2, "JPY": 0, "KWD": 3}
YEARS = [1999, 2000, 2001, 2026, 2198, 2199, 2200, 9999]
LONG_MONTHS = {1, 3, 5, 7, 8, 10, 12}


class Raw(str):
    """A JSON number written as is (``1e999999``), not as text."""

    __slots__ = ()


@dataclass
class Line:
    """One generated import line and what the SPEC says must happen to it."""

    event: dict[str, Any]
    bad: set[str] = field(default_factory=set)  # the fields outside the bounds
    subject_of: int | None = None  # an approval: the index of its subject line
    touches: set[tuple[str, str]] = field(default_factory=set)


def dumps(event: dict[str, Any]) -> str:
    """JSON, with `Raw` values written as bare numbers."""
    raws: dict[str, str] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, Raw):
            key = f"@@raw{len(raws)}@@"
            raws[key] = str(value)
            return key
        if isinstance(value, list):
            return [mark(v) for v in value]
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        return value

    text = json.dumps(mark(event))
    for key, raw in raws.items():
        text = text.replace(f'"{key}"', raw)
    return text


# -- the SPEC's bounds, as the oracle reads them ------------------------------


def _places(number: Decimal) -> int:
    digits = format(number, "f") if abs(number.adjusted()) < 50 else None
    if digits is None:  # a huge or tiny exponent: outside every bound anyway
        return 10**6
    return len(digits.partition(".")[2].rstrip("0"))


def _decimal(value: str) -> Decimal | None:
    if len(value) > 64:
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def money_ok(text: str, *, sign: str) -> bool:
    """Read at the edge: decimal text of at most 4 decimals, |x| < 10^12, the
    field's sign."""
    if not re.fullmatch(r"-?\d{1,15}(\.\d{1,4})?", text):
        return False
    number = Decimal(text)
    signs = {"positive": number > 0, "not_negative": number >= 0, "not_zero": number != 0}
    return abs(number) < 10**12 and signs[sign]


def fits_currency(text: str, currency: str) -> bool:
    """The currency's minor units (0 for JPY, 3 for KWD)."""
    return _places(Decimal(text)) <= MINOR[currency]


def ratio_ok(value: str, low: Decimal, high: Decimal, *, low_open: bool, high_open: bool) -> bool:
    """Within the interval, at most 6 decimal places."""
    number = _decimal(value)
    if number is None:
        return False
    if number.copy_abs().adjusted() > 20 or _places(number) > 6:
        return False
    above = number > low if low_open else number >= low
    below = number < high if high_open else number <= high
    return above and below


def in_years(year: int) -> bool:
    return 2000 <= year <= 2199


# -- strategies ---------------------------------------------------------------


@st.composite
def timestamps(draw: st.DrawFn, *, inside: bool) -> tuple[str, bool, int, int]:
    """An occurred_at near the edges of the bounds, in one of the extreme offsets."""
    year = draw(st.sampled_from([y for y in YEARS if in_years(y) or not inside]))
    month = draw(st.integers(1, 12))
    day = draw(st.sampled_from([1, 15, 28, 31 if month in LONG_MONTHS else 28]))
    clock = draw(st.sampled_from(["00:00:00", "12:00:00", "23:59:59.999999"]))
    offset = draw(st.sampled_from(["-12:00", "+00:00", "+08:00", "+14:00"]))
    return f"{year:04d}-{month:02d}-{day:02d}T{clock}{offset}", in_years(year), year, month


def period_of_text(kind: str, year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}" if kind == "month" else f"{year:04d}-Q{(month - 1) // 3 + 1}"


@st.composite
def periods(draw: st.DrawFn, kind: str, *, inside: bool) -> tuple[str, bool]:
    year = draw(st.sampled_from([y for y in YEARS if in_years(y) or not inside]))
    month = draw(st.sampled_from([1, 6, 12]))
    return period_of_text(kind, year, month), in_years(year)


MONEY_EDGES = [
    "0.01",
    "1",
    "12.5",
    "100",
    "1.505",
    "1.5055",
    "999999999999.99",
    "999999999999.999",
    "1000000000000.00",
    "1e3",
    "0",
]


@st.composite
def money(draw: st.DrawFn, *, signed: bool, places: int = 5) -> str:
    """Money near the bounds: the edges, and any amount of 0-``places`` decimals."""
    text = draw(
        st.one_of(
            st.sampled_from(MONEY_EDGES),
            st.decimals(
                min_value=Decimal("0.0001"),
                max_value=Decimal("1000000000000.5"),
                places=draw(st.integers(0, places)),
                allow_nan=False,
                allow_infinity=False,
            ).map(lambda d: format(d, "f")),
        )
    )
    if signed and draw(st.booleans()):
        text = f"-{text}"
    return text


SCORE_EDGES: list[str] = [
    "0",
    "100",
    "100.000001",
    "99.999999",
    "0.9",
    "1e1000000",
    "1e-7",
    "-0.000001",
    "0.1234567",
    "1e2",
    Raw("1e999999"),
    Raw("0.95"),
    Raw("100.0000001"),
    Raw("1" + "0" * 30),
]


@st.composite
def scores(draw: st.DrawFn) -> str:
    """Scores near [0, 100]: the edges, and any of 0-8 decimals up to 120."""
    return draw(
        st.one_of(
            st.sampled_from(SCORE_EDGES),
            st.decimals(
                min_value=0, max_value=120, places=draw(st.integers(0, 8)), allow_nan=False
            ).map(lambda d: format(d, "f")),
        )
    )


TARGET_EDGES = [
    "0.000001",
    "999999999999.999999",
    "1000000000000",
    "0",
    "1e1000000",
    "200000",
    "0.0000001",
    "-5",
    Raw("1e999999"),
]
SHARE_EDGES = ["1", "0.5", "0.000001", "0.9999999", "1.0000001", "0", "0.333333"]
TEXT_LENGTHS = [1, 10_000, 10_001]

_ZERO, _ONE, _HUNDRED, _TRILLION = Decimal(0), Decimal(1), Decimal(100), Decimal(10) ** 12


@dataclass
class _Fact:
    """What every generated fact shares: its rep, time and plan."""

    index: int
    inside: bool  # draw only values inside the bounds
    rep_id: str
    currency: str
    kind: str
    base: dict[str, Any]
    bad: set[str]
    touches: set[tuple[str, str]]
    at_ok: bool


@st.composite
def lines(draw: st.DrawFn, index: int, *, inside: bool) -> list[Line]:
    """One fact (and its approval, when it needs one) for one of the reps."""
    rep_id = draw(st.sampled_from(["rq", "rm", "rk"]))
    currency, kind = PLANS[REPS[rep_id]]
    at, at_ok, year, month = draw(timestamps(inside=inside))
    fact = _Fact(
        index,
        inside,
        rep_id,
        currency,
        kind,
        {"occurred_at": at, "actor": "recorder", "rep_id": rep_id},
        set() if at_ok else {"occurred_at"},
        {(rep_id, period_of_text(kind, year, month))} if at_ok else set(),
        at_ok,
    )
    make = draw(st.sampled_from([_sale, _coaching, _case, _score, _target, _adjustment]))
    return make(draw, fact)


def _inside(fact: _Fact, strategy: Any, ok: Any) -> Any:
    """``strategy``, kept to the values the oracle ``ok`` accepts when the fact
    is drawn inside the bounds."""
    return strategy.filter(ok) if fact.inside else strategy


def _checked(draw: st.DrawFn, fact: _Fact, strategy: Any, ok: Any, field: str) -> Any:
    """A value of ``strategy`` (`_inside`); ``field`` is bad when ``ok`` refuses it."""
    value = draw(_inside(fact, strategy, ok))
    if not ok(value):
        fact.bad.add(field)
    return value


def _places_of(fact: _Fact) -> int:
    return MINOR[fact.currency] if fact.inside else 5


def _sale(draw: st.DrawFn, fact: _Fact) -> list[Line]:
    amount = _checked(  # the sale's own currency: checked as it is read
        draw,
        fact,
        money(signed=False, places=_places_of(fact)),
        lambda a: money_ok(a, sign="positive") and fits_currency(a, fact.currency),
        "amount",
    )
    event = fact.base | {
        "type": "SaleRecorded",
        "sale_id": f"S-{fact.index}",
        "amount": amount,
        "currency": fact.currency,
    }
    if fact.rep_id == "rq" and draw(st.booleans()):
        first = draw(
            _inside(
                fact,
                st.sampled_from(SHARE_EDGES),
                lambda f: (
                    ratio_ok(f, _ZERO, _ONE, low_open=True, high_open=False)
                    and ratio_ok(
                        str(_ONE - Decimal(f)) if Decimal(f) != 1 else f,
                        _ZERO,
                        _ONE,
                        low_open=True,
                        high_open=False,
                    )
                ),
            )
        )
        shares = [first] if Decimal(first) == 1 else [first, str(_ONE - Decimal(first))]
        event["splits"] = [
            {"rep_id": r, "share": s} for r, s in zip(["rq", "rx"], shares, strict=False)
        ]
        for i, share in enumerate(shares):
            if not ratio_ok(share, _ZERO, _ONE, low_open=True, high_open=False):
                fact.bad.add(f"splits[{i}].share")
        if len(shares) > 1:
            fact.touches |= {("rx", p) for _, p in fact.touches}
    return [Line(event, fact.bad, touches=fact.touches)]


def _coaching(draw: st.DrawFn, fact: _Fact) -> list[Line]:
    length = _checked(draw, fact, st.sampled_from(TEXT_LENGTHS), lambda n: n <= 10_000, "topic")
    event = fact.base | {
        "type": "CoachingRecorded",
        "topic": f"{fact.index}" + "t" * (length - 1),
    }
    return [Line(event, fact.bad, touches=fact.touches)]


def _plan_money(fact: _Fact, amount: str, *, sign: str) -> None:
    """Money in the plan's currency: read at the edge; its decimals checked by
    the write rules against the rep's plan, so named only on a line that read."""
    if not money_ok(amount, sign=sign) or (
        not fact.bad and not fits_currency(amount, fact.currency)
    ):
        fact.bad.add("amount")


def _case(draw: st.DrawFn, fact: _Fact) -> list[Line]:
    severity = draw(st.sampled_from(["minor", "red_line"]))
    event = fact.base | {
        "type": "ViolationRecorded",
        "case_id": f"C-{fact.index}",
        "code": "code",
        "severity": severity,
        "description": "what happened",
    }
    amount = draw(
        _inside(
            fact,
            st.none() | money(signed=False, places=_places_of(fact)),
            lambda a: (
                a is None or (money_ok(a, sign="not_negative") and fits_currency(a, fact.currency))
            ),
        )
    )
    if amount is not None:
        event["amount"] = amount
        _plan_money(fact, amount, sign="not_negative")
    case = Line(event, fact.bad, touches=fact.touches)
    if severity == "minor":
        return [case]
    return [case, _approval(f"C-{fact.index}")]


def _with_period(draw: st.DrawFn, fact: _Fact) -> str:
    period, period_ok = draw(periods(fact.kind, inside=fact.inside))
    if not period_ok:
        fact.bad.add("period")
    fact.touches = {(fact.rep_id, period)} if period_ok and fact.at_ok else set()
    return period


def _score(draw: st.DrawFn, fact: _Fact) -> list[Line]:
    period = _with_period(draw, fact)
    score = _checked(
        draw,
        fact,
        scores(),
        lambda v: ratio_ok(v, _ZERO, _HUNDRED, low_open=False, high_open=False),
        "score",
    )
    event = fact.base | {
        "type": "KpiScored",
        "period": period,
        "kpi": f"kpi-{fact.index}",
        "score": score,
    }
    return [Line(event, fact.bad, touches=fact.touches)]


def _target(draw: st.DrawFn, fact: _Fact) -> list[Line]:
    period = _with_period(draw, fact)
    value = _checked(
        draw,
        fact,
        st.sampled_from(TARGET_EDGES),
        lambda v: ratio_ok(v, _ZERO, _TRILLION, low_open=True, high_open=True),
        "value",
    )
    event = fact.base | {
        "type": "TargetSet",
        "target_id": f"T-{fact.index}",
        "period": period,
        "kpi": "sales_amount",
        "value": value,
        "reason": "quota",
    }
    return [Line(event, fact.bad, touches=fact.touches)]


def _adjustment(draw: st.DrawFn, fact: _Fact) -> list[Line]:
    period = _with_period(draw, fact)
    amount = draw(
        _inside(
            fact,
            money(signed=True, places=_places_of(fact)),
            lambda a: money_ok(a, sign="not_zero") and fits_currency(a, fact.currency),
        )
    )
    length = _checked(draw, fact, st.sampled_from(TEXT_LENGTHS), lambda n: n <= 10_000, "reason")
    event = fact.base | {
        "type": "AdjustmentRequested",
        "adjustment_id": f"A-{fact.index}",
        "period": period,
        "amount": amount,
        "reason": "r" * length,
    }
    _plan_money(fact, amount, sign="not_zero")
    return [Line(event, fact.bad, touches=fact.touches), _approval(f"A-{fact.index}")]


def _approval(subject_id: str) -> Line:
    event = {
        "type": "ApprovalGranted",
        "occurred_at": LAST_DAY,
        "actor": "checker",
        "subject_id": subject_id,
    }
    return Line(event, subject_of=0)  # its subject's line number is set by `batches`


@st.composite
def batches(draw: st.DrawFn) -> list[Line]:
    """1-4 facts; an approval follows the subject it decides on."""
    count = draw(st.integers(1, 4))
    inside = draw(st.booleans())  # half the batches wholly inside the bounds
    event("inside the bounds" if inside else "anywhere")
    batch: list[Line] = []
    for index in range(count):
        subject_line = len(batch) + 1
        for item in draw(lines(index, inside=inside)):
            if item.subject_of is not None:
                item.subject_of = subject_line
            batch.append(item)
    return batch


# -- the property -------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded SQLite ledger every example starts from (a copy of it)."""
    path = tmp_path_factory.mktemp("bounds") / "ledger.db"
    ledger = seed_edges(Ledger(f"sqlite:///{path}"))
    ledger.close()
    return path


@pytest.fixture(scope="module")
def fresh(template: Path) -> Iterator[Any]:
    counter = itertools.count()
    with tempfile.TemporaryDirectory(dir=template.parent) as root:

        def make() -> Ledger:
            target = Path(root) / f"ledger-{next(counter)}.db"
            shutil.copy(template, target)
            return Ledger(f"sqlite:///{target}")

        yield make


@pytest.mark.slow  # ~25 s on a busy 2-core machine: half the examples replay 200 years
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(batch=batches())
def test_accepted_projects_and_refused_stores_nothing(fresh: Any, batch: list[Line]) -> None:
    """Inside the bounds: stored, and every read works. Outside: every bad
    field named on its line, an approval of a refused subject refused with it,
    nothing stored."""
    ledger: Ledger = fresh()
    try:
        text = [dumps(item.event) for item in batch]
        refused_lines = {n for n, item in enumerate(batch, start=1) if item.bad}
        if not refused_lines:
            result = ledger.import_lines(text, actor="tester", parse_workers=0)
            assert result.stored == len(batch)
            assert_projects(ledger, set().union(*(item.touches for item in batch)))
            return
        before = stored_count(ledger)
        with pytest.raises(BatchRejectedError) as caught:
            ledger.import_lines(text, actor="tester", parse_workers=0)
        assert stored_count(ledger) == before
        named: dict[int, set[str]] = {}
        for error in caught.value.errors:
            named.setdefault(error.line, set()).add(error.field or "")
        for number, item in enumerate(batch, start=1):
            if item.subject_of is not None and item.subject_of in refused_lines:
                assert named.get(number, set()) <= {"subject_id"}, (number, named)
            else:
                assert named.get(number, set()) == item.bad, (number, item.event, named)
    finally:
        ledger.close()
