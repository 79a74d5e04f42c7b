"""The proxy recipes in the docs, loaded into the real proxies; and tokens bound through them.

Every ``nginx``, ``haproxy`` and ``caddy`` block in docs/ must be accepted as it stands by the
proxy itself (``nginx -t``, ``haproxy -c``, ``caddy validate``): the nginx snippet once in
docs/mtls.md stopped nginx from starting. Then the mTLS recipes run for real, TLS and client
certificates included, in front of real uvicorn: a certificate-bound token passes with its
certificate, and neither without it nor with a header the client forged. `.ci/run` installs the
proxies (apt-get, as root); where one is absent its tests skip and say so.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware
from auth0_asgi.mtls import thumbprint
from auth0_asgi.testing import LocalIssuer, client_certificate, proxy_header, serve_issuer
from auth0_asgi.testing._certificates import ClientCertificate, self_signed

from ._docs import REPO, blocks
from .conftest import _rsa_private, loopback_socket, serve_process, serve_with_uvicorn

PROXIES: Final = ("nginx", "haproxy", "caddy")
UNBOUND: Final = {"detail": "The access token is not bound to the client certificate", "error": "invalid_token"}


def _binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")


def _needs(proxy: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(_binary(proxy) is None, reason=f"{proxy} is not installed (.ci/run installs it as root)")


def _recipes(language: str) -> list[tuple[str, str]]:
    return [(page.name, text) for page in sorted((REPO / "docs").glob("*.md")) for text in blocks(page, language)]


@dataclass(frozen=True)
class Files:
    """A server certificate and key, and a client's certificate and key, as PEM files."""

    server_crt: Path
    server_key: Path
    server_pem: Path  # certificate and key in one file, as HAProxy takes them
    client_crt: Path
    client_key: Path
    client_thumbprint: str


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("tls")
    made: dict[str, bytes] = {}
    for role in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = self_signed(key, f"{role}.test", datetime.timedelta(days=1))
        made[f"{role}_crt"] = certificate.public_bytes(Encoding.PEM)
        made[f"{role}_key"] = _key_pem(key)
        made[f"{role}_der"] = certificate.public_bytes(Encoding.DER)
    paths = {}
    for name in ("server_crt", "server_key", "client_crt", "client_key"):
        paths[name] = folder / f"{name}.pem"
        paths[name].write_bytes(made[name])
    paths["server_pem"] = folder / "server.pem"
    paths["server_pem"].write_bytes(made["server_crt"] + made["server_key"])
    return Files(**paths, client_thumbprint=thumbprint(made["client_der"]))


def _localised(text: str, files: Files, folder: Path) -> str:
    """A recipe with its certificate paths pointing at `files` (the docs name /etc/ssl/...)."""
    replacements = {
        "/etc/ssl/api.crt": files.server_crt,
        "/etc/ssl/api.key": files.server_key,
        "/etc/ssl/api.pem": files.server_pem,
        "/etc/ssl/clients-ca.pem": files.client_crt,
    }
    for old, new in replacements.items():
        text = text.replace(old, str(new))
    return text


def _nginx_conf(server: str, folder: Path) -> Path:
    body = server if server.lstrip().startswith("server") else f"server {{\n listen 127.0.0.1:1;\n{server}\n}}"
    conf = folder / "nginx.conf"
    conf.write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {folder};\n proxy_temp_path {folder};\n{body}\n}}\n"
    )
    return conf


