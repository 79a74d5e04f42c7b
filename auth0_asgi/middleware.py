"""Auth0Middleware: the ASGI glue between a request and the TokenVerifier."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Awaitable, Iterable, Iterator, Mapping
from types import FrameType
from typing import Final

import httpx
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config.tool_scopes import check_tool_scopes
from ._headers import RequestHeaders, gather
from ._keys.refresh_ahead import prefetch
from ._log import fields
from ._request.assembly import key_caches_for, mcp_binding_for, replay_store_for, resource_for, step_up_rules
from ._request.authenticate import NOTHING_MORE, RequestAuthenticator
from ._request.challenge import Challenges
from ._request.credentials import BEARER, DPOP, authorization_scheme, scheme_label
from ._request.denial_log import install_filter
from ._request.gate import RequestGate
from ._request.lifespan import run_lifespan
from ._request.paths import own_root_paths
from ._request.preflight import PREFLIGHT_HEADERS, Preflights, is_preflight
from ._request.protection import ProtectionRules, Requirement, listed
from ._request.refusal import Refusals
from ._request.tool_scopes import ROUTING_HEADERS, ToolScopes
from ._tokens.confirmation import Mode, proved
from .errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
)
from .events import UNPROTECTED, Auth0Observer, RequestOutcome, guarded
from .jwks import JWKSCache
from .replay import InMemoryReplayStore, ReplayStore
from .resource import ProtectedResource
from .rules import Rule
from .settings import Auth0Settings
from .user import Auth0User
from .verifier import SigningKeySource, TokenVerifier

__all__ = ["Auth0Middleware"]

logger = logging.getLogger("auth0_asgi")

#: Where the middleware puts itself in every request's scope, so that code inside the app
#: (the FastAPI dependencies) verifies with the same verifier and key cache.
MIDDLEWARE_SCOPE_KEY: Final = "auth0_asgi.middleware"
#: Where `authenticate()`, called by the app (a FastAPI dependency), leaves the outcome to tell.
_OUTCOME_SCOPE_KEY: Final = "auth0_asgi.outcome"

#: What a request gets from a middleware that could not start: nothing about why (that is in the log).
MISCONFIGURED_BODY: Final = {"detail": "Internal server error", "error": "server_error"}
_PRINTABLE: Final = re.compile(r"[\x20-\x7e]*")
_SCHEMES_BY_MODE: Final[dict[Mode, tuple[str, ...]]] = {
    "allowed": (BEARER, DPOP),
    "required": (DPOP,),
    "disabled": (BEARER,),
}


def _root_paths(app: ASGIApp, named: Iterable[str] | None) -> tuple[str, ...]:
    """The root paths of the apps inside `app`, found by walking it, plus those `named`."""
    walked = own_root_paths(app)
    if named is not None:
        return (*walked.found, *listed(named, "root_paths"))
    if walked.unseen:
        # A root path behind it would be a bypass: /private served for /api/private, no token.
        logger.warning(
            "Auth0Middleware cannot see inside %s: if it holds an app with its own root_path (FastAPI(root_path=...)), "
            "name it, Auth0Middleware(..., root_paths=['/api']), or set the root path on the server "
            "(uvicorn --root-path); root_paths=[] says there is none",
            ", ".join(sorted(set(walked.unseen))),
            extra=fields("root_paths_unseen", "app_not_walked", unseen=list(walked.unseen)),
        )
    return walked.found


def _built_lazily_by_starlette() -> bool:
    """Whether Starlette is building its middleware stack (``app.add_middleware``), inside its
    first call: an exception raised there is taken by a server's ``--lifespan auto`` for an app
    without lifespan support, and then raised again on every request, as a 500."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return False
        if frame.f_code.co_name == "build_middleware_stack" and isinstance(frame.f_locals.get("self"), Starlette):
            # Lazily: from the app's own __call__ (through any subclass's override of the build),
            # not from code that builds it ahead (the demo does).
            caller = frame.f_back
            while caller is not None and caller.f_code.co_name == "build_middleware_stack":
                caller = caller.f_back
            return caller is not None and caller.f_code.co_name == "__call__"
        frame = frame.f_back
    return False


@contextlib.contextmanager
def _told_at_start_up(middleware: Auth0Middleware, app: ASGIApp) -> Iterator[None]:
    """Raise a ConfigurationError as it is, unless Starlette is building the middleware lazily:
    then the middleware becomes one that fails the lifespan's start-up with the error's one line
    (uvicorn, Hypercorn and granian exit on it) and answers requests without lifespan a 500."""
    try:
        yield
    except ConfigurationError as exc:
        if not _built_lazily_by_starlette():
            raise
        middleware.__class__ = _Misconfigured
        assert isinstance(middleware, _Misconfigured)
        middleware.app = app
        middleware.failure = str(exc)


