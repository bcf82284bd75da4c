"""Readable terminal rendering of statements, diffs and histories (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_diff", "print_history", "print_statement"]


def print_statement(console: Console, s: dict[str, Any]) -> None:
    """A statement as a table of lines, each followed by its explanation."""
    status = s.get("status", "open")
    plan = s.get("plan") or {}
    console.print(
        f"[bold]Statement[/] rep {s['rep_id']} · period {s['period']} · {s['currency']} · "
        f"{status} · plan {plan.get('id')} v{plan.get('version')} · as of position "
        f"{s['as_of']['position']}"
    )
    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("line")
    table.add_column("amount", justify="right")
    table.add_column("explanation")
    for line in s["lines"]:
        text = "\n".join(f"• {step['text']}" for step in line["explanation"])
        table.add_row(line["kind"], line["amount"], text)
    table.add_row("[bold]total[/]", f"[bold]{s['total']}[/]", "")
    table.add_row("[bold]payable[/]", f"[bold]{s['payable']}[/]", "")
    console.print(table)
    if s.get("attainment") is not None:
        console.print(
            f"attainment {s['attainment']} · score {s['score']} · tier coefficient "
            f"{s['tier_coefficient']}"
        )
    for warning in s.get("warnings", []):
        console.print(f"[yellow]warning[/] {warning['text']}")
    for pending in s.get("pending", []):
        console.print(
            f"[yellow]pending[/] {pending.get('kind')} {pending.get('subject_id')} "
            "(awaiting approval; changes no payout yet)"
        )
    if status == "paid":
        paid = s["paid"]
        console.print(f"paid by run {paid['run_id']} (event {paid['paid_event_id']})")
        if s.get("correction_to"):
            console.print("later events changed what this period would pay:")
            for e in s.get("later_events", []):
                console.print(
                    f"  {e.get('type', 'event')} {e['event_id']} at position "
                    f"{e.get('position')} by {e.get('actor')}"
                )
            console.print(f"their correction is booked in {s['correction_to']}")
    head = s["chain_head"]
    console.print(f"chain head {head['position']}:{head['hash']}")


def print_diff(console: Console, d: dict[str, Any]) -> None:
    console.print(
        f"[bold]Diff[/] rep {d['rep_id']} · {d['period']} · position {d['from']['position']} → "
        f"{d['to']['position']} · total {d['total_before']} → {d['total_after']} "
        f"({d['total_change']})"
    )
    if not d["changes"]:
        console.print("no line changed")
    for change in d["changes"]:
        subject = f" ({change['subject']})" if change["subject"] else ""
        console.print(
            f"  {change['kind']}{subject}: {change['before']} → {change['after']} "
            f"({change['change']})"
        )
        for event in change["events_added"]:
            who = f" by {event['actor']}" if "actor" in event else ""
            console.print(f"    + {event.get('type', 'event')} {event['event_id']}{who}")
        for event in change["events_removed"]:
            console.print(f"    - {event.get('type', 'event')} {event['event_id']}")


def print_history(console: Console, rep_id: str, entries: list[dict[str, Any]]) -> None:
    console.print(f"[bold]Disciplinary history[/] of rep {rep_id}")
    if not entries:
        console.print("nothing recorded")
    for e in entries:
        when = e["occurred_at"][:10]
        if e["kind"] == "case":
            overturned = " [overturned]" if e["overturned"] else ""
            console.print(
                f"  {when} case {e['case_id']} {e['severity']} {e['code']}: "
                f"{e['description']} — approval {e['approval']}, "
                f"sanction {e['sanction']}{overturned}"
            )
        elif e["kind"] == "overturned":
            console.print(f"  {when} case {e['case_id']} overturned: {e['reason']}")
        else:
            console.print(f"  {when} coaching: {e['topic']}")
