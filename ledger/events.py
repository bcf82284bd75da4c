"""The SPEC §2 event types as strict pydantic input models.

An input is one import line (or one `POST /events` body): ``{"type": ...,
"occurred_at": ..., "actor": ..., ...fields}``. Validation is strict: unknown
fields, JSON numbers for money, naive timestamps, periods that do not parse and
splits that do not sum to 1 are all errors that name their field.

What the ledger stores of an input is its *payload*: the validated fields in
canonical JSON form (money as text with two decimals — see `policies.money` for
the few currencies with other minor units —, ratios normalised), so the same
fact always has the same content and the same ``content_sha256`` — the basis of
idempotent imports.

SPEC §2 bounds are checked here, at the edge, each error naming its field:
``occurred_at`` in the years 2000-2199 (in its own offset), periods likewise,
money below 10^12 with its currency's decimals, scores in [0, 100] and split
shares in (0, 1] with at most 6 decimals, a target value in (0, 10^12) with at
most 6, text fields of at most 10,000 characters, ids of at most 128, lists of
evidence and splits of at most 100 entries, and actors as identities
(`ledger.actors`). A number is checked before it is ever formatted or
normalised, so ``"1e1000000"`` is refused as cheaply as ``"101"``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ledger.actors import normalise_actor
from ledger.errors import BatchRejectedError, LineError, shown
from policies.money import MAX_MONEY, canonical_money, check_money, decimal_places, has_places
from policies.periods import FIRST_YEAR, LAST_YEAR, in_bounds, parse_period
from policies.plan import Plan, plan_document

__all__ = [
    "MAX_LIST_ITEMS",
    "MAX_TEXT_LENGTH",
    "AdjustmentRequested",
    "ApprovalGranted",
    "ApprovalRejected",
    "CoachingRecorded",
    "DisputeRaised",
    "DisputeResolved",
    "DuplicateKeyError",
    "EventIn",
    "FxRateSet",
    "KpiScored",
    "PaymentReceived",
    "PayoutCalculated",
    "PayoutPaid",
    "PlanPublished",
    "RepEnrolled",
    "RepLeft",
    "RepPlanAssigned",
    "RepTransferred",
    "SaleCancelled",
    "SaleRecorded",
    "Split",
    "TargetSet",
    "ViolationOverturned",
    "ViolationRecorded",
    "canonical_json",
    "content_sha256",
    "decode_exact",
    "field_of",
    "make_event",
    "publication_line",
    "reason_of",
    "signed_zero_sha256",
]

_ENVELOPE = frozenset({"type", "occurred_at", "actor"})
# Up to 4 decimals (the most any currency has); the currency's own minor units
# are checked where the currency is known (`SaleRecorded`, the write rules).
_MONEY_TEXT = re.compile(r"^-?\d{1,15}(\.\d{1,4})?$", re.ASCII)
_ID_TEXT = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
_MONEY_DIGITS = 12  # SPEC §2: |money| < 10^12
MAX_TEXT_LENGTH = 10_000  # SPEC §2: text fields
MAX_LIST_ITEMS = 100  # evidence references, splits: more is not a fact but a document
_RATIO_PLACES = 6  # SPEC §2: scores, shares (and target values)
# Longer decimal text cannot be a bounded ratio: refused before it is parsed.
_MAX_NUMBER_TEXT = 64


def _money(value: object) -> Decimal:
    """SPEC §2 money: decimal text, |x| < 10^12, at most 4 decimals here (the
    currency's own minor units are checked where it is known), stored in
    canonical form (`policies.money.canonical_money`: ``"1234.50"``)."""
    if isinstance(value, bool) or not isinstance(value, str):
        msg = (
            'money must be decimal text like "1234.50", not a JSON number '
            "(binary floats cannot hold cents exactly)"
        )
        raise ValueError(msg)  # noqa: TRY004 - pydantic turns ValueError into a field error
    if not _MONEY_TEXT.match(value):
        msg = f'money must be decimal text like "1234.50", got "{_shown(value)}"'
        raise ValueError(msg)
    if len(value.lstrip("-").partition(".")[0].lstrip("0")) > _MONEY_DIGITS:
        raise ValueError("money must be below 10^12 in absolute value")
    return canonical_money(Decimal(value))  # at most 4 decimals: the pattern says so


def _shown(value: object) -> str:
    """An input as an error message may quote it: short, whatever it was."""
    return shown(value if isinstance(value, str) else str(value))


def _decimal_of(value: object, what: str) -> Decimal:
    """A number given as decimal text (or a JSON number the ledger decoded
    exactly), never a binary float; not yet bounded."""
    if isinstance(value, bool | float):
        msg = (
            f'{what} must be decimal text like "0.9" (or a JSON number the ledger '
            "parses exactly), never a binary float"
        )
        raise ValueError(msg)  # noqa: TRY004
    if not isinstance(value, (str, int, Decimal)):
        msg = f'{what} must be decimal text like "0.9", got {type(value).__name__}'
        raise ValueError(msg)  # noqa: TRY004
    if isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT:
        msg = f"{what} must be a short decimal, got {len(value)} characters"
        raise ValueError(msg)
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        msg = f'{what} must be decimal text like "0.9", got "{_shown(value)}"'
        raise ValueError(msg) from None
    if not number.is_finite():
        msg = f"{what} must be a finite number"
        raise ValueError(msg)
    return number


def _bounded_ratio(
    what: str, low: Decimal, high: Decimal, *, low_open: bool, high_open: bool
) -> Any:
    """A validator of SPEC §2's bounded decimals (scores, shares, target values):
    within ``low``..``high`` (open or closed ends), at most 6 decimal places.

    The bounds and decimals are read from the number's digits and exponent
    before it is normalised or written out: ``"1e1000000"`` or JSON
    ``1e999999`` is refused at once, never expanded to a million digits.
    The canonical form of an accepted value is unchanged (``"0.90"`` is
    ``0.9``, ``"100"`` is ``100``), so stored content hashes stay the same —
    but for zero, which is unsigned: ``"-0"`` is ``0`` (it was stored as
    ``"-0"``, one fact under two contents; see `signed_zero_sha256`).
    """
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    shown_high = "10^12" if high == MAX_MONEY else str(high)
    interval = f"{left}{low}, {shown_high}{right}"

    def validate(value: object) -> Decimal:
        number = _decimal_of(value, what)
        too_low = number <= low if low_open else number < low
        too_high = number >= high if high_open else number > high
        if too_low or too_high:
            msg = f'{what} must lie in {interval}, got "{_shown(value)}"'
            raise ValueError(msg)
        if not has_places(number, _RATIO_PLACES):
            places = decimal_places(number)
            msg = f"{what} has at most {_RATIO_PLACES} decimal places, got {places}"
            raise ValueError(msg)
        normal = number.normalize() if number else _ZERO
        return Decimal(format(normal, "f"))

    return validate


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _not_zero(value: Decimal) -> Decimal:
    if value == 0:
        raise ValueError("must not be 0 (an adjustment moves money one way or the other)")
    return value


def _period(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("period must be text like 2026-07 or 2026-Q3")  # noqa: TRY004
    return str(parse_period(value))


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


# Control characters (C0, DEL, C1) but the tab and the line ends: text may run
# over several lines (a note, a message), and a name may hold them too — an
# earlier version stored names with them, and a file sent again must be the
# same fact, not refused; the exports write them safely (`projections.payroll`).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _free_text(value: str) -> str:
    """SPEC §7: text (a name, a reason, a note, a message) holds no control
    character but tabs and line breaks: a NUL or an escape sequence is no
    part of what anyone wrote, and would reach payroll files and terminals."""
    found = _CONTROL.search(value)
    if found is not None:
        msg = (
            "text holds no control characters but tabs and line breaks, got "
            f"{_code_point(found.group())} at character {found.start() + 1}"
        )
        raise ValueError(msg)
    return value


def _code_point(character: str) -> str:
    return f"U+{ord(character):04X}"


def _in_years(value: datetime) -> datetime:
    """SPEC §2: a timestamp lies in the years 2000-2199, in its own offset."""
    if not in_bounds(value.year):
        msg = (
            f"occurred_at must lie in the years {FIRST_YEAR}-{LAST_YEAR} "
            f"(in its own offset), got year {value.year}"
        )
        raise ValueError(msg)
    return value


_ZERO, _ONE, _HUNDRED = Decimal(0), Decimal(1), Decimal(100)
Money = Annotated[Decimal, BeforeValidator(_money)]
PositiveMoney = Annotated[Decimal, BeforeValidator(_money), AfterValidator(_positive)]
NonNegativeMoney = Annotated[Decimal, BeforeValidator(_money), AfterValidator(_not_negative)]
SignedMoney = Annotated[Decimal, BeforeValidator(_money), AfterValidator(_not_zero)]
Score = Annotated[
    Decimal,
    BeforeValidator(_bounded_ratio("a score", _ZERO, _HUNDRED, low_open=False, high_open=False)),
]
Share = Annotated[
    Decimal, BeforeValidator(_bounded_ratio("a share", _ZERO, _ONE, low_open=True, high_open=False))
]
TargetValue = Annotated[
    Decimal,
    BeforeValidator(
        _bounded_ratio("a target value", _ZERO, MAX_MONEY, low_open=True, high_open=True)
    ),
]
FxRateValue = Annotated[
    Decimal,
    BeforeValidator(_bounded_ratio("a rate", _ZERO, MAX_MONEY, low_open=True, high_open=True)),
]
Id = Annotated[str, StringConstraints(pattern=_ID_TEXT)]
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH), AfterValidator(_free_text)
]
Name = Text  # a person's name: text, as any other (`_free_text`)
Actor = Annotated[str, BeforeValidator(normalise_actor)]
PeriodText = Annotated[str, BeforeValidator(_period)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
BusinessTime = Annotated[AwareDatetime, AfterValidator(_in_years)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class EventIn(_Strict):
    """The envelope every input shares."""

    type: str
    occurred_at: BusinessTime
    actor: Actor | None = None

    def payload(self) -> dict[str, Any]:
        """The fields the ledger stores, in canonical JSON form."""
        fast = self._flat_payload()
        if fast is not None:
            return fast
        return self._dumped_payload()

    def _dumped_payload(self) -> dict[str, Any]:
        data = self.model_dump(
            mode="json", exclude={"type", "occurred_at", "actor"}, exclude_none=True
        )
        return dict(sorted(data.items()))

    def _flat_payload(self) -> dict[str, Any] | None:
        """`payload` of an event whose fields are all text, numbers and lists of
        text (most events, sales without splits above all): what pydantic's JSON
        dump gives for those — the text, ``str`` of a Decimal, the number, a
        copy of the list — read straight from the fields (a batch of 1,000 sales
        spent a sixth of its request thread in ``model_dump``). None when a
        field holds anything else (nested models: splits, plans); a test pins
        it to the dump for every kind of event."""
        out: dict[str, Any] = {}
        for name, value in sorted(vars(self).items()):
            if value is None or name in _ENVELOPE:
                continue
            kind = type(value)
            if kind is str or kind is int:
                out[name] = value
            elif kind is Decimal:
                out[name] = str(value)
            elif kind is list and all(type(v) is str for v in value):
                out[name] = list(value)
            else:
                return None
        return out


def canonical_json(value: object) -> bytes:
    """JSON with sorted keys and no spaces, UTF-8: the one byte form of a value."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def content_sha256(type_: str, occurred_at: str, payload: dict[str, Any]) -> str:
    """SHA-256 of an event's content, as the natural key of keyless events."""
    data = canonical_json({"type": type_, "occurred_at": occurred_at, "data": payload})
    return hashlib.sha256(data).hexdigest()


# The fields in which a ledger before zero was unsigned stored a zero given as
# ``"-0.00"`` / ``"-0"`` with its sign, and the text it stored: the only fields
# that accepted one (others are positive, or nonzero, or open at 0).
_SIGNED_ZERO_FIELDS: dict[str, tuple[str, str]] = {
    "ViolationRecorded": ("amount", "-0.00"),
    "KpiScored": ("score", "-0"),
}


def signed_zero_sha256(type_: str, occurred_at: str, payload: dict[str, Any]) -> str | None:
    """The content hash a fact holding a zero had when it was stored with the
    zero signed (``"-0.00"``), or None when it holds no such zero.

    Zero is unsigned now (`policies.money.canonical_money`, `_bounded_ratio`),
    so a file stored before — a case's ``"amount": "-0.00"``, a score of
    ``"-0"`` — hashes otherwise when it is sent again. Stored events are never
    rewritten; the write rules take a fact stored under this hash as the same
    fact (skipped), not as other content (a conflict) or a new keyless fact
    (stored twice)."""
    found = _SIGNED_ZERO_FIELDS.get(type_)
    if found is None:
        return None
    field, signed = found
    if payload.get(field) != signed.removeprefix("-"):
        return None
    return content_sha256(type_, occurred_at, {**payload, field: signed})


class PlanPublished(EventIn):
    """A plan version (SPEC §3) was published."""

    type: Literal["PlanPublished"]
    plan: Plan

    def payload(self) -> dict[str, Any]:
        return {"plan": plan_document(self.plan)}


class RepEnrolled(EventIn):
    """A rep joined, on a plan."""

    type: Literal["RepEnrolled"]
    rep_id: Id
    name: Name
    plan_id: Id
    team: Id | None = None
    manager_id: Id | None = None


class RepPlanAssigned(EventIn):
    """A rep moves to another plan from ``occurred_at`` on."""

    type: Literal["RepPlanAssigned"]
    rep_id: Id
    plan_id: Id


class RepTransferred(EventIn):
    """A rep moves to another team or manager (or both) from ``occurred_at`` on."""

    type: Literal["RepTransferred"]
    rep_id: Id
    team: Id | None = None
    # checked even when absent: a transfer names at least one of the two
    manager_id: Annotated[Id | None, Field(validate_default=True)] = None

    @field_validator("manager_id")
    @classmethod
    def _moves_somewhere(cls, manager_id: str | None, info: ValidationInfo) -> str | None:
        """SPEC §2: at least one of ``team`` and ``manager_id``."""
        if manager_id is None and info.data.get("team") is None and "team" in info.data:
            msg = "a transfer names a team, a manager_id or both"
            raise ValueError(msg)
        return manager_id


class RepLeft(EventIn):
    """A rep left the company."""

    type: Literal["RepLeft"]
    rep_id: Id
    reason: Literal["resigned", "dismissed"]


class TargetSet(EventIn):
    """A target for one rep, period and KPI; a later one replaces it."""

    type: Literal["TargetSet"]
    target_id: Id
    rep_id: Id
    period: PeriodText
    kpi: Id
    value: TargetValue
    reason: Text


class Split(_Strict):
    """One rep's share of a split deal."""

    rep_id: Id
    share: Share


class SaleRecorded(EventIn):
    """A closed sale, credited to its rep (or to the reps of its splits)."""

    type: Literal["SaleRecorded"]
    sale_id: Id
    rep_id: Id
    currency: Currency  # before amount: the amount's decimals are checked against it
    amount: PositiveMoney
    category: Id | None = None
    customer_id: Id | None = None
    splits: Annotated[list[Split], Field(max_length=MAX_LIST_ITEMS)] | None = None

    @field_validator("amount")
    @classmethod
    def _fits_currency(cls, amount: Decimal, info: ValidationInfo) -> Decimal:
        """SPEC §2: a sale's amount has its own currency's decimals (0 for JPY)."""
        currency = info.data.get("currency")
        if currency is not None:  # else the currency's own error says why
            check_money(amount, currency)
        return amount

    @field_validator("splits")
    @classmethod
    def _splits_sum_to_one(cls, splits: list[Split] | None) -> list[Split] | None:
        if splits is None:
            return None
        if not splits:
            raise ValueError("splits, when given, list at least one rep")
        total = sum((s.share for s in splits), Decimal(0))
        if total != 1:
            raise ValueError(f"split shares must sum to 1, they sum to {total}")
        rep_ids = [s.rep_id for s in splits]
        if len(set(rep_ids)) != len(rep_ids):
            raise ValueError("a rep appears twice in splits")
        return splits


class SaleCancelled(EventIn):
    """A sale was cancelled (a clawback if within the plan's window)."""

    type: Literal["SaleCancelled"]
    sale_id: Id
    reason: Text


class PaymentReceived(EventIn):
    """A customer paid (part of) a sale, in the sale's currency (SPEC §3.1 pay
    on collection); the payments of a sale never sum above its amount."""

    type: Literal["PaymentReceived"]
    payment_id: Id
    sale_id: Id
    amount: PositiveMoney


class FxRateSet(EventIn):
    """1 ``base`` = ``rate`` ``quote``, from ``occurred_at`` on (ISO 4217 codes)."""

    type: Literal["FxRateSet"]
    base: Currency
    quote: Currency
    rate: FxRateValue

    @field_validator("quote")
    @classmethod
    def _two_currencies(cls, quote: str, info: ValidationInfo) -> str:
        if info.data.get("base") == quote:
            msg = f"base and quote are both {quote}: a rate converts one currency to another"
            raise ValueError(msg)
        return quote


class KpiScored(EventIn):
    """A KPI score, as a fraction of its target (0.9 = 90%)."""

    type: Literal["KpiScored"]
    rep_id: Id
    period: PeriodText
    kpi: Id
    score: Score


class CoachingRecorded(EventIn):
    """A coaching session; part of the disciplinary history, costs nothing."""

    type: Literal["CoachingRecorded"]
    rep_id: Id
    topic: Text


class ViolationRecorded(EventIn):
    """A compliance case: minor (ladder) or red-line (needs approval)."""

    type: Literal["ViolationRecorded"]
    case_id: Id
    rep_id: Id
    code: Id
    severity: Literal["minor", "red_line"]
    description: Text
    evidence: Annotated[list[Text], Field(max_length=MAX_LIST_ITEMS)] | None = None
    amount: NonNegativeMoney | None = None


class ViolationOverturned(EventIn):
    """A case was overturned on appeal; it is undone everywhere."""

    type: Literal["ViolationOverturned"]
    case_id: Id
    reason: Text


class AdjustmentRequested(EventIn):
    """A manual, signed adjustment for a rep and period; needs approval."""

    type: Literal["AdjustmentRequested"]
    adjustment_id: Id
    rep_id: Id
    period: PeriodText
    amount: SignedMoney
    reason: Text


class ApprovalGranted(EventIn):
    """The checker's yes on a target change, adjustment, red-line case or run."""

    type: Literal["ApprovalGranted"]
    subject_id: Id
    note: Text | None = None


class ApprovalRejected(EventIn):
    """The checker's no; the subject then changes no payout."""

    type: Literal["ApprovalRejected"]
    subject_id: Id
    note: Text | None = None


class PayoutCalculated(EventIn):
    """A payout run as computed: each rep's statement, the position and chain
    head it was computed at (recorded by `payout run`, never imported)."""

    type: Literal["PayoutCalculated"]
    run_id: Id
    period: PeriodText
    position: Annotated[int, Field(ge=0)]
    chain_head: dict[str, Any]
    statements: list[dict[str, Any]]


class PayoutPaid(EventIn):
    """A payout run was paid; its periods are locked (recorded by `payout pay`)."""

    type: Literal["PayoutPaid"]
    run_id: Id


class DisputeRaised(EventIn):
    """A rep disputes a payout run."""

    type: Literal["DisputeRaised"]
    dispute_id: Id
    rep_id: Id
    run_id: Id
    message: Text


class DisputeResolved(EventIn):
    """Finance resolved a dispute; an upheld one names its adjustment."""

    type: Literal["DisputeResolved"]
    dispute_id: Id
    outcome: Literal["upheld", "rejected"]
    note: Text
    adjustment_id: Id | None = None

    @model_validator(mode="after")
    def _rejected_has_no_adjustment(self) -> DisputeResolved:
        if self.outcome == "rejected" and self.adjustment_id is not None:
            msg = "adjustment_id: a rejected dispute books no adjustment"
            raise ValueError(msg)
        return self


def field_of(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    path = ""
    for part in parts:
        if part.isdigit():
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(event)"


def reason_of(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field (not in the SPEC for this event type)"
    if kind == "missing":
        return "required field is missing"
    if kind == "timezone_aware":
        return "timestamp needs an offset, e.g. 2026-07-14T10:00:00+08:00"
    msg: str = error["msg"]
    return msg.removeprefix("Value error, ")


E = TypeVar("E", bound=EventIn)


def make_event(cls: type[E], **fields: Any) -> E:
    """Build an event from a command's parameters; bad ones become a BatchRejectedError
    naming each field, like any other bad input (never a server error)."""
    try:
        return cls(type=cls.__name__, **fields)
    except ValidationError as exc:
        raise BatchRejectedError(
            [LineError(1, field_of(tuple(e["loc"])), reason_of(e)) for e in exc.errors()]
        ) from None


def publication_line(plan: Plan, *, actor: str, occurred_at: datetime) -> str:
    """``plan``'s publication as an import line (``import --plan`` puts it
    first, so that it is stored with the file or not at all)."""
    line = {"type": PlanPublished.__name__, "occurred_at": occurred_at.isoformat()}
    return json.dumps({**line, "actor": actor, "plan": plan_document(plan)})


def decode_exact(body: bytes | str) -> Any:
    """JSON with every number exact: orjson, or the standard library with
    ``Decimal`` floats when the text holds a float (or orjson refuses it, so
    the error reads the same). Raises ``json.JSONDecodeError`` — also for an
    object that names a key twice (`DuplicateKeyError`): JSON leaves its
    meaning open, and a ledger must not pick one of two amounts silently."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    else:
        if _may_repeat_a_key(body, obj):
            return _decoded_by_the_library(body, pairs=True)
        if not _has_float(obj):
            return obj
    return _decoded_by_the_library(body, pairs=False)


def _may_repeat_a_key(body: bytes | str, obj: object) -> bool:
    """Whether the text has more key ends than the decoded value has keys (a
    key given twice, or a string value holding ``":``: the standard library
    then tells which). A flat object — an import line of a sale — is told by
    its length alone; a nested one is walked."""
    marks = _key_marks(body)
    if type(obj) is dict and marks == len(obj):
        return False  # every key end is one of its keys: none nested, none twice
    return _keys(obj) != marks


class DuplicateKeyError(json.JSONDecodeError):
    """An object of the input names one key twice; ``key`` is the key."""

    def __init__(self, key: str, doc: str, pos: int) -> None:
        self.key = key
        super().__init__(f"the key {key!r} appears twice in one object", doc, pos)


_KEY_MARK_TEXT = re.compile(r'"[ \t\r\n]*:')
_KEY_MARK_BYTES = re.compile(rb'"[ \t\r\n]*:')
_QUOTE_SPACE_TEXT = re.compile(r'"[ \t\r\n]')
_QUOTE_SPACE_BYTES = re.compile(rb'"[ \t\r\n]')


def _key_marks(body: bytes | str) -> int:
    """How many places in the text look like the end of a key (a quote, JSON
    whitespace, a colon): each key is one, and a string value holding ``":``
    adds one. Compact JSON (no whitespace after a quote: an export's lines)
    is counted in C; other text by a regular expression."""
    if isinstance(body, str):
        if _QUOTE_SPACE_TEXT.search(body):
            return len(_KEY_MARK_TEXT.findall(body))
        return body.count('":')
    if _QUOTE_SPACE_BYTES.search(body):
        return len(_KEY_MARK_BYTES.findall(body))
    return body.count(b'":')


def _decoded_by_the_library(body: bytes | str, *, pairs: bool) -> Any:
    """The standard library's decoding, floats as ``Decimal``; with ``pairs``
    each object is checked for a key named twice (`DuplicateKeyError`)."""
    text = (
        body.decode(json.detect_encoding(body), "surrogatepass")
        if isinstance(body, bytes)
        else body
    )

    def unique(items: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in items:
            if key in found:
                at = max(0, text.rfind(json.dumps(key)))
                raise DuplicateKeyError(key, text, at)
            found[key] = value
        return found

    try:
        return json.loads(text, parse_float=Decimal, object_pairs_hook=unique if pairs else None)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except ValueError:
        # an integer longer than Python converts (4,300 digits): no value the
        # ledger takes is that long, and it must read as bad input, not a crash
        raise json.JSONDecodeError("a number with thousands of digits", "", 0) from None


def _has_float(value: object) -> bool:
    """Whether a decoded JSON value holds a float anywhere."""
    if type(value) is dict:
        values: Any = value.values()
    elif type(value) is list:
        values = value
    else:
        return type(value) is float
    for v in values:
        kind = type(v)
        if kind is float or ((kind is dict or kind is list) and _has_float(v)):
            return True
    return False


def _keys(value: object) -> int:
    """How many keys the objects of a decoded JSON value hold in all."""
    if type(value) is dict:
        return len(value) + sum(_keys(v) for v in value.values() if type(v) in _NESTED)
    if type(value) is list:
        return sum(_keys(v) for v in value if type(v) in _NESTED)
    return 0


_NESTED = (dict, list)
