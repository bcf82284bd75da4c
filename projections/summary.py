"""A statement made readable (SPEC §4): the summary view and the pages of the
full view — pure functions of a statement document as served (the read model's,
a replay's, or a paid period's recorded statement once proven), never a second
calculation.

**Summary.** Lines of the same kind and category become one subtotal line. A
line whose steps are per sale (commission, SPIFF) is split by the sales'
category: each part sums its sales' own amounts from their steps, and the
parts share the line's rounded amount to the cent (largest remainder), so the
subtotals add up to the line — and the summary's lines to the statement's
total — exactly. When a line's sale steps do not add up to it (a step this
module does not know), the line stays whole. A subtotal lists its sales
compactly: how many, and the ranges of their ids (``S-0001`` to ``S-0400``),
at most `MAX_RANGES` of them; every sale is in exactly one subtotal of its
kind. Steps that are not per sale (the commission total, the rounding, tiers)
are kept as they are, after the line's last subtotal.

**Pages.** ``offset``/``limit`` window the explanation steps of all lines,
taken line by line in order: every line is always listed with its amount,
with only its steps inside the window (``explanation_offset``: the index of
its first step shown; ``explanation_count``: how many it has) and the event
ids of those steps. ``page`` says ``offset``, ``limit``, ``total`` (the steps
of the whole statement) and ``returned``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation, localcontext
from typing import Any, Final

from ledger.errors import InvalidInputError
from policies.rounding import CALC, money_text, number_text, round_money
from policies.wording import TERMS, ValueKind, shown_values, value_kinds

__all__ = [
    "AUTO_SUMMARY_STEPS",
    "DEFAULT_STEP_LIMIT",
    "MAX_OFFSET",
    "MAX_RANGES",
    "MAX_STEP_LIMIT",
    "SUMMARY_VALUES",
    "SUMMARY_WORDS",
    "StepPage",
    "check_window",
    "expand_ranges",
    "page_statement",
    "step_count",
    "summarise",
]

# How many ranges of sale ids a subtotal lists (then: "and N more"); the
# summary of a rep with 10,000 sales stays a few kilobytes.
MAX_RANGES: Final = 20
# Event ids a grouped step names itself (more: the full view's pages name them).
MAX_LISTED_EVENTS: Final = 20
DEFAULT_STEP_LIMIT: Final = 100
MAX_STEP_LIMIT: Final = 1000
# The largest ``?offset=`` of any list or statement page: the largest integer a
# JSON number holds exactly (a page echoes its offset; a larger one is refused,
# naming the field, rather than failing to encode).
MAX_OFFSET: Final = 2**53 - 1
# The CLI shows the summary by itself when a statement explains more steps.
AUTO_SUMMARY_STEPS: Final = 60

# Per-sale steps and the value that is their share of the line (signed).
_AMOUNT_OF: Final[Mapping[str, tuple[str, int]]] = {
    "sale_commission": ("commission", 1),
    "sale_band": ("commission", 1),
    "per_sale_cap": ("cut", -1),
    "spiff_sale": ("earned", 1),
}
# A subtotal's share of its line starts from its sum to the cent downwards
# (inexact on purpose, like money rounding: `_shares`).
_FLOOR = Context(prec=1000, rounding=ROUND_FLOOR, traps=[InvalidOperation])
# Per-sale steps that only say something of a sale (no amount of their own).
_NO_CATEGORY: Final = "(none)"

SUMMARY_WORDS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "subtotal": (
            "Subtotal {kind}, category {category}: {sales} sale(s) ({sale_ids}), "
            "credited {credited}, {kind} {sum}"
        ),
        "subtotal_share": (
            "The line is rounded once ({line_unrounded} → {line_amount}): this subtotal of "
            "{sum} takes {amount}"
        ),
        "line_subtotals": "{parts} subtotals by category make the {kind} line of {amount}",
        "steps_grouped": "{count} × {what}: sale(s) {sale_ids}",
        "sale_commission": "commission on a credited sale",
        "sale_band": "commission on a credited sale in a band",
        "spiff_sale": "SPIFF on a sale",
        "sale_clawed_back": "cancelled within the clawback window, not credited",
        "cancellation_outside_window": "cancelled after the clawback window, still credited",
        "per_sale_cap": "capped per sale",
        "fx_converted": "converted from another currency",
        "payment_released": "released on payment",
        "rep_not_in_splits": "recorded for a rep not among its splits",
        "more_ranges": "and {more} more",
        "summary_note": (
            "Subtotals by kind and category of a statement that explains {steps} steps; "
            "every line: --full (API: ?view=full&offset=&limit=)"
        ),
        "page_note": (
            "{returned} of {total} explanation steps shown, from offset {offset}; "
            "the next: --offset {next} --limit {limit}"
        ),
        "column_category": "category",
    },
    "zh-CN": {
        "subtotal": (
            "{kind}小计，类别 {category}：{sales} 笔销售（{sale_ids}），计入 {credited}，"
            "{kind} {sum}"
        ),
        "subtotal_share": (
            "本项目只四舍五入一次（{line_unrounded} → {line_amount}）：此小计 {sum} 计为 {amount}"
        ),
        "line_subtotals": "{parts} 个按类别的小计构成{kind}项目 {amount}",
        "steps_grouped": "{count} 项{what}：销售 {sale_ids}",
        "sale_commission": "计入销售的佣金",
        "sale_band": "按区间计入销售的佣金",
        "spiff_sale": "销售的专项奖励",
        "sale_clawed_back": "在回扣期内取消、不计入",
        "cancellation_outside_window": "在回扣期后取消、仍计入",
        "per_sale_cap": "按单笔上限封顶",
        "fx_converted": "由其他币种换算",
        "payment_released": "按回款释放",
        "rep_not_in_splits": "记在不在分成中的销售代表名下",
        "more_ranges": "另有 {more} 段",
        "summary_note": (
            "按项目和类别小计，完整对账单共有 {steps} 条说明；查看全部：--full"
            "（API：?view=full&offset=&limit=）"
        ),
        "page_note": (
            "共 {total} 条说明，显示自偏移 {offset} 起的 {returned} 条；"
            "下一页：--offset {next} --limit {limit}"
        ),
        "column_category": "类别",
    },
}


# What the values of the words above are (`policies.wording.STEP_VALUES`): a
# subtotal's money reads as the statement steps' does (`money_shown`).
SUMMARY_VALUES: Final[Mapping[str, Mapping[str, ValueKind]]] = {
    key: value_kinds(names)
    for key, names in {
        "subtotal": "kind category #sales sale_ids $credited $sum",
        "subtotal_share": "$line_unrounded $line_amount $sum $amount",
        "line_subtotals": "#parts kind $amount",
        "steps_grouped": "#count what sale_ids",
        "more_ranges": "#more",
        "summary_note": "#steps",
        "page_note": "#returned #total #offset #next #limit",
    }.items()
}


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "—"


def _words(locale: str, key: str, **values: object) -> str:
    words = SUMMARY_WORDS[locale if locale in SUMMARY_WORDS else "en"]
    texts = {k: str(v) for k, v in values.items()}
    return words[key].format_map(_Values(shown_values(SUMMARY_VALUES.get(key, {}), texts)))


def _term(locale: str, value: str) -> str:
    return TERMS.get(locale, {}).get(value, value)


# -- sale ids, compactly -------------------------------------------------------

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def _split_id(sale_id: str) -> tuple[str, int, int] | None:
    found = _NUMBERED.match(sale_id)
    if found is None:
        return None
    digits = found.group(2)
    return found.group(1), int(digits), len(digits)


def _nth(first: tuple[str, int, int], number: int) -> str:
    """The id numbered ``number`` in a run that starts at ``first`` (its prefix,
    zero-padded to its width)."""
    prefix, _, width = first
    return f"{prefix}{number:0{width}d}"


def ranges_of(sale_ids: Iterable[str]) -> list[list[str]]:
    """Runs of consecutive ids (same prefix, number + 1, padded as the first),
    as ``[first, last]``, in the order given."""
    runs: list[list[str]] = []
    start: tuple[str, int, int] | None = None
    last = 0
    for sale_id in sale_ids:
        if start is not None and _nth(start, last + 1) == sale_id:
            last += 1
            runs[-1][1] = sale_id
            continue
        runs.append([sale_id, sale_id])
        start = _split_id(sale_id)
        last = start[1] if start is not None else 0
    return runs


def expand_ranges(ranges: Sequence[Sequence[str]]) -> list[str]:
    """The ids a list of ``[first, last]`` runs stands for (`ranges_of` undone)."""
    ids: list[str] = []
    for first, last in ranges:
        if first == last:
            ids.append(first)
            continue
        a, b = _split_id(first), _split_id(last)
        assert a is not None, f"a run of ids ends in a number: {first}"
        assert b is not None, f"a run of ids ends in a number: {last}"
        ids.extend(_nth(a, n) for n in range(a[1], b[1] + 1))
    return ids


def _ranges_text(ranges: Sequence[Sequence[str]], more: int, locale: str) -> str:
    shown = ", ".join(first if first == last else f"{first}–{last}" for first, last in ranges)
    return shown + (f", {_words(locale, 'more_ranges', more=more)}" if more else "")


def _sales_field(sale_ids: Sequence[str]) -> dict[str, Any]:
    """A subtotal's sales: their count and id ranges (at most `MAX_RANGES`)."""
    runs = ranges_of(sale_ids)
    return {
        "count": len(sale_ids),
        "ranges": runs[:MAX_RANGES],
        "more_ranges": max(0, len(runs) - MAX_RANGES),
    }


