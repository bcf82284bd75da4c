"""The statement views a process keeps (`projections.kept_views`): bounded by
count and by bytes, least recently served out first, and stamped anew with the
position they are served at."""

from __future__ import annotations

import orjson

from projections.kept_views import KeptView, KeptViews, ViewKey


def _key(rep_id: str) -> ViewKey:
    return (rep_id, "2026-Q3", "summary", "en", None, None, None)


def _stamp(position: int) -> bytes:
    return orjson.dumps(
        {"as_of": {"position": position, "recorded_at": "x"}, "chain_head": f"h{position}"}
    )


def _body(position: int, tail: bytes = b"") -> bytes:
    return b'{"lines":[],"total":"1.00",' + _stamp(position)[1:-1] + tail + b"}"


class TestBounds:
    def test_the_least_recently_served_goes_first(self) -> None:
        """A third view pushes out the one not served for longest."""
        views = KeptViews(max_entries=2, max_bytes=10_000)
        for rep in ("a", "b"):
            views.put(_key(rep), KeptView(1, b"{}", (0, 0)))
        assert views.get(_key("a")) is not None  # a served again: b is now the oldest
        views.put(_key("c"), KeptView(1, b"{}", (0, 0)))
        assert len(views) == 2
        assert views.get(_key("b")) is None
        assert views.get(_key("a")) is not None

    def test_the_bytes_are_bounded(self) -> None:
        """Bodies are dropped until the bytes kept fit the budget again."""
        views = KeptViews(max_entries=100, max_bytes=1000)
        for n in range(10):
            views.put(_key(str(n)), KeptView(1, b"x" * 200, (0, 0)))
        assert views.size_bytes <= 1000
        assert len(views) == 5
        assert views.get(_key("9")) is not None

    def test_a_body_too_large_for_the_budget_is_not_kept(self) -> None:
        """Over a quarter of the budget, a body would push out many others."""
        views = KeptViews(max_entries=100, max_bytes=1000)
        views.put(_key("small"), KeptView(1, b"x" * 100, (0, 0)))
        views.put(_key("big"), KeptView(1, b"x" * 251, (0, 0)))
        assert views.get(_key("big")) is None
        assert views.get(_key("small")) is not None
        assert views.size_bytes == 100

    def test_replacing_a_view_counts_its_bytes_once(self) -> None:
        views = KeptViews(max_entries=10, max_bytes=1000)
        views.put(_key("a"), KeptView(1, b"x" * 100, (0, 0)))
        views.put(_key("a"), KeptView(2, b"x" * 50, (0, 0)))
        assert views.size_bytes == 50
        views.drop(_key("a"))
        assert views.size_bytes == 0
        assert len(views) == 0


class TestStamp:
    def test_served_later_its_as_of_and_chain_head_are_the_new_ones(self) -> None:
        """The stamp is replaced where it stood; every other byte is kept."""
        kept = KeptView.of(7, _body(7, b',"view":"full"'), _stamp(7))
        assert kept is not None
        later = kept.stamped(12, _stamp(12))
        assert later.position == 12
        assert later.body == _body(12, b',"view":"full"')
        assert orjson.loads(later.body)["as_of"]["position"] == 12
        assert later.stamped(7, _stamp(7)).body == kept.body

    def test_a_body_without_its_stamp_once_is_not_kept(self) -> None:
        """Not found, or found twice: it could not be stamped anew exactly."""
        assert KeptView.of(7, b'{"lines":[]}', _stamp(7)) is None
        twice = _body(7)[:-1] + b',"copy":{' + _stamp(7)[1:-1] + b"}}"
        assert KeptView.of(7, twice, _stamp(7)) is None
