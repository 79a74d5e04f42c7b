"""Every refusal has its own fixed reason code: the value events, metrics and logs carry."""

from __future__ import annotations

import re

from auth0_asgi import errors


def _every_subclass(cls: type[errors.AuthenticationError]) -> list[type[errors.AuthenticationError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_every_subclass(sub)]
    return found


def test_each_refusal_class_has_a_code_of_its_own() -> None:
    classes = _every_subclass(errors.AuthenticationError)
    codes = [cls.code for cls in classes]
    assert len(classes) == 24
    assert len(set(codes)) == len(codes), sorted(codes)
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", code) for code in codes)
    assert errors.AuthenticationError.code not in codes


def test_a_claim_rule_refusal_is_told_apart_from_a_missing_scope() -> None:
    assert errors.InsufficientScopeError(["read:x"]).code == "insufficient_scope"
    assert errors.InsufficientScopeError(reason="rule x not met").code == "rule_not_met"