# -- the summary ---------------------------------------------------------------


@dataclass
class _Group:
    """The per-sale steps of one category of one line."""

    category: str
    sale_ids: dict[str, None] = field(default_factory=dict)
    amount: Decimal = Decimal(0)
    credited: Decimal | None = Decimal(0)
    event_ids: dict[str, None] = field(default_factory=dict)
    others: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class _Part:
    """One subtotal line in the making."""

    kind: str
    category: str | None
    amount: Decimal
    explanation: list[dict[str, Any]]
    event_ids: dict[str, None]
    sale_ids: list[str]


def _step(
    code: str, values: Mapping[str, str], event_ids: Iterable[str], text: str
) -> dict[str, Any]:
    return {"code": code, "values": dict(values), "event_ids": list(event_ids), "text": text}


def _grouped_steps(
    steps: Mapping[str, list[dict[str, Any]]], locale: str
) -> Iterable[dict[str, Any]]:
    """Per-sale steps of one code that carry no amount of their own, as one
    step: how many, and the sales they name."""
    for code, found in steps.items():
        sale_ids = list(dict.fromkeys(str(s["values"]["sale_id"]) for s in found))
        sales = _sales_field(sale_ids)
        ids = list(dict.fromkeys(e for s in found for e in s["event_ids"]))
        words = SUMMARY_WORDS.get(locale, SUMMARY_WORDS["en"])
        sale_text = _ranges_text(sales["ranges"], sales["more_ranges"], locale)
        values = {
            "code": code,
            "count": str(len(found)),
            "sales": str(len(sale_ids)),
            "sale_ids": sale_text,
        }
        text = _words(
            locale,
            "steps_grouped",
            count=len(found),
            what=words.get(code, code),
            sale_ids=sale_text,
        )
        yield _step("steps_grouped", values, ids if len(ids) <= MAX_LISTED_EVENTS else (), text)


