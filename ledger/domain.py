"""What every ledger aggregate and event shares.

Each stored event is an *envelope*: ``occurred_at`` (business time, with the
offset it was given in), ``actor`` (who recorded it), ``content_sha256`` (its
natural content, for idempotency) and ``data`` (the validated fields in canonical
JSON form, see `ledger.events`). ``recorded_at``, ``position`` and ``hash`` are
stamped by the store when the event is committed (see `ledger.chain`).

Aggregate ids are UUIDv5 of the natural key (``sale:S-1``), so two writers of the
same fact meet on the same stream and the database's primary key settles who was
first. Event ids are UUIDv5 of (aggregate id, version): stable, unique, and
computable without a lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, SafeUUID

from eventsourcing.domain import Aggregate, event

from ledger.actors import same_actor
from ledger.errors import KeyConflictError, stored_otherwise

__all__ = [
    "LedgerAggregate",
    "Receipt",
    "created_by",
    "event_id_for",
    "event_id_text",
    "event_topic",
    "natural_id",
    "receipt_event",
    "stream_id",
    "type_of_topic",
]

# Fixed forever: changing it would change every aggregate and event id.
LEDGER_NAMESPACE = UUID("8a6f3f0e-5d1c-4b8e-9a51-3c0b7f2d9e41")
_NAMESPACE_BYTES = LEDGER_NAMESPACE.bytes
_TOPIC_PREFIX = "incentive_ledger:"


def _uuid5_bytes(name: str) -> bytes:
    """The 16 bytes of uuid5(LEDGER_NAMESPACE, name)."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return bytes(digest)


def _uuid5(name: str) -> UUID:
    """uuid5(LEDGER_NAMESPACE, name), without the stdlib's per-call overheads."""
    return uuid_of_bytes(_uuid5_bytes(name))


_new_uuid = object.__new__
_set = object.__setattr__
_SAFE_UNKNOWN = SafeUUID.unknown


def uuid_of_bytes(value: bytes) -> UUID:
    """``UUID(bytes=value)`` without its argument checks (1.4 us -> 0.4 us; a
    batch makes one per stream it creates). ``value`` is 16 bytes from a hash,
    as the version and variant bits are already set (`_uuid5_bytes`)."""
    made = _new_uuid(UUID)
    _set(made, "int", int.from_bytes(value, "big"))
    _set(made, "is_safe", _SAFE_UNKNOWN)
    return made


@lru_cache(maxsize=65_536)
def natural_id(kind: str, key: str) -> UUID:
    """The aggregate id of the stream that holds the fact keyed ``kind:key``."""
    return stream_id(kind, key)


def stream_id(kind: str, key: str) -> UUID:
    """`natural_id`, not cached (for streams being created: each is worked out once)."""
    return _uuid5(f"{kind}:{key}")


def _event_name(originator_id: UUID, version: int) -> str:
    return f"event:{originator_id.hex}:{version}"


def event_id_bytes_of(stream_hex: str, version: int) -> bytes:
    """The 16 bytes of the event id at ``version`` of the stream whose id's hex
    is ``stream_hex`` (`event_id_for`, from text a caller has already made)."""
    return _uuid5_bytes(f"event:{stream_hex}:{version}")


def event_id_for(originator_id: UUID, version: int) -> UUID:
    """The ledger's id of the event at ``version`` of aggregate ``originator_id``."""
    return _uuid5(_event_name(originator_id, version))


def event_id_text(originator_id: UUID, version: int) -> str:
    """``str(event_id_for(...))`` without making the UUID (once per event appended)."""
    h = _uuid5_bytes(_event_name(originator_id, version)).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_topic(type_: str) -> str:
    """The stored topic of an event type (`ledger.catalogue`); never changes once
    events are stored."""
    return _TOPIC_PREFIX + type_


# One shared string per type, filled as topics are met (a few dozen at most).
_TYPE_OF_TOPIC: dict[str, str] = {}


def type_of_topic(topic: str) -> str:
    """The SPEC event type of a stored topic (one shared string per type)."""
    found = _TYPE_OF_TOPIC.get(topic)
    if found is not None:
        return found
    assert topic.startswith(_TOPIC_PREFIX), topic
    return _TYPE_OF_TOPIC.setdefault(topic, topic.removeprefix(_TOPIC_PREFIX))


