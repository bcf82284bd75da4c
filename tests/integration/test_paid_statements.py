"""Paid statements prove themselves (SPEC §4), on SQLite and PostgreSQL: a paid
period's statement is served only when its bytes still hash to the SHA-256
recorded in its run's `PayoutCalculated`, and that event still matches its chain
link; otherwise the request fails — ledger, CLI and HTTP — naming the run.

Two copies can be edited with SQL: the statements read model's row (what is
served now), and the stored run event (what replays serve, and what the row is
checked against)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ledger.chain import CURRENT_LINKS, ChainHasher
from ledger.errors import TamperedStatementError
from projections.statement import statement_sha256
from tests.integration.test_audit_chain import Raw
from tests.payout_scenes import Scene, api_over, cli, head_of, paid_scene

Q3 = "2026-Q3"


@pytest.fixture
def scene(ledger: Any) -> Scene:
    scene = paid_scene(ledger, "r1", "r2")
    scene.reports.catch_up()
    return scene


class _Rows(Raw):
    """The rows an attacker with database access edits."""

    def read_model(self, rep_id: str, period: str) -> dict[str, Any]:
        with self.cursor() as c:
            c.execute(
                self.q(f"SELECT doc FROM {self._statements} WHERE scope = ? AND key = ?"),
                (rep_id, period),
            )
            doc = c.fetchone()[0]
        return dict(orjson.loads(doc) if isinstance(doc, str | bytes) else doc)

    def set_read_model(self, rep_id: str, period: str, doc: dict[str, Any]) -> None:
        cast = "?::json" if self.pg else "?"
        with self.cursor() as c:
            c.execute(
                self.q(f"UPDATE {self._statements} SET doc = {cast} WHERE scope = ? AND key = ?"),
                (orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode(), rep_id, period),
            )

    @property
    def _statements(self) -> str:
        return f'"{self.schema}".proj_statements' if self.pg else "proj_statements"

    def edit_run_statement(self, position: int, rep_id: str, *, rehash: bool) -> None:
        """Change the rep's total in the stored PayoutCalculated at ``position``
        (``rehash``: and its recorded SHA-256 to match, as a forger would)."""
        state = orjson.loads(self.state(position))
        statement = next(s for s in state["data"]["statements"] if s["rep_id"] == rep_id)
        statement["total"] = "99999.00"
        if rehash:
            statement["sha256"] = statement_sha256(
                {k: v for k, v in statement.items() if k != "sha256"}
            )
        self.set_state(position, orjson.dumps(state))


def _position_of(scene: Scene, type_: str) -> int:
    """Where the paid run's event of ``type_`` is in the log."""
    [position] = [
        r.position
        for r in scene.ledger.iter_log()
        if r.type == type_ and r.data.get("run_id") == scene.paid_run
    ]
    return position


def _calculated_at(scene: Scene) -> int:
    return _position_of(scene, "PayoutCalculated")


def _refused_everywhere(scene: Scene, db_url: str, *, replay_too: bool) -> None:
    """The paid statement is refused, naming the run: now (the read model) and,
    with ``replay_too``, as of the head (a replay of the log); CLI and HTTP."""
    reports, run_id = scene.reports, scene.paid_run
    with pytest.raises(TamperedStatementError, match=run_id):
        reports.statement("r1", Q3)
    with pytest.raises(TamperedStatementError, match=run_id):
        reports.statement_json("r1", Q3)
    if replay_too:
        with pytest.raises(TamperedStatementError, match=run_id):
            reports.statement("r1", Q3, as_of=head_of(scene.ledger))
        with pytest.raises(TamperedStatementError, match=run_id):
            reports.statement("r1", Q3, as_of=head_of(scene.ledger), locale="zh-CN")
    result = cli("statement", "--rep", "r1", "--period", Q3, "--db", db_url)
    assert result.exit_code == 1, result.output
    assert run_id in result.output
    with api_over(scene.ledger, db_url) as api:
        answer = api.client.get(f"/reps/r1/statements/{Q3}", headers=api.as_("rep"))
    assert answer.status_code == 409, answer.text
    assert run_id in answer.json()["detail"]


