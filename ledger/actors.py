"""Actors are identities, compared exactly (SPEC §2).

An actor — who recorded an event, who approves one, whom a token acts for — is
normalised once, on the way in: Unicode NFKC, surrounding whitespace stripped,
case folded. The result must then match ``[a-z0-9][a-z0-9._@+-]{0,127}``
(ASCII). Whatever cannot (inner spaces, control, format or zero-width
characters, combining marks, letters of other scripts that merely look Latin)
is refused with a reason that names the character, never mapped silently: a
look-alike that became ``alice`` would be a second name for alice, and one that
stayed distinct would be a second approver who reads as alice.

So ``Alice``, `` alice``, ``ＡＬＩＣＥ`` and ``alice\\u00a0`` are all ``alice``;
``alice\\u200b``, ``\\u0430lice`` (Cyrillic а) and ``ALİCE`` (Turkish İ folds to
``i`` + a combining dot) are refused.

Every actor the ledger stores from now on is in this form; rows stored before
may hold other spellings, and `same_actor` compares those by `actor_key`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ledger.errors import InvalidInputError

__all__ = [
    "ACTOR_PATTERN",
    "MAX_ACTOR_LENGTH",
    "actor_key",
    "checked_actor",
    "normalise_actor",
    "same_actor",
]

MAX_ACTOR_LENGTH = 128
ACTOR_PATTERN = r"[a-z0-9][a-z0-9._@+-]{0,127}"
_ACTOR = re.compile(ACTOR_PATTERN, re.ASCII)
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._@+-")
# NFKC can lengthen a text (one ligature becomes up to 18 characters): longer
# input than this cannot normalise to 128 characters, and is refused unread.
_MAX_INPUT_LENGTH = 4 * MAX_ACTOR_LENGTH
_RULE = (
    "an actor is 1-128 characters of a-z, 0-9 and . _ @ + - (starting with a letter "
    "or digit), after Unicode NFKC, trimming and case folding"
)


def normalise_actor(text: object) -> str:
    """SPEC §2: the one form of an actor, or ValueError saying why there is none.

    NFKC first (full-width letters, NBSP and ligatures become plain ASCII),
    then the surrounding whitespace goes and the case folds; what is left must
    match `ACTOR_PATTERN`. The result is idempotent: a normalised actor
    normalises to itself.
    """
    if not isinstance(text, str):
        msg = f"an actor is text, not {type(text).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic turns ValueError into a field error
    return _normalise(text)


@lru_cache(maxsize=1024)
def _normalise(text: str) -> str:
    # cached: a batch names its few actors once per input
    if len(text) > _MAX_INPUT_LENGTH:
        msg = f"an actor has at most {MAX_ACTOR_LENGTH} characters, got {len(text)}"
        raise ValueError(msg)
    value = unicodedata.normalize("NFKC", text).strip().casefold()
    if _ACTOR.fullmatch(value):
        return value
    raise ValueError(_why_not(text, value))


def _why_not(original: str, value: str) -> str:
    """The reason ``value`` (``original`` normalised) is no actor, naming the
    first character at fault by its code point and Unicode name."""
    shown = ascii(original)
    if not value:
        return f"{shown} is not a valid actor: it is empty once trimmed; {_RULE}"
    if len(value) > MAX_ACTOR_LENGTH:
        return (
            f"{shown} is not a valid actor: it has {len(value)} characters once "
            f"normalised, at most {MAX_ACTOR_LENGTH}; {_RULE}"
        )
    for char in value:
        if char not in _ALLOWED:
            name = unicodedata.name(char, unicodedata.category(char))
            return (
                f"{shown} is not a valid actor: it holds U+{ord(char):04X} {name} "
                f"({_kind_of(char)}); {_RULE}"
            )
    return f"{shown} is not a valid actor: it must start with a letter or digit; {_RULE}"


def _kind_of(char: str) -> str:
    category = unicodedata.category(char)
    if char.isspace() or category.startswith("Z"):
        return "a space inside the name"
    if category in {"Cf", "Cc"}:
        return "an invisible control or format character"
    if category.startswith("M"):
        return "a combining mark"
    if char.isascii():
        return "a character actors do not use"
    return (
        "not an ASCII letter or digit: letters of other scripts are other names, look-alike or not"
    )


def checked_actor(text: object, *, field: str = "actor") -> str:
    """`normalise_actor` at a ledger entry point: an `InvalidInputError` naming
    ``field`` when the actor is not valid."""
    try:
        return normalise_actor(text)
    except ValueError as exc:
        raise InvalidInputError(str(exc), field=field) from None


@lru_cache(maxsize=1024)
def actor_key(text: str) -> str:
    """The form two actors are compared in, even ones stored before actors were
    normalised (or a rep's ``manager_id``, an id that names an actor).

    A valid actor is its own key. Another text is reduced the same way and
    then stripped of what cannot tell two people apart — whitespace, control
    and format characters, combining marks — so ``Alice``, ``alice\\u200b`` and
    ``a lice`` stored by an older version all compare equal to ``alice``.
    Look-alike letters of other scripts stay distinct: such a stored actor
    matches no actor the ledger accepts today.
    """
    try:
        return _normalise(text)
    except ValueError:
        pass
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c for c in decomposed if unicodedata.category(c)[0] not in {"Z", "C", "M"})
    return unicodedata.normalize("NFKC", kept).strip().casefold()


def same_actor(first: str, second: str) -> bool:
    """Whether two actors are one person (maker-checker, manager scope)."""
    return first == second or actor_key(first) == actor_key(second)
