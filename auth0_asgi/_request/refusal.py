"""Answering a refused request: the log line, the likely cause, and the RFC 6750 response."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Final

from starlette.types import Receive, Scope, Send

from auth0_asgi._headers import RequestHeaders, gather
from auth0_asgi._log import fields
from auth0_asgi._rate_limit import RateLimit
from auth0_asgi._tokens.diagnosis import diagnose, token_of
from auth0_asgi.errors import AuthenticationError
from auth0_asgi.events import Auth0Observer, LikelyCause, RequestOutcome
from auth0_asgi.settings import Auth0Settings

from .challenge import Challenges
from .credentials import CREDENTIAL_HEADERS, authorization_scheme, scheme_label
from .denial_log import mark_denied
from .gate import GATE_CODES

__all__ = ["Refusals"]

logger = logging.getLogger("auth0_asgi")

_LOGGED_PATH_CHARACTERS: Final = 512


#: How often a likely cause is logged at most: a client's mistake once a minute; a cause that
#: means the server is misconfigured (a WARNING) once per five minutes.
_CLIENT_CAUSE_INTERVAL: Final = 60.0
_SERVER_CAUSE_INTERVAL: Final = 300.0


class Refusals:
    """How a middleware answers the requests it refuses, with `challenges` for `settings`,
    telling `observer` (already guarded) of each refusal. `accepted_any()`: whether this worker
    has accepted a token yet (when none has, a token for another API hints at the setting)."""

    def __init__(
        self,
        settings: Auth0Settings,
        challenges: Challenges,
        observer: Auth0Observer | None,
        accepted_any: Callable[[], bool] = lambda: True,
    ) -> None:
        self._settings = settings
        self._challenges = challenges
        self._observer = observer
        self._accepted_any = accepted_any
        self._client_causes = RateLimit(_CLIENT_CAUSE_INTERVAL)
        self._server_causes = RateLimit(_SERVER_CAUSE_INTERVAL)

    async def answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        error: AuthenticationError,
        started: float | None = None,
        scopes: Iterable[str] = (),
        headers: RequestHeaders | None = None,
    ) -> None:
        """Answer the request in `scope` with the RFC 6750 response for `error`, and log it.

        `started`: the `time.perf_counter()` at which authenticating began, when observed;
        `scopes`: what the request needs, named in a 401's challenges; `headers`: its fields as
        the gate gathered them (gathered here when the gate refused it, or did not finish).
        """
        if headers is None:
            headers = gather(scope, CREDENTIAL_HEADERS)
        duration = time.perf_counter() - started if started is not None else None
        level = logging.WARNING if error.status_code >= 500 else logging.INFO
        # %r: the path is percent-decoded, so a raw newline in it could forge a log line; cut,
        # so a refused 1 MB target does not become a 1 MB log line.
        logger.log(
            level,
            "refused %s %r: %s",
            scope.get("method", "WEBSOCKET"),
            scope["path"][:_LOGGED_PATH_CHARACTERS],
            error.reason,
            extra=fields("request_outcome", error.code, error=error.error, status=error.status_code),
        )
        # A request the gate refused is refused for its target, not its token: nothing to explain.
        if error.status_code in (400, 401) and error.error is not None and error.code not in GATE_CODES:
            self._explain(headers, error)
        scheme = authorization_scheme(headers)
        websocket = scope["type"] == "websocket"
        if websocket and "websocket.http.response" not in scope.get("extensions", {}):
            # RFC 6455 §7.4.1 1008 policy violation; closing before accept makes the server answer 403.
            await send({"type": "websocket.close", "code": 1008})
            status = 403
        else:
            await self._challenges.response(error, scheme, scopes)(scope, receive, send)
            status = error.status_code
            if websocket:
                mark_denied()
        if self._observer is not None:
            used = scheme_label(scheme)
            self._observer.on_event(RequestOutcome("refused", error.code, error.error, status, used, duration))

    def _explain(self, headers: RequestHeaders, error: AuthenticationError) -> None:
        """Log and observe what the refusal likely comes from: at INFO once a minute per cause
        when it is a client's mistake, at WARNING once per five minutes when the server's."""
        if self._observer is None and not logger.isEnabledFor(logging.WARNING):
            return
        values = headers.get(b"authorization")
        if not values:
            return
        authorization = values[0]
        if len(authorization) > self._settings.max_token_bytes + 16:
            return  # a token refused for its size is not read any further, not even to explain it
        diagnosis = diagnose(token_of(authorization), error, self._settings)
        if diagnosis is None:
            return
        if self._observer is not None:
            self._observer.on_event(LikelyCause(diagnosis.code))
        server_side = diagnosis.server_side or (diagnosis.code == "audience_other_api" and not self._accepted_any())
        level, causes = (logging.WARNING, self._server_causes) if server_side else (logging.INFO, self._client_causes)
        if logger.isEnabledFor(level) and causes.allow(diagnosis.code):
            logger.log(
                level,
                "likely cause (%s): %s",
                diagnosis.code,
                diagnosis.message,
                extra=fields("likely_cause", diagnosis.code),
            )
