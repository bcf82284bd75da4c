"""`ViewStore.fields` on SQLite and PostgreSQL: top-level fields of every row
picked out by the database, equal to what decoding the documents whole gives;
and the overview, which reads its sums and counts that way, equal to its
figures computed from the whole documents."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from api.pages import views
from demo import run_demo
from ledger.application import Ledger
from policies.periods import parse_period
from projections.balances import EVENTFUL
from projections.disputes import team_on
from projections.service import Reports
from projections.storage.core import Batch, Replacement, picked_flag
from tests.builders import seeded
from tests.unit.test_quiet_rows import worked_out


@pytest.fixture
def reports(ledger: Ledger) -> Reports:
    run_demo(ledger)
    reports = Reports(ledger)
    reports.catch_up()
    return reports


def _picked(rows: list[tuple[str, str, dict[str, object]]], names: tuple[str, ...]) -> list[object]:
    return [
        (scope, key, tuple(None if doc.get(n) is None else str(doc[n]) for n in names))
        for scope, key, doc in rows
    ]


class TestFields:
    @pytest.mark.parametrize(
        ("view", "names"),
        [
            ("balances", ("payable", "currency", "total")),
            ("attainment", ("attainment", "tier_coefficient", "score")),
            ("reps", ("rep_id",)),
        ],
    )
    def test_equal_to_the_documents_decoded_whole(
        self, reports: Reports, view: str, names: tuple[str, ...]
    ) -> None:
        store = reports.projector.store
        rows = store.rows(view)
        assert rows, f"the demo has {view} rows"
        assert store.fields(view, names) == _picked(rows, names)
        key = rows[-1][1]
        assert store.fields(view, names, key=key) == _picked(store.rows(view, key=key), names)

    def test_absent_and_null_are_none_and_text_comes_unescaped(self, ledger: Ledger) -> None:
        """Rows written by hand: text a JSON document escapes (quotes, a
        backslash, CJK) comes back as the text itself."""
        seeded(ledger)
        reports = Reports(ledger)
        reports.catch_up()
        store = reports.projector.store
        odd = '东区 "A" \\ 1'
        store.write(
            Batch(
                [
                    Replacement("reps", "r1", {"": {"team": odd, "rep_id": "r1"}}),
                    Replacement("reps", "r2", {"": {"team": None, "rep_id": "r2"}}),
                ],
                store.position() + 1,
            )
        )
        found = {scope: values for scope, _, values in store.fields("reps", ("team", "nope"))}
        assert found["r1"] == (odd, None)
        assert found["r2"] == (None, None)

    @pytest.mark.parametrize("name", ["Team", "team'); DROP TABLE proj_reps; --", "a.b", ""])
    def test_only_plain_field_names(self, reports: Reports, name: str) -> None:
        with pytest.raises(ValueError, match="not a read model field name"):
            reports.projector.store.fields("reps", ("team", name))


class TestEventful:
    def test_each_row_says_what_its_fields_say_and_reads_so_on_both_stores(
        self, reports: Reports
    ) -> None:
        """Every balances row the projection writes says whether it holds
        anything (a status past open, an item pending, money in its total or
        a line kind) as its fields say, and `ViewStore.fields` reads it back
        the same on SQLite ("1") and PostgreSQL ("true")."""
        store = reports.projector.store
        rows = store.rows("balances")
        flags = {(scope, key): doc.get(EVENTFUL) for scope, key, doc in rows}
        assert flags == {(scope, key): worked_out(doc) for scope, key, doc in rows}
        assert set(flags.values()) == {True, False}, "the demo has quiet periods and busy ones"
        paid = [(s, k) for s, k, doc in rows if doc["status"] == "paid"]
        assert paid, "the demo pays a run"
        assert all(flags[row] for row in paid)
        picked = {
            (s, k): picked_flag(flag) for s, k, (flag,) in store.fields("balances", (EVENTFUL,))
        }
        assert picked == flags

    def test_a_row_without_the_flag_reads_as_holding_something(self, reports: Reports) -> None:
        """A row an older balances version wrote has no flag; until the replay
        of version 9 commits, readers offer and list it rather than hide it."""
        store = reports.projector.store
        absent = store.fields("balances", ("no_such_field",))
        assert absent, "the demo has balances rows"
        assert all(flag is None for _, _, (flag,) in absent)
        assert all(picked_flag(flag, absent=True) for _, _, (flag,) in absent)
        assert not any(picked_flag(flag) for _, _, (flag,) in absent)


class TestOverview:
    @pytest.mark.parametrize("period", [None, "2026-Q3", "2026-08"])
    def test_its_figures_are_those_of_the_whole_documents(
        self, reports: Reports, period: str | None
    ) -> None:
        store = reports.projector.store
        view = views.overview(reports, period)
        chosen = view.period
        assert chosen is not None
        if period is not None:
            assert chosen == period
        else:  # ends latest among the measured; of those, the most measured
            measured = Counter(k for _, k, doc in store.rows("attainment") if doc.get("attainment"))
            assert measured, "the demo sets targets"
            assert chosen == max(measured, key=lambda p: (parse_period(p).last_day, measured[p], p))
        day = reports.today()
        teams = {scope: team_on(doc, day) or "" for scope, _, doc in store.rows("reps")}
        attainment = [doc for _, _, doc in store.rows("attainment", key=chosen)]
        buckets = Counter(views.bucket(doc.get("attainment")) for doc in attainment)
        assert view.distribution == [(label, buckets[label]) for label in views.BUCKET_LABELS]
        tiers = Counter(doc.get("tier_coefficient") or views.NO_TARGET for doc in attainment)
        assert dict(view.tiers) == dict(tiers)
        sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        counts: Counter[tuple[str, str]] = Counter()
        busy = set()
        for scope, key, doc in store.rows("balances"):
            held = doc.get("run")  # an open run's: what it will pay
            sums[teams.get(scope, ""), key] += Decimal((held or doc)["payable"])
            counts[teams.get(scope, ""), key] += 1
            if held or worked_out(doc):
                busy.add((teams.get(scope, ""), key))
        assert busy < set(sums), "the demo has periods with nothing in them"
        assert {(p["team"], p["period"]): p["payable"] for p in view.payouts} == {
            group: sums[group] for group in busy
        }
        assert {(p["team"], p["period"]): p["reps"] for p in view.payouts} == {
            group: counts[group] for group in busy
        }
        for p in view.payouts:
            assert p["paid"] + p["in_run"] + p["open"] == p["payable"]
        ordered = [views.period_key(p["period"]) for p in view.payouts]
        assert ordered == sorted(ordered, reverse=True)
