"""A bounded cache of verified tokens, so a token reused for hours is verified once per worker."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, NamedTuple, TypeVar

from .jwk import SigningKey

__all__ = ["VerifiedToken", "VerifiedTokenCache"]

#: What a verification made of the token (the verifier's `Auth0User`).
UserT = TypeVar("UserT")


class VerifiedToken(NamedTuple, Generic[UserT]):
    """What a full verification established, and what a reuse must check again.

    `expires_at` is the token's `exp`, `not_before` the later of its `nbf` and `iat` (or None)
    and `issued_at` its `iat` (or None): time moves on, so they are checked on every reuse. `key` is the signing key
    the signature was checked with, from the key set of `issuer`: if that key set no longer
    holds it, the entry is void.
    (A NamedTuple: built once per new token, on the hot path, faster than a frozen dataclass.)
    """

    user: UserT
    issuer: str
    kid: str
    key: SigningKey
    expires_at: int | float
    not_before: int | float | None
    issued_at: int | float | None


class VerifiedTokenCache(Generic[UserT]):
    """Least-recently-used map of exact token text to `VerifiedToken`, at most `max_entries` long.

    The bound holds whatever arrives: a flood of distinct valid tokens only evicts older
    entries. `max_entries=0` disables the cache.
    """

    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        # OrderedDict, not dict: evicting from the front of a plain dict leaves holes that
        # every later eviction scans past.
        self._entries: OrderedDict[str, VerifiedToken[UserT]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> VerifiedToken[UserT] | None:
        """The entry for `token`, now the most recently used, or None."""
        entry = self._entries.get(token)
        if entry is not None:
            self._entries.move_to_end(token)
        return entry

    def put(self, token: str, entry: VerifiedToken[UserT]) -> None:
        """Remember `entry`, evicting the least recently used entries beyond the bound."""
        if self.max_entries <= 0:
            return
        self._entries[token] = entry
        self._entries.move_to_end(token)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def discard(self, token: str) -> None:
        """Forget `token`, if it is held."""
        self._entries.pop(token, None)
