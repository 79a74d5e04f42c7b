"""The MCP SDK's view of an accepted request (the `mcp` extra: ``pip install "auth0-asgi[mcp]"``).

The official `mcp` SDK verifies no token itself: it trusts what an authentication middleware
left in ``scope["user"]`` when that is its own `AuthenticatedUser`, and its accessor
`get_access_token()` reads a context variable its `AuthContextMiddleware` sets, which a server
built without the SDK's own auth settings does not install. So, with the SDK installed and a
resource URL configured, `Auth0Middleware` makes each accepted request's user an `MCPUser`
(an `Auth0User` that is also the SDK's `AuthenticatedUser`) and sets that variable while the
app runs. Then, unchanged: `get_access_token()` in a tool, the stateful transport's binding of
a session to the principal that opened it (client id, issuer and subject), and the SDK's
``requestState`` principal binding.

Nothing here runs for a server that does not use the SDK; the core never imports this module
unless the SDK is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final
from urllib.parse import urlsplit

try:
    from mcp.server.auth.middleware.auth_context import auth_context_var
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken
    from mcp.server.transport_security import TransportSecuritySettings
except ImportError as exc:  # pragma: no cover - the extra is installed wherever the tests run
    raise ImportError('auth0_asgi.mcp needs the MCP SDK: pip install "auth0-asgi[mcp]"') from exc

from .settings import Auth0Settings
from .user import Auth0User

__all__ = ["MCPUser", "sdk_user_context", "transport_security", "user_factory"]

# What the SDK allows by default (an app built for host="127.0.0.1"), kept so that the server still
# answers on this machine: a health check, a local client.
_LOOPBACK_HOSTS: Final = ("127.0.0.1:*", "localhost:*", "[::1]:*")
_LOOPBACK_ORIGINS: Final = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


def _client_id(claims: Mapping[str, Any]) -> str:
    # Auth0 names the client in azp; RFC 9068 tokens in client_id.
    client = claims.get("azp", claims.get("client_id"))
    return client if isinstance(client, str) else ""


class MCPUser(Auth0User, AuthenticatedUser):  # type: ignore[misc]  # its scopes: a frozenset, not a list
    """An `Auth0User` that the MCP SDK takes for its own authenticated user.

    `access_token` is the SDK's `AccessToken` of the request's token: `token`, `client_id`
    (`azp` or `client_id`), `scopes`, `expires_at` (`exp`), `resource` (the configured resource
    URL when the token's audience holds it, else its first audience), `subject` (`sub`) and
    `claims` (read-only). A new one on every read: the user is shared by every request with
    the same token, and the SDK's model could be changed by whoever holds it.
    """

    __slots__ = ("_resource", "_token")

    _resource: str
    _token: str

    def __init__(self, claims: Mapping[str, Any], token: str, resource_url: str = "") -> None:
        Auth0User.__init__(self, claims)
        _set_token(self, token)
        _set_resource(self, resource_url)

    @property
    def access_token(self) -> AccessToken:  # type: ignore[override]  # the SDK's attribute, read-only here
        claims = self.claims
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or ())
        resource = self._resource if self._resource in audiences else next(iter(audiences), None)
        expires = claims.get("exp")
        return AccessToken.model_construct(
            token=self._token,
            client_id=_client_id(claims),
            scopes=list(self.sorted_scopes),
            expires_at=int(expires) if isinstance(expires, int | float) else None,
            resource=resource if isinstance(resource, str) else None,
            subject=self.identity or None,
            claims=claims,
        )

    @property
    def username(self) -> str:  # type: ignore[override]  # SimpleUser's attribute: the principal is the client
        return _client_id(self.claims)

    def __repr__(self) -> str:
        return f"MCPUser(identity={self.identity!r})"


_set_token = vars(MCPUser)["_token"].__set__
_set_resource = vars(MCPUser)["_resource"].__set__


def user_factory(resource_url: str) -> Callable[[Mapping[str, Any], str], Auth0User]:
    """The verifier's user factory that makes `MCPUser`s for the resource at `resource_url`."""

    def make(claims: Mapping[str, Any], token: str) -> Auth0User:
        return MCPUser(claims, token, resource_url)

    return make


def sdk_user_context() -> ContextVar[Any]:
    """The context variable the SDK's `get_access_token()` reads."""
    return auth_context_var


def transport_security(resource_url: str | None = None) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection for a server reached at `resource_url` (default the
    settings' AUTH0_RESOURCE_URL): its Host and its origin allowed, and loopback ones as before.

    ``server.streamable_http_app()`` keeps the SDK's default for ``host="127.0.0.1"``: only
    loopback Hosts and Origins, so behind ``https://api.example.com/mcp`` every request gets
    ``421 Invalid Host header``, and a browser client's Origin a 403. Pass this instead:
    ``server.streamable_http_app(transport_security=transport_security())``. With no resource
    URL configured, the SDK's loopback default.
    """
    url = resource_url if resource_url is not None else Auth0Settings.from_env().resource_url
    public = urlsplit(url) if url else None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*([public.netloc] if public else []), *_LOOPBACK_HOSTS],
        allowed_origins=[*([f"{public.scheme}://{public.netloc}"] if public else []), *_LOOPBACK_ORIGINS],
    )
