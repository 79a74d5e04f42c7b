"""Read-only JSON containers: verified claims, shared by every request that carries the token.

The verified-token cache hands one `Auth0User` to every request with the same token. If its
claims could change, a handler that pops `cnf` (to redact it) would turn a DPoP-bound token
into a bearer token for every later request, and one that writes a claim would satisfy a
`claim_equals` rule. So the claims are frozen once, when the token is first verified: dict and
list subclasses (JSON encoders, `isinstance` checks and comparisons with plain values keep
working) whose every mutating method raises TypeError. ``dict(claims)`` or
``copy.deepcopy(claims)`` gives a copy the caller may change.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]

#: Deeper JSON is refused: no token nests claims this far, and the walk must stay bounded.
MAX_DEPTH: Final = 64


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


def freeze(value: Any, depth: int = 0) -> Any:
    """`value` (decoded JSON) with every object and array made read-only; ValueError past `MAX_DEPTH`."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return value
    if depth >= MAX_DEPTH:
        raise ValueError("JSON nested too deep")
    # Copied whole at C speed, then only the (few) nested containers replaced: most claims are
    # strings and numbers, and this runs once per new token on the hot path.
    if kind is dict:
        frozen_object = FrozenDict(value)
        kinds = set(map(type, value.values()))  # one C-level pass finds whether any is nested
        if dict not in kinds and list not in kinds:
            return frozen_object
        for name, item in value.items():
            if type(item) is dict or type(item) is list:
                dict.__setitem__(frozen_object, name, freeze(item, depth + 1))
        return frozen_object
    frozen_array = FrozenList(value)
    kinds = set(map(type, value))
    if dict not in kinds and list not in kinds:
        return frozen_array
    for index, item in enumerate(value):
        if type(item) is dict or type(item) is list:
            list.__setitem__(frozen_array, index, freeze(item, depth + 1))
    return frozen_array


def thaw(value: Any) -> Any:
    """A plain, changeable copy of frozen (or plain) JSON `value`."""
    if isinstance(value, dict):
        return {name: thaw(item) for name, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value
