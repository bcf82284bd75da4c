"""The offline checker's pure parts: a link from a content hash, bad files, the engine."""

from __future__ import annotations

import gzip
import hashlib
import uuid
import zlib
from pathlib import Path

import pytest

from ledger.chain import GENESIS, ChainHasher
from projections import audit_check
from projections.audit_check import BundleTooLargeError, check_bundle, engine_identity, read_bundle


class TestLinkFromContentHash:
    @pytest.mark.parametrize("key", [None, b"a-chain-key-0123456789"])
    def test_equals_the_link_of_the_bytes(self, key: bytes | None) -> None:
        """A bare link (the SHA-256 of an event's bytes) recomputes the very link
        the store wrote from the bytes, in both modes."""
        hasher = ChainHasher(key)
        stream = uuid.uuid4()
        state = b'{"data":{"amount":"120000.00"}}'
        at = "2026-12-03T10:00:00+00:00"
        from_bytes = hasher.link_hash(
            GENESIS,
            position=7,
            event_id="e-7",
            recorded_at=at,
            originator_id=stream,
            originator_version=2,
            topic="t",
            state=state,
        )
        from_digest = hasher.link_hash_of_content(
            GENESIS,
            position=7,
            event_id="e-7",
            recorded_at=at,
            stream_hex=stream.hex,
            originator_version=2,
            topic="t",
            content_sha256=hashlib.sha256(state).hexdigest(),
        )
        assert from_bytes == from_digest


class TestBadFiles:
    @pytest.mark.parametrize(
        "raw",
        [
            b"",
            b"{}",
            b"[1, 2]",
            b"\xff\xfe not utf-8",
            b"\x1f\x8b\x08\x00 a damaged gzip",
            b'{"format": "incentive-ledger/audit-bundle/1"}',
            b"null",
        ],
    )
    def test_never_raises_and_says_why(self, raw: bytes) -> None:
        report = check_bundle(raw)
        assert report.exit_code == 1
        assert report.mismatches[0].part == "file"
        assert report.mismatches[0].detail.startswith("not ")


def _deflated_zeros(size: int) -> bytes:
    """A gzip file of ``size`` zero bytes: a few kilobytes per tens of megabytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(b"0" * size) + packer.flush()


class TestGzipBombs:
    def test_a_file_inflating_a_thousand_times_is_refused_unread(self) -> None:
        """17 MiB from about 17 KB: refused once past the limit, naming the file's
        size and how far it inflated, before it is parsed (a few MB of gzip
        would otherwise take GBs of memory)."""
        raw = _deflated_zeros(17 * 1024 * 1024)
        assert len(raw) < 100_000
        report = check_bundle(raw)
        assert report.exit_code == 1
        assert [f.part for f in report.mismatches] == ["file"]
        assert "inflates past 16,777,216 bytes" in report.mismatches[0].detail
        assert f"a gzip file of {len(raw):,} bytes" in report.mismatches[0].detail

    @pytest.mark.parametrize(
        ("raw", "says"),
        [
            (gzip.compress(b"{}", mtime=0) + b"junk", "4 bytes after the end of the gzip data"),
            (gzip.compress(b"{}", mtime=0)[:-4], "ended before the end-of-stream"),
        ],
        ids=["trailing-bytes", "truncated"],
    )
    def test_a_damaged_gzip_file_is_named(self, raw: bytes, says: str) -> None:
        report = check_bundle(raw)
        assert report.exit_code == 1
        assert report.mismatches[0].part == "file"
        assert says in report.mismatches[0].detail

    def test_every_member_of_a_gzip_file_is_read(self) -> None:
        """Two members (as `cat a.gz b.gz` makes) read as their bytes joined."""
        raw = gzip.compress(b"{", mtime=0) + gzip.compress(b"}", mtime=0) + b"\0\0"
        assert check_bundle(raw).mismatches[0].detail.startswith("not a well-formed bundle")


def test_the_engine_names_the_package_and_its_code() -> None:
    engine = engine_identity()
    assert engine["package"] == "incentive-ledger"
    assert len(engine["code_sha256"]) == 64
    assert engine == engine_identity()


class TestSizeLimit:
    """A file past the largest bundle, or a stream that never ends, is refused
    in one line: `audit check /dev/zero` read until memory ran out and then
    called it "0 bytes", and a gzip file of 100 MB could inflate to 6.4 GB."""

    LIMIT = 4096

    @pytest.fixture(autouse=True)
    def _small_limit(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(audit_check, "MOST_BUNDLE_BYTES", self.LIMIT)

    def test_a_larger_file_is_refused_unread(self, tmp_path: Path) -> None:
        big = tmp_path / "big.json"
        with big.open("wb") as out:
            out.truncate(10 * self.LIMIT)  # sparse: nothing to read
        with pytest.raises(BundleTooLargeError, match=r"^40,960 bytes, past the 4,096 "):
            read_bundle(big)

    def test_an_endless_stream_is_read_one_byte_past_the_limit(self) -> None:
        with pytest.raises(BundleTooLargeError, match=r"^4,097 bytes or more, past the 4,096 "):
            read_bundle(Path("/dev/zero"))

    def test_a_bundle_within_the_limit_is_read(self, tmp_path: Path) -> None:
        small = tmp_path / "small.json"
        small.write_bytes(b"{}")
        assert read_bundle(small) == b"{}"

    def test_bytes_past_the_limit_are_a_finding(self) -> None:
        report = check_bundle(b" " * (self.LIMIT + 1))
        assert [f.part for f in report.mismatches] == ["file"]
        assert report.mismatches[0].detail.startswith("not checked: 4,097 bytes, past the")

    def test_a_gzip_file_inflates_no_further_than_the_limit(self) -> None:
        raw = _deflated_zeros(64 * self.LIMIT)  # within 64 times its size
        assert len(raw) < self.LIMIT
        report = check_bundle(raw)
        assert "inflates past 4,096 bytes (more than any bundle" in report.mismatches[0].detail
