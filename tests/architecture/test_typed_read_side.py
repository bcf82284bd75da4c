"""The typed read side: the work queues answer typed pages, never dicts, and the
stored rows they read validate into their read models' types."""

from __future__ import annotations

import inspect
import typing

from projections.queues import WorkQueues
from projections.rows import ListPage, Row

# The queue's lists, and the things it shows whole: a run, a subject awaiting a
# decision (its confirmation page), and the summary's items unpaged (a page that
# counts every rep of it beside the window it lists: Team, Overview).
_LISTS = ("reps", "summary", "runs", "pending", "disputes", "cases")


def test_every_work_queue_answers_a_typed_page() -> None:
    public = {
        name
        for name, member in inspect.getmembers(WorkQueues, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == {*_LISTS, "run", "pending_item", "summary_items", "quiet_scores"}, (
        "a new list answers a typed page too"
    )
    for name in _LISTS:
        answer = typing.get_type_hints(getattr(WorkQueues, name))["return"]
        assert issubclass(answer, ListPage), name
    assert issubclass(typing.get_type_hints(WorkQueues.run)["return"], Row)
    unpaged = typing.get_type_hints(WorkQueues.summary_items)["return"]
    assert typing.get_origin(unpaged) is list
    assert all(issubclass(item, Row) for item in typing.get_args(unpaged))
    item = typing.get_type_hints(WorkQueues.pending_item)["return"]  # the union, unannotated
    kinds = typing.get_args(item)
    assert kinds
    assert all(issubclass(kind, Row) for kind in kinds)


def test_a_page_declares_what_its_items_are() -> None:
    for name in _LISTS:
        page = typing.get_type_hints(getattr(WorkQueues, name))["return"]
        items = page.model_fields["items"].annotation
        assert typing.get_origin(items) is list, name
        (item,) = typing.get_args(items)
        assert item is not typing.Any, f"{name}: a page of untyped items"