def _check(proxy: str, text: str, folder: Path) -> subprocess.CompletedProcess[str]:
    binary = _binary(proxy)
    assert binary is not None
    environment = {**os.environ, "HOME": str(folder), "XDG_DATA_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}
    if proxy == "nginx":
        command = [binary, "-t", "-p", str(folder), "-c", str(_nginx_conf(text, folder))]
    elif proxy == "haproxy":
        (folder / "haproxy.cfg").write_text(text)
        command = [binary, "-c", "-f", str(folder / "haproxy.cfg")]
    else:
        (folder / "Caddyfile").write_text(text)
        command = [binary, "validate", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=environment)


@pytest.mark.parametrize("proxy", PROXIES)
def test_every_recipe_in_the_docs_loads_into_the_real_proxy(proxy: str, files: Files, tmp_path: Path) -> None:
    recipes = _recipes(proxy)
    assert recipes, f"no {proxy} recipe in docs/"  # the docs show one for each
    if _binary(proxy) is None:
        pytest.skip(f"{proxy} is not installed (.ci/run installs it as root)")
    for page, text in recipes:
        checked = _check(proxy, _localised(text, files, tmp_path), tmp_path)
        assert checked.returncode == 0, (page, checked.stdout, checked.stderr)


# --- a bound token through each mTLS recipe, for real --------------------------------------------


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(private_key=_rsa_private(0))
    with serve_issuer(issuer):
        yield issuer


async def _who(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


# The header each recipe writes, as the app is told to read it.
READS: Final = {"nginx": ("nginx", "X-SSL-Client-Cert"), "haproxy": ("rfc9440", ""), "caddy": ("rfc9440", "")}


def _mtls_recipe(proxy: str) -> str:
    (found,) = [text for page, text in _recipes(proxy) if page == "mtls.md"]
    return found


def _running(proxy: str, files: Files, folder: Path, app_port: int) -> contextlib.AbstractContextManager[int]:
    """The docs' mTLS recipe for `proxy`, on a free loopback port, in front of `app_port`."""
    sock, port = loopback_socket()
    sock.close()  # the proxy binds it; nothing else asks for a port in between
    text = _localised(_mtls_recipe(proxy), files, folder).replace("127.0.0.1:8000", f"127.0.0.1:{app_port}")
    binary = _binary(proxy)
    assert binary is not None
    environment = {**os.environ, "HOME": str(folder), "XDG_DATA_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}
    if proxy == "nginx":
        conf = _nginx_conf(text.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"), folder)
        command = [binary, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"]
    elif proxy == "haproxy":
        (folder / "haproxy.cfg").write_text(text.replace("bind :443", f"bind 127.0.0.1:{port}"))
        command = [binary, "-db", "-f", str(folder / "haproxy.cfg")]
    else:
        site = f"{{\n admin off\n}}\napi.example.com:{port} {{\n    bind 127.0.0.1"
        served = text.replace("api.example.com {", site)
        (folder / "Caddyfile").write_text(served)
        command = [binary, "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"]
    return _process(command, port, environment)


@contextlib.contextmanager
def _process(command: list[str], port: int, environment: dict[str, str]) -> Iterator[int]:
    with serve_process(command, port, env=environment):
        yield port


@pytest.mark.parametrize("proxy", [pytest.param(proxy, marks=_needs(proxy)) for proxy in PROXIES])
def test_a_bound_token_passes_through_the_recipe_only_with_its_certificate(
    proxy: str, files: Files, issuer: LocalIssuer, tmp_path: Path
) -> None:
    header_format, header = READS[proxy]
    settings = issuer.settings(
        dpop="disabled", mtls_header_format=header_format, mtls_header=header, mtls_trusted_proxies=["127.0.0.1"]
    )
    app = Auth0Middleware(Starlette(routes=[Route("/api/{rest:path}", _who)]), settings=settings)
    bound = {"Authorization": f"Bearer {issuer.mtls_token(files.client_thumbprint)}"}
    other = {"Authorization": f"Bearer {issuer.mtls_token(client_certificate('mallory').thumbprint)}"}
    name, value = proxy_header(_public_certificate(files), header_format)
    forged_header = {**bound, header or name: value}
    with contextlib.ExitStack() as running:
        app_url = running.enter_context(serve_with_uvicorn(app, proxy_headers=False))
        port = running.enter_context(_running(proxy, files, tmp_path, int(app_url.rsplit(":", 1)[1])))
        holder = running.enter_context(_client(_tls(files.client_crt, files.client_key)))
        # A thief with the token and the (public) certificate, but not its key, forging the header.
        thief = running.enter_context(_client(_tls()))
        with_certificate = _get(holder, port, bound)
        another_certificates_token = _get(holder, port, other)
        forged = _get(thief, port, forged_header)
        bare = _get(thief, port, bound)
    assert with_certificate.status_code == 200, (with_certificate.status_code, with_certificate.text)
    assert with_certificate.json() == {"sub": "local-client@clients"}
    for refused in (another_certificates_token, forged, bare):
        assert (refused.status_code, refused.json()) == (401, UNBOUND), proxy


def _get(client: httpx.Client, port: int, headers: dict[str, str]) -> httpx.Response:
    # The recipes' host name, in SNI and Host alike (Caddy refuses a mismatch once it asks for
    # client certificates), on the loopback port the proxy listens on.
    headers = {**headers, "Host": f"api.example.com:{port}"}
    extensions = {"sni_hostname": "api.example.com"}
    return client.get(f"https://127.0.0.1:{port}/api/x", headers=headers, extensions=extensions)


def _client(tls: ssl.SSLContext) -> httpx.Client:
    # From 127.0.0.2: a client's address, which the proxy writes in X-Forwarded-For, must not be
    # the proxy's own (127.0.0.1), or the rule takes the peer as one a server may have rewritten.
    return httpx.Client(transport=httpx.HTTPTransport(verify=tls, local_address="127.0.0.2"))


def _tls(certificate: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client's TLS context: the proxy's self-signed certificate trusted, and `certificate` presented."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if certificate is not None:
        context.load_cert_chain(certificate, key)
    return context


def _public_certificate(files: Files) -> ClientCertificate:
    """The client's certificate as the test kit's proxy_header takes it (what a thief could copy)."""
    certificate = x509.load_pem_x509_certificate(files.client_crt.read_bytes())
    return ClientCertificate(certificate.public_bytes(Encoding.DER), certificate.public_bytes(Encoding.PEM))
