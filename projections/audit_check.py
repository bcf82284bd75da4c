"""`audit check`: re-check one statement offline, from its bundle alone.

A bundle (`projections.bundle` writes it) holds a rep's statement as served,
the events it rests on with their positions and chain links, the chain
segment that links them to the statement's published head (other events as
their link material only: no payload), the plan versions and the engine
version. This module reads nothing but the bundle: no database, no settings.
It recomputes the chain segment (HMAC mode needs the chain key), folds the
bundled events into `projections.facts.LedgerFacts`, runs
`projections.statement.Calculator` and says, part by part, what matched.

Every byte of a bundle is covered by some check: a field that no check could
see would be a field anyone could edit unseen.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from ledger.backends.base import LoggedEvent
from ledger.chain import GENESIS, Anchor, ChainHasher
from ledger.domain import event_id_text, event_topic
from ledger.errors import printable
from ledger.events import canonical_json
from ledger.payout_run import PayoutRun
from ledger.records import EventRecord, decode, instant
from policies.periods import parse_period
from projections.facts import LedgerFacts
from projections.statement import AsOf, Calculator, statement_sha256

__all__ = [
    "BUNDLE_FORMAT",
    "GZIP_MAGIC",
    "MOST_BUNDLE_BYTES",
    "AuditBundle",
    "BundleReport",
    "BundleTooLargeError",
    "Finding",
    "check_bundle",
    "engine_identity",
    "read_bundle",
]

BUNDLE_FORMAT = "incentive-ledger/audit-bundle/1"
GZIP_MAGIC = b"\x1f\x8b"
# The most a bundle may hold, plain or inflated: a bare link is about 160 bytes,
# so a chain of some 6 million events; a file past it (or an endless stream, a
# device) is refused before it takes the machine's memory.
MOST_BUNDLE_BYTES = 1 << 30
PLAN_EVENT = "PlanPublished"
RUN_EVENT = "PayoutCalculated"
PACKAGE = "incentive-ledger"
# The code a statement is computed by: the pay rules, the fold and the statement.
_ENGINE_ROOT = Path(__file__).resolve().parent.parent
_ENGINE_FILES = ("projections/facts.py", "projections/statement.py", "ledger/records.py")

Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", strict=True)]
Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", strict=True)]
Position = Annotated[int, Field(ge=1, strict=True)]
# ids, periods and times (SPEC §2: an id has at most 128 characters), and event
# type names: short, so that a finding naming one stays one readable line
Short = Annotated[str, Field(min_length=1, max_length=128, strict=True)]
TypeName = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9]{0,63}$", strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Head(_Strict):
    """A chain head: the link at ``position``."""

    position: Position
    hash: Hex64


class Engine(_Strict):
    """What computed the statement: the package's version and a SHA-256 over
    the source of the calculation (`engine_identity`)."""

    package: Literal["incentive-ledger"]
    version: Short
    code_sha256: Hex64


class Chain(_Strict):
    """The segment's mode, the link before its first event, and its end."""

    mode: Literal["sha256", "hmac-sha256"]
    previous_hash: Hex64
    head: Head
    links: Literal[1, 2] = 1  # the version of the links' content (`ledger.chain`)


class DisclosedEvent(_Strict):
    """One of the rep's events (or a plan), whole: its stored bytes and its link."""

    position: Position
    event_id: Short
    recorded_at: Short
    stream: Hex32
    version: Annotated[int, Field(ge=1, strict=True)]
    type: TypeName
    state: StrictStr
    hash: Hex64


class RunClaim(_Strict):
    """A payout run's `PayoutCalculated`, which holds every rep's statement: its
    link material only (its content as a SHA-256), and what it says of this rep."""

    position: Position
    event_id: Short
    recorded_at: Short
    stream: Hex32
    version: Literal[1]
    type: Literal["PayoutCalculated"]
    content_sha256: Hex64
    hash: Hex64
    run_id: Short
    period: Short
    computed_at: Head
    statement: dict[str, Any]


# An event that is not the rep's — what its link hashes, nothing of its payload:
# links 1, its position, recorded_at, stream, version, type and the SHA-256 of
# its stored bytes; links 2, its position, recorded_at and digest (which hides
# the rest, `ledger.chain.event_digest`).
_BareLink = tuple[StrictInt, Short, Hex32, StrictInt, TypeName, Hex64]
Link = _BareLink | tuple[StrictInt, Short, Hex64]
_DIGESTED_LINK = 3


class PlanVersion(_Strict):
    """A plan version the bundle holds, as published at ``position``."""

    id: Short
    version: StrictInt
    position: Position
    plan: dict[str, Any]


