"""A what-if and an estimate in words (English and Simplified Chinese), as a
terminal table, as the ``text`` fields of the API's answers, and a what-if as
CSV for a spreadsheet. The figures are `projections.whatif`'s, never recomputed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from policies.pay_warnings import PayWarning
from policies.wording import LOCALES, TERMS, render_warning
from projections.diff import LineChange
from projections.whatif import Estimate, Figures, PaidWhatIfRow, WarningDoc, WhatIf

__all__ = [
    "MODELLING_PHRASES",
    "estimate_texts",
    "print_estimate",
    "print_whatif",
    "whatif_csv",
    "whatif_texts",
]

_MISSING = "—"

MODELLING_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "whatif_heading": (
            "What-if: plan {plan_id} version {version} (effective {effective_from}) against "
            "today's pay, as of position {position}: nothing recorded"
        ),
        "whatif_same": "plan {plan_id} version {version} is published as it stands: no change",
        "col_rep": "Rep",
        "col_period": "Period",
        "col_status": "Status",
        "col_today": "Today",
        "col_candidate": "Candidate",
        "col_difference": "Difference",
        "col_moved": "Lines that moved",
        "total_row": "Total ({currency})",
        "paid_replay": (
            "paid; replayed it would pay {today} today, {candidate} under the candidate: "
            "{difference} booked in {booked_in}"
        ),
        "moved_line": "{kind}: {before} → {after} ({change})",
        "no_rows": "no rep has a statement in these periods",
        "warning": "warning",
        "estimate_heading": (
            "Estimate: rep {rep_id} · {period} · one more sale of {amount} {currency}"
            "{category} on {date} (share {share}): nothing recorded"
        ),
        "estimate_category": " in {category}",
        "estimate_total": "total {before} → {after} ({change}); payable {payable_before} → "
        "{payable_after} ({payable_change})",
        "estimate_tier": "attainment {attainment_before} → {attainment_after}; tier coefficient "
        "{tier_before} → {tier_after}",
        "estimate_none": "no line moves",
    },
    "zh-CN": {
        "whatif_heading": (
            "假设分析：方案 {plan_id} 第 {version} 版（{effective_from} 起生效）对比当前应付，"
            "截至位置 {position}：不记录任何事件"
        ),
        "whatif_same": "方案 {plan_id} 第 {version} 版已按此内容发布：没有变化",
        "col_rep": "销售代表",
        "col_period": "期间",
        "col_status": "状态",
        "col_today": "当前",
        "col_candidate": "候选方案",
        "col_difference": "差额",
        "col_moved": "变动的行",
        "total_row": "合计（{currency}）",
        "paid_replay": (
            "已支付；重算当前为 {today}，候选方案下为 {candidate}：差额 {difference} "
            "计入 {booked_in}"
        ),
        "moved_line": "{kind}：{before} → {after}（{change}）",
        "no_rows": "这些期间没有销售代表的结算单",
        "warning": "警告",
        "estimate_heading": (
            "估算：销售代表 {rep_id} · {period} · 再成交一笔 {amount} {currency}"
            "{category}，日期 {date}（份额 {share}）：不记录任何事件"
        ),
        "estimate_category": "（类别 {category}）",
        "estimate_total": "合计 {before} → {after}（{change}）；应付 {payable_before} → "
        "{payable_after}（{payable_change}）",
        "estimate_tier": "达成率 {attainment_before} → {attainment_after}；档位系数 "
        "{tier_before} → {tier_after}",
        "estimate_none": "没有行发生变动",
    },
}
assert set(MODELLING_PHRASES) == set(LOCALES)


def _phrase(locale: str, key: str, **values: Any) -> str:
    if locale not in MODELLING_PHRASES:
        raise ValueError(f"locale must be one of {', '.join(LOCALES)}, not {locale!r}")
    shown = {k: _MISSING if v is None else v for k, v in values.items()}
    return MODELLING_PHRASES[locale][key].format(**shown)


def _term(locale: str, value: object) -> str:
    text = str(value) if value is not None else _MISSING
    return TERMS[locale].get(text, text)


def _moved_text(change: LineChange, locale: str) -> str:
    kind = _term(locale, change.kind)
    if change.subject:
        kind = f"{kind} ({change.subject})"
    return _phrase(
        locale,
        "moved_line",
        kind=kind,
        before=change.before,
        after=change.after,
        change=change.change,
    )


def _moved_docs(changes: Sequence[LineChange], locale: str) -> list[dict[str, Any]]:
    """The lines that moved as JSON-ready data, each with its ``text``."""
    return [{**c.doc(), "text": _moved_text(c, locale)} for c in changes]


def _heading(result: WhatIf, locale: str) -> str:
    plan = result.plan
    key = "whatif_heading" if result.candidate_event is not None else "whatif_same"
    return _phrase(
        locale,
        key,
        plan_id=plan.id,
        version=plan.version,
        effective_from=plan.effective_from,
        position=result.as_of.position,
    )


def _side(figures: Figures | None, key: str = "total") -> str | None:
    return getattr(figures, key) if figures is not None else None


def whatif_texts(result: WhatIf, locale: str) -> dict[str, Any]:
    """A what-if as JSON-ready data, with its ``text`` (the heading), each moved
    line's and each warning's ``text``."""
    rows = [{**row.doc(), "moved": _moved_docs(row.moved, locale)} for row in result.reps]
    warnings = [
        {**w.doc(), "text": render_warning(_pay_warning(w), locale)} for w in result.warnings
    ]
    return {**result.doc(), "text": _heading(result, locale), "reps": rows, "warnings": warnings}


def _pay_warning(warning: WarningDoc) -> PayWarning:
    """A warning back from its JSON form (`PayWarning.to_dict`)."""
    return PayWarning(warning.code, warning.values, tuple(warning.event_ids), warning.field)


def _print_warnings(console: Console, result: WhatIf, locale: str) -> None:
    """What the candidate would be published with but looks wrong, as `plan
    publish` would say it."""
    for w in result.warnings:
        text = render_warning(_pay_warning(w), locale)
        console.print(f"[yellow]{_phrase(locale, 'warning')}:[/] {escape(text)}")


def print_whatif(console: Console, result: WhatIf, locale: str = "en") -> None:
    """A what-if as a table: a row per rep and period, then the totals."""
    console.print(f"[bold]{escape(_heading(result, locale))}[/]")
    _print_warnings(console, result, locale)
    if not result.reps:
        console.print(_phrase(locale, "no_rows"))
        return
    table = Table(show_header=True, header_style="bold", expand=False)
    for key, justify in (
        ("col_rep", "left"),
        ("col_period", "left"),
        ("col_status", "left"),
        ("col_today", "right"),
        ("col_candidate", "right"),
        ("col_difference", "right"),
        ("col_moved", "left"),
    ):
        # folded, never cut: every figure and line name stays whole on a narrow terminal
        table.add_column(_phrase(locale, key), justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in result.reps:
        notes = [_moved_text(c, locale) for c in row.moved]
        if isinstance(row, PaidWhatIfRow):
            notes.append(_phrase(locale, "paid_replay", **row.paid_replay.doc()))
        table.add_row(
            escape(row.rep_id),
            row.period,
            _term(locale, row.status),
            _side(row.today) or _MISSING,
            _side(row.candidate) or _MISSING,
            row.difference.total,
            escape("\n".join(notes)),
        )
    for total in result.totals:
        table.add_row(
            f"[bold]{escape(_phrase(locale, 'total_row', currency=total.currency))}[/]",
            total.period,
            str(total.reps),
            total.today.total,
            total.candidate.total,
            f"[bold]{total.difference.total}[/]",
            "",
        )
    console.print(table)


_CSV_HEADER = (
    "rep_id",
    "period",
    "currency",
    "status",
    "today_total",
    "today_payable",
    "candidate_total",
    "candidate_payable",
    "difference_total",
    "difference_payable",
    "paid_replay_difference",
    "booked_in",
    "moved_lines",
)


def whatif_csv(result: WhatIf) -> str:
    """A what-if as CSV (UTF-8 text, one row per rep and period, then one per
    period and currency total: ``rep_id`` is ``*``): the same figures as the JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_CSV_HEADER)
    for row in result.reps:
        replay = row.paid_replay if isinstance(row, PaidWhatIfRow) else None
        writer.writerow(
            (
                row.rep_id,
                row.period,
                row.currency,
                row.status,
                _side(row.today) or "",
                _side(row.today, "payable") or "",
                _side(row.candidate) or "",
                _side(row.candidate, "payable") or "",
                row.difference.total,
                row.difference.payable,
                replay.difference if replay is not None else "",
                replay.booked_in if replay is not None else "",
                "; ".join(f"{c.kind} {c.change}" for c in row.moved),
            )
        )
    for total in result.totals:
        writer.writerow(
            (
                "*",
                total.period,
                total.currency,
                "total",
                total.today.total,
                total.today.payable,
                total.candidate.total,
                total.candidate.payable,
                total.difference.total,
                total.difference.payable,
                "",
                "",
                "",
            )
        )
    return buffer.getvalue()


