"""auth0_asgi.testing: an offline Auth0 stand-in for demos and for testing apps that use auth0-asgi.

- `LocalIssuer` mints real signed tokens (and ready-made bad ones), publishes its JWKS and
  rotates keys. It is a key source: ``Auth0Middleware(app, settings=issuer.settings(), keys=issuer)``
  verifies in process, with no network.
- `serve_issuer(issuer)` serves its token, JWKS and discovery endpoints on a loopback port, for
  end-to-end tests through a real server; `issuer.environ()` then gives the AUTH0_* variables.
- `issuer_app(issuer)` is the same endpoints as an ASGI app, to mount beside an app.
- `DPoPKey()` is a client's DPoP key: `key.proof(method, url, access_token=token)` signs a proof,
  and `issuer.dpop_token(key)` mints a token bound to it (`cnf.jkt`).
- `client_certificate()` is a client's mTLS certificate, `proxy_header(cert, "envoy")` the header
  a TLS-terminating proxy passes it in, and `issuer.mtls_token(cert.thumbprint)` a token bound to it.
- `trust_issuers(a, b)` stands several issuers in for one tenant with custom domains:
  ``Auth0Middleware(app, **trust_issuers(a, b))``; the `auth0_issuer_factory` fixture makes them.
- `load_or_create_private_key(path)` keeps an issuer's key in a file, so that several worker
  processes (and restarts) share it: ``LocalIssuer(private_key=load_or_create_private_key(p))``.
- With the package installed, pytest loads fixtures from `auth0_asgi.testing.pytest_plugin`.
"""

from ._certificates import ClientCertificate, client_certificate, proxy_header
from ._dpop import DPoPKey
from ._http import ISSUER_PATHS, issuer_app, serve_issuer
from ._issuer import DEFAULT_AUDIENCE, DEFAULT_ISSUER, LocalIssuer
from ._keys import (
    DEFAULT_DEMO_URL,
    DEMO_VARIABLES,
    PrivateKey,
    demo_issuer_url,
    demo_key_path,
    generate_private_key,
    load_or_create_private_key,
    tenant_without_domain,
)
from ._tenant import trust_issuers

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_DEMO_URL",
    "DEFAULT_ISSUER",
    "DEMO_VARIABLES",
    "ISSUER_PATHS",
    "ClientCertificate",
    "DPoPKey",
    "LocalIssuer",
    "PrivateKey",
    "client_certificate",
    "demo_issuer_url",
    "demo_key_path",
    "generate_private_key",
    "issuer_app",
    "load_or_create_private_key",
    "proxy_header",
    "serve_issuer",
    "tenant_without_domain",
    "trust_issuers",
]
