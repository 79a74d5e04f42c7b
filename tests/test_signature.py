"""Our direct signature checks give PyJWT's answer for every algorithm, valid or not."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from auth0_asgi._tokens.signature import signature_check

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
_MESSAGE = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"


def _private_key(algorithm: str) -> Any:
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm])
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return _RSA


def _variants(signature: bytes) -> dict[str, bytes]:
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    return {
        "valid": signature,
        "one bit flipped": flipped,
        "a byte short": signature[:-1],
        "a byte long": signature + b"\0",
        "empty": b"",
        "doubled": signature + signature,
    }


@pytest.mark.parametrize(
    "algorithm", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
)
def test_every_variant_gets_pyjwt_answer(algorithm: str) -> None:
    private = _private_key(algorithm)
    public = private.public_key()
    pyjwt = get_default_algorithms()[algorithm]
    signature = pyjwt.sign(_MESSAGE, private)
    ours = signature_check(algorithm)
    answers = {name: ours(_MESSAGE, public, value) for name, value in _variants(signature).items()}
    assert answers == {name: pyjwt.verify(_MESSAGE, public, value) for name, value in _variants(signature).items()}
    assert answers["valid"] is True
    assert not any(answer for name, answer in answers.items() if name != "valid")
    assert ours(_MESSAGE + b"x", public, signature) is False


def test_an_ecdsa_signature_of_another_curve_length_is_refused_unread() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    signature = get_default_algorithms()["ES384"].sign(_MESSAGE, private)
    # An ES384 signature (96 bytes) checked against a P-256 key: wrong length for the curve.
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert signature_check("ES256")(_MESSAGE, other, signature) is False
