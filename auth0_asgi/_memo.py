"""The one bounded memo: every remembered computation in the package goes through `BoundedMemo`.

A memo that a request can fill is a memory lever for whoever sends the requests. Two bounds
make it safe, and both are needed:

- an entry cap: a flood of distinct values only empties the memo now and then;
- a size cap on each key: a value longer than it is computed and never remembered, so that
  no entry can pin a megabyte header (httptools accepts them) or a path CPython stores at four
  bytes a character.

Together they bound a memo's memory to about ``max_entries * max_length * 4`` bytes of keys
(four bytes a character is CPython's widest string), plus what the results hold: choose both
where the memo is made, knowing what a real request repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sized
from typing import TypeVar

__all__ = ["BoundedMemo", "total_length"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def total_length(key: tuple[Sized, ...]) -> int:
    """The size of a tuple key: the sum of its parts' lengths (a tuple's own length is its arity)."""
    return sum(map(len, key))


class BoundedMemo(dict[K, V]):
    """``memo[key]`` is ``compute(key)``, remembered when `key` is short enough.

    - `compute`: a function of the key alone (the memo never calls it twice for a key it holds).
    - `max_entries`: how many results are kept; when full, the memo is emptied before the next
      one is kept (cheaper than an LRU on every hit, and a flood gains nothing either way).
    - `max_length`: the longest key kept, as `size` measures it; longer keys are computed each time.
    - `size`: how a key is measured; default `len` (`total_length` for a tuple of strings).
    - `remember_none`: whether a None result is kept; False for a compute whose None means
      "not a value of the kind remembered" (a peer that is not an IP address), so that such keys
      take no place at all.

    A hit is one C-level dict lookup: the class is a dict whose `__missing__` does the rest.
    """

    __slots__ = ("_compute", "_remember_none", "_size", "max_entries", "max_length")

    def __init__(
        self,
        compute: Callable[[K], V],
        *,
        max_entries: int,
        max_length: int,
        size: Callable[[K], int] = len,  # type: ignore[assignment]  # len takes any Sized key
        remember_none: bool = True,
    ) -> None:
        super().__init__()
        self._compute = compute
        self._size = size
        self._remember_none = remember_none
        self.max_entries = max_entries
        self.max_length = max_length

    def __missing__(self, key: K) -> V:
        value = self._compute(key)
        if self._size(key) <= self.max_length and (value is not None or self._remember_none):
            if len(self) >= self.max_entries:
                self.clear()
            self[key] = value
        return value

    def __repr__(self) -> str:
        return f"<BoundedMemo of {len(self)}/{self.max_entries}, keys up to {self.max_length}>"
