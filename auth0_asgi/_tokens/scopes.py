"""RFC 6749 §3.3 scope-tokens, as configuration names them (per-prefix scopes, rules, dependencies)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from auth0_asgi.errors import ConfigurationError

__all__ = ["scope_set"]

# RFC 6749 §3.3 scope-token characters: anything else could not be written into a
# WWW-Authenticate header safely.
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def scope_set(scopes: str | Iterable[str], where: str) -> frozenset[str]:
    """`scopes` as a set, each checked to be an RFC 6749 scope-token; `where` names them in errors."""
    wanted = frozenset([scopes] if isinstance(scopes, str) else scopes)
    for scope_token in wanted:
        if not isinstance(scope_token, str) or not _SCOPE_TOKEN.fullmatch(scope_token):
            raise ConfigurationError(f"{where}: {scope_token!r} is not a valid scope")
    return wanted
