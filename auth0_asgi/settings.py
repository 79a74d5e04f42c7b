"""Auth0Settings: what the middleware verifies against, read from code or the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ._config.domains import TrustedIssuer, resolve_domains
from ._config.dpop import check_dpop_algorithms, check_mode, check_origins, check_proxies, check_replay_url
from ._config.environment import SWITCHES, TUNABLES, read_environment, read_variables, warn_unknown
from ._config.fields import ASYMMETRIC_ALGORITHMS, check_algorithms
from ._config.resource_url import audience_mismatch, check_resource_url
from ._config.tool_scopes import check_tool_scopes
from ._tokens.confirmation import Mode
from ._tokens.step_up import StepUp, parse_step_up
from .errors import ConfigurationError

__all__ = ["ASYMMETRIC_ALGORITHMS", "Auth0Settings", "TrustedIssuer", "read_variables"]

#: An RFC 9110 field name (a token).
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: The token profiles `token_profile` may name: Auth0's default one, or RFC 9068's.
TOKEN_PROFILES: Final = ("", "rfc9068")


@dataclass(frozen=True, kw_only=True, slots=True)
class Auth0Settings:
    """What tokens must look like to pass, and how keys are fetched.

    Fields mirror the environment variables `Auth0Settings.from_env` reads:

    - `domain` (AUTH0_DOMAIN): the tenant host, e.g. ``dev-x.us.auth0.com``, or several,
      comma-separated (a tenant's custom domains): each is then a trusted issuer
      ``https://{domain}/`` with its own key set. A value written as
      ``https://dev-x.us.auth0.com/`` is accepted and normalised; ``http://`` only for a
      loopback host (local test tenants).
    - `audience` (AUTH0_API_AUDIENCE): the API identifier(s); a token passes when its `aud`
      contains any of them. A lone string is accepted.
    - `issuer` (AUTH0_ISSUER): the exact expected `iss`; default ``https://{domain}/``. Only
      with a single domain; with several, this field holds the first one's.
    - `algorithms` (AUTH0_ALGORITHMS): allow-list of asymmetric algorithms; default RS256.
      Warning: "none" and HS* are refused, they would let anyone holding the public key sign.
    - `jwks_url` (AUTH0_JWKS_URL): where the key set lives; default
      ``https://{domain}/.well-known/jwks.json``. Plain http only for loopback hosts. Only
      with a single domain; with several, this field holds the first one's.
    - `prefetch_keys` (AUTH0_PREFETCH_KEYS): fetch every key set at lifespan startup, before
      the server takes requests (a failure is logged, and the worker answers 503 until keys
      arrive); default False: the first protected request fetches.
    - `jwks_cache_control` (AUTH0_JWKS_CACHE_CONTROL): use the key set's Cache-Control
      max-age as its TTL, clamped to [`jwks_cache_ttl_min`, `jwks_cache_ttl_max`] (defaults
      60 and 86400 seconds); default False: always `jwks_cache_ttl`. Auth0 answers with a
      max-age of seconds, which would make every worker refetch every few seconds.
    - `discovery` (AUTH0_DISCOVERY): read each issuer's key-set URL from its
      ``{issuer}.well-known/openid-configuration``, whose `issuer` must equal it exactly;
      default False: ``https://{domain}/.well-known/jwks.json``.
    - `trusted_issuers` (derived, not an argument): every trusted `iss` with its key-set URL.

    Validity rules (a token that fails one gets 401 `invalid_token`: get another token), each also
    AUTH0_<FIELD>:

    - `max_token_age`: seconds since the token's `iat` after which it is refused, however far
      its `exp`; `iat` is then required; 0 (the default) sets no limit.
    - `token_profile`: ``rfc9068`` requires RFC 9068 access tokens: header `typ` ``at+jwt`` (or
      ``application/at+jwt``) and the claims of its §2.2 (iss, exp, aud, sub, client_id, iat,
      jti); default empty, Auth0's default profile.
    - `allowed_clients`: the client ids (`azp`, or RFC 9068's `client_id`) whose tokens are
      accepted; every one of those claims present must be in the list; default any client.
    - `required_claims`: claim names every token must carry (not null); default none.

    DPoP (RFC 9449), each also AUTH0_<FIELD>, such as AUTH0_DPOP=required:

    - `dpop`: ``allowed`` (Bearer or DPoP tokens), ``required`` (DPoP only) or ``disabled``
      (Bearer only); default allowed. A DPoP-bound token is never accepted as a bearer token.
    - `dpop_algorithms`: proof algorithms accepted (ES256/384/512, PS*, RS*, EdDSA); default
      ES256. Warning: none and HS* are refused.
    - `dpop_max_age`: seconds a proof stays acceptable after its `iat`; default 300.
    - `dpop_leeway`: seconds a proof's `iat` may lie in the future; default 30.
    - `dpop_origins`: the public origins (``https://api.example.com``) a proof's `htu` may
      name; when set, no request header decides the origin. Default: the request's scheme and
      Host header.
    - `trusted_proxies` (AUTH0_TRUSTED_PROXIES): addresses or networks of the proxies in front,
      whose forwarding headers give DPoP's origin (`Forwarded` or `X-Forwarded-Proto`/`-Host`)
      and whose certificate header gives the client certificate (mTLS): one set for both, by one
      rule (SECURITY.md); default none (no such header is read).
    - `dpop_trusted_proxies`, `mtls_trusted_proxies`: the old names of `trusted_proxies`, aliases
      for this release; given with different proxies than another of the three, refused.
    - `dpop_replay_url`: ``redis://`` or ``rediss://`` URL of the replay store shared by the
      fleet (the `redis` extra); default none: each process remembers its own proofs, so a
      proof replayed to another worker is not caught.
    - `dpop_replay_capacity`: how many live proofs the in-process store holds; when it is full
      of them, DPoP requests get 503 rather than forgetting one; default 100000.

    Tunables (seconds unless stated; each also AUTH0_<FIELD>, such as AUTH0_JWKS_CACHE_TTL):

    - `leeway`: clock skew tolerated on `exp`, `nbf` and `iat`; default 5.
    - `jwks_cache_ttl`: how long a fetched key set is used before it is refreshed; default 600.
    - `jwks_refresh_cooldown`: least time between two refreshes caused by an unknown `kid`;
      bounds what a flood of made-up kids can cost; default 30.
    - `jwks_fetch_timeout`: total time one key-set fetch may take; default 5.
    - `jwks_retry_interval`: after a failed fetch, how long before the next attempt (and the
      `Retry-After` of a 503 while no keys are held); default 5.
    - `jwks_max_stale`: how long past their TTL cached keys may still be served while every
      refresh fails; after that the worker answers 503 until a fetch succeeds; 0 serves no
      stale keys; default 14400 (4 hours). Warning: it is how long a key the tenant revoked
      can keep verifying on a worker cut off from the key server.
    - `max_token_bytes`: tokens longer than this are refused before any parsing; default 8192.
    - `token_cache_size`: how many verified tokens each worker remembers, so a token reused for
      hours costs one signature check (entries are re-checked against the clock and the key
      set on every use); 0 disables the cache; default 1024.
    - `max_target_bytes`: requests whose target (raw path and query) is longer than this many
      bytes are refused with 400 by the request gate, protected or not, before anything parses
      them; default 8192 (the request-line limit of common servers and proxies).

    Requests, each also AUTH0_<FIELD>:

    - `cors_preflight` (AUTH0_CORS_PREFLIGHT): let CORS preflights (``OPTIONS`` with ``Origin``
      and ``Access-Control-Request-Method``) reach the app on protected paths without a token;
      default False. Warning: a protected handler that answers OPTIONS itself (an
      ``api_route`` with OPTIONS, a mounted WSGI or GraphQL app, a proxy) then runs for anyone.
      Add Starlette's ``CORSMiddleware`` outside this middleware instead: it answers preflights
      before they reach us.

    The protected resource (RFC 9728, RFC 8707; what MCP clients discover), each also AUTH0_<FIELD>:

    - `resource_url`: the public, absolute URL of the API (``https://api.example.com/mcp``);
      when set, the middleware serves its metadata at the RFC 9728 well-known URLs and every
      challenge points to it (`resource_metadata`). It must be one of `audience`: a client
      asks Auth0 for a token with ``resource=<this URL>``, and Auth0 issues it for the API
      whose identifier it is. Default none.
    - `resource_name`, `resource_documentation`: a name and documentation URL for the metadata.
    - `tool_scopes` (AUTH0_TOOL_SCOPES, JSON): MCP method to name (or ``*``) to the scopes a
      request for it needs, read from its Mcp-Method and Mcp-Name headers, such as
      ``{"tools/call": {"delete_repo": ["repo:admin"]}}``; default none (the middleware's
      `tool_scopes` argument wins).

    mTLS-bound tokens (RFC 8705), each also AUTH0_<FIELD> (docs/mtls.md):

    - `mtls`: ``allowed`` (a token bound to a certificate, `cnf.x5t#S256`, passes only with
      that client certificate), ``required`` (only such tokens) or ``disabled`` (such tokens are
      refused); default allowed.
    - `mtls_header_format`: how a TLS-terminating proxy passes the certificate: ``rfc9440``,
      ``envoy``, ``nginx``, ``traefik`` or ``alb``; default none (only the ASGI ``tls``
      extension of a server that terminates TLS itself).
    - `mtls_header`: the header's name; default the format's usual one.
    Warning: the certificate header is ignored from any peer not in `trusted_proxies`.

    Who authenticated, and how (RFC 9470 step-up, Auth0 anonymous sessions), each also AUTH0_<FIELD>:

    - `step_up` (AUTH0_STEP_UP, JSON): prefix to requirement, such as
      ``{"/api/payments": {"acr_values": ["http://schemas.openid.net/pape/policies/2007/06/multi-factor"],
      "max_age": 300, "mfa": true}}``; a token that falls short gets 401
      `insufficient_user_authentication` naming them (`auth0_asgi.rules.step_up` in code).
    - `acr_claim`, `amr_claim`, `auth_time_claim`: the claims that carry them; default ``acr``,
      ``amr``, ``auth_time``. Auth0 reserves those names in access tokens: an Action adds them
      under namespaced names (docs/step-up.md), named here.
    - `anonymous_prefixes`: where Auth0 anonymous sessions' tokens (``anon@`` subjects) are
      accepted; default none.

    Raises ConfigurationError naming the variable and the bad value.
    """

    # The tenant and its keys
    domain: str
    audience: tuple[str, ...]
    issuer: str = ""
    algorithms: tuple[str, ...] = ("RS256",)
    jwks_url: str = ""
    prefetch_keys: bool = False
    jwks_cache_control: bool = False
    jwks_cache_ttl_min: float = 60.0
    jwks_cache_ttl_max: float = 86400.0
    discovery: bool = False
    # Validity rules
    max_token_age: float = 0.0
    token_profile: str = ""
    allowed_clients: tuple[str, ...] = ()
    required_claims: tuple[str, ...] = ()
    # DPoP
    dpop: Mode = "allowed"
    dpop_algorithms: tuple[str, ...] = ("ES256",)
    dpop_max_age: float = 300.0
    dpop_leeway: float = 30.0
    dpop_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    dpop_trusted_proxies: tuple[str, ...] = ()
    dpop_replay_url: str = field(default="", repr=False)  # may hold the Redis password
    dpop_replay_capacity: int = 100_000
    # Tunables
    leeway: float = 5.0
    jwks_cache_ttl: float = 600.0
    jwks_refresh_cooldown: float = 30.0
    jwks_fetch_timeout: float = 5.0
    jwks_retry_interval: float = 5.0
    jwks_max_stale: float = 14400.0
    max_token_bytes: int = 8192
    token_cache_size: int = 1024
    max_target_bytes: int = 8192
    # Requests
    cors_preflight: bool = False
    # The protected resource
    resource_url: str = ""
    resource_name: str = ""
    resource_documentation: str = ""
    tool_scopes: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict, hash=False)
    # mTLS-bound tokens
    mtls: Mode = "allowed"
    mtls_header_format: str = ""
    mtls_header: str = ""
    mtls_trusted_proxies: tuple[str, ...] = ()
    # Who authenticated, and how
    step_up: Mapping[str, StepUp] = field(default_factory=dict, hash=False)
    acr_claim: str = "acr"
    amr_claim: str = "amr"
    auth_time_claim: str = "auth_time"
    anonymous_prefixes: tuple[str, ...] = ()
    trusted_issuers: tuple[TrustedIssuer, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        domains, trusted = resolve_domains(self.domain, self.issuer, self.jwks_url)
        audience = (self.audience,) if isinstance(self.audience, str) else tuple(self.audience)
        audience = tuple(a.strip() for a in audience if a.strip())
        if not audience:
            raise ConfigurationError(f"AUTH0_API_AUDIENCE={self.audience!r}: name at least one API identifier")
        algorithms = (self.algorithms,) if isinstance(self.algorithms, str) else tuple(self.algorithms)
        for name, tunable in TUNABLES.items():
            value = getattr(self, name)
            tunable.check(name, value, value)
        for name in SWITCHES:
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name}={getattr(self, name)!r}: must be True or False")
        if self.discovery and self.jwks_url:
            raise ConfigurationError(f"AUTH0_JWKS_URL={self.jwks_url!r}: not with AUTH0_DISCOVERY; discovery finds it")
        if self.jwks_cache_ttl_min > self.jwks_cache_ttl_max:
            raise ConfigurationError(
                f"AUTH0_JWKS_CACHE_TTL_MIN={self.jwks_cache_ttl_min:g} must not exceed AUTH0_JWKS_CACHE_TTL_MAX="
                f"{self.jwks_cache_ttl_max:g} (jwks_cache_ttl_min and _max; defaults 60 and 86400): lower the "
                "first or raise the second"
            )
        object.__setattr__(self, "domain", domains)
        object.__setattr__(self, "audience", audience)
        object.__setattr__(self, "algorithms", check_algorithms(algorithms))
        object.__setattr__(self, "issuer", trusted[0].issuer)
        object.__setattr__(self, "jwks_url", trusted[0].jwks_url)
        object.__setattr__(self, "trusted_issuers", trusted)
        self._check_rules()
        self._check_dpop()
        self._check_resource()
        self._check_step_up()

    def _check_step_up(self) -> None:
        for name in ("acr_claim", "amr_claim", "auth_time_claim"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ConfigurationError(f"AUTH0_{name.upper()}={getattr(self, name)!r}: name the claim")
        prefixes = (self.anonymous_prefixes,) if isinstance(self.anonymous_prefixes, str) else self.anonymous_prefixes
        object.__setattr__(self, "anonymous_prefixes", tuple(prefixes))
        step_up = self.step_up
        if not all(isinstance(value, StepUp) for value in step_up.values()):
            step_up = parse_step_up(step_up, self.acr_claim, self.amr_claim, self.auth_time_claim)
        object.__setattr__(self, "step_up", MappingProxyType(dict(step_up)))

    def _check_resource(self) -> None:
        object.__setattr__(self, "tool_scopes", check_tool_scopes(self.tool_scopes, "AUTH0_TOOL_SCOPES"))
        if self.resource_documentation:
            check_resource_url(self.resource_documentation, "AUTH0_RESOURCE_DOCUMENTATION")
        if not self.resource_url:
            return
        resource = check_resource_url(self.resource_url)
        if resource not in self.audience:
            raise ConfigurationError(audience_mismatch(resource, self.audience))

    def _check_rules(self) -> None:
        profile = self.token_profile.strip().lower()
        if profile not in TOKEN_PROFILES:
            raise ConfigurationError(f"AUTH0_TOKEN_PROFILE={self.token_profile!r}: must be empty or 'rfc9068'")
        object.__setattr__(self, "token_profile", profile)
        for name in ("allowed_clients", "required_claims"):
            value = getattr(self, name)
            items = (value,) if isinstance(value, str) else tuple(value)
            if not all(isinstance(item, str) and item.strip() for item in items):
                raise ConfigurationError(f"AUTH0_{name.upper()}={value!r}: give non-empty names")
            object.__setattr__(self, name, tuple(dict.fromkeys(item.strip() for item in items)))

    def _check_dpop(self) -> None:
        def as_tuple(name: str) -> tuple[str, ...]:
            value = getattr(self, name)
            return (value,) if isinstance(value, str) else tuple(value)

        object.__setattr__(self, "dpop", check_mode(self.dpop))
        object.__setattr__(self, "dpop_algorithms", check_dpop_algorithms(as_tuple("dpop_algorithms")))
        object.__setattr__(self, "dpop_origins", check_origins(as_tuple("dpop_origins")))
        object.__setattr__(self, "dpop_replay_url", check_replay_url(self.dpop_replay_url))
        object.__setattr__(self, "mtls", check_mode(self.mtls, "AUTH0_MTLS"))
        named: dict[str, tuple[str, ...]] = {}
        for name in ("trusted_proxies", "dpop_trusted_proxies", "mtls_trusted_proxies"):
            proxies = check_proxies(as_tuple(name), f"AUTH0_{name.upper()}")
            if proxies:
                named[name] = proxies
        if len({frozenset(proxies) for proxies in named.values()}) > 1:
            first, second = (f"AUTH0_{name.upper()}" for name in list(named)[:2])
            raise ConfigurationError(
                f"{first} and {second} name different proxies: one rule trusts one set for DPoP and mTLS "
                "alike; set AUTH0_TRUSTED_PROXIES alone (the other two are its old names)"
            )
        trusted = next(iter(named.values()), ())
        for name in ("trusted_proxies", "dpop_trusted_proxies", "mtls_trusted_proxies"):
            object.__setattr__(self, name, trusted)
        object.__setattr__(self, "mtls_header_format", self.mtls_header_format.strip().lower())
        header = self.mtls_header.strip()
        if header and not _HEADER_NAME.fullmatch(header):
            raise ConfigurationError(
                f"AUTH0_MTLS_HEADER={self.mtls_header!r}: give a header name, such as X-SSL-Client-Cert"
            )
        if header and not self.mtls_header_format:
            raise ConfigurationError(
                f"AUTH0_MTLS_HEADER={self.mtls_header!r}: set AUTH0_MTLS_HEADER_FORMAT too (rfc9440, envoy, nginx, "
                "traefik or alb), or the header is never read"
            )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: str | os.PathLike[str] | None = ".env",
        **tunables: Any,
    ) -> Auth0Settings:
        """Read AUTH0_* variables from `environ` (default `os.environ`) and an optional `.env` file.

        Every field can be given as AUTH0_<FIELD> (``AUTH0_LEEWAY=10``,
        ``AUTH0_TOKEN_CACHE_SIZE=0``), except `audience`, read from AUTH0_API_AUDIENCE as in
        Auth0's guides. The environment wins over the file; a missing file is not an error.
        `tunables` are keyword fields (``leeway=10``) and win over both. Raises
        ConfigurationError naming the first missing or invalid variable and its value.
        """
        variables = read_variables(environ, env_file)
        settings = cls(**read_environment(variables, tunables))
        warn_unknown(variables)
        return settings