@dataclass
class _Steps:
    """A line's steps sorted out: per-sale ones by category, per-sale ones of
    no category (a sale clawed back) by code, and those of the line as a whole."""

    groups: list[_Group]
    loose: dict[str, list[dict[str, Any]]]
    whole: list[dict[str, Any]]
    adds_up: bool  # the groups' amounts add up to the line's unrounded amount


def _sort_steps(line: Mapping[str, Any]) -> _Steps:
    steps = line["explanation"]
    category_of: dict[str, str] = {}
    for s in steps:
        values = s["values"]
        if "sale_id" in values and "category" in values:
            category_of.setdefault(values["sale_id"], values["category"])
    groups: dict[str, _Group] = {}
    whole: list[dict[str, Any]] = []
    loose: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        values = s["values"]
        sale_id = values.get("sale_id")
        if sale_id is None:
            whole.append(s)
            continue
        category = values.get("category") or category_of.get(sale_id)
        if category is None:
            loose.setdefault(s["code"], []).append(s)
            continue
        group = groups.setdefault(category, _Group(category))
        group.sale_ids.setdefault(sale_id)
        group.event_ids.update(dict.fromkeys(s["event_ids"]))
        share = _AMOUNT_OF.get(s["code"])
        if share is None:
            group.others.setdefault(s["code"], []).append(s)
            continue
        name, sign = share
        with localcontext(CALC):
            group.amount += sign * Decimal(values[name])
            credited = values.get("credited")
            if sign < 0:
                continue
            if group.credited is not None and credited is not None:
                group.credited += Decimal(credited)
            else:
                group.credited = None
    with localcontext(CALC):
        total = sum((g.amount for g in groups.values()), Decimal(0))
    return _Steps(list(groups.values()), loose, whole, total == _unrounded(line))


