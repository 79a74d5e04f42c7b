"""AUTH0_TOOL_SCOPES and `tool_scopes=`: which scopes each MCP method and tool needs, checked at start-up.

`auth0_asgi._request.tool_scopes` applies the mapping to a request's Mcp-Method and Mcp-Name headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from auth0_asgi._tokens.scopes import scope_set
from auth0_asgi.errors import ConfigurationError

from .fields import json_object

__all__ = [
    "ANY_NAME",
    "METHOD_NAME",
    "NAME_BEARING_METHODS",
    "ToolScopeMapping",
    "check_tool_scopes",
    "parse_tool_scopes",
]

#: The methods whose Mcp-Name the server checks against the body, and the parameter it mirrors.
NAME_BEARING_METHODS: Final = frozenset({"tools/call", "prompts/get", "resources/read"})
#: A key of a method's mapping that applies to every request of that method, whatever its name.
ANY_NAME: Final = "*"
# A JSON-RPC method as MCP names them: visible ASCII, no spaces; bounded so that a huge header
# costs nothing to look at.
METHOD_NAME: Final = re.compile(r"[\x21-\x7e]{1,256}")

ToolScopeMapping = Mapping[str, Mapping[str, frozenset[str]]]


def check_tool_scopes(value: Mapping[str, Mapping[str, Iterable[str]]], where: str = "tool_scopes") -> ToolScopeMapping:
    """`value` (method to name to scopes) checked and frozen, or ConfigurationError.

    Names other than ``*`` are only allowed under the methods whose Mcp-Name the server
    checks against the body: anywhere else a client could name any tool it likes.
    """
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}={value!r}: map each MCP method to its names and their scopes")
    checked: dict[str, Mapping[str, frozenset[str]]] = {}
    for method, by_name in value.items():
        if not isinstance(method, str) or not METHOD_NAME.fullmatch(method):
            raise ConfigurationError(f"{where}: {method!r} is not an MCP method name")
        if not isinstance(by_name, Mapping) or not by_name:
            raise ConfigurationError(f"{where}[{method!r}]: map names (or '*') to scopes")
        names: dict[str, frozenset[str]] = {}
        for name, scopes in by_name.items():
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"{where}[{method!r}]: {name!r} is not a name")
            if name != ANY_NAME and method not in NAME_BEARING_METHODS:
                raise ConfigurationError(
                    f"{where}[{method!r}][{name!r}]: Mcp-Name is checked against the body only for "
                    f"{', '.join(sorted(NAME_BEARING_METHODS))}; use '*' for every {method} request"
                )
            names[name] = scope_set(scopes, f"{where}[{method!r}][{name!r}]")
        checked[method] = MappingProxyType(names)
    return MappingProxyType(checked)


def parse_tool_scopes(text: str, variable: str = "AUTH0_TOOL_SCOPES") -> ToolScopeMapping:
    """AUTH0_TOOL_SCOPES: a JSON object such as ``{"tools/call": {"delete_repo": ["repo:admin"]}}``."""
    return check_tool_scopes(json_object(variable, text), variable)
