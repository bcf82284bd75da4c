"""Statements, diffs and histories in words: for the terminal (rich) and as the
``text`` the API's diff and history carry, in English or Simplified Chinese
(SPEC §4). The words live in `policies.wording` (``PHRASES``, ``TERMS``); the
figures are the read models' own, never recomputed here.

A package of its own, above `projections/`: rendering is a matter of the edges
(the CLI's terminal, the API's ``text`` fields), and the read side computes and
stores figures without knowing how they will be shown (nor importing rich).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from policies.wording import LOCALES, PHRASES, TERMS
from projections.diff import EventRef, EventSummary, LineChange, StatementDiff, WithheldEvent
from projections.discipline_history import CaseEntry, HistoryEntry, OverturnedEntry
from projections.summary import SUMMARY_WORDS

__all__ = [
    "diff_texts",
    "fields",
    "history_texts",
    "pending_text",
    "phrase",
    "print_diff",
    "print_history",
    "print_statement",
    "sanction_text",
]

_MISSING = "—"


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return _MISSING


def phrase(locale: str, key: str, **values: Any) -> str:
    """One of the phrases of ``locale`` with its values filled in."""
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {', '.join(LOCALES)}, not {locale!r}")
    shown = {k: _MISSING if v is None else v for k, v in values.items()}
    return PHRASES[locale][key].format_map(_Values(shown))


def _term(locale: str, value: Any) -> str:
    text = str(value) if value is not None else _MISSING
    return TERMS[locale].get(text, text)


# A red-line sanction's fine, as the history's read model states it.
_FINED: Final = "fined the amount involved"


def sanction_text(sanction: str | None, locale: str, amount: str | None = None) -> str:
    """A history entry's sanction in words: a rung (``points:2``), ``none while
    <approval>``, or what a red-line case costs (parts joined by commas; its
    fine as the case's ``amount``, when it has one)."""
    if not sanction:
        return phrase(locale, "sanction_none")
    if sanction.startswith("points:"):
        return phrase(locale, "sanction_points", points=sanction.removeprefix("points:"))
    if sanction.startswith("none while "):
        approval = _term(locale, sanction.removeprefix("none while "))
        return phrase(locale, "sanction_none_while", approval=approval)
    separator = "，" if locale == "zh-CN" else ", "
    return separator.join(
        phrase(locale, "sanction_fined", amount=amount)
        if part == _FINED and amount is not None
        else _term(locale, part)
        for part in sanction.split(", ")
    )


def fields(record: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """``record``'s values of ``names``, by name: a phrase's values named as in
    the record they are shown from."""
    return {name: record[name] for name in names}


def _history_line(entry: HistoryEntry, locale: str) -> str:
    date = entry.occurred_at[:10]
    if isinstance(entry, CaseEntry):
        mark = phrase(locale, "history_overturned_mark") if entry.overturned else ""
        note = entry.decision_note
        said = phrase(locale, "history_decision_note", note=note) if note else ""
        return phrase(
            locale,
            "history_case",
            date=date,
            severity=_term(locale, entry.severity),
            approval=_term(locale, entry.approval),
            sanction=sanction_text(entry.sanction, locale, entry.amount),
            overturned=mark,
            note=said,
            case_id=entry.case_id,
            code=entry.code,
            description=entry.description,
        )
    if isinstance(entry, OverturnedEntry):
        return phrase(
            locale, "history_overturned", date=date, case_id=entry.case_id, reason=entry.reason
        )
    return phrase(locale, "history_coaching", date=date, topic=entry.topic)


def history_texts(entries: Sequence[HistoryEntry], locale: str) -> list[dict[str, Any]]:
    """A disciplinary history as JSON-ready data, each entry with its ``text`` in
    ``locale``."""
    return [{**entry.doc(), "text": _history_line(entry, locale)} for entry in entries]


def _change_line(change: LineChange, locale: str) -> str:
    subject = phrase(locale, "diff_subject", subject=change.subject) if change.subject else ""
    return phrase(
        locale,
        "diff_change",
        kind=_term(locale, change.kind),
        subject=subject,
        before=change.before,
        after=change.after,
        change=change.change,
    )


def _diff_heading(d: StatementDiff, locale: str) -> str:
    return phrase(
        locale,
        "diff_heading",
        from_position=d.from_.position,
        to_position=d.to.position,
        rep_id=d.rep_id,
        period=d.period,
        total_before=d.total_before,
        total_after=d.total_after,
        total_change=d.total_change,
    )


def diff_texts(d: StatementDiff, locale: str) -> dict[str, Any]:
    """A diff as JSON-ready data, with its ``text`` (the heading) and each
    change's ``text`` in ``locale``."""
    changes = [{**c.doc(), "text": _change_line(c, locale)} for c in d.changes]
    return {**d.doc(), "text": _diff_heading(d, locale), "changes": changes}


def print_statement(console: Console, s: dict[str, Any], locale: str = "en") -> None:
    """A statement as a table of lines, each followed by its explanation."""
    status = s.get("status", "open")
    plan = s.get("plan") or {}
    heading = phrase(
        locale,
        "statement_heading",
        status=_term(locale, status),
        plan_id=plan.get("id"),
        plan_version=plan.get("version"),
        position=s["as_of"]["position"],
        **fields(s, "rep_id", "period", "currency"),
    )
    console.print(f"[bold]{escape(heading)}[/]")
    table = Table(show_header=True, header_style="bold", expand=False)
    # fold, never an ellipsis: a narrow terminal wraps a word too long for its
    # column (an id, an amount, a run of Chinese) rather than cut it short
    table.add_column(phrase(locale, "column_line"), overflow="fold")
    table.add_column(phrase(locale, "column_amount"), justify="right", overflow="fold")
    table.add_column(phrase(locale, "column_explanation"), overflow="fold")
    for line in s["lines"]:
        text = "\n".join(f"• {escape(step['text'])}" for step in line["explanation"])
        table.add_row(escape(_line_label(line, locale)), line["amount"], text)
    table.add_row(f"[bold]{phrase(locale, 'total')}[/]", f"[bold]{s['total']}[/]", "")
    table.add_row(f"[bold]{phrase(locale, 'payable')}[/]", f"[bold]{s['payable']}[/]", "")
    console.print(table)
    if Decimal(s["total"]) < 0:  # SPEC §3: payable 0, the total carried forward
        console.print(escape(phrase(locale, "negative_carried")))
    _print_statement_notes(console, s, locale)


def _print_statement_notes(console: Console, s: dict[str, Any], locale: str) -> None:
    """What follows a statement's table: attainment, warnings, what is unreleased
    or pending, who paid it and what changed since, the chain head, the view."""
    status = s.get("status", "open")
    if s.get("attainment") is not None:
        summary = phrase(
            locale, "attainment_summary", **fields(s, "attainment", "score", "tier_coefficient")
        )
        console.print(escape(summary))
    for warning in s.get("warnings", []):
        label = escape(phrase(locale, "warning_label"))
        console.print(f"[yellow]{label}[/] {escape(warning['text'])}")
    if s.get("unreleased") is not None:
        console.print(escape(phrase(locale, "unreleased", amount=s["unreleased"])))
    _print_pending(console, s, locale)
    if status == "paid":
        paid = s["paid"]
        paid_by = phrase(
            locale, "paid_by", run_id=paid.get("run_id"), paid_event_id=paid.get("paid_event_id")
        )
        console.print(escape(paid_by))
        if s.get("correction_to"):
            console.print(phrase(locale, "later_events"))
            for e in s.get("later_events", []):
                line = phrase(
                    locale,
                    "later_event",
                    type=e.get("type", "event"),
                    event_id=e["event_id"],
                    position=e.get("position"),
                    actor=e.get("actor"),
                    correction_in=e.get("correction_in"),
                )
                console.print(f"  {escape(line)}")
            console.print(escape(phrase(locale, "correction_to", period=s["correction_to"])))
    head = s["chain_head"]
    console.print(phrase(locale, "chain_head", position=head["position"], hash=head["hash"]))
    if s.get("view") == "summary":
        note = SUMMARY_WORDS[locale]["summary_note"].format(steps=s.get("steps", "—"))
        console.print(f"[dim]{escape(note)}[/]")
    page = s.get("page")
    if isinstance(page, dict):
        note = SUMMARY_WORDS[locale]["page_note"].format(
            **page, next=page["offset"] + page["returned"]
        )
        console.print(f"[dim]{escape(note)}[/]")


def _print_pending(console: Console, s: dict[str, Any], locale: str) -> None:
    """A statement's pending items; on a paid period, that one approved now is
    booked as a correction in a later period (SPEC §3 item 7: a paid period is
    locked), not in this one."""
    for pending in s.get("pending", []):
        console.print(f"[yellow]{escape(pending_text(pending, locale))}[/]")
    if s.get("pending") and s.get("status") == "paid":
        console.print(escape(phrase(locale, "pending_paid")))


def pending_text(pending: dict[str, Any], locale: str = "en") -> str:
    """A statement's pending item in words: awaiting approval, or (a sale in a
    foreign currency) waiting for an exchange rate."""
    kind, subject_id = pending.get("kind"), pending.get("subject_id")
    if pending.get("waiting_for") == "fx_rate":
        return phrase(
            locale,
            "pending_fx_rate",
            kind=_term(locale, kind),
            subject_id=subject_id,
            base=pending.get("base"),
            quote=pending.get("quote"),
        )
    return phrase(locale, "pending", kind=_term(locale, kind), subject_id=subject_id)


def _line_label(line: dict[str, Any], locale: str) -> str:
    """A line's kind in words; a subtotal's with its category (``commission ·
    software``)."""
    kind = _term(locale, line["kind"])
    category = line.get("category")
    return kind if category is None else f"{kind} · {_term(locale, category)}"


def print_diff(console: Console, d: StatementDiff, locale: str = "en") -> None:
    """A diff: the heading, then each changed line with the events behind it."""
    console.print(f"[bold]{escape(_diff_heading(d, locale))}[/]")
    if not d.changes:
        console.print(phrase(locale, "diff_none"))
    for change in d.changes:
        console.print(f"  {escape(_change_line(change, locale))}")
        for event in change.caused_by:
            console.print(f"    {escape(_cause_line(event, locale))}")
        for event in change.events_added:
            if isinstance(event, EventSummary):
                kind = event.type
                by = phrase(locale, "diff_by", actor=event.actor, at=event.occurred_at)
            else:
                kind, by = "event", ""
            added = phrase(locale, "diff_added", type=kind, event_id=event.event_id, by=by)
            console.print(f"    {escape(added)}")
        for event in change.events_removed:
            console.print(f"    {escape(_removed_line(event, d.to.position, locale))}")


def _removed_line(event: EventSummary | EventRef, to: int, locale: str) -> str:
    """An event a changed line no longer cites. Events are never deleted: one
    recorded by the later point (a sale whose rep left the team, a target a
    later one replaced) still stands and only stopped counting on this line;
    only a diff back in time compares against a point it was not recorded at."""
    if not isinstance(event, EventSummary):
        return phrase(locale, "diff_removed", type="event", event_id=event.event_id)
    if event.position > to:
        return phrase(
            locale, "diff_removed_later", type=event.type, event_id=event.event_id, position=to
        )
    return phrase(locale, "diff_removed", type=event.type, event_id=event.event_id)


def _cause_line(event: EventSummary | EventRef | WithheldEvent, locale: str) -> str:
    """An event that changed a line, with its type, position, actor and time;
    those the reader may not read, as such, unnamed."""
    if isinstance(event, WithheldEvent):
        return phrase(locale, "diff_cause_withheld")
    if not isinstance(event, EventSummary):
        return phrase(locale, "diff_cause_id", event_id=event.event_id)
    return phrase(locale, "diff_cause", at=event.occurred_at, **event.doc())


def print_history(
    console: Console, rep_id: str, entries: Sequence[HistoryEntry], locale: str = "en"
) -> None:
    """A rep's disciplinary history, oldest first, one entry a line."""
    console.print(f"[bold]{escape(phrase(locale, 'history_heading', rep_id=rep_id))}[/]")
    if not entries:
        console.print(phrase(locale, "history_none"))
    for entry in entries:
        console.print(f"  {escape(_history_line(entry, locale))}")
