"""The `cnf` table (auth0_asgi._tokens.confirmation): what a token's binding demands of a request.

One row per case: the token's `cnf`, what the request presented (a DPoP proof key, a client
certificate), the mTLS mode, and the exact refusal (class and reason) or acceptance.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from auth0_asgi._tokens.confirmation import BINDINGS, Evidence, Mode, check_confirmation, proved
from auth0_asgi.errors import BoundTokenError, CertificateBindingError, InvalidTokenError, KeyBindingError

KEY: Final = "k" * 43
CERT: Final = "c" * 43
_ABSENT: Final = object()


def _evidence(proof_key: str | None = None, certificate: str | None = None) -> Evidence:
    return Evidence(proof_key, lambda: certificate)


CASES: Final = [
    # cnf, proof key, certificate, mTLS mode, refusal (None: accepted), reason
    pytest.param(_ABSENT, None, None, "allowed", None, "", id="unbound-bearer"),
    pytest.param(_ABSENT, KEY, None, "allowed", KeyBindingError, "the token has no cnf.jkt", id="unbound-dpop"),
    pytest.param(
        _ABSENT, None, CERT, "required", CertificateBindingError,
        "an unbound token where a client certificate-bound one is required", id="unbound-mtls-required",
    ),
    pytest.param({"jkt": KEY}, KEY, None, "allowed", None, "", id="jkt-proved"),
    pytest.param({"jkt": KEY, "other": 1}, KEY, None, "allowed", None, "", id="jkt-proved-beside-unknown"),
    pytest.param(
        {"jkt": "x" * 43}, KEY, None, "allowed", KeyBindingError, "cnf.jkt is not the proof key's thumbprint",
        id="jkt-other-key",
    ),
    pytest.param({"jkt": 7}, KEY, None, "allowed", KeyBindingError, "cnf.jkt not a string", id="jkt-not-text"),
    pytest.param({"jkt": "é" * 43}, KEY, None, "allowed", KeyBindingError, "is not the proof key", id="jkt-non-ascii"),
    pytest.param({"jkt": KEY}, None, None, "allowed", BoundTokenError, "cnf claim on a bearer", id="jkt-bearer"),
    pytest.param({"x5t#S256": CERT}, None, CERT, "allowed", None, "", id="x5t-proved"),
    pytest.param({"x5t#S256": CERT}, None, CERT, "required", None, "", id="x5t-proved-required"),
    pytest.param(
        {"x5t#S256": CERT}, None, None, "allowed", CertificateBindingError, "no trusted client certificate",
        id="x5t-no-certificate",
    ),
    pytest.param(
        {"x5t#S256": CERT}, None, "d" * 43, "allowed", CertificateBindingError,
        "cnf.x5t#S256 is not the client certificate's thumbprint", id="x5t-other-certificate",
    ),
    pytest.param(
        {"x5t#S256": CERT}, None, CERT, "disabled", BoundTokenError,
        "client certificate-bound token, and AUTH0_MTLS is disabled", id="x5t-mtls-disabled",
    ),
    # A member naming no certificate still binds the token: before the table, a null x5t#S256
    # passed as unbound.
    pytest.param(
        {"x5t#S256": None}, None, CERT, "allowed", CertificateBindingError, "the token has no cnf.x5t#S256",
        id="x5t-null",
    ),
    pytest.param(
        {"x5t#S256": CERT, "other": 1}, None, CERT, "allowed", BoundTokenError, "cnf claim on a bearer token",
        id="x5t-beside-unknown-as-bearer",
    ),
    pytest.param({"jkt": KEY, "x5t#S256": CERT}, KEY, CERT, "allowed", None, "", id="both-proved"),
    pytest.param(
        {"jkt": KEY, "x5t#S256": CERT}, KEY, None, "allowed", CertificateBindingError,
        "no trusted client certificate", id="both-certificate-missing",
    ),
    pytest.param(
        {"jkt": KEY}, KEY, None, "required", CertificateBindingError,
        "a token bound to no client certificate where a client certificate-bound one is required",
        id="jkt-only-mtls-required",
    ),
    pytest.param({}, None, None, "allowed", BoundTokenError, "cnf claim on a bearer token", id="empty-cnf"),
    pytest.param(None, None, None, "allowed", BoundTokenError, "cnf claim on a bearer token", id="null-cnf"),
    pytest.param("x", None, None, "allowed", BoundTokenError, "cnf claim on a bearer token", id="text-cnf"),
    pytest.param(None, KEY, None, "allowed", KeyBindingError, "the token has no cnf.jkt", id="null-cnf-dpop"),
]  # fmt: skip


@pytest.mark.parametrize(("cnf", "proof_key", "certificate", "mtls", "refusal", "reason"), CASES)
def test_what_each_binding_demands(
    cnf: object,
    proof_key: str | None,
    certificate: str | None,
    mtls: Mode,
    refusal: type[Exception] | None,
    reason: str,
) -> None:
    claims: dict[str, Any] = {} if cnf is _ABSENT else {"cnf": cnf}
    evidence = _evidence(proof_key, certificate)
    if refusal is None:
        check_confirmation(claims, evidence, {"mtls": mtls})
        return
    with pytest.raises(InvalidTokenError, match=reason) as raised:
        check_confirmation(claims, evidence, {"mtls": mtls})
    assert type(raised.value) is refusal


def test_the_certificate_is_asked_only_of_a_certificate_bound_token() -> None:
    asked: list[bool] = []

    def certificate() -> str | None:
        asked.append(True)
        return CERT

    check_confirmation({"cnf": {"jkt": KEY}}, Evidence(KEY, certificate), {"mtls": "allowed"})
    check_confirmation({}, Evidence(None, certificate), {"mtls": "allowed"})
    assert asked == []
    check_confirmation({"cnf": {"x5t#S256": CERT}}, Evidence(None, certificate), {"mtls": "allowed"})
    assert asked == [True]


@pytest.mark.parametrize(
    ("cnf", "label"),
    [
        pytest.param({"jkt": KEY}, "dpop", id="key"),
        pytest.param({"x5t#S256": CERT}, "mtls", id="certificate"),
        pytest.param({"jkt": KEY, "x5t#S256": CERT}, "dpop+mtls", id="both"),
        pytest.param({"other": 1}, None, id="unknown"),
        pytest.param("x", None, id="not-an-object"),
    ],
)
def test_what_an_accepted_token_proved_is_named_by_the_table(cnf: object, label: str | None) -> None:
    assert proved({"cnf": cnf}) == label
    assert proved({}) is None


def test_each_row_is_one_method_with_its_own_member_and_label() -> None:
    assert [(row.member, row.label, row.announced) for row in BINDINGS] == [
        ("jkt", "dpop", True),
        ("x5t#S256", "mtls", False),
    ]
