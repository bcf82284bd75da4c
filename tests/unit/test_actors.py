"""SPEC §2 "Actors are identities, compared exactly": one normal form, or a clear refusal."""

from __future__ import annotations

import re

import pytest

from ledger.actors import actor_key, checked_actor, normalise_actor, same_actor
from ledger.errors import InvalidInputError
from ledger.ingestion.parse import parse_event

# Issue 16, acceptance 5: every spelling that once made a second approver.
# Each either normalises to alice or is refused; none is another person.
SPELLINGS_OF_ALICE = {
    "Alice": "alice",
    " alice": "alice",
    "alice ": "alice",
    "ALICE": "alice",
    "ａｌｉｃｅ": "alice",  # full-width: NFKC
    "alice\u00a0": "alice",  # NBSP: NFKC makes it a space, then trimmed
    "alice\t": "alice",
    "alice\u200b": None,  # zero-width space
    "alice\u200d": None,  # zero-width joiner
    "alice\ufeff": None,  # byte order mark / zero-width no-break space
    "\u0430lice": None,  # Cyrillic а
    "\u0430l\u0456\u0441\u0435": None,  # аlісе: several Cyrillic letters
    "alice\u0301": None,  # combining acute (NFKC composes é)
    "a lice": None,
    "AL\u0130CE": None,  # Turkish İ folds to i + combining dot above
}


class TestNormalise:
    @pytest.mark.parametrize(("spelling", "expected"), SPELLINGS_OF_ALICE.items())
    def test_every_spelling_of_alice_is_alice_or_refused(
        self, spelling: str, expected: str | None
    ) -> None:
        """A spelling normalises to exactly ``alice``, or is refused naming the character."""
        if expected is not None:
            assert normalise_actor(spelling) == expected
            return
        with pytest.raises(ValueError, match="is not a valid actor") as caught:
            normalise_actor(spelling)
        assert "U+" in str(caught.value)

    @pytest.mark.parametrize(
        ("spelling", "expected"),
        [
            ("crm-sync", "crm-sync"),
            ("Fin.Amy@Example.com", "fin.amy@example.com"),
            ("ops+bot_1", "ops+bot_1"),
            ("ﬁn-amy", "fin-amy"),  # the fi ligature is two letters under NFKC
            ("0perator", "0perator"),
            ("a" * 128, "a" * 128),
        ],
    )
    def test_valid_actors(self, spelling: str, expected: str) -> None:
        """Letters, digits and . _ @ + - survive, in their one normal form."""
        assert normalise_actor(spelling) == expected
        assert normalise_actor(expected) == expected  # idempotent

    @pytest.mark.parametrize(
        ("spelling", "reason"),
        [
            ("", "empty"),
            ("   ", "empty"),
            ("a" * 129, "at most 128"),
            ("x" * 10_000, "at most 128 characters"),
            ("-alice", "start with a letter or digit"),
            (".alice", "start with a letter or digit"),
            ("alice\x00", "U+0000"),
            ("ali\nce", "U+000A"),
            ("alice/bob", "U+002F"),
            ("alice:bob", "U+003A"),
            ("张伟", "U+5F20"),
        ],
    )
    def test_refusals_say_why(self, spelling: str, reason: str) -> None:
        """Anything else is refused, and the reason says what is wrong."""
        with pytest.raises(ValueError, match=re.escape(reason)):
            normalise_actor(spelling)

    def test_not_text_is_refused(self) -> None:
        """A JSON number or null is not an actor."""
        with pytest.raises(ValueError, match="text"):
            normalise_actor(42)

    def test_checked_actor_names_the_field(self) -> None:
        """At a ledger entry point the refusal is an InvalidInputError naming the field."""
        with pytest.raises(InvalidInputError) as caught:
            checked_actor("a lice", field="approver")
        assert caught.value.field == "approver"


class TestComparison:
    def test_stored_unnormalised_actors_compare_as_their_person(self) -> None:
        """Rows stored before actors were normalised are compared by their key."""
        for older in ["Alice", " alice", "alice\u200b", "a lice", "ALICE\ufeff", "alice\u0301"]:
            assert same_actor(older, "alice"), older
            assert actor_key(older) == "alice"

    def test_look_alikes_stay_other_people(self) -> None:
        """A stored Cyrillic look-alike is not alice (and no accepted actor is it)."""
        assert not same_actor("\u0430lice", "alice")
        assert not same_actor("alice", "bob")


class TestImportLineActor:
    @pytest.mark.parametrize(("spelling", "expected"), SPELLINGS_OF_ALICE.items())
    def test_an_import_lines_actor_is_normalised_or_refused(
        self, spelling: str, expected: str | None
    ) -> None:
        """The ``actor`` of an import line is stored normalised, or the line is
        refused naming the field ``actor``."""
        item, errors = parse_event(
            {
                "type": "ApprovalGranted",
                "occurred_at": "2026-07-14T10:00:00+08:00",
                "actor": spelling,
                "subject_id": "T-1",
            },
            line=3,
        )
        if expected is not None:
            assert item is not None
            assert item.actor == expected
            return
        assert item is None
        assert [(e.line, e.field) for e in errors] == [(3, "actor")]
