"""The client API's transport on a real node process: HTTPS with the configured certificate, mutual TLS
refusing clients without a certificate from the configured CA, plain HTTP only when configured (with a
warning), and a clear startup error when neither is configured."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainnode.client import Client
from chainnode.client_settings import ClientTls
from chainnode.errors import ClientError
from chainnode.home import init_home
from tests.nodeproc import free_port, kill, log_tail, start_node
from tests.pki import Authority, Issued


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Authority, Issued, Issued, Issued]:
    """The department's CA with a server and a client certificate, and a client certificate of another CA."""
    authority = Authority(tmp_path / "pki", "department")
    stranger = Authority(tmp_path / "pki", "stranger")
    return (authority, authority.issue("node", server=True), authority.issue("registry-system", server=False),
            stranger.issue("intruder", server=False))


def make_home(tmp_path: Path, **overrides: Any) -> tuple[Path, int]:
    port = free_port()
    home = tmp_path / "home"
    init_home(home, chain_id="tls", department="PSB", name="Police", api_port=port, p2p_port=free_port(),
              config_overrides=overrides)
    return home, port


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        kill(proc, signal.SIGTERM)


def wait_https(url: str, tls: ClientTls, proc: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"node exited with {proc.returncode}:\n{log_tail(log)}")
        try:
            with Client(url, timeout=2, tls=tls) as client:
                return client.status()
        except ClientError:
            time.sleep(0.1)
    raise AssertionError(f"{url} not ready:\n{log_tail(log)}")


def served_certificate(port: int, ca: Path) -> bytes:
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return der


def test_https_api_answers_with_the_configured_certificate(
    tmp_path: Path, pki: tuple[Authority, Issued, Issued, Issued], running: list[subprocess.Popen[bytes]],
) -> None:
    authority, server, _, _ = pki
    home, port = make_home(tmp_path, api_plain_http=False, api_tls_cert=str(server.cert), api_tls_key=str(server.key))
    log = tmp_path / "node.log"
    running.append(proc := start_node(home, log))
    url = f"https://127.0.0.1:{port}"
    status = wait_https(url, ClientTls(ca_file=authority.ca_file), proc, log)
    assert status["chain_id"] == "tls"
    assert served_certificate(port, authority.ca_file) == server.der
    assert f"serving the API on https://127.0.0.1:{port}" in log.read_text()
    with pytest.raises(ClientError, match="not trusted"), Client(url, timeout=5) as client:
        client.status()  # the system's CAs do not know the department's CA
    with pytest.raises(ClientError), Client(f"http://127.0.0.1:{port}", timeout=5) as client:
        client.status()  # no plain HTTP on an HTTPS port
    cli = subprocess.run(
        [sys.executable, "-m", "chainnode.cli", "status", "--node", url, "--ca", str(authority.ca_file), "--json"],
        capture_output=True, text=True, timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert '"chain_id": "tls"' in cli.stdout


def test_mutual_tls_refuses_a_client_without_a_certificate_of_the_configured_ca(
    tmp_path: Path, pki: tuple[Authority, Issued, Issued, Issued], running: list[subprocess.Popen[bytes]],
) -> None:
    authority, server, client_cert, intruder = pki
    home, port = make_home(
        tmp_path, api_plain_http=False, api_tls_cert=str(server.cert), api_tls_key=str(server.key),
        api_tls_client_ca=str(authority.ca_file),
    )
    log = tmp_path / "node.log"
    running.append(proc := start_node(home, log))
    url = f"https://127.0.0.1:{port}"
    member = ClientTls(ca_file=authority.ca_file, cert_file=client_cert.cert, key_file=client_cert.key)
    assert wait_https(url, member, proc, log)["chain_id"] == "tls"
    assert "requiring client certificates" in log.read_text()
    for tls in (ClientTls(ca_file=authority.ca_file),
                ClientTls(ca_file=authority.ca_file, cert_file=intruder.cert, key_file=intruder.key)):
        with pytest.raises(ClientError), Client(url, timeout=5, tls=tls) as client:
            client.status()
    assert proc.poll() is None  # refusing clients costs the node nothing
    with Client(url, timeout=5, tls=member) as client:
        assert client.status()["chain_id"] == "tls"


def test_a_node_without_tls_or_plain_http_refuses_to_start_naming_the_keys(tmp_path: Path) -> None:
    home, _ = make_home(tmp_path, api_plain_http=False)
    result = subprocess.run([sys.executable, "-m", "chainnode.cli", "start", "--home", str(home)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    for key in ("[api] tls_cert", "tls_key", "plain_http = true"):
        assert key in result.stderr, result.stderr


def test_plain_http_is_served_only_as_configured_with_a_warning(
    tmp_path: Path, running: list[subprocess.Popen[bytes]],
) -> None:
    home, port = make_home(tmp_path)  # a loopback home: written with plain_http = true and a comment
    config = (home / "config.toml").read_text()
    assert "plain_http = true" in config and "# Plain HTTP instead of HTTPS" in config
    log = tmp_path / "node.log"
    running.append(proc := start_node(home, log))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while "serving the API" not in log.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log_tail(log)
        time.sleep(0.1)
    text = log.read_text()
    assert "WARN" in text and "plain HTTP" in text
    with Client(url, timeout=5) as client:
        assert client.status()["chain_id"] == "tls"
