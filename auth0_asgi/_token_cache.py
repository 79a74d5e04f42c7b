"""A bounded cache of verified tokens, so a token reused for hours is verified once per worker."""

from __future__ import annotations

from dataclasses import dataclass

from ._jwk import SigningKey
from .user import Auth0User

__all__ = ["VerifiedToken", "VerifiedTokenCache"]


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a full verification established, and what a reuse must check again.

    `expires_at` is the token's `exp` and `not_before` the later of its `nbf` and `iat`
    (or None): time moves on, so both are checked on every reuse. `key` is the signing key
    the signature was checked with: if the key set no longer holds it, the entry is void.
    """

    user: Auth0User
    kid: str
    key: SigningKey
    expires_at: int | float
    not_before: int | float | None


class VerifiedTokenCache:
    """Least-recently-used map of exact token text to `VerifiedToken`, at most `max_entries` long.

    The bound holds whatever arrives: a flood of distinct valid tokens only evicts older
    entries. `max_entries=0` disables the cache.
    """

    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, VerifiedToken] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> VerifiedToken | None:
        """The entry for `token`, now the most recently used, or None."""
        entry = self._entries.pop(token, None)
        if entry is not None:
            self._entries[token] = entry  # dicts keep insertion order: re-inserting marks it recent
        return entry

    def put(self, token: str, entry: VerifiedToken) -> None:
        """Remember `entry`, evicting the least recently used entries beyond the bound."""
        if self.max_entries <= 0:
            return
        self._entries.pop(token, None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = entry

    def discard(self, token: str) -> None:
        """Forget `token`, if it is held."""
        self._entries.pop(token, None)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
