"""The ledger's application service: every command and query the CLI and the
API call. Neither computes anything itself.

Built on the ``eventsourcing`` library's ``Application``: its event store,
repository and notification log, on the recorders of `ledger.backends` that add
the audit chain. Library errors are translated into the ledger's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import ApplicationRecorder, IntegrityError
from eventsourcing.utils import Environment, EnvType

from ledger import events as ev
from ledger.backends.base import LedgerRecorder
from ledger.chain import (
    Anchor,
    ChainHasher,
    ChainLink,
    ChainReport,
    merge_rows,
    verify_links,
)
from ledger.dispute import Dispute
from ledger.domain import event_id_for, event_topic
from ledger.errors import (
    BatchRejectedError,
    ConflictError,
    LedgerError,
    LineError,
    NotFoundError,
)
from ledger.records import EventRecord, bulk, decode
from ledger.storage import DEFAULT_DATABASE_URL, StoreConfig, library_env
from ledger.writes import PlanInfo, StagedInput, Staging, find_subject
from policies.plan import Plan

__all__ = ["Ledger", "Outcome", "RecordResult"]

_MAX_ATTEMPTS = 8
_PAGE = 5_000


@dataclass(frozen=True)
class Outcome:
    """What became of one input."""

    line: int
    type: str
    status: str  # "stored" | "skipped"
    event_id: str | None = None
    position: int | None = None


@dataclass(frozen=True)
class RecordResult:
    """What a batch did: every input stored or skipped as an identical duplicate."""

    outcomes: list[Outcome]

    @property
    def stored(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "stored")

    @property
    def skipped(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "skipped")


class Ledger(Application[UUID]):
    """The incentive ledger."""

    name = "Ledger"

    def __init__(self, url: str = DEFAULT_DATABASE_URL, *, chain_key: str | None = None) -> None:
        self.store: StoreConfig = library_env(url, chain_key=chain_key)
        self._plans: dict[str, dict[int, dict[str, Any]]] = {}
        super().__init__(env=self.store.env)

    # -- library wiring --------------------------------------------------------

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the given environment: the library would also read os.environ,
        where a stray POSTGRES_HOST could point the ledger at another database."""
        return Environment(name, dict(env or {}))

    def construct_recorder(self) -> ApplicationRecorder:
        recorder = super().construct_recorder()
        key = self.env.get("LEDGER_CHAIN_KEY")
        cast("LedgerRecorder", recorder).hasher = ChainHasher(key.encode() if key else None)
        return recorder

    @property
    def chain(self) -> LedgerRecorder:
        return cast("LedgerRecorder", self.recorder)

    # -- commands --------------------------------------------------------------

    def record(
        self,
        items: Sequence[ev.EventIn],
        *,
        actor: str,
        lines: Sequence[int] | None = None,
    ) -> RecordResult:
        """Append a batch of validated inputs, all or nothing.

        Each input's actor is its own ``actor`` field, else ``actor``.
        """
        numbered = [
            (lines[i] if lines else i + 1, item, item.actor or actor)
            for i, item in enumerate(items)
        ]

        def build(st: Staging) -> list[StagedInput]:
            staged, errors = st.apply_all(numbered)
            if errors:
                raise BatchRejectedError(errors)
            return staged

        return self._commit(build)

    def import_lines(
        self,
        lines: Iterable[str],
        *,
        actor: str,
        on_progress: Callable[[int], None] | None = None,
        chunk_size: int = 1_000,
    ) -> RecordResult:
        """SPEC §2 import: validate the whole file, then append it.

        On any bad line nothing is stored and every bad line is named. A good
        file is written in transactions of ``chunk_size`` events; a crash part
        way leaves a prefix that re-running the import completes (natural keys).
        """
        with bulk():
            return self._import(lines, actor=actor, on_progress=on_progress, chunk_size=chunk_size)

    def _import(
        self,
        lines: Iterable[str],
        *,
        actor: str,
        on_progress: Callable[[int], None] | None,
        chunk_size: int,
    ) -> RecordResult:
        parsed: list[tuple[int, ev.EventIn, str]] = []
        errors: list[LineError] = []
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            item, line_errors = ev.parse_line(text, line=number)
            errors.extend(line_errors)
            if item is not None:
                parsed.append((number, item, item.actor or actor))

        def build(st: Staging) -> list[StagedInput]:
            staged, rule_errors = st.apply_all(parsed)
            every = sorted([*errors, *rule_errors], key=lambda e: e.line)
            if every:
                raise BatchRejectedError(every)
            return staged

        return self._commit(build, chunk_size=chunk_size, on_progress=on_progress)

    def publish_plan(
        self, plan: Plan, *, actor: str, occurred_at: datetime | None = None
    ) -> RecordResult:
        """Record ``PlanPublished`` for a validated plan."""
        item = ev.make_event(ev.PlanPublished, occurred_at=occurred_at or _now(), plan=plan)
        return self.record([item], actor=actor)

    def record_payout_run(
        self,
        run_id: str,
        period: str,
        statements: list[dict[str, Any]],
        *,
        position: int,
        chain_head: dict[str, Any],
        actor: str,
    ) -> RecordResult:
        """Record ``PayoutCalculated``: each statement as computed, with its hash."""
        item = ev.make_event(
            ev.PayoutCalculated,
            occurred_at=_now(),
            run_id=run_id,
            period=period,
            position=position,
            chain_head=chain_head,
            statements=statements,
        )
        return self.record([item], actor=actor)

    def pay_run(self, run_id: str, *, actor: str) -> RecordResult:
        """Record ``PayoutPaid`` for an approved run; its period is then locked."""
        item = ev.make_event(ev.PayoutPaid, occurred_at=_now(), run_id=run_id)
        return self.record([item], actor=actor)

    def _commit(
        self,
        build: Callable[[Staging], list[StagedInput]],
        *,
        chunk_size: int = 10_000,
        on_progress: Callable[[int], None] | None = None,
    ) -> RecordResult:
        """Stage, then save in chunks; on a key collision, stage again.

        A collision means another writer stored one of our keys first — or our
        own earlier attempt did commit though its reply was lost (the library
        retries inserts after a dropped connection). Staging again sorts it
        out: identical facts are now skipped ("already stored"), different
        ones are conflicts, the rest is saved.
        """
        committed: dict[int, Outcome] = {}
        for _attempt in range(_MAX_ATTEMPTS):
            staging = self._staging()
            staged = build(staging)
            # One event per stored input, in input order.
            stored = [s for s in staged if s.stored]
            pending = staging.pending
            assert len(stored) == len(pending)
            try:
                for start in range(0, len(pending), chunk_size):
                    recordings = self._save_events(pending[start : start + chunk_size])
                    for staged_input, recording in zip(
                        stored[start : start + chunk_size], recordings, strict=True
                    ):
                        event = recording.domain_event
                        committed[staged_input.index] = Outcome(
                            staged_input.index,
                            staged_input.type,
                            "stored",
                            str(event_id_for(event.originator_id, event.originator_version)),
                            recording.notification.id,
                        )
                    if on_progress is not None:
                        on_progress(len(recordings))
            except IntegrityError:
                continue
            return RecordResult(
                [committed.get(s.index) or Outcome(s.index, s.type, "skipped") for s in staged]
            )
        raise ConflictError(
            "the batch kept colliding with concurrent writers of the same keys; "
            "re-send it to see what was stored"
        )

    def subject_kind(self, subject_id: str) -> str | None:
        """ "target", "case", "adjustment" or "run" for an approval's subject, else None."""
        try:
            subject = find_subject(self._staging(), subject_id)
        except LedgerError:
            return None
        return {"Target": "target", "Case": "case", "Adjustment": "adjustment"}.get(
            type(subject).__name__, "run"
        )

    def dispute_of(self, dispute_id: str) -> tuple[str, str] | None:
        """(rep id, run id) of a dispute, or None when there is no such dispute."""
        dispute = self._staging().get(Dispute, dispute_id)
        return (dispute.rep_id, dispute.run_id) if dispute is not None else None

    def _save_events(self, events: Sequence[Any]) -> list[Any]:
        """`Application.save` for events already collected in order.

        `save()` checks each object against a runtime Protocol (about 18 µs an
        event); these are our own domain events, so go straight to `_record`,
        the library's one-transaction write. No snapshots or notifications are
        configured, which is all `save()` would add.
        """
        processing = ProcessingEvent[UUID]()
        processing.events.extend(events)
        return self._record(processing)

    def _staging(self) -> Staging:
        return Staging(self.chain, self.mapper, self._plan_info)

    # -- plans -----------------------------------------------------------------

    def _load_plans(self) -> None:
        topic = event_topic("PlanPublished")
        after = 0
        while True:
            page = self.recorder.select_notifications(
                after, _PAGE, topics=[topic], inclusive_of_start=False
            )
            for n in page:
                document = orjson.loads(n.state)["data"]["plan"]
                self._plans.setdefault(document["id"], {})[document["version"]] = document
            if len(page) < _PAGE:
                return
            after = page[-1].id

    def plan_versions(self, plan_id: str) -> list[Plan]:
        """Every published version of a plan, lowest first."""
        if plan_id not in self._plans:
            self._load_plans()
        versions = self._plans.get(plan_id, {})
        return [Plan.model_validate(versions[v]) for v in sorted(versions)]

    def _plan_info(self, plan_id: str) -> PlanInfo | None:
        if plan_id not in self._plans:
            self._load_plans()
        versions = self._plans.get(plan_id)
        if not versions:
            return None
        document = versions[max(versions)]
        return PlanInfo(plan_id, document["currency"], document["period"])

    # -- queries ---------------------------------------------------------------

    def head(self) -> ChainLink | None:
        """The chain head: the last committed event's position and hash."""
        return self.chain.chain_head()

    def read_log(
        self, after: int = 0, limit: int = _PAGE, stop: int | None = None
    ) -> list[EventRecord]:
        """Events after position ``after`` (up to ``stop``), decoded, in order."""
        return [decode(e) for e in self.chain.select_log(after, limit, stop)]

    def iter_log(self, after: int = 0, stop: int | None = None) -> Iterator[EventRecord]:
        """Every event after ``after`` (up to ``stop``), read in pages."""
        while True:
            page = self.chain.select_log(after, _PAGE, stop)
            for logged in page:
                yield decode(logged)
            if len(page) < _PAGE:
                return
            after = page[-1].position

    def read_positions(self, positions: Sequence[int]) -> list[EventRecord]:
        """The events at ``positions`` (those that exist), in order."""
        return [decode(e) for e in self.chain.select_log_at(positions)]

    def link_at(self, position: int) -> ChainLink | None:
        """The chain link at ``position``, or the last one before it."""
        return self.chain.link_at_or_before(position)

    def event(self, event_id: str) -> EventRecord:
        """One event by its id; NotFoundError when there is none."""
        position = self.chain.position_of(event_id)
        if position is None:
            raise NotFoundError(f"no event has id {event_id}", field="event_id")
        found = self.chain.select_log(position - 1, 1, position)
        if not found:
            raise NotFoundError(f"no event has id {event_id}", field="event_id")
        return decode(found[0])

    def resolve_as_of(self, as_of: str | int | None) -> int:
        """A position from ``as_of``: a position, a ``recorded_at`` timestamp, or now."""
        head = self.head()
        last = head.position if head else 0
        if as_of is None or as_of == "":
            return last
        text = str(as_of).strip()
        if text.isdigit():
            return min(int(text), last)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise NotFoundError(
                f"as_of is a position (e.g. 1200) or a timestamp with offset, got {text!r}",
                field="as_of",
            ) from None
        if moment.tzinfo is None:
            raise NotFoundError("as_of timestamps need an offset", field="as_of")
        stamp = moment.astimezone(UTC).isoformat(timespec="microseconds")
        return self.chain.position_at(stamp) or 0

    def verify(self, anchors: Sequence[Anchor] = ()) -> ChainReport:
        """Recompute the audit chain from the stored rows (SPEC §6)."""
        return verify_links(self.chain.hasher, self._log_rows(), anchors)

    def _log_rows(self) -> Iterator[Any]:
        def events() -> Iterator[tuple[int, UUID, int, str, bytes]]:
            after = 0
            while page := self.chain.select_event_rows(after, _PAGE):
                yield from page
                after = page[-1][0]

        def links() -> Iterator[ChainLink]:
            after = 0
            while page := self.chain.select_links(after, _PAGE):
                yield from page
                after = page[-1].position

        return merge_rows(events(), links())


def _now() -> datetime:
    return datetime.now(UTC)
