"""Silencing the one false ERROR uvicorn logs for a websocket refused with a denial response.

uvicorn's default websocket implementation (`websockets-sansio`, as of 0.54) sends a denial
response (the ASGI `websocket.http.response` extension) correctly, but never marks the
handshake finished, so when the app returns it logs "ASGI callable returned without
completing handshake." at ERROR: one false alarm per refused token, which error trackers
forward (Kludex/uvicorn#3138, open). The filter below drops exactly that record, and only
when it is logged by the task whose request this middleware just refused this way: a
context variable set in that task marks it. Any other occurrence, a real bug in an app,
still reaches the log.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Final

__all__ = ["install_filter", "mark_denied"]

_SPURIOUS_MESSAGE: Final = "ASGI callable returned without completing handshake."
_denied_here: ContextVar[bool] = ContextVar("auth0_asgi_websocket_denied", default=False)


class _DeniedHandshakeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_denied_here.get() and record.getMessage() == _SPURIOUS_MESSAGE)


_FILTER: Final = _DeniedHandshakeFilter()


def install_filter() -> None:
    """Attach the filter to uvicorn's error logger, once per process (a filter, not a handler)."""
    server_logger = logging.getLogger("uvicorn.error")
    if _FILTER not in server_logger.filters:
        server_logger.addFilter(_FILTER)


def mark_denied() -> None:
    """Record that the current task has answered its websocket with a complete denial response."""
    _denied_here.set(True)