class AuditBundle(_Strict):
    """The file `audit bundle` writes (canonical JSON, UTF-8)."""

    format: Literal["incentive-ledger/audit-bundle/1"]
    rep_id: Short
    period: Short
    engine: Engine
    chain: Chain
    events: list[DisclosedEvent | RunClaim]
    links: list[Link]
    plans: list[PlanVersion]
    statement: dict[str, Any]
    # on a keyed chain, `ChainHasher.seal` of the bundle's bytes without it
    seal: Hex64 | None = None


@dataclass(frozen=True)
class Finding:
    """One part of the bundle and what the check found of it."""

    part: str
    ok: bool | None  # None: could not be checked (HMAC mode without the key)
    detail: str

    def to_dict(self) -> dict[str, Any]:
        status = "matched" if self.ok else "unchecked" if self.ok is None else "MISMATCH"
        return {"part": self.part, "status": status, "detail": self.detail}


@dataclass
class BundleReport:
    """What `check_bundle` found, part by part."""

    findings: list[Finding] = field(default_factory=list)
    rep_id: str | None = None
    period: str | None = None
    total: str | None = None
    head: str | None = None  # POSITION:HASH, to compare with a head published elsewhere
    # after a link that does not recompute: the last position known to hold
    links_hold_to: int | None = None
    # what the check, even all matched, does not prove (`_unproven`)
    unproven: list[str] = field(default_factory=list)
    # the keyed links the bundle states (each disclosed event's and the head's):
    # how many recomputed under the key given, and how many did not
    keyed_links_matched: int = 0
    keyed_links_failed: int = 0
    # said once, before the findings, when the evidence points at the key
    # rather than at edits (`_blame_the_key`); the findings then do not repeat it
    wrong_key: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    @property
    def mismatches(self) -> list[Finding]:
        return [f for f in self.findings if f.ok is False]

    @property
    def unchecked(self) -> list[Finding]:
        return [f for f in self.findings if f.ok is None]

    @property
    def exit_code(self) -> int:
        """0 all matched; 1 something did not; 2 nothing failed but a part could
        not be checked (the chain, in HMAC mode, without the key)."""
        if self.mismatches or not self.findings:
            return 1
        return 2 if self.unchecked else 0

    def add(self, part: str, ok: bool | None, detail: str) -> None:
        """A finding; what it quotes of the file (an id, a value) with its
        control and invisible characters escaped: it is printed on terminals."""
        self.findings.append(Finding(printable(part), ok, printable(detail)))

    def to_dict(self) -> dict[str, Any]:
        """The report as `audit check --json` prints it, the verdict first."""
        stated = {name: getattr(self, name) for name in ("rep_id", "period", "total", "head")}
        findings = [f.to_dict() for f in self.findings]
        return {
            "ok": self.ok,
            "wrong_key": self.wrong_key,
            **stated,
            "findings": findings,
            "unproven": self.unproven,
        }


@cache
def engine_identity() -> dict[str, str]:
    """The engine a statement is recomputed with: the package version, and a
    SHA-256 over the source of the pay rules (`policies/`), the fold, the
    statement and the event decoder, file by file in name order."""
    digest = hashlib.sha256()
    rules = (
        p.relative_to(_ENGINE_ROOT).as_posix() for p in (_ENGINE_ROOT / "policies").glob("*.py")
    )
    files = sorted([*rules, *_ENGINE_FILES])
    for name in files:
        digest.update(name.encode() + b"\n")
        digest.update(hashlib.sha256((_ENGINE_ROOT / name).read_bytes()).digest())
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # run from a source tree
        version = "unknown"
    return {"package": PACKAGE, "version": version, "code_sha256": digest.hexdigest()}


