"""RequestAuthenticator: the verified caller of one request, from its credentials to its authorization.

The order, each step refusing what it cannot pass: read the credentials (Bearer or DPoP); for
DPoP, check the proof before anything else (garbage costs no token parse and no key fetch);
verify the token, its `cnf` binding included (a DPoP key, a client certificate); authorize
(anonymous sessions, scopes, rules); and last, for DPoP, spend the proof's jti (a refused
request spends none).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from starlette.types import Scope

from auth0_asgi._binding.htu import ORIGIN_HEADERS, Origins
from auth0_asgi._headers import RequestHeaders
from auth0_asgi._log import fields
from auth0_asgi.dpop import ProofChecker
from auth0_asgi.errors import InsufficientScopeError, InsufficientUserAuthenticationError, ReplayedProofError
from auth0_asgi.mtls import ClientCertificates
from auth0_asgi.replay import ReplayStore
from auth0_asgi.settings import Auth0Settings
from auth0_asgi.user import Auth0User
from auth0_asgi.verifier import TokenVerifier

from .credentials import CREDENTIAL_HEADERS, Credentials, read_credentials
from .protection import NOTHING_MORE, Requirement

__all__ = ["NOTHING_MORE", "RequestAuthenticator", "authorize"]

logger = logging.getLogger("auth0_asgi")


def authorize(user: Auth0User, requirement: Requirement) -> None:
    """Raise InsufficientScopeError unless `user` satisfies `requirement` (checked every request)."""
    if user.is_anonymous and not requirement.anonymous:
        # Nobody signed in: the client must have the user authenticate (RFC 9470).
        raise InsufficientUserAuthenticationError(reason="an anonymous session's token")
    if not requirement.scopes <= user.scopes:
        raise InsufficientScopeError(requirement.scopes)
    for rule in requirement.rules:
        rule.enforce(user)


class RequestAuthenticator:
    """Authenticates requests for one middleware: its `verifier`, `replay_store` and the
    credential `schemes` it accepts (lower-case), with the DPoP and mTLS settings of `settings`."""

    __slots__ = ("_certificates", "_origins", "_proofs", "_replay_store", "_schemes", "_verifier", "header_names")

    def __init__(
        self, settings: Auth0Settings, verifier: TokenVerifier, replay_store: ReplayStore, schemes: frozenset[str]
    ) -> None:
        self._verifier = verifier
        self._replay_store = replay_store
        self._schemes = schemes
        self._proofs = ProofChecker(
            algorithms=settings.dpop_algorithms, max_age=settings.dpop_max_age, leeway=settings.dpop_leeway
        )
        self._origins = Origins(settings.dpop_origins, settings.trusted_proxies)
        self._certificates: ClientCertificates | None = None
        if settings.mtls != "disabled":
            self._certificates = ClientCertificates(
                settings.mtls_header_format, settings.mtls_header, settings.trusted_proxies
            )
        #: The fields `authenticate` reads: what the request gate must gather for it.
        self.header_names: frozenset[bytes] = CREDENTIAL_HEADERS | ORIGIN_HEADERS
        if self._certificates is not None:
            self.header_names |= self._certificates.header_names
        if settings.mtls == "required" and not settings.mtls_header_format:
            logger.warning(
                "AUTH0_MTLS=required but AUTH0_MTLS_HEADER_FORMAT is not set: a client certificate can then only "
                "come from the server's ASGI tls extension, which uvicorn and Hypercorn do not offer, so every "
                "token would be refused: set the header your TLS-terminating proxy writes (docs/mtls.md)",
                extra=fields("mtls_no_certificate_source", "no_header_format"),
            )

    async def authenticate(self, scope: Scope, requirement: Requirement, headers: RequestHeaders) -> Auth0User:
        """The caller of the request in `scope`, satisfying `requirement`; raises the
        AuthenticationError to answer. `headers`: its fields as the gate gathered them (`header_names`)."""
        credentials = read_credentials(headers, self._schemes)
        # Asked only if the token is bound to a certificate: most are not, and reading one costs.
        certificate = partial(self._certificates.thumbprint, scope, headers) if self._certificates is not None else None
        if credentials.proof is None:
            user = await self._verifier.authenticate(credentials.token, certificate=certificate)
            if requirement is not NOTHING_MORE or user.is_anonymous:  # else nothing to check
                authorize(user, requirement)
            return user
        return await self._authenticate_dpop(scope, headers, credentials, requirement, certificate)

    async def _authenticate_dpop(
        self,
        scope: Scope,
        headers: RequestHeaders,
        credentials: Credentials,
        requirement: Requirement,
        certificate: Callable[[], str | None] | None,
    ) -> Auth0User:
        assert credentials.proof is not None
        # The proof first: garbage is refused without parsing the token or fetching keys.
        proof = self._proofs.check(
            credentials.proof,
            method=scope.get("method", "GET"),  # a websocket handshake is a GET
            target_matches=lambda htu: self._origins.matches(htu, scope, headers),
            access_token=credentials.token,
        )
        user = await self._verifier.authenticate(credentials.token, proof_key=proof.thumbprint, certificate=certificate)
        authorize(user, requirement)
        # Recorded last, once everything else passed: a refused request spends no jti.
        if not await self._replay_store.first_use(proof.replay_key, proof.expires_at):
            raise ReplayedProofError("jti already used")
        return user
