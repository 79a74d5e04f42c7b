"""A request's header fields, read once.

The request gate makes the one pass over ``scope["headers"]``: it gathers, by name, every
field that anything here reads (credentials, Host, forwarding headers, a client-certificate
header, MCP routing headers, CORS preflight headers) and hands that one value to every reader.
Nothing else walks the header list (tests/test_package_shape.py holds that).

ASGI gives names in lower case; values keep their order, so a repeated field shows as repeated
and each reader decides what a repeat means for it. A field the request did not send is
absent: readers ask ``headers.get(name, ())``.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

__all__ = ["RequestHeaders", "gather"]

#: Lower-case field name to every value the request gave it, in order; only the names asked for.
RequestHeaders = dict[bytes, list[bytes]]


def gather(scope: Mapping[str, Any], names: Container[bytes]) -> RequestHeaders:
    """The fields of the request in `scope` whose names are in `names`."""
    found: RequestHeaders = {}
    for name, value in scope["headers"]:
        if name in names:
            values = found.get(name)
            if values is None:
                found[name] = [value]
            else:
                values.append(value)
    return found