def _estimate_lines(result: Estimate, locale: str) -> list[str]:
    sale = result.sale
    before, after = result.before, result.after
    category = _phrase(locale, "estimate_category", category=sale.category) if sale.category else ""
    return [
        _phrase(
            locale,
            "estimate_heading",
            rep_id=result.rep_id,
            period=result.period,
            amount=sale.amount,
            currency=result.currency,
            category=category,
            date=sale.date,
            share=sale.share,
        ),
        _phrase(
            locale,
            "estimate_total",
            before=_side(before),
            after=_side(after),
            change=result.difference.total,
            payable_before=_side(before, "payable"),
            payable_after=_side(after, "payable"),
            payable_change=result.difference.payable,
        ),
        _phrase(
            locale,
            "estimate_tier",
            attainment_before=_side(before, "attainment"),
            attainment_after=_side(after, "attainment"),
            tier_before=_side(before, "tier_coefficient"),
            tier_after=_side(after, "tier_coefficient"),
        ),
    ]


def estimate_texts(result: Estimate, locale: str) -> dict[str, Any]:
    """An estimate as JSON-ready data, with its ``text`` (heading, totals, tier)
    and each moved line's."""
    return {
        **result.doc(),
        "text": "\n".join(_estimate_lines(result, locale)),
        "moved": _moved_docs(result.moved, locale),
    }


def print_estimate(console: Console, result: Estimate, locale: str = "en") -> None:
    """An estimate: what the sale adds, line by line, with the events behind each."""
    heading, *rest = _estimate_lines(result, locale)
    console.print(f"[bold]{escape(heading)}[/]")
    for line in rest:
        console.print(escape(line))
    if not result.moved:
        console.print(_phrase(locale, "estimate_none"))
    for change in result.moved:
        console.print(f"  {escape(_moved_text(change, locale))}")