def check_bundle(
    raw: bytes, *, key: bytes | None = None, anchors: Sequence[Anchor] = ()
) -> BundleReport:
    """Check a bundle's bytes (plain, or gzip-compressed): its chain segment
    (with ``key`` in HMAC mode), each event's link, the plans, the engine, and
    the statement recomputed from the bundled events; and that the segment
    passes through each of ``anchors`` (chain heads published earlier). Never
    raises on bad input: what is wrong is a finding naming the part."""
    report = BundleReport()
    if len(raw) > MOST_BUNDLE_BYTES:
        detail = f"not checked: {_too_large(len(raw), read=False)}"
        report.add("file", ok=False, detail=detail)
        return report
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = _gunzip(raw)
        except (OSError, EOFError, zlib.error) as exc:
            report.add("file", ok=False, detail=f"not a bundle: a damaged gzip file ({exc})")
            return report
        except _InflatesTooFarError as exc:
            report.add("file", ok=False, detail=f"not a bundle: {exc}")
            return report
    try:
        text = raw.decode("utf-8")
        doc = orjson.loads(text)
    except (UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        report.add("file", ok=False, detail=f"not a bundle: not UTF-8 JSON ({exc})")
        return report
    try:
        bundle = AuditBundle.model_validate_json(text)
    except ValidationError as exc:
        report.add("file", ok=False, detail=f"not a well-formed bundle: {_first_errors(exc)}")
        return report
    if canonical_json(doc) != raw:
        report.add(
            "file",
            ok=False,
            detail="not in canonical form (sorted keys, no spaces): the file was edited",
        )
    report.rep_id, report.period = printable(bundle.rep_id), printable(bundle.period)
    report.head = f"{bundle.chain.head.position}:{bundle.chain.head.hash}"
    hashes: dict[int, str] = {}
    phases: list[tuple[str, Callable[[], object]]] = [
        ("engine", lambda: _check_engine(bundle, report)),
        ("chain", lambda: hashes.update(_check_chain(bundle, key, report))),
        ("seal", lambda: _check_seal(bundle, doc, key, report)),
        ("anchor", lambda: _check_anchors(bundle, anchors, hashes, report)),
        ("plans", lambda: _check_plans(bundle, report)),
        ("statement", lambda: _check_statement(bundle, hashes, report)),
    ]
    for part, phase in phases:
        try:
            phase()
        except Exception as exc:  # noqa: BLE001 - an edited bundle is a finding, never a crash
            report.add(part, ok=False, detail=f"cannot be checked: the bundle is damaged ({exc!r})")
    report.wrong_key = _blame_the_key(report)
    report.unproven = _unproven(bundle, report)
    return report


def _blame_the_key(report: BundleReport) -> str | None:
    """Whether the mismatches point at the chain key rather than at edits: an
    HMAC link under another key matches nothing, while an edit breaks the links
    at the event edited and the rest still recompute (`_recompute`). So when
    not one of the links the bundle states recomputes (at least an event's and
    the head's) and the seal does not match either, the key is the likely
    cause, said once; when any link matches, the key is the ledger's and each
    mismatch is an edit."""
    if report.keyed_links_matched or report.keyed_links_failed < 2:  # noqa: PLR2004 - an event and the head
        return None
    if any(f.part == "seal" and f.ok for f in report.findings):
        return None  # the seal is an HMAC with the key too: it is right
    return (
        "the chain key given is probably wrong: not one of the "
        f"{report.keyed_links_failed} links the bundle states recomputes under it, nor does "
        "its seal — an edit breaks the links at the event edited, and the others still "
        "recompute. Check it with the key of the ledger that made it (its LEDGER_CHAIN_KEY); "
        "the mismatches below are what a wrong key gives, not each an edit"
    )


def _unproven(bundle: AuditBundle, report: BundleReport) -> list[str]:
    """What matching every part does not prove, in words: that the events are
    the ledger's (plain links anyone can recompute, past the last anchor) and
    that none was left out (no seal checked with the chain key)."""
    matched = {f.part for f in report.findings if f.ok}
    found: list[str] = []
    head = bundle.chain.head.position
    if "seal" in matched:
        return found
    chain = {f.ok for f in report.findings if f.part == "chain"}
    if chain <= {None}:  # not recomputed (a mismatch, False, says what broke)
        keyed = bundle.chain.mode == "hmac-sha256"
        found.append(
            "that these events are the ledger's: their links were not recomputed"
            + (" (a keyed chain's need the chain key, --key)" if keyed else "")
        )
    elif chain == {True} and bundle.chain.mode == "sha256":
        anchored = [int(part.split()[1]) for part in matched if part.startswith("anchor ")]
        if not anchored:
            found.append(
                "that these events are the ledger's: plain SHA-256 links can be recomputed by "
                "anyone after an edit, so they prove only that the file agrees with itself — "
                "pass a head published elsewhere (a payroll export's, a statement's) as --anchor "
                f"POSITION:HASH, or run `verify --anchor {report.head}` on the ledger"
            )
        elif max(anchored) < head:
            found.append(
                f"that the events after position {max(anchored)} (to the head {head}) are the "
                "ledger's: no anchor given covers them"
            )
    found.append(
        "that none of the rep's events was left out: an event withheld as a bare link, with "
        "the statement restated without it, changes no link; nor which statement a payout "
        "run recorded (its bytes are withheld). Only a keyed ledger's seal, checked with the "
        "chain key, proves these"
    )
    return found


class BundleTooLargeError(ValueError):
    """A file past `MOST_BUNDLE_BYTES`: refused before it is read whole."""


def read_bundle(path: Path) -> bytes:
    """The bytes of the bundle at ``path``, read no further than one byte past
    `MOST_BUNDLE_BYTES`: a larger file, or a device that never ends
    (``/dev/zero``), raises `BundleTooLargeError` instead of taking all memory."""
    with path.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size  # a regular file's: refused unread
        if size > MOST_BUNDLE_BYTES:
            raise BundleTooLargeError(_too_large(size, read=False))
        raw = stream.read(MOST_BUNDLE_BYTES + 1)
    if len(raw) > MOST_BUNDLE_BYTES:
        raise BundleTooLargeError(_too_large(len(raw)))
    return raw


class _InflatesTooFarError(ValueError):
    """A gzip file that decompresses to far more than a bundle could."""


def _gunzip(raw: bytes) -> bytes:
    """``raw`` decompressed, member by member, a chunk at a time, refused once
    it passes `_inflated_limit`: a gzip bomb (a few MB that inflate to GBs)
    is a finding, not an exhausted memory."""
    limit = _inflated_limit(len(raw))
    out = bytearray()
    data = raw
    while data[:2] == GZIP_MAGIC:
        inflater = zlib.decompressobj(wbits=31)  # 31: one gzip member
        while True:
            chunk = inflater.decompress(data, _INFLATE_CHUNK)
            out += chunk
            if len(out) > limit:
                why = (
                    "more than any bundle this checker reads"
                    if limit == MOST_BUNDLE_BYTES
                    else f"more than {_MOST_INFLATION} times its size; a bundle is about 3 to 4"
                )
                msg = (
                    f"a gzip file of {len(raw):,} bytes that inflates past {limit:,} bytes ({why})"
                )
                raise _InflatesTooFarError(msg)
            data = inflater.unconsumed_tail
            if inflater.eof or not (data or chunk):
                break
        if not inflater.eof:
            msg = "Compressed file ended before the end-of-stream marker was reached"
            raise EOFError(msg)
        data = inflater.unused_data
    if data.strip(b"\0"):
        msg = f"{len(data):,} bytes after the end of the gzip data"
        raise OSError(msg)
    return bytes(out)


def _inflated_limit(size: int) -> int:
    """The most a gzip bundle of ``size`` bytes may inflate to: canonical JSON
    of hashes and events compresses 3 to 4 times, never the thousand times of
    a run of one repeated byte."""
    return min(max(_MOST_INFLATION * size, _INFLATED_FLOOR), MOST_BUNDLE_BYTES)


def _too_large(size: int, *, read: bool = True) -> str:
    """``size`` bytes (read: at least; a stream may not end) against the limit."""
    return (
        f"{size:,} bytes{' or more' if read else ''}, past the {MOST_BUNDLE_BYTES:,} of the "
        "largest bundle this checker reads (a chain of about 6 million events)"
    )


_MOST_INFLATION = 64
_INFLATED_FLOOR = 16 * 1024 * 1024
_INFLATE_CHUNK = 1024 * 1024


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(top)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _check_engine(bundle: AuditBundle, report: BundleReport) -> None:
    mine = engine_identity()
    theirs = bundle.engine.model_dump()
    if theirs == mine:
        report.add(
            "engine",
            ok=True,
            detail=f"{PACKAGE} {mine['version']}, calculation code {mine['code_sha256'][:16]}…",
        )
        return
    report.add(
        "engine",
        ok=False,
        detail=(
            f"the bundle was made by {theirs['package']} {theirs['version']} (code "
            f"{theirs['code_sha256'][:16]}…), this checker is {mine['version']} (code "
            f"{mine['code_sha256'][:16]}…): check it with the engine that made it"
        ),
    )


# -- the chain ------------------------------------------------------------------


@dataclass(frozen=True)
class _Material:
    """What one link hashes, and the hash a disclosed event states for it."""

    position: int
    event_id: str
    recorded_at: str
    stream: str
    version: int
    type: str
    content_sha256: str
    stated_hash: str | None  # None: a bare link (its hash is only recomputed)
    label: str
    digest: str | None = None  # links 2: a bare link's digest (the fields above empty)


def _segment(bundle: AuditBundle) -> list[_Material]:
    items: list[_Material] = []
    for e in bundle.events:
        if isinstance(e, DisclosedEvent):
            content = hashlib.sha256(e.state.encode()).hexdigest()
            label = f"event {e.position} ({e.type})"
        else:
            content = e.content_sha256
            label = f"run {e.run_id} ({RUN_EVENT} at {e.position})"
        items.append(
            _Material(
                e.position,
                e.event_id,
                e.recorded_at,
                e.stream,
                e.version,
                e.type,
                content,
                e.hash,
                label,
            )
        )
    for link in bundle.links:
        if len(link) == _DIGESTED_LINK:  # links 2: position, recorded_at, digest
            position, recorded_at, digest = link[0], link[1], str(link[-1])
            items.append(
                _Material(
                    position, "", recorded_at, "", 0, "", "", None, f"link {position}", digest
                )
            )
            continue
        position, recorded_at, stream, version, type_, content = cast("_BareLink", link)
        items.append(
            _Material(
                position,
                event_id_text(UUID(hex=stream), version),
                recorded_at,
                stream,
                version,
                type_,
                content,
                None,
                f"link {position} ({type_})",
            )
        )
    return sorted(items, key=lambda m: m.position)


def _check_chain(bundle: AuditBundle, key: bytes | None, report: BundleReport) -> dict[int, str]:
    """Recompute every link from the one before the segment to its head; the
    hash at each position (none when they cannot be recomputed)."""
    segment = _segment(bundle)
    positions = [m.position for m in segment]
    head = bundle.chain.head
    twice = sorted(p for p, n in Counter(positions).items() if n > 1)
    if twice:
        claims = [m.label for m in segment if m.position == twice[0]]
        report.add(
            "chain",
            ok=False,
            detail=f"position {twice[0]} is claimed by {len(claims)} entries ("
            f"{', '.join(claims)}): the log holds one event at each position, so one of them "
            "was duplicated or added",
        )
        return {}
    if not segment or positions[-1] != head.position:
        report.add(
            "head",
            ok=False,
            detail=f"the segment does not end at the head's position {head.position}",
        )
        return {}
    for m in segment:
        if m.stated_hash is not None and m.event_id != event_id_text(UUID(hex=m.stream), m.version):
            report.add(
                m.label, ok=False, detail="its event id is not that of its stream and version"
            )
    if positions[0] == 1 and bundle.chain.previous_hash != GENESIS:
        report.add(
            "chain",
            ok=False,
            detail="the segment starts at position 1, whose previous hash is the genesis (zeros)",
        )
    if bundle.chain.mode == "hmac-sha256" and not key:
        report.add(
            "chain",
            ok=None,
            detail=(
                "NOT CHECKED: this ledger's chain is HMAC-SHA-256 and checking its links needs "
                "the chain key (pass --key, or set LEDGER_CHAIN_KEY), and so does its seal "
                "(which shows that none of the rep's events was left out); the statement "
                "was still recomputed from the bundled events"
            ),
        )
        return {}
    if key and bundle.chain.mode != "hmac-sha256":
        # Whoever could rewrite the bundle could also call its chain plain and
        # relink it with SHA-256, which needs no key: a check given the key
        # must not take the bundle's word for its mode (SPEC §6).
        report.add(
            "chain",
            ok=False,
            detail=(
                f"a chain key was given, but the bundle says its chain is "
                f"{bundle.chain.mode} (no key): a ledger run with LEDGER_CHAIN_KEY writes "
                "HMAC-SHA-256 links, and plain links anyone can recompute prove nothing. "
                "Check it without --key (and LEDGER_CHAIN_KEY) only if its ledger never had one"
            ),
        )
        return {}
    if bundle.chain.links == 1 and any(m.digest is not None for m in segment):
        report.add("chain", ok=False, detail="a links 1 bundle holds a links 2 entry")
        return {}
    hasher = ChainHasher(
        key if bundle.chain.mode == "hmac-sha256" else None, links=bundle.chain.links
    )
    return _recompute(hasher, bundle, segment, report)


def _link(hasher: ChainHasher, previous: str, m: _Material) -> str:
    """The link of ``m`` after ``previous``: from its digest (a links 2 bare
    link), else from its material."""
    if m.digest is not None:
        return hasher.link_hash_of_digest(
            previous, position=m.position, recorded_at=m.recorded_at, digest=m.digest
        )
    values = (m.position, m.event_id, m.recorded_at, m.stream, m.version, event_topic(m.type))
    material: dict[str, Any] = dict(zip(_CONTENT_FIELDS, values, strict=True))
    return hasher.link_hash_of_content(previous, **material, content_sha256=m.content_sha256)


# `ChainHasher.link_hash_of_content`'s fields, as `_Material` holds them
_CONTENT_FIELDS = (
    "position",
    "event_id",
    "recorded_at",
    "stream_hex",
    "originator_version",
    "topic",
)


def _recompute(
    hasher: ChainHasher, bundle: AuditBundle, segment: Sequence[_Material], report: BundleReport
) -> dict[int, str]:
    """The links of the segment (the hash at each position), each disclosed
    event's and the head's found matched or not. After a mismatch the next is
    judged from both the recomputed link and the hash the bundle states, so an
    edit is named where it is — not every event after it as changed too."""
    hashes: dict[int, str] = {}
    true = bundle.chain.previous_hash
    # the hashes the next link may rest on: the recomputed one, and after a
    # mismatch also the hash the bundle states there
    bases: tuple[str, ...] = (true,)
    since = segment[0].position
    broken = False
    keyed = hasher.mode != "sha256"  # counted for `_blame_the_key`
    for m in segment:
        before, true = true, _link(hasher, true, m)
        hashes[m.position] = true
        bases = tuple(dict.fromkeys(true if b == before else _link(hasher, b, m) for b in bases))
        if m.stated_hash is None:
            continue
        if any(hmac.compare_digest(b, m.stated_hash) for b in bases):
            report.keyed_links_matched += keyed
            report.add(m.label, ok=True, detail=f"its bytes and link recompute to {m.stated_hash}")
            bases = (m.stated_hash,)
        else:
            if not broken:
                report.links_hold_to = since
            broken = True
            report.keyed_links_failed += keyed
            report.add(
                m.label,
                ok=False,
                detail=(
                    f"the links from position {since} to {m.position} recompute to {bases[0]}, "
                    f"not the hash stated, {m.stated_hash}: this event's bytes or hash, a link "
                    f"between, or the hash before the segment was changed"
                ),
            )
            bases = (bases[0], m.stated_hash)
        since = m.position
    head = bundle.chain.head
    last = segment[-1].stated_hash
    if last is not None and hmac.compare_digest(last, head.hash):
        keyed = False  # the head is the last event's stated hash: no link of its own
    if any(hmac.compare_digest(b, head.hash) for b in bases):
        report.keyed_links_matched += keyed
        report.add("head", ok=True, detail=f"the links end at the head {head.position}:{head.hash}")
    else:
        broken = True
        report.keyed_links_failed += keyed
        report.add(
            "head",
            ok=False,
            detail=(
                f"the links recompute to {bases[0]} at position {head.position}, not the head's "
                f"{head.hash}: the head, or a link after position {since}, was changed"
            ),
        )
    report.add(
        "chain",
        ok=not broken,
        detail=(
            f"{hasher.mode}: {len(segment)} links, positions {segment[0].position} to "
            f"{head.position} ({len(bundle.events)} events disclosed, {len(bundle.links)} "
            "others as their link only)"
        ),
    )
    return hashes


def _check_seal(
    bundle: AuditBundle, doc: dict[str, Any], key: bytes | None, report: BundleReport
) -> None:
    """A keyed ledger seals its bundle whole: the links prove that what the
    bundle discloses is in the chain, the seal that nothing was left out (an
    event of the rep's as a bare link) or restated (the statement, a run's
    share) since it was made — neither of which changes a link."""
    if bundle.chain.mode != "hmac-sha256":
        if bundle.seal is not None:
            report.add(
                "seal",
                ok=False,
                detail="a plain (sha256) chain has no key to seal with: the seal was added "
                "to the file, or its chain was relinked as plain",
            )
        return
    if not key:
        return  # the chain's NOT CHECKED finding says the key is needed
    if bundle.seal is None:
        report.add(
            "seal",
            ok=None,
            detail=(
                "NOT CHECKED: this bundle carries no seal (made before bundles were sealed, "
                "or the seal was removed): its links prove the events it shows are the "
                "ledger's, not that none of the rep's events was left out as a bare link, nor "
                "that the statement and the run's share are those the ledger gave"
            ),
        )
        return
    unsealed = canonical_json({k: v for k, v in doc.items() if k != "seal"})
    expected = ChainHasher(key).seal(unsealed) or ""
    if hmac.compare_digest(expected, bundle.seal):
        report.add(
            "seal",
            ok=True,
            detail="the chain key's seal matches: the bundle is whole as the ledger made it "
            "(nothing added, changed or left out since)",
        )
        return
    # whether the key is right the links tell (`_blame_the_key`); only when
    # none was recomputed is the key named here as a cause
    unsure = not report.keyed_links_matched and not report.keyed_links_failed
    report.add(
        "seal",
        ok=False,
        detail=(
            "the chain key's seal does not match: the bundle was changed after the ledger "
            "made it — an event left out as a bare link, added, or edited, or the statement "
            "or a run's share restated" + (" (or the chain key is wrong)" if unsure else "")
        ),
    )


def _check_anchors(
    bundle: AuditBundle, anchors: Sequence[Anchor], hashes: dict[int, str], report: BundleReport
) -> None:
    """Each anchor is a link the segment recomputes (or the link it starts
    from): the events up to it are the ledger's as published, where the head
    alone proves only that the file agrees with itself."""
    for anchor in anchors:
        part = f"anchor {anchor.position}"
        if not hashes:
            report.add(part, ok=None, detail="NOT CHECKED: the chain's links were not recomputed")
            continue
        first, head = min(hashes), bundle.chain.head.position
        if anchor.position == first - 1:
            found: str | None = bundle.chain.previous_hash
        elif first <= anchor.position <= head:
            found = hashes.get(anchor.position)
        else:
            report.add(
                part,
                ok=None,
                detail=(
                    f"NOT CHECKED: outside the bundle's segment (positions {first - 1} to "
                    f"{head}); a bundle made at or after position {anchor.position}, or "
                    "`verify --anchor` on the ledger, can check it"
                ),
            )
            continue
        if found is None:
            report.add(part, ok=False, detail=f"the segment has no event at {anchor.position}")
        elif hmac.compare_digest(found, anchor.hash):
            report.add(
                part,
                ok=True,
                detail=f"the links recompute to the anchor's hash at {anchor.position}: the "
                "events up to it are those of the chain it was published from",
            )
        else:
            report.add(
                part,
                ok=False,
                detail=(
                    f"the links recompute to {found} at {anchor.position}, not the anchor's "
                    f"{anchor.hash}: the bundle's events up to it are not those of the chain "
                    "the anchor was published from"
                ),
            )


# -- plans ------------------------------------------------------------------------


def _check_plans(bundle: AuditBundle, report: BundleReport) -> None:
    """The plans section is every plan version among the events, as published."""
    published: dict[int, Any] = {}
    for e in bundle.events:
        if isinstance(e, DisclosedEvent) and e.type == PLAN_EVENT:
            published[e.position] = _data_of(e).get("plan")
    listed = {p.position for p in bundle.plans}
    for position in sorted(set(published) - listed):
        report.add(f"plan at {position}", ok=False, detail="published in the events, not listed")
    for p in bundle.plans:
        part = f"plan {p.id} v{p.version}"
        document = published.get(p.position)
        if document is None:
            report.add(part, ok=False, detail=f"no {PLAN_EVENT} event at position {p.position}")
        elif canonical_json(p.plan) != canonical_json(document) or (
            document.get("id"),
            document.get("version"),
        ) != (p.id, p.version):
            report.add(
                part,
                ok=False,
                detail=f"differs from the plan its {PLAN_EVENT} at position {p.position} published",
            )
        else:
            report.add(part, ok=True, detail=f"as published at position {p.position}")


def _data_of(e: DisclosedEvent) -> dict[str, Any]:
    try:
        state = orjson.loads(e.state)
    except orjson.JSONDecodeError:
        return {}
    data = state.get("data") if isinstance(state, dict) else None
    return data if isinstance(data, dict) else {}


# -- the statement ----------------------------------------------------------------


def _records(bundle: AuditBundle, report: BundleReport) -> list[EventRecord] | None:
    """The bundled events as the fold reads them (a run as what it says of the rep)."""
    records = []
    for e in bundle.events:
        if isinstance(e, RunClaim):
            records.append(_run_record(e))
            continue
        logged = LoggedEvent(
            e.position, event_topic(e.type), e.state.encode(), e.event_id, e.recorded_at, e.hash
        )
        try:
            record = decode(logged)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            report.add(
                f"event {e.position} ({e.type})",
                ok=False,
                detail=f"its stored bytes do not decode as an event ({exc!r})",
            )
            return None
        records.append(record)
    return records


def _run_record(e: RunClaim) -> EventRecord:
    """A run's `PayoutCalculated` as the fold sees it for this rep alone: its
    id, period, where it was computed and the rep's own statement."""
    data = {
        "run_id": e.run_id,
        "period": e.period,
        "position": e.computed_at.position,
        "chain_head": e.computed_at.model_dump(),
        "statements": [e.statement],
    }
    return EventRecord(
        e.position,
        e.event_id,
        RUN_EVENT,
        instant(e.recorded_at),
        e.recorded_at,
        "",
        data,
        e.hash,
        e.recorded_at,
    )


def _check_statement(bundle: AuditBundle, hashes: dict[int, str], report: BundleReport) -> None:
    statement = bundle.statement
    report.total = printable(str(statement.get("total")))
    if (statement.get("rep_id"), statement.get("period")) != (bundle.rep_id, bundle.period):
        report.add(
            "statement",
            ok=False,
            detail=f"it is not the statement of {bundle.rep_id} for {bundle.period}",
        )
        return
    if statement.get("chain_head") != bundle.chain.head.model_dump():
        report.add("head", ok=False, detail="the statement's chain_head is not the bundle's head")
    records = _records(bundle, report)
    if records is None:
        return
    for e in bundle.events:
        if isinstance(e, RunClaim):
            _check_run(bundle, e, records, hashes, report)
    head = bundle.chain.head
    at_head = bundle.events[-1].recorded_at if bundle.events else None
    recorded_at = _recorded_at(bundle, head.position) or at_head
    at = AsOf(head.position, recorded_at, head.hash)
    _compare(
        "statement",
        statement,
        lambda: Calculator(_fold(records), at).statement(
            bundle.rep_id, parse_period(bundle.period)
        ),
        report,
        summary=f"total {statement.get('total')}, payable {statement.get('payable')}",
    )


def _recorded_at(bundle: AuditBundle, position: int) -> str | None:
    for e in bundle.events:
        if e.position == position:
            return e.recorded_at
    for link in bundle.links:
        if link[0] == position:
            return link[1]
    return None


class _OutOfOrderError(ValueError):
    """The bundle lists an event after one whose position is not lower."""

    def __init__(self, position: int, after: int) -> None:
        super().__init__(
            f"the bundle lists its events out of the log's order (event {position} after "
            f"event {after}): a bundle lists them by position, so the file was edited"
        )


def _fold(records: Sequence[EventRecord]) -> LedgerFacts:
    facts = LedgerFacts()
    for record in records:
        if record.position <= facts.position:  # not an assertion: -O must not skip it
            raise _OutOfOrderError(record.position, facts.position)
        facts.apply(record)
    return facts


def _check_run(
    bundle: AuditBundle,
    run: RunClaim,
    records: Sequence[EventRecord],
    hashes: dict[int, str],
    report: BundleReport,
) -> None:
    """A run's claim: its stream is the run's, its computed_at a link of the
    segment, the rep's statement hashes to the SHA-256 recorded with it, and
    recomputing the period as of computed_at gives that statement."""
    part = f"run {run.run_id}"
    if run.stream != PayoutRun.create_id(run.run_id).hex:
        report.add(
            part, ok=False, detail=f"position {run.position} is not run {run.run_id}'s stream"
        )
        return
    recorded = dict(run.statement)
    digest = recorded.pop("sha256", None)
    if digest is None or statement_sha256(recorded) != digest:
        report.add(
            part,
            ok=False,
            detail="the rep's statement in it no longer hashes to the SHA-256 recorded with it",
        )
        return
    at = run.computed_at
    known = hashes.get(at.position)
    if (
        (known is not None and known != at.hash)
        or (hashes and known is None)
        or at.position >= run.position
    ):
        held = report.links_hold_to
        report.add(
            part,
            ok=False,
            detail=(
                f"its computed_at {at.position} cannot be matched: the links break after "
                f"position {held} (named above), before it"
                if held is not None and held < at.position < run.position
                else f"its computed_at {at.position}:{at.hash} is no link of the segment before it"
            ),
        )
        return
    earlier = [r for r in records if r.position <= at.position]
    as_of = AsOf(at.position, _recorded_at(bundle, at.position), at.hash)
    _compare(
        part,
        recorded,
        lambda: Calculator(_fold(earlier), as_of).statement(
            bundle.rep_id, parse_period(run.period)
        ),
        report,
        summary=(
            f"the rep's recorded statement (SHA-256 {digest[:16]}…) recomputed as of "
            f"{at.position}; the run's other statements are withheld, so its link proves "
            "its bytes, not which statements they hold"
        ),
    )


def _compare(
    part: str,
    stated: dict[str, Any],
    compute: Any,
    report: BundleReport,
    *,
    summary: str,
) -> None:
    try:
        computed: dict[str, Any] = compute()
    except _OutOfOrderError as exc:
        report.add(part, ok=False, detail=f"cannot be recomputed: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - any failure of an edited bundle is a finding
        report.add(part, ok=False, detail=f"cannot be recomputed from the bundled events ({exc!r})")
        return
    if canonical_json(computed) == canonical_json(stated):
        report.add(part, ok=True, detail=f"recomputed byte for byte: {summary}")
        return
    report.add(
        part, ok=False, detail=f"differs from the recomputation at {_differences(stated, computed)}"
    )


def _differences(stated: Any, computed: Any, path: str = "", limit: int = 4) -> str:
    found: list[str] = []
    _walk(stated, computed, path, found, limit)
    return "; ".join(found) if found else "(the byte form)"


def _walk(a: Any, b: Any, path: str, found: list[str], limit: int) -> None:
    if len(found) >= limit:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _walk(a.get(k), b.get(k), f"{path}.{k}" if path else str(k), found, limit)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _walk(x, y, f"{path}[{i}]", found, limit)
    elif canonical_json(a) != canonical_json(b):
        found.append(f"{path or '(top)'}: bundle {_short(a)}, recomputed {_short(b)}")


def _short(value: Any, width: int = 60) -> str:
    text = canonical_json(value).decode()
    return text if len(text) <= width else text[: width - 1] + "…"
