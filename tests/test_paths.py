"""The path decision: which requests a protected prefix covers, whatever root path or spelling they come with."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from auth0_asgi import ConfigurationError
from auth0_asgi._request.paths import readings, segments
from auth0_asgi._request.protection import ProtectionRules

from . import _inprocess as review


def test_the_path_decision_memo_stays_bounded_and_right() -> None:
    rules = ProtectionRules(["/api/private"], {"/api/private/admin": ["read:admin"]})
    for n in range(5000):  # a flood of made-up paths
        assert rules.decide({"path": f"/x/{n}", "root_path": ""}) is None
    assert len(rules._decisions) <= rules._decisions.max_entries
    assert rules.decide({"path": "/API//private/admin/x", "root_path": ""}) == (frozenset({"read:admin"}), (), False)
    assert rules.decide({"path": "/api/private", "root_path": ""}) == (frozenset(), (), False)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/API/b/../c;x=1//", ("api", "c"), id="resolved-folded-cut"),
        pytest.param("/../../a", ("a",), id="above-the-root"),
        pytest.param("/a\\b/./c", ("a", "b", "c"), id="backslash-and-dot"),
    ],
)
def test_the_resolved_normal_form(path: str, expected: tuple[str, ...]) -> None:
    assert segments(path) == expected
    # It is one of the readings the protection decision considers, never the only one.
    assert expected in set(readings(path, depth=len(expected)))


# From the outside review (issue 18), finding 6: root_path set inside the wrapped app.


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:The `root_path` parameter is deprecated")  # deprecated, not gone
@pytest.mark.parametrize("prefix", ["/api/private", "/private"])
@pytest.mark.parametrize("path", ["/private", "/api/private"])
async def test_an_inner_root_path_leaves_no_spelling_unprotected(prefix: str, path: str) -> None:
    app = FastAPI(root_path="/api")

    @app.get("/private")
    async def private() -> dict[str, str]:
        return {"message": "reached"}

    response = await review.call(review.middleware(app, protected_prefixes=[prefix]), path)
    assert (response.status_code, response.headers.get_list("www-authenticate")) == (401, review.challenge())


# From the outside review (issue 18), finding 9: a prefix that can never match.


@pytest.mark.parametrize(
    "prefix", ["/api/%70rivate", "/api/private ", "/api/private\n", "/api/\tx", "/api/x?y", "/a#b"]
)
def test_a_prefix_that_can_never_match_is_refused_at_start_up(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="protected prefix"):
        ProtectionRules([prefix], {})


@pytest.mark.parametrize(
    ("path", "root_path", "below", "full"),
    [
        pytest.param("/api/private", "/api", "/private", "/api/private", id="kept-in-the-path"),
        pytest.param("/api", "/api", "", "/api", id="the-root-itself"),
        pytest.param("/private", "/api", None, "/api/private", id="left-out-of-the-path"),
        pytest.param("/apix", "/api", None, "/api/apix", id="not-on-a-segment-boundary"),
        pytest.param("/x", "/api/", None, "/api/x", id="a-root-path-with-a-slash"),
        pytest.param("/x", "", None, "/x", id="no-root-path"),
    ],
)
def test_where_root_path_and_path_meet(path: str, root_path: str, below: str | None, full: str) -> None:
    # Issue 30: the path decision and DPoP's htu read root_path each their own way ("/apix" under
    # "/api" was "/apix" to one and "/api/apix" to the other). One reading now serves both.
    from auth0_asgi._binding.htu import _request_path
    from auth0_asgi._uri import below_root, full_path

    assert (below_root(path, root_path), full_path(path, root_path)) == (below, full)
    assert _request_path(None, path, root_path) == full