@dataclass(frozen=True)
class Receipt:
    """What the write side remembers of one stored fact."""

    content_sha256: str
    actor: str
    occurred_at: datetime

    def told_to(self, sender: str) -> bool:
        """Whether a refusal sent to ``sender`` may quote what this fact holds
        (when it occurred, its amount): only when they recorded it. Another
        sender of a key may not read the fact (an integration reads no event:
        SPEC §5, never a hint); compared as actors (`same_actor`)."""
        return bool(sender) and same_actor(sender, self.actor)

    def check_same(
        self, content_sha256: str, *, key: str, field: str, once: bool = False, by: str = ""
    ) -> bool:
        """True when the fact is already stored identically; conflict otherwise.

        SPEC §2: an event whose key is stored with identical content is skipped;
        one with other content is rejected as a conflict. ``once``: a fact that
        happens at most once to its stream (`LedgerAggregate.record_once`: a
        cancellation, an overturning, a departure), which no later event
        corrects — the refusal says that it stands, and, to ``by`` (the
        sender) when they are the actor who recorded it, when it occurred: the
        date is the stored fact's, which another sender may not read (an
        integration cancelling a sale reads no event; SPEC §5: never a hint).

        Otherwise the refusal serves whoever sends the key, and says nothing of
        the stored fact: its writer may correct it with a later event, while
        another (a manager under the id of another team's target, which they
        may not read) cannot, and needs an id of their own — the id is taken,
        which a natural key cannot keep from anyone who tries it.
        """
        if self.content_sha256 == content_sha256:
            return True
        if once:
            when = f" (occurred {self.occurred_at.date().isoformat()})" if self.told_to(by) else ""
            raise KeyConflictError(
                f"{key} is already recorded, otherwise{when}: it happens once and stands, "
                "as recorded; money it should have changed is an adjustment of its own",
                field=field,
                what=key,
                against=self.content_sha256,
            )
        raise stored_otherwise(key, field=field, against=self.content_sha256)


class LedgerAggregate(Aggregate):
    """Base of the ledger's aggregates: one stream per natural key.

    Every event of the ledger has the same envelope — ``occurred_at``,
    ``actor``, ``content_sha256`` and ``data`` (the validated fields) — so an
    aggregate keeps what the write rules read of its creation event:
    ``recorded`` (its receipt) and ``data``.
    """

    KIND: ClassVar[str]
    TOPIC: ClassVar[str]
    LABEL: ClassVar[str] = ""  # what an error calls one: "payout run"
    if TYPE_CHECKING:  # set by each creation event (the library would read
        # annotations here as the fields of the aggregate's own constructor)
        recorded: Receipt
        data: dict[str, Any]
        key: str

    @property
    def subject_label(self) -> str:
        """What an error message calls this stream: ``payout run R-1``."""
        return f"{self.LABEL or self.KIND} {self.key}"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give each aggregate the ``Created`` class the library requires to
        carry an explicit topic when the aggregate has one: ``<TOPIC>.Created``
        (never stored: the creation events have topics of their own)."""
        if "Created" not in cls.__dict__:
            created = type(
                "Created",
                (LedgerAggregate.Created,),
                {
                    "TOPIC": f"{cls.TOPIC}.Created",
                    "__module__": cls.__module__,
                    "__qualname__": f"{cls.__qualname__}.Created",
                },
            )
            cls.Created = created  # type: ignore[misc,assignment]
        super().__init_subclass__(**kwargs)

    @classmethod
    def create_id(cls, key: str) -> UUID:
        """The id of this kind's stream for natural key ``key``."""
        return natural_id(cls.KIND, key)

    def record_once(self, attribute: str, what: str, **envelope: Any) -> bool:
        """Record a fact that happens at most once to this stream (a cancellation,
        an overturning, a resolution, a departure), whose receipt the stream keeps
        as ``attribute`` and whose ``@event`` method is ``_<attribute>``
        (`receipt_event`): False when the stored one is this very fact (skip it),
        a conflict when it is another (SPEC §2). ``what`` names the fact in that
        conflict (``the overturning``), its field is the natural key's
        (``<KIND>_id``)."""
        done: Receipt | None = getattr(self, attribute)
        if done is not None:
            return not done.check_same(
                envelope["content_sha256"],
                key=f"{what} of {self.KIND} {self.key}",
                field=f"{self.KIND}_id",
                once=True,
                by=str(envelope.get("actor") or ""),
            )
        getattr(self, f"_{attribute}")(**envelope)
        return True


def created_by(
    type_: str,
    *,
    keeps: tuple[str, ...] = (),
    later: tuple[str, ...] = (),
    then: Callable[[Any], None] | None = None,
) -> Any:
    """The ``@event`` ``__init__`` of an aggregate whose stream ``type_`` starts:
    it keeps the natural key, the receipt, the data and the fields ``keeps`` of
    the data (as attributes), sets each of ``later`` — the follow-up facts,
    recorded at most once — to None, and lastly calls ``then`` with the
    aggregate for what it derives from these. The body re-runs on every replay:
    it assigns, nothing more."""

    def __init__(  # noqa: N807, PLR0917 - the library reads the creation event off this signature
        self: LedgerAggregate,
        key: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.key = key
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.data = data
        for name in keeps:
            setattr(self, name, data[name])
        for name in later:
            setattr(self, name, None)
        if then is not None:
            then(self)

    return event(type_, topic=event_topic(type_))(__init__)


def receipt_event(type_: str, attribute: str) -> Any:
    """The ``@event`` method of a follow-up fact that only stores its receipt as
    ``attribute`` (the body re-runs on every replay: it assigns, nothing more)."""

    def record(
        self: LedgerAggregate,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del data
        setattr(self, attribute, Receipt(content_sha256, actor, occurred_at))

    record.__name__ = record.__qualname__ = f"_{attribute}"
    return event(type_, topic=event_topic(type_))(record)