class Auth0Middleware:
    """Protects path prefixes of an ASGI app with Auth0 access tokens.

    ``app.add_middleware(Auth0Middleware, protected_prefixes=["/api/private"])``

    - `app`: the ASGI app to wrap.
    - `settings`: what tokens must satisfy; default `Auth0Settings.from_env()`.
    - `protected_prefixes`: paths whose requests need a valid bearer token, matched by whole
      segment (``/api/private`` covers ``/api/private/x``, not ``/api/privateer``); a request
      is protected when any reading of its path (literal, dot segments resolved, below
      `root_path`, ...) lies within one, so ``/api/private/..`` is protected too; default
      ``["/"]``, everything. Each must be a plain path. Warning: paths outside them pass with
      no token examined.
    - `required_scopes`: prefix to scopes the token must grant there (in `scope` or Auth0's
      `permissions`); every matching prefix's scopes are required. Each prefix must lie within
      a protected prefix.
    - `rules`: prefix to authorization rules (`auth0_asgi.rules`: `any_scope`, `claim_equals`,
      `step_up`, `actor_in`, ...) every request there must pass, outer prefixes' first, each
      checked on every request; a failure is 403 `insufficient_scope` (a step-up requirement's,
      401 `insufficient_user_authentication`). `settings.step_up` (AUTH0_STEP_UP) adds step-up
      rules. Each prefix must lie within a protected prefix.
    - `realm`: the WWW-Authenticate realm; default the first configured audience.
    - `http_client`: an `httpx.AsyncClient` for key fetches; default one of our own, closed
      at lifespan shutdown or by `aclose()`.
    - `keys`: a signing key source to use instead of fetching the key sets, such as
      `auth0_asgi.testing.LocalIssuer` in tests; or a mapping of each trusted issuer to its
      own source. Warning: it decides which keys are trusted.
    - `replay_store`: where used DPoP proofs are remembered (`auth0_asgi.replay.ReplayStore`);
      default a `RedisReplayStore` for `settings.dpop_replay_url` (closed at lifespan shutdown
      or by `aclose()`), else an in-process store.
    - `observer`: told what happens (`auth0_asgi.events`: each request's outcome and reason
      code, cache hits, key-set fetches, ...), such as `auth0_asgi.otel.OpenTelemetryObserver`;
      default None, which builds no events at all. An observer that raises is logged and ignored.
    - `observe_identity`: include the accepted token's `iss`, `azp` and `sub` in the events;
      default False. Warning: they identify callers; mind where the observer sends them.
    - `cors_preflight`: let CORS preflights reach the app on protected paths with no token;
      default `settings.cors_preflight` (AUTH0_CORS_PREFLIGHT, False). Warning: a protected
      handler that answers OPTIONS itself then runs for anyone; put Starlette's
      `CORSMiddleware` outside this middleware instead, so that it answers them.
    - `tool_scopes`: MCP method to name (``*`` for any) to the scopes a protected request for
      it needs, read from its Mcp-Method and Mcp-Name headers without reading the body
      (``{"tools/call": {"delete_repo": ["repo:admin"]}}``); default `settings.tool_scopes`
      (AUTH0_TOOL_SCOPES). A POST that does not speak MCP 2026-07-28 or later, whose server
      need not hold the headers to the body, must hold every scope named here; repeated,
      empty or malformed headers get 400 (docs/mcp.md).
    - `anonymous_prefixes`: prefixes where Auth0 anonymous sessions' tokens (subject ``anon@...``)
      are accepted; default `settings.anonymous_prefixes` (AUTH0_ANONYMOUS_PREFIXES), none:
      elsewhere they get 401 `insufficient_user_authentication` (the user must sign in).
    - `root_paths`: root paths apps inside this one set for themselves (``FastAPI(root_path=...)``),
      so that a path below one is read as the app reads it; default None: found by walking the
      app graph at start-up (middleware, routers, mounts, hosts, wrapping functions), with a
      WARNING naming any object it cannot see into. Given, they are used as well as those found,
      and nothing is warned about: give ``[]`` when nothing you wrap sets one.
    - `mcp_sdk`: make accepted requests' users the MCP SDK's own (`auth0_asgi.mcp.MCPUser`,
      so that its `get_access_token()` works); default None: when the `mcp` package is
      installed and `settings.resource_url` is set. True requires the SDK, False never.

    With `settings.resource_url` (AUTH0_RESOURCE_URL) the middleware serves RFC 9728 protected
    resource metadata at ``/.well-known/oauth-protected-resource`` plus the resource URL's path,
    and at the root well-known path, to anyone; and every challenge names it (`resource_metadata`).

    DPoP (RFC 9449) follows `settings.dpop`: with ``allowed`` (the default) a request may
    present ``Authorization: Bearer <token>`` or ``Authorization: DPoP <token>`` with a
    ``DPoP`` proof; each proof is checked (RFC 9449 §4.3), bound to the token's `cnf.jkt`
    and accepted once.

    On success `scope["user"]` is an `Auth0User` and `scope["auth"]` the `AuthCredentials` of
    its scopes; on unprotected paths they are `UnauthenticatedUser()` and empty credentials.
    An `AuthenticationError` raised by the app before it starts its response (such as the
    FastAPI dependencies' `InsufficientScopeError`) gets the same RFC 6750 answer as a refusal
    here. Raises ConfigurationError for an invalid argument. Does no I/O until the first
    protected request.

    Attributes: `settings`, `realm`, `resource` (the `ProtectedResource` served, or None),
    `key_sets` (each trusted issuer's key source: a
    `JWKSCache` per key-set URL, per middleware and so per worker process, unless `keys` was
    given), `key_set` (the first issuer's) and `verifier` (the `TokenVerifier` using them), for
    code that needs to verify a token the same way outside the protected prefixes.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Auth0Settings | None = None,
        protected_prefixes: Iterable[str] = ("/",),
        required_scopes: Mapping[str, Iterable[str]] | None = None,
        rules: Mapping[str, Iterable[Rule]] | None = None,
        realm: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        keys: SigningKeySource | Mapping[str, SigningKeySource] | None = None,
        replay_store: ReplayStore | None = None,
        observer: Auth0Observer | None = None,
        observe_identity: bool = False,
        cors_preflight: bool | None = None,
        tool_scopes: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
        mcp_sdk: bool | None = None,
        anonymous_prefixes: Iterable[str] | None = None,
        root_paths: Iterable[str] | None = None,
    ) -> None:
        # A misconfiguration must stop the server at start-up, also when Starlette builds this
        # middleware lazily (app.add_middleware): then the error is told as the lifespan's failure.
        with _told_at_start_up(self, app):
            self.app = app
            self._observer = guarded(observer)
            self._observe_identity = observe_identity
            self.settings = settings if settings is not None else Auth0Settings.from_env()
            if keys is not None and http_client is not None:
                raise ConfigurationError("keys and http_client: give one; a key source does its own fetching")
            if keys is None:
                # One JWKSCache per key set: per URL, or per issuer when discovery finds the URL.
                keys = key_caches_for(self.settings, http_client, self._observer)
            self._sdk = mcp_binding_for(self.settings, mcp_sdk)
            # Chosen once: without the SDK, a request costs no extra call.
            self._call_app = self._run_app if self._sdk is None else self._call_app_for_sdk
            user_factory = self._sdk.user_factory if self._sdk is not None else None
            self.verifier = TokenVerifier(self.settings, keys=keys, observer=self._observer, user_factory=user_factory)
            self.key_sets: Mapping[str, SigningKeySource] = (
                dict(keys) if isinstance(keys, Mapping) else dict.fromkeys(self.verifier.trusted_issuers, keys)
            )
            self.key_set: SigningKeySource = self.key_sets[self.settings.issuer]
            self.realm = realm if realm is not None else self.settings.audience[0]
            if not _PRINTABLE.fullmatch(self.realm):
                raise ConfigurationError(f"realm={self.realm!r}: must be printable ASCII")
            settings = self.settings
            self._rules = ProtectionRules(
                protected_prefixes,
                required_scopes or {},
                rules,
                root_paths=_root_paths(app, root_paths),
                anonymous_prefixes=settings.anonymous_prefixes if anonymous_prefixes is None else anonymous_prefixes,
                step_up=step_up_rules(settings.step_up),
                # A refusal names the variable a setting came from.
                labels={"step_up": "AUTH0_STEP_UP"}
                | ({"anonymous_prefixes": "AUTH0_ANONYMOUS_PREFIXES"} if anonymous_prefixes is None else {}),
            )
            mapping = settings.tool_scopes if tool_scopes is None else check_tool_scopes(tool_scopes)
            self._tool_scopes = ToolScopes(mapping) if mapping else None
            named_scopes = [*(required_scopes or {}).values(), *self._tool_scopes_named(mapping)]
            self.resource: ProtectedResource | None = resource_for(settings, named_scopes)
            self._preflights = Preflights(settings.cors_preflight if cors_preflight is None else cors_preflight)
            schemes = _SCHEMES_BY_MODE[settings.dpop]
            self._schemes = frozenset(schemes)
            metadata_url = self.resource.metadata_url if self.resource is not None else ""
            challenges = Challenges(self.realm, schemes, settings.dpop_algorithms, metadata_url)
            self._refusals = Refusals(settings, challenges, self._observer, lambda: self.verifier.verified_any)
            self.replay_store = replay_store if replay_store is not None else replay_store_for(settings)
            self._owns_replay_store = replay_store is None
            self._authenticator = RequestAuthenticator(settings, self.verifier, self.replay_store, self._schemes)
            # One pass over the headers gathers what every reader of them needs.
            self._header_names = self._authenticator.header_names | frozenset(PREFLIGHT_HEADERS)
            if self._tool_scopes is not None:
                self._header_names |= frozenset(ROUTING_HEADERS)
            self._gate = RequestGate(settings.max_target_bytes, self._header_names)
            install_filter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            if scope_type == "lifespan":
                caches = self._key_caches()
                await run_lifespan(
                    self.app, scope, receive, send, caches=caches, on_startup=self._started, on_shutdown=self.aclose
                )
                return
            await self.app(scope, receive, send)
            return
        try:
            # First, protected path or not: a request no decision can be sure of goes no further.
            headers = self._gate.check(scope)
        except InvalidRequestError as exc:  # the gate's refusals (GATE_CODES)
            await self._refusals.answer(scope, receive, send, exc)
            return
        if self.resource is not None and scope_type == "http" and self.resource.serves(scope):
            await self.resource(scope, receive, send)  # public: what a client reads to get a token
            return
        scope[MIDDLEWARE_SCOPE_KEY] = self
        requirement = self._rules.decide(scope)
        outcome: RequestOutcome | None = None  # told once the app is done: it may still refuse
        if requirement is None or (self._preflights.allowed and is_preflight(scope, headers)):
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = AuthCredentials()
            if self._observer is not None:
                outcome = UNPROTECTED
        else:
            began = time.perf_counter() if self._observer is not None else None
            try:
                if self._tool_scopes is not None:
                    requirement = self._with_tool_scopes(requirement, scope, headers)
                user = await self._authenticator.authenticate(scope, requirement, headers)
            except AuthenticationError as exc:
                if is_preflight(scope, headers):  # asked only of a refusal: most requests are no preflight
                    self._preflights.refused(scope, exc.code)
                await self._refusals.answer(scope, receive, send, exc, began, requirement.scopes, headers)
                return
            scope["user"] = user
            scope["auth"] = AuthCredentials(user.sorted_scopes)
            if began is not None:
                outcome = self._accepted(user, time.perf_counter() - began, authorization_scheme(headers))
        await self._call_app(scope, receive, send, outcome)

    @staticmethod
    def _tool_scopes_named(mapping: Mapping[str, Mapping[str, frozenset[str]]]) -> list[frozenset[str]]:
        return [scopes for names in mapping.values() for scopes in names.values()]

    def _with_tool_scopes(self, requirement: Requirement, scope: Scope, headers: RequestHeaders) -> Requirement:
        """`requirement` plus what the MCP request's Mcp-Method and Mcp-Name headers need."""
        assert self._tool_scopes is not None
        needed = self._tool_scopes.required(scope, headers)
        if needed <= requirement.scopes:
            return requirement
        return Requirement(requirement.scopes | needed, requirement.rules)

    def _accepted(self, user: Auth0User, duration: float, scheme: str | None) -> RequestOutcome:
        """The outcome of accepting `user`; `scheme` is what the request presented its token with
        (never re-derived from the claims: a token with `cnf` may be bound to a certificate)."""
        claims = user.claims
        issued_at = claims.get("iat")
        # iat was checked to be a safe number when the token was verified.
        age = time.time() - issued_at if issued_at is not None else None
        scheme = scheme_label(scheme)
        binding = proved(claims) if "cnf" in claims else None
        # _make: every request builds one, and it skips the keyword handling of __new__.
        if not self._observe_identity:
            values = ("accepted", "accepted", None, None, scheme, duration, age, None, None, None, binding)
            return RequestOutcome._make(values)
        client = claims.get("azp", claims.get("client_id"))
        client = client if isinstance(client, str) else None
        issuer, subject = claims["iss"], user.identity
        return RequestOutcome._make(
            ("accepted", "accepted", None, None, scheme, duration, age, issuer, client, subject, binding)
        )

    async def authenticate(self, scope: Scope, requirement: Requirement = NOTHING_MORE) -> Auth0User:
        """The verified caller of the request in `scope`, whose token satisfies `requirement`.

        Raises the AuthenticationError subclass the middleware would answer: for code that
        authenticates a request outside the protected prefixes the same way. Observed, an
        acceptance becomes that request's outcome (instead of ``unprotected``).
        """
        headers = gather(scope, self._header_names)
        if self._observer is None:
            return await self._authenticator.authenticate(scope, requirement, headers)
        began = time.perf_counter()
        user = await self._authenticator.authenticate(scope, requirement, headers)
        scope[_OUTCOME_SCOPE_KEY] = self._accepted(user, time.perf_counter() - began, authorization_scheme(headers))
        return user

    async def _call_app_for_sdk(
        self, scope: Scope, receive: Receive, send: Send, outcome: RequestOutcome | None
    ) -> None:
        assert self._sdk is not None
        if not isinstance(scope["user"], Auth0User):
            await self._run_app(scope, receive, send, outcome)
            return
        # The SDK's get_access_token() reads this variable, set for the app's whole run.
        reset = self._sdk.user_context.set(scope["user"])
        try:
            await self._run_app(scope, receive, send, outcome)
        finally:
            self._sdk.user_context.reset(reset)

    async def _run_app(self, scope: Scope, receive: Receive, send: Send, outcome: RequestOutcome | None) -> None:
        started = False

        def tracking_send(message: Message) -> Awaitable[None]:
            # Not a coroutine function: it hands back the server's own awaitable, so each
            # message costs one call more, not a coroutine more.
            nonlocal started
            started = True
            return send(message)

        refused = False
        try:
            await self.app(scope, receive, tracking_send)
        except AuthenticationError as exc:
            if started:
                raise  # too late for a challenge: let the server deal with a broken response
            refused = True  # the refusal is this request's outcome, and tells the observer itself
            await self._refusals.answer(scope, receive, send, exc)
        finally:
            if self._observer is not None and not refused:
                told = scope.get(_OUTCOME_SCOPE_KEY, outcome)
                if told is not None:
                    self._observer.on_event(told)

    def _key_caches(self) -> list[JWKSCache]:
        return list({id(source): source for source in self.key_sets.values() if isinstance(source, JWKSCache)}.values())

    async def _started(self) -> None:
        settings = self.settings
        logger.info(
            "protecting %s for %s (audience %s); DPoP %s, mTLS %s",
            ", ".join(self._rules.protected_prefixes),
            ", ".join(self.verifier.trusted_issuers),
            ", ".join(settings.audience),
            settings.dpop,
            settings.mtls,
            extra=fields("protecting", "started", prefixes=list(self._rules.protected_prefixes)),
        )
        if settings.dpop != "disabled" and isinstance(self.replay_store, InMemoryReplayStore):
            logger.info(
                "DPoP replay protection is per process: a proof replayed to another worker is not "
                "caught; set AUTH0_DPOP_REPLAY_URL to share it",
                extra=fields("replay_store", "per_process"),
            )
        if self.settings.prefetch_keys:
            await self.prefetch()

    async def prefetch(self) -> None:
        """Fetch every key set now (done at startup with `prefetch_keys`); failures are logged."""
        await prefetch(self._key_caches())

    @property
    def ready(self) -> bool:
        """Whether every trusted issuer's keys are held: for a readiness probe."""
        return all(cache.has_keys for cache in self._key_caches())

    async def aclose(self) -> None:
        """Release the key caches' HTTP clients and the replay store's connections (done for you
        at lifespan shutdown)."""
        for cache in self._key_caches():
            await cache.aclose()
        close = getattr(self.replay_store, "aclose", None)
        if close is not None and self._owns_replay_store:  # a store passed in is its owner's to close
            await close()


class _Misconfigured(Auth0Middleware):
    """An Auth0Middleware whose configuration was refused while Starlette built it lazily."""

    failure: str
    _logged = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.failed", "message": f"Auth0Middleware: {self.failure}"})
            return
        if not self._logged:  # no lifespan told it: say it once, where the operator looks
            self._logged = True
            logger.error(
                "Auth0Middleware: %s (every request is answered 500 until this is fixed)",
                self.failure,
                extra=fields("configuration_error", "misconfigured"),
            )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})  # RFC 6455 §7.4.1: an internal error
        elif scope["type"] == "http":
            await JSONResponse(MISCONFIGURED_BODY, status_code=500)(scope, receive, send)

    async def aclose(self) -> None:
        """Nothing was opened."""