def _unrounded(line: Mapping[str, Any]) -> Decimal:
    """The line's amount before its one rounding (its ``rounded`` step says)."""
    for s in line["explanation"]:
        if s["code"] == "rounded" and "unrounded" in s["values"]:
            return Decimal(s["values"]["unrounded"])
    return Decimal(line["amount"])


def _shares(amount: Decimal, sums: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` (to the cent) shared out in proportion to the exact ``sums``:
    each its sum to the cent downwards, and the cents left to those with the
    largest remainders (the first of equals), so the shares add up to
    ``amount`` exactly."""
    cent = Decimal("0.01")
    with localcontext(CALC):
        floors = [s.quantize(cent, rounding=ROUND_FLOOR, context=_FLOOR) for s in sums]
        left = int((amount - sum(floors, Decimal(0))) / cent)
        assert 0 <= left <= len(sums), "a line's amount is its sum rounded once"
        order = sorted(range(len(sums)), key=lambda i: (floors[i] - sums[i], i))
        for i in order[:left]:
            floors[i] += cent
    return floors


def _subtotal(
    kind: str, group: _Group, share: Decimal, line: Mapping[str, Any], locale: str
) -> _Part:
    sale_ids = list(group.sale_ids)
    sales = _sales_field(sale_ids)
    sale_text = _ranges_text(sales["ranges"], sales["more_ranges"], locale)
    values = {
        "kind": kind,
        "category": group.category,
        "sales": str(len(sale_ids)),
        "sale_ids": sale_text,
        "credited": number_text(group.credited) if group.credited is not None else "—",
        "sum": number_text(group.amount),
        "amount": money_text(share),
    }
    shown = {**values, "kind": _term(locale, kind), "category": _term(locale, group.category)}
    listed = list(group.event_ids) if len(group.event_ids) <= MAX_LISTED_EVENTS else []
    explanation = [_step("subtotal", values, listed, _words(locale, "subtotal", **shown))]
    if share != round_money(group.amount):  # a cent of the line's rounding is here
        moved = {
            "sum": number_text(group.amount),
            "amount": money_text(share),
            "line_unrounded": number_text(_unrounded(line)),
            "line_amount": str(line["amount"]),
        }
        explanation.append(
            _step("subtotal_share", moved, (), _words(locale, "subtotal_share", **moved))
        )
    explanation.extend(_grouped_steps(group.others, locale))
    ids = dict.fromkeys(e for s in explanation for e in s["event_ids"])
    return _Part(kind, group.category, share, explanation, ids, sale_ids)


def _split(line: Mapping[str, Any], sorted_: _Steps, locale: str) -> list[_Part]:
    """A per-sale line as a subtotal per category; the steps of the line as a
    whole follow its last subtotal."""
    kind = str(line["kind"])
    shares = _shares(Decimal(line["amount"]), [g.amount for g in sorted_.groups])
    parts = [
        _subtotal(kind, group, share, line, locale)
        for group, share in zip(sorted_.groups, shares, strict=True)
    ]
    values = {"kind": kind, "parts": str(len(parts)), "amount": str(line["amount"])}
    text = _words(locale, "line_subtotals", **{**values, "kind": _term(locale, kind)})
    tail = [
        _step("line_subtotals", values, (), text),
        *_grouped_steps(sorted_.loose, locale),
        *sorted_.whole,
    ]
    last = parts[-1]
    last.explanation.extend(tail)
    last.event_ids.update(dict.fromkeys(e for s in tail for e in s["event_ids"]))
    return parts


def _whole(line: Mapping[str, Any], sorted_: _Steps, locale: str) -> _Part:
    """A line kept whole: its per-sale steps grouped by code, the rest as is."""
    per_sale: dict[str, list[dict[str, Any]]] = {}
    for s in line["explanation"]:
        if "sale_id" in s["values"]:
            per_sale.setdefault(s["code"], []).append(s)
    steps = [*_grouped_steps(per_sale, locale), *sorted_.whole]
    sale_ids = [sale_id for group in sorted_.groups for sale_id in group.sale_ids]
    ids = dict.fromkeys(e for s in steps for e in s["event_ids"])
    return _Part(str(line["kind"]), None, Decimal(line["amount"]), steps, ids, sale_ids)


def _parts(line: Mapping[str, Any], locale: str) -> list[_Part]:
    if not any("sale_id" in s["values"] for s in line["explanation"]):
        return [
            _Part(
                str(line["kind"]),
                None,
                Decimal(line["amount"]),
                list(line["explanation"]),
                dict.fromkeys(line["event_ids"]),
                [],
            )
        ]
    sorted_ = _sort_steps(line)
    if sorted_.groups and sorted_.adds_up:
        return _split(line, sorted_, locale)
    return [_whole(line, sorted_, locale)]


def step_count(statement: Mapping[str, Any]) -> int:
    """How many explanation steps the statement's lines hold (what pages count)."""
    return sum(len(line["explanation"]) for line in statement["lines"])


def summarise(statement: Mapping[str, Any], locale: str = "en") -> dict[str, Any]:
    """SPEC §4's summary view of ``statement``: a subtotal line per kind and
    category (in the order of their first line), every other field as it is,
    ``view`` ``summary`` and ``steps`` the full view's step count."""
    merged: dict[tuple[str, str | None], _Part] = {}
    for line in statement["lines"]:
        for part in _parts(line, locale):
            key = (part.kind, part.category)
            found = merged.get(key)
            if found is None:
                merged[key] = part
                continue
            found.amount += part.amount
            found.explanation.extend(part.explanation)
            found.event_ids.update(part.event_ids)
            found.sale_ids.extend(part.sale_ids)
    lines = [
        {
            "kind": p.kind,
            "category": p.category,
            "amount": money_text(p.amount),
            "explanation": p.explanation,
            "event_ids": list(p.event_ids),
            "sales": _sales_field(p.sale_ids),
        }
        for p in merged.values()
    ]
    return {**statement, "lines": lines, "view": "summary", "steps": step_count(statement)}


# -- pages of the full view ----------------------------------------------------


@dataclass(frozen=True)
class StepPage:
    """``?offset=&limit=`` over a statement's explanation steps."""

    offset: int = 0
    limit: int = DEFAULT_STEP_LIMIT

    def __post_init__(self) -> None:
        check_window(self.offset, self.limit, MAX_STEP_LIMIT)


def check_window(offset: int, limit: int, most: int) -> None:
    """A window's bounds, ``?offset=&limit=``: an offset of 0 to `MAX_OFFSET`,
    a limit of 1 to ``most``; else raises naming the field."""
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInputError(f"must be between 0 and {MAX_OFFSET}", field="offset")
    if not 1 <= limit <= most:
        raise InvalidInputError(f"must be between 1 and {most}", field="limit")


def page_statement(statement: Mapping[str, Any], page: StepPage) -> dict[str, Any]:
    """The full view with only the explanation steps in ``page`` (every line
    kept, with its amount); ``page`` says where the window is in all steps."""
    lines = []
    start = 0
    end = page.offset + page.limit
    returned = 0
    for line in statement["lines"]:
        steps = line["explanation"]
        first = min(max(page.offset - start, 0), len(steps))
        shown = steps[first : max(end - start, first)]
        returned += len(shown)
        lines.append(
            {
                **line,
                "explanation": shown,
                "event_ids": list(dict.fromkeys(e for s in shown for e in s["event_ids"])),
                "explanation_offset": first,
                "explanation_count": len(steps),
            }
        )
        start += len(steps)
    window = {"offset": page.offset, "limit": page.limit, "total": start, "returned": returned}
    return {**statement, "lines": lines, "view": "full", "page": window}
