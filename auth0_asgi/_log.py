"""The fixed fields every log line of the package carries, for JSON log formatters.

Each record gets `auth0_asgi_event` (what happened: the snake_case name of the matching
`auth0_asgi.events` type where there is one) and `auth0_asgi_reason` (a fixed reason code,
the same values the events and metrics carry), plus a few named values of the line's own
as `auth0_asgi_<name>`. Plain attributes of the LogRecord (``extra``), so
``%(auth0_asgi_reason)s`` works in a format string too.
"""

from __future__ import annotations

__all__ = ["fields"]


def fields(event: str, reason: str, **values: object) -> dict[str, object]:
    """The `extra` of a log line about `event` for `reason`, with `values` prefixed."""
    extra: dict[str, object] = {"auth0_asgi_event": event, "auth0_asgi_reason": reason}
    for name, value in values.items():
        extra[f"auth0_asgi_{name}"] = value
    return extra
