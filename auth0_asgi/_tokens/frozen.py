"""Read-only JSON containers: verified claims, shared by every request that carries the token.

The verified-token cache hands one `Auth0User` to every request with the same token. If its
claims could change, a handler that pops `cnf` (to redact it) would turn a DPoP-bound token
into a bearer token for every later request, and one that writes a claim would satisfy a
`claim_equals` rule. So the claims are frozen once, as the token's payload is decoded: dict and
list subclasses (JSON encoders, `isinstance` checks and comparisons with plain values keep
working) whose every mutating method raises TypeError. ``dict(claims)`` or
``copy.deepcopy(claims)`` gives a copy the caller may change.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "frozen_object", "thaw"]


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError("verified claims are read-only: change a copy (dict(claims) or copy.deepcopy(claims))")


class FrozenDict(dict[str, Any]):
    """A JSON object that refuses every change."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        thawed: dict[str, Any] = thaw(self)
        return thawed

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (thaw(self),)


class FrozenList(list[Any]):
    """A JSON array that refuses every change."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        thawed: list[Any] = thaw(self)
        return thawed

    def __reduce__(self) -> tuple[type[list[Any]], tuple[list[Any]]]:
        return list, (thaw(self),)


def frozen_object(pairs: list[tuple[str, Any]]) -> FrozenDict:
    """A JSON decoder's `object_pairs_hook` that builds read-only objects and arrays as it decodes.

    The decoder calls it innermost first, so the objects among `pairs` are frozen already: only
    the arrays (and arrays within them) are left to freeze. Freezing while decoding costs far
    less than a second walk over the decoded value would, and it runs once per new token.
    """
    frozen = FrozenDict(pairs)
    for name, value in pairs:
        if type(value) is list:
            dict.__setitem__(frozen, name, _frozen_array(value))
    return frozen


def _frozen_array(items: list[Any]) -> FrozenList:
    for index, item in enumerate(items):
        if type(item) is list:
            items[index] = _frozen_array(item)
    return FrozenList(items)


def thaw(value: Any) -> Any:
    """A plain, changeable copy of frozen (or plain) JSON `value`."""
    if isinstance(value, dict):
        return {name: thaw(item) for name, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value