class TestServed:
    def test_an_untouched_paid_statement_is_served_everywhere(
        self, scene: Scene, db_url: str
    ) -> None:
        reports = scene.reports
        now = reports.statement("r1", Q3)
        assert now["status"] == "paid"
        assert now["paid"]["run_id"] == scene.paid_run
        assert orjson.loads(reports.statement_json("r1", Q3))["total"] == now["total"]
        replayed = reports.statement("r1", Q3, as_of=head_of(scene.ledger))
        assert replayed["total"] == now["total"]
        assert reports.statement("r1", Q3, locale="zh-CN")["total"] == now["total"]
        result = cli("statement", "--rep", "r1", "--period", Q3, "--db", db_url, "--json")
        assert result.exit_code == 0, result.output
        with api_over(scene.ledger, db_url) as api:
            answer = api.client.get(f"/reps/r1/statements/{Q3}", headers=api.as_("rep"))
        assert answer.status_code == 200, answer.text

    def test_an_open_statement_is_not_held_to_a_run(self, scene: Scene) -> None:
        """Before the payment (as of then), the period was open: no run to match."""
        paid_at = _position_of(scene, "PayoutPaid")
        before = scene.reports.statement("r1", Q3, as_of=paid_at - 1)
        assert before["status"] == "open"


class TestReadModelEdited:
    def test_an_edited_total_is_refused_naming_the_run(self, scene: Scene, db_url: str) -> None:
        raw = _Rows(db_url)
        doc = raw.read_model("r1", Q3)
        raw.set_read_model("r1", Q3, {**doc, "total": "99999.00", "payable": "99999.00"})
        _refused_everywhere(scene, db_url, replay_too=False)
        # the log is intact: a replay still serves what was paid
        replayed = scene.reports.statement("r1", Q3, as_of=head_of(scene.ledger))
        assert replayed["total"] == doc["total"]

    def test_an_edited_line_is_refused(self, scene: Scene, db_url: str) -> None:
        raw = _Rows(db_url)
        doc = raw.read_model("r1", Q3)
        lines = [{**doc["lines"][0], "amount": "12345.00"}, *doc["lines"][1:]]
        raw.set_read_model("r1", Q3, {**doc, "lines": lines})
        _refused_everywhere(scene, db_url, replay_too=False)

    def test_a_copy_edited_to_look_unpaid_is_refused(self, scene: Scene, db_url: str) -> None:
        """Whether the period is paid comes from the ledger, not from the copy."""
        raw = _Rows(db_url)
        doc = {**raw.read_model("r1", Q3), "status": "open", "total": "99999.00"}
        del doc["paid"]
        raw.set_read_model("r1", Q3, doc)
        _refused_everywhere(scene, db_url, replay_too=False)


class TestRunEventEdited:
    def test_an_edited_statement_in_the_run_is_refused(self, scene: Scene, db_url: str) -> None:
        _Rows(db_url).edit_run_statement(_calculated_at(scene), "r1", rehash=False)
        _refused_everywhere(scene, db_url, replay_too=True)

    def test_an_edited_statement_with_its_hash_redone_is_refused(
        self, scene: Scene, db_url: str
    ) -> None:
        """Its recorded SHA-256 recomputed to match: the chain link still says no."""
        _Rows(db_url).edit_run_statement(_calculated_at(scene), "r1", rehash=True)
        _refused_everywhere(scene, db_url, replay_too=True)

    def test_an_edit_with_its_link_rehashed_is_refused(self, scene: Scene, db_url: str) -> None:
        """The event and its own link both redone: the next link no longer follows."""
        position = _calculated_at(scene)
        raw = _Rows(db_url)
        raw.edit_run_statement(position, "r1", rehash=True)
        link = next(x for x in raw.links() if x[0] == position)
        before = next(x for x in raw.links() if x[0] == position - 1)
        row = next(r for r in raw.rows() if r[0] == position)
        digest = ChainHasher(links=CURRENT_LINKS).link_hash(
            before[3],
            position=position,
            event_id=link[1],
            recorded_at=link[2],
            originator_id=row[1],
            originator_version=row[2],
            topic=row[3],
            state=row[4],
        )
        with raw.cursor() as c:
            c.execute(
                raw.q(f"UPDATE {raw.chain} SET hash = ? WHERE position = ?"), (digest, position)
            )
        _refused_everywhere(scene, db_url, replay_too=True)
