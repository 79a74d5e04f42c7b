"""Answering a refused request: the log line, the likely cause, and the RFC 6750 response."""

from __future__ import annotations

import logging

from starlette.types import Receive, Scope, Send

from ._challenge import Challenges
from ._credentials import authorization_scheme
from ._denial_log import mark_denied
from ._diagnostics import diagnose, token_of
from ._rate_limit import RateLimit
from .errors import AuthenticationError
from .settings import Auth0Settings

__all__ = ["Refusals"]

logger = logging.getLogger("auth0_asgi")


class Refusals:
    """How a middleware answers the requests it refuses, with `challenges` for `settings`."""

    def __init__(self, settings: Auth0Settings, challenges: Challenges) -> None:
        self._settings = settings
        self._challenges = challenges
        self._diagnoses = RateLimit()

    async def answer(self, scope: Scope, receive: Receive, send: Send, error: AuthenticationError) -> None:
        """Answer the request in `scope` with the RFC 6750 response for `error`, and log it."""
        level = logging.WARNING if error.status_code >= 500 else logging.INFO
        # %r: the path is percent-decoded, so a raw newline in it could forge a log line.
        logger.log(level, "refused %s %r: %s", scope.get("method", "WEBSOCKET"), scope["path"], error.reason)
        if error.status_code in (400, 401) and error.error is not None and logger.isEnabledFor(logging.INFO):
            self._log_diagnosis(scope, error)
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
            # RFC 6455 §7.4.1 1008 policy violation; closing before accept makes the server answer 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        await self._challenges.response(error, authorization_scheme(scope))(scope, receive, send)
        if scope["type"] == "websocket":
            mark_denied()

    def _log_diagnosis(self, scope: Scope, error: AuthenticationError) -> None:
        authorization = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        if authorization is None:
            return
        if len(authorization) > self._settings.max_token_bytes + 16:
            return  # a token refused for its size is not read any further, not even to explain it
        diagnosis = diagnose(token_of(authorization), error, self._settings)
        if diagnosis is not None and self._diagnoses.allow(diagnosis.code):
            logger.info("likely cause (%s): %s", diagnosis.code, diagnosis.message)
