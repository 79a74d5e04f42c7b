"""What the CLI checks tokens against: the configured tenant, or else the offline demo's issuer.

The same rule as the demo's: a tenant is configured when AUTH0_DOMAIN is set (environment or
``.env``); with no AUTH0_* variable at all but the demo's own, the demo runs offline, and the
CLI then explains its tokens: from its key file (the one the demo signs with), or from the
key set of a running demo (``--demo URL``). A partial tenant configuration is an error, never
a silent fall back to the demo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.config import Config

from auth0_asgi.errors import ConfigurationError
from auth0_asgi.settings import Auth0Settings, read_variables
from auth0_asgi.verifier import SigningKeySource

__all__ = ["TokenSource", "demo_url", "token_source"]


@dataclass(frozen=True)
class TokenSource:
    """Settings to check tokens with, the keys (None: fetch the settings' key sets), and a
    sentence saying which they are, for the first line of the CLI's output."""

    settings: Auth0Settings
    keys: SigningKeySource | None
    described: str


def _config() -> Config:
    # The variables as Auth0Settings.from_env reads them: the environment over .env (python-dotenv's rules).
    return Config(environ=read_variables())


def _demo_settings(issuer: str, jwks_url: str = "") -> Auth0Settings:
    from auth0_asgi.testing import DEFAULT_AUDIENCE

    domain = urlsplit(issuer).netloc  # the host alone: the issuer may carry a path
    return Auth0Settings(domain=domain, audience=(DEFAULT_AUDIENCE,), issuer=issuer, jwks_url=jwks_url)


def demo_url() -> str:
    """Where the offline demo runs (and its issuer): AUTH0_DEMO_URL, environment or ``.env``."""
    from auth0_asgi.testing import demo_issuer_url

    return demo_issuer_url({"AUTH0_DEMO_URL": _config()("AUTH0_DEMO_URL", default="")})


def token_source(running_demo: str | None = None) -> TokenSource:
    """The tenant's settings, or the offline demo's; ConfigurationError for a partial tenant."""
    if running_demo:
        from auth0_asgi.testing import demo_issuer_url

        identifier = demo_issuer_url({"AUTH0_DEMO_URL": running_demo})
        settings = _demo_settings(identifier, f"{identifier}.well-known/jwks.json")
        return TokenSource(settings, None, f"the offline demo running at {identifier.rstrip('/')} (its key set)")
    config = _config()
    if config("AUTH0_DOMAIN", default="").strip():
        settings = Auth0Settings.from_env()
        return TokenSource(settings, None, f"your tenant ({', '.join(t.issuer for t in settings.trusted_issuers)})")
    from auth0_asgi.testing import LocalIssuer, demo_key_path, load_or_create_private_key, tenant_without_domain

    half_configured = tenant_without_domain(read_variables())
    if half_configured:
        raise ConfigurationError(
            f"{half_configured}: set AUTH0_DOMAIN and AUTH0_API_AUDIENCE for your tenant, or unset the rest to check "
            "the offline demo's tokens"
        )
    path = demo_key_path({**os.environ, "AUTH0_DEMO_KEY_FILE": config("AUTH0_DEMO_KEY_FILE", default="")})
    if not path.is_file():
        raise ConfigurationError(
            f"AUTH0_DOMAIN is not set and the offline demo has no key yet ({path}): start it once "
            "(uvicorn demo_app:app), pass --demo URL of a running one, or set AUTH0_DOMAIN and AUTH0_API_AUDIENCE"
        )
    issuer = LocalIssuer(issuer=demo_url(), private_key=load_or_create_private_key(path))  # read, not made
    described = f"the offline demo's issuer (AUTH0_DOMAIN is not set): its key file {path}"
    return TokenSource(_demo_settings(issuer.issuer), issuer, described)
