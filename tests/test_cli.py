"""``auth0-asgi`` / ``python -m auth0_asgi``, run as a subprocess against a loopback key server."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

import auth0_asgi
from auth0_asgi._cli import main
from auth0_asgi.testing import DEFAULT_AUDIENCE, DEFAULT_DEMO_URL, LocalIssuer, load_or_create_private_key, serve_issuer

from ._docs import block
from .conftest import AUDIENCE, DOMAIN, ISSUER, JWKSServer, TokenMaker, _rsa_private, loopback_socket


class Runner:
    """Runs the command as a subprocess (what users do), or in process through `main` (so that
    coverage sees it); every test below runs both ways."""

    def __init__(self, mode: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.mode, self._monkeypatch, self._capsys = mode, monkeypatch, capsys

    def __call__(
        self, tmp_path: Path, *arguments: str, stdin: str = "", **variables: str
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AUTH0_")}
        if self.mode == "subprocess":
            return subprocess.run(
                [sys.executable, "-m", "auth0_asgi", *arguments],
                cwd=tmp_path,  # no stray .env
                env={**environment, **variables},
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        with self._monkeypatch.context() as patch:
            patch.chdir(tmp_path)
            for name in os.environ:
                if name.startswith("AUTH0_"):
                    patch.delenv(name)
            for name, value in variables.items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            out = io.StringIO()
            status = main(list(arguments), out=out)
        return subprocess.CompletedProcess(arguments, status, out.getvalue(), self._capsys.readouterr().err)


@pytest.fixture(params=["subprocess", "in-process"])
def run(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    return Runner(request.param, monkeypatch, capsys)


@pytest.fixture
def tenant(jwks_server: JWKSServer) -> dict[str, str]:
    return {"AUTH0_DOMAIN": DOMAIN, "AUTH0_API_AUDIENCE": AUDIENCE, "AUTH0_JWKS_URL": jwks_server.url}


def _lines(result: subprocess.CompletedProcess[str], marker: str) -> list[str]:
    return [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(marker)]


def test_explain_accepts_a_valid_token_and_passes_every_check(
    run: Runner, tmp_path: Path, tenant: dict[str, str], make_token: TokenMaker, jwks_server: JWKSServer
) -> None:
    token = make_token()
    result = run(tmp_path, "explain", token, **tenant)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _lines(result, "FAIL") == []
    checks = [line.split()[1].rstrip(":") for line in _lines(result, "PASS")]
    assert checks == ["structure", "algorithm", "issuer", "times", "audience", "subject", "binding", "key", "signature"]
    assert result.stdout.strip().endswith("verdict: accepted")
    assert json.loads(result.stdout.split("claims: ", 1)[1].splitlines()[0])["sub"] == "client-42@clients"
    # Only the configured key set was fetched, and the token went nowhere.
    assert [request["path"] for request in jwks_server.requests] == ["/.well-known/jwks.json"]
    assert all(token not in json.dumps(request) for request in jwks_server.requests)


@pytest.mark.parametrize(
    ("claims", "failing", "verdict"),
    [
        pytest.param(
            {"exp": int(time.time()) - 200},
            "times",
            "refused: The access token has expired (401 invalid_token)",
            id="expired",
        ),
        pytest.param(
            {"aud": "https://other.example"},
            "audience",
            "refused: The access token was not issued for this API (401 invalid_token)",
            id="audience",
        ),
        pytest.param(
            {"iss": ISSUER.rstrip("/")},
            "issuer",
            "refused: The access token issuer is not trusted (401 invalid_token)",
            id="iss",
        ),
        pytest.param(
            {"cnf": {"jkt": "x"}},
            "binding",
            "refused: The access token is bound to a key and cannot be used as a bearer token (401",
            id="bound",
        ),
    ],
)
def test_explain_names_the_failing_check_and_the_answer_a_worker_gives(
    run: Runner,
    tmp_path: Path,
    tenant: dict[str, str],
    make_token: TokenMaker,
    claims: dict[str, Any],
    failing: str,
    verdict: str,
) -> None:
    result = run(tmp_path, "explain", **tenant, stdin=make_token(**claims) + "\n")  # from stdin
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line.split()[1].rstrip(":") for line in _lines(result, "FAIL")] == [failing]
    assert verdict in _lines(result, "verdict:")[0]


@pytest.mark.parametrize(
    ("claims", "environment", "lines"),
    [
        pytest.param(
            {}, {"AUTH0_REQUIRED_CLAIMS": "org_id"}, ["FAIL  validity rules: no 'org_id' claim"], id="required-claim"
        ),
        pytest.param({"act": "not-an-actor"}, {}, ["FAIL  delegation: act is not an object"], id="malformed-act"),
        pytest.param(
            {"cnf": {"x5t#S256": "c" * 43}},
            {"AUTH0_MTLS": "disabled"},
            ["FAIL  binding: client certificate-bound token, and AUTH0_MTLS is disabled"],
            id="certificate-bound-mtls-disabled",
        ),
    ],
)
def test_explain_prints_what_the_worker_s_own_checks_found(
    run: Runner,
    tmp_path: Path,
    tenant: dict[str, str],
    make_token: TokenMaker,
    claims: dict[str, Any],
    environment: dict[str, str],
    lines: list[str],
) -> None:
    # Issue 30: the CLI printed its own restatement of the checks, so a token the validity rules
    # refused passed every line and was then refused by the verdict.
    result = run(tmp_path, "explain", make_token(**claims), **tenant, **environment)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _lines(result, "FAIL") == lines
    assert _lines(result, "verdict:")[0].startswith("verdict: refused: ")


def test_explain_notes_a_certificate_bound_token_it_cannot_present(
    run: Runner, tmp_path: Path, tenant: dict[str, str], make_token: TokenMaker
) -> None:
    result = run(tmp_path, "explain", make_token(cnf={"x5t#S256": "c" * 43}), **tenant)
    assert _lines(result, "NOTE  binding") == [
        "NOTE  binding: bound to a client certificate (cnf x5t#S256): it passes only over that client's mTLS connection"
    ]
    assert _lines(result, "FAIL") == []


def test_explain_says_the_likely_cause(
    run: Runner, tmp_path: Path, tenant: dict[str, str], make_token: TokenMaker
) -> None:
    result = run(tmp_path, "explain", make_token(iss=ISSUER.rstrip("/")), **tenant)
    assert _lines(result, "likely cause (issuer_spelling):")[0].endswith("(with the slash)")
    placeholder = run(tmp_path, "explain", "undefined", **tenant)
    assert placeholder.returncode == 1
    assert _lines(placeholder, "FAIL")[0] == (
        "FAIL  structure: not a JWT (header.payload.signature, each base64url): not three base64url segments"
    )
    assert _lines(placeholder, "likely cause (placeholder_token)")


def test_explain_reports_a_signature_that_does_not_verify(
    run: Runner, tmp_path: Path, tenant: dict[str, str], make_token: TokenMaker
) -> None:
    head, _, signature = make_token().rpartition(".")
    tampered = f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    result = run(tmp_path, "explain", tampered, **tenant)
    assert result.returncode == 1
    assert _lines(result, "FAIL") == [
        "FAIL  signature: does not match the key: the token was changed, or signed by another"
    ]
    assert "The access token signature is invalid" in _lines(result, "verdict:")[0]


def test_check_reports_each_issuer_and_its_keys(run: Runner, tmp_path: Path, tenant: dict[str, str]) -> None:
    result = run(tmp_path, "check", **tenant)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"issuer {ISSUER}" in result.stdout
    assert "1 usable key(s)" in result.stdout
    assert "kid 'rsa-1': RS256" in result.stdout
    assert "DPoP: allowed; replay store: per process" in result.stdout


def test_check_fails_when_a_key_set_yields_no_key(
    run: Runner, tmp_path: Path, tenant: dict[str, str], jwks_server: JWKSServer
) -> None:
    jwks_server.status = 500
    result = run(tmp_path, "check", **tenant)
    assert result.returncode == 1
    host = jwks_server.url.split("/")[2]
    assert _lines(result, "FAIL") == [f"FAIL  {host} answered HTTP 500 instead of the key set"]


def test_token_mints_with_the_demo_key(run: Runner, tmp_path: Path) -> None:
    key_file = tmp_path / "demo-key.pem"
    result = run(
        tmp_path,
        "token",
        "--scope",
        "read:messages write:x",
        "--claims",
        '{"org_id": "acme"}',
        AUTH0_DEMO_KEY_FILE=str(key_file),
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    public = load_or_create_private_key(key_file).public_key()
    demo_issuer = f"{DEFAULT_DEMO_URL}/"  # the demo's, where the quickstart runs it
    claims = jwt.decode(token, public, algorithms=["RS256"], audience=DEFAULT_AUDIENCE, issuer=demo_issuer)
    assert (claims["scope"], claims["org_id"]) == ("read:messages write:x", "acme")
    # The demo's own issuer, reading the same file, signs with the same key.
    assert LocalIssuer(private_key=load_or_create_private_key(key_file)).kid == jwt.get_unverified_header(token)["kid"]


@pytest.mark.parametrize(
    ("arguments", "variables", "message"),
    [
        pytest.param(
            ("explain", "x"),
            {},
            "auth0-asgi: configuration error: AUTH0_DOMAIN is not set and the offline demo has no key yet",
            id="no-tenant-no-demo-key",
        ),
        pytest.param(
            ("explain", "x"),
            {"AUTH0_API_AUDIENCE": "https://api.example.test"},
            "AUTH0_DOMAIN is not set, but AUTH0_API_AUDIENCE is: set AUTH0_DOMAIN",
            id="partial-tenant",
        ),
        pytest.param(("explain", ""), {}, "no token given: pass it as the argument", id="empty-argument"),
        pytest.param(("explain", "Bearer"), {}, "no token given", id="the-scheme-alone"),
        pytest.param(
            ("token", "--claims", "[1]"), {}, "--claims '[1]': give a JSON object, such as", id="claims-not-an-object"
        ),
        pytest.param(("token", "--claims", "{"), {}, "--claims '{': not JSON (", id="claims-not-json"),
    ],
)
def test_configuration_problems_are_one_line_and_status_2(
    run: Runner, tmp_path: Path, arguments: tuple[str, ...], variables: dict[str, str], message: str
) -> None:
    result = run(tmp_path, *arguments, AUTH0_DEMO_KEY_FILE=str(tmp_path / "k.pem"), **variables)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("auth0-asgi")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    for command in ("explain", "check", "token"):
        assert command in result.stdout


# --- with no tenant: the offline demo's issuer --------------------------------------------


def _demo_issuer(key_file: Path) -> LocalIssuer:
    # The demo's file (made if missing), and its iss where the quickstart runs it.
    return LocalIssuer(issuer=f"{DEFAULT_DEMO_URL}/", private_key=load_or_create_private_key(key_file))


def test_with_no_tenant_explain_uses_the_offline_demo_and_says_so(run: Runner, tmp_path: Path) -> None:
    key_file = tmp_path / "demo-key.pem"
    token = _demo_issuer(key_file).token(scope="read:messages")
    result = run(tmp_path, "explain", token, AUTH0_DEMO_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        f"checking against the offline demo's issuer (AUTH0_DOMAIN is not set): its key file {key_file}"
    )
    assert _lines(result, "FAIL") == []
    assert _lines(result, "verdict:") == ["verdict: accepted"]
    # A token the demo did not sign is refused, and the output says which key was asked for.
    stranger = LocalIssuer(issuer=f"{DEFAULT_DEMO_URL}/", private_key=_rsa_private(1)).token()  # another key
    refused = run(tmp_path, "explain", stranger, AUTH0_DEMO_KEY_FILE=str(key_file))
    assert refused.returncode == 1
    assert _lines(refused, "FAIL  key:")[0].startswith("FAIL  key: kid ")
    assert _lines(refused, "verdict:")[0].startswith("verdict: refused: ")


def test_explain_and_check_read_a_running_demo_s_key_set(run: Runner, tmp_path: Path) -> None:
    issuer = LocalIssuer(private_key=_rsa_private(2))
    with serve_issuer(issuer, issuer_url=True) as url:  # its iss is where it runs, as the demo's
        result = run(tmp_path, "explain", "--demo", url, issuer.token())
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.splitlines()[0] == f"checking against the offline demo running at {url} (its key set)"
        checked = run(tmp_path, "check", "--demo", url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"kid {issuer.kid!r}: RS256" in checked.stdout


def test_check_with_no_tenant_shows_the_demo_key(run: Runner, tmp_path: Path) -> None:
    key_file = tmp_path / "demo-key.pem"
    kid = _demo_issuer(key_file).kid
    result = run(tmp_path, "check", AUTH0_DEMO_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"  the demo's signing key, read from its key file: kid {kid!r}" in result.stdout.splitlines()


def _signed(key_file: Path, header: dict[str, Any] | None = None, **claims: Any) -> str:
    issuer = _demo_issuer(key_file)
    private = load_or_create_private_key(key_file)
    payload = {k: v for k, v in issuer.claims(**claims).items() if v is not None}
    return jwt.encode(
        payload, private, algorithm="RS256", headers=header if header is not None else {"kid": issuer.kid}
    )


@pytest.mark.parametrize(
    ("header", "claims", "lines"),
    [
        pytest.param(None, {"exp": -200}, ["FAIL  times: expired 3 minutes ago"], id="expired"),  # from now
        pytest.param(None, {"nbf": [1]}, ["FAIL  times: nbf (not valid before) is not a number"], id="array-nbf"),
        pytest.param(
            None,
            {"iat": 7200},
            ["FAIL  times: iat (issued at) lies 1 hour ahead: is a clock wrong?"],
            id="clock-ahead",
        ),
        pytest.param(
            {},
            {"sub": None},
            [
                "FAIL  subject: no sub (who the token is about) claim",
                "FAIL  key: no kid (key id) in the header, so no key to check the signature with",
            ],
            id="no-kid-no-sub",
        ),
    ],
)
def test_explain_speaks_plainly_and_never_crashes(
    run: Runner, tmp_path: Path, header: dict[str, Any] | None, claims: dict[str, Any], lines: list[str]
) -> None:
    key_file = tmp_path / "demo-key.pem"
    # Times are given from now, read when the test runs rather than when it was collected.
    timed = {name: int(time.time()) + value if name in ("exp", "iat") else value for name, value in claims.items()}
    result = run(tmp_path, "explain", _signed(key_file, header, **timed), AUTH0_DEMO_KEY_FILE=str(key_file))
    assert result.returncode == 1, result.stdout + result.stderr
    assert _lines(result, "FAIL") == lines
    assert _lines(result, "verdict:")[0].startswith("verdict: refused: ")
    assert "None" not in result.stdout
    assert "Traceback" not in result.stderr


def test_a_pasted_authorization_value_is_read_with_a_note(run: Runner, tmp_path: Path) -> None:
    key_file = tmp_path / "demo-key.pem"
    token = _demo_issuer(key_file).token()
    result = run(tmp_path, "explain", f"Bearer {token}", AUTH0_DEMO_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "note: read the token after 'Bearer'; give the token alone next time"
    assert _lines(result, "verdict:") == ["verdict: accepted"]


def test_a_token_the_middleware_refuses_on_a_path_is_called_refused(
    run: Runner, tmp_path: Path, tenant: dict[str, str], make_token: TokenMaker
) -> None:
    step_up = {**tenant, "AUTH0_STEP_UP": '{"/admin": {"max_age": 300}}'}
    result = run(tmp_path, "explain", make_token(), **step_up)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _lines(result, "FAIL") == [
        "FAIL  step-up under /admin: auth_time within 300s: auth_time missing or not a time"
    ]
    assert _lines(result, "verdict:") == [
        "verdict: refused under /admin: A stronger or more recent authentication is required "
        "(401 insufficient_user_authentication)"
    ]
    anonymous = run(tmp_path, "explain", make_token(sub="anon@session-1", gty=None), **tenant)
    assert anonymous.returncode == 1
    assert _lines(anonymous, "NOTE  kind:") == [
        "NOTE  kind: an anonymous session's token (nobody signed in); accepted under nowhere "
        "(AUTH0_ANONYMOUS_PREFIXES is not set)"
    ]
    assert _lines(anonymous, "verdict:") == [
        "verdict: refused under /: A stronger or more recent authentication is required "
        "(401 insufficient_user_authentication)"
    ]


def test_check_says_why_a_key_set_has_no_usable_key(
    run: Runner, tmp_path: Path, tenant: dict[str, str], jwks_server: JWKSServer
) -> None:
    # Too small on purpose: the check must say why it is refused.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505
    encryption = {**jwks_server.keys[0], "kid": "enc-1", "use": "enc"}
    jwks_server.keys = [encryption, {**RSAAlgorithm.to_jwk(small, as_dict=True), "kid": "small"}]
    result = run(tmp_path, "check", **tenant)
    assert result.returncode == 1
    assert [line.strip() for line in result.stdout.splitlines()[-3:]] == [
        "FAIL  no usable key, so every token of this issuer would be refused:",
        "key 1 (kid 'enc-1'): use='enc': not a signing key",
        "key 2 (kid 'small'): an RSA key of 1024 bits, under the 2048 required",
    ]


def test_an_unreachable_key_set_is_explained(run: Runner, tmp_path: Path, tenant: dict[str, str]) -> None:
    sock, port = loopback_socket()
    sock.close()  # nothing listens there now
    unreachable = {**tenant, "AUTH0_JWKS_URL": f"http://127.0.0.1:{port}/.well-known/jwks.json"}
    checked = run(tmp_path, "check", **unreachable)
    assert checked.returncode == 1
    reason = (
        f"could not reach 127.0.0.1:{port} (ConnectError): nothing answered there: check the domain, and that this "
        "machine reaches it (network, proxy, DNS)"
    )
    assert _lines(checked, "FAIL") == [f"FAIL  {reason}"]
    explained = run(tmp_path, "explain", LocalIssuer(private_key=_rsa_private(0), issuer=ISSUER).token(), **unreachable)
    assert explained.returncode == 1
    assert _lines(explained, "verdict:")[0].endswith(f"(503 temporarily_unavailable): {reason}")
    assert "next fetch" not in explained.stdout


def test_help_is_plain_text(run: Runner, tmp_path: Path) -> None:
    for arguments in (["--help"], ["explain", "--help"], ["token", "--help"], ["check", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "auth0_asgi", *arguments], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0
        assert "`" not in result.stdout, arguments


def test_token_says_which_key_signs_and_warns_when_the_running_demo_has_another(run: Runner, tmp_path: Path) -> None:
    key_file = tmp_path / "demo-key.pem"
    kid = _demo_issuer(key_file).kid
    other = LocalIssuer(private_key=_rsa_private(2))
    with serve_issuer(other) as url:
        result = run(tmp_path, "token", "--demo", url, AUTH0_DEMO_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["sub"] == "demo-client@clients"  # the quickstart's client
    assert result.stderr.splitlines() == [
        f"auth0-asgi: signed with the offline demo's key {kid!r} from {key_file}",
        f"auth0-asgi: warning: the demo at {url} publishes other keys ({other.kid!r}), so it will refuse this token: "
        "it reads another key file (AUTH0_DEMO_KEY_FILE, XDG_CACHE_HOME) or uses your tenant",
    ]
    with serve_issuer(_demo_issuer(key_file)) as url:  # the demo reading the same file: no warning
        same = run(tmp_path, "token", "--demo", url, AUTH0_DEMO_KEY_FILE=str(key_file))
    assert same.stderr.splitlines() == [f"auth0-asgi: signed with the offline demo's key {kid!r} from {key_file}"]


def _as_in_the_docs(output: str, shown: str, cache: Path, kid: str) -> str:
    """`output` with what differs from machine to machine (key path, kid, iat and exp) as `shown` has it."""
    shown_kid = re.search(r"""kid["']?:? ["']([\w-]{43})["']""", shown)
    assert shown_kid is not None
    output = output.replace(str(cache), "/home/you/.cache").replace(kid, shown_kid.group(1))
    for claim in ("exp", "iat"):
        shown_value = re.search(rf'"{claim}": (\d+)', shown)
        if shown_value is not None:
            output = re.sub(rf'"{claim}": \d+', f'"{claim}": {shown_value.group(1)}', output)
    return output


def test_the_cli_page_shows_the_offline_demo_output_as_it_is(run: Runner, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    issuer = LocalIssuer(
        issuer=f"{DEFAULT_DEMO_URL}/",
        private_key=load_or_create_private_key(cache / "auth0-asgi" / "demo-signing-key.pem"),
        now=lambda: time.time() - 86400 - 200,  # a day's token, expired 200 s ago
    )
    token = issuer.token(scope="read:messages", subject="demo-client@clients")
    for command, marker in (("explain", '$ auth0-asgi explain "$TOKEN"'), ("check", "$ auth0-asgi check\n")):
        shown = block("docs/cli.md", marker, language="text")
        result = run(tmp_path, command, *([token] if command == "explain" else []), XDG_CACHE_HOME=str(cache))
        assert result.returncode == (1 if command == "explain" else 0), result.stdout + result.stderr
        produced = _as_in_the_docs(result.stdout, shown, cache, issuer.kid)
        assert produced.splitlines() == shown.splitlines()[1:], command


def test_a_token_for_a_demo_on_another_port_carries_the_issuer_it_signs_as(run: Runner, tmp_path: Path) -> None:
    # Issue 31: `uvicorn demo_app:app --port 8765` still signs as http://127.0.0.1:8000/ (no
    # AUTH0_DEMO_URL), and a token minted for --demo http://127.0.0.1:8765 was refused as
    # issuer_unknown. The running demo's discovery document says which issuer it is.
    key_file = tmp_path / "demo-key.pem"
    demo = _demo_issuer(key_file)
    with serve_issuer(demo) as url:  # served on a free port, signing as :8000
        assert url != DEFAULT_DEMO_URL
        result = run(tmp_path, "token", "--demo", url, AUTH0_DEMO_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr
    public = load_or_create_private_key(key_file).public_key()
    claims = jwt.decode(result.stdout.strip(), public, algorithms=["RS256"], audience=demo.audience)
    assert claims["iss"] == "http://127.0.0.1:8000/"


def test_token_says_plainly_when_a_tenant_is_configured(run: Runner, tmp_path: Path) -> None:
    key_file = tmp_path / "demo-key.pem"
    result = run(tmp_path, "token", AUTH0_DEMO_KEY_FILE=str(key_file), AUTH0_DOMAIN="dev-x.us.auth0.com")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "auth0-asgi: note: AUTH0_DOMAIN is set, but this token is the offline demo's: your tenant's API will "
        "refuse it. For a tenant token use your API's Test tab in the Auth0 dashboard or its /oauth/token"
    )


def test_the_command_says_its_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "auth0_asgi", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, f"auth0-asgi {auth0_asgi.__version__}")
