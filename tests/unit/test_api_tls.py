"""The API transport settings: which combinations of [api] keys start a node, and the errors for the rest."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import pytest

from chainnode.api_tls import create_api_ssl_context
from chainnode.client_settings import ClientTls, TlsSettingsError
from chainnode.config import NodeConfig, load_config, render_config
from chainnode.errors import ConfigError
from tests.pki import Authority

BASE = NodeConfig()


def test_neither_tls_nor_plain_http_names_the_keys_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        create_api_ssl_context(BASE, tmp_path)
    assert "[api] tls_cert and tls_key" in info.value.message and "plain_http = true" in info.value.message


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"api_plain_http": True, "api_tls_cert": "c.pem"}, "both set"),
        ({"api_tls_cert": "c.pem"}, "tls_key is not set"),
        ({"api_tls_key": "k.pem"}, "tls_cert is not set"),
        ({"api_tls_client_ca": "ca.pem"}, "mutual TLS is HTTPS first"),
        ({"api_tls_cert": "missing.pem", "api_tls_key": "missing.key"}, "cannot be loaded"),
    ],
)
def test_incomplete_or_conflicting_settings_are_refused(
    tmp_path: Path, changes: dict[str, object], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        create_api_ssl_context(replace(BASE, **changes), tmp_path)  # type: ignore[arg-type]


def test_plain_http_gives_no_context_and_tls_paths_are_relative_to_the_home(tmp_path: Path) -> None:
    assert create_api_ssl_context(replace(BASE, api_plain_http=True), tmp_path) is None
    authority = Authority(tmp_path / "tls", "dept")
    server = authority.issue("node", server=True)
    config = replace(BASE, api_tls_cert="tls/node.pem", api_tls_key="tls/node.key",
                     api_tls_client_ca=str(authority.ca_file))
    context = create_api_ssl_context(config, tmp_path)
    assert context is not None and context.verify_mode is ssl.CERT_REQUIRED
    assert server.cert == tmp_path / "tls/node.pem"
    assert create_api_ssl_context(replace(config, api_tls_client_ca=""), tmp_path).verify_mode is ssl.CERT_NONE  # type: ignore[union-attr]


def test_the_keys_round_trip_through_config_toml(tmp_path: Path) -> None:
    config = replace(BASE, api_tls_cert="a.pem", api_tls_key="a.key", api_tls_client_ca="ca.pem")
    path = tmp_path / "config.toml"
    path.write_text(render_config(config))
    assert load_config(path) == config
    assert 'tls_cert = "a.pem"' in path.read_text() and "plain_http = false" in path.read_text()


def test_client_tls_needs_both_certificate_and_key(tmp_path: Path) -> None:
    with pytest.raises(TlsSettingsError, match="certificate was given without its key") as caught:
        ClientTls(cert_file=tmp_path / "c.pem").create_ssl_context()
    assert "--client-key" in caught.value.message and "CHAINNODE_CLIENT_KEY" in caught.value.message
    with pytest.raises(TlsSettingsError, match="cannot be loaded"):
        ClientTls(ca_file=tmp_path / "missing.pem").create_ssl_context()
    environ = {"CHAINNODE_CA": "/etc/dept-ca.pem"}
    assert ClientTls.from_environment(environ).ca_file == Path("/etc/dept-ca.pem")
    assert ClientTls.from_environment(environ, ca_file=Path("x.pem")).ca_file == Path("x.pem")
