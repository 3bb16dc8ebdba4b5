"""The client API's transport: HTTPS with the configured certificate and key, optionally requiring client
certificates signed by a configured CA (mutual TLS); plain HTTP only when the operator says so.

`create_api_ssl_context` turns the `[api]` settings of config.toml into an `ssl.SSLContext` for aiohttp's
`TCPSite`, or None for plain HTTP, and refuses a configuration that says neither, both, or half.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from chainnode.config import NodeConfig
from chainnode.errors import ConfigError

MISSING_TRANSPORT = (
    "the API has no transport configured: set [api] tls_cert and tls_key in config.toml to serve HTTPS "
    "(and tls_client_ca to require client certificates), or set [api] plain_http = true to serve plain HTTP "
    "(only for an API on loopback or behind a TLS proxy)"
)


def _resolve(home: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else home / path


def create_api_ssl_context(config: NodeConfig, home: Path) -> ssl.SSLContext | None:
    """Return the server context for the API, or None when plain HTTP is configured.

    Raises ConfigError naming the keys to set: neither TLS nor plain HTTP, both, a certificate without its
    key (or the reverse), a client CA without a certificate, or a file that cannot be loaded.
    """
    tls = config.api_tls_cert or config.api_tls_key
    if config.api_plain_http:
        if tls or config.api_tls_client_ca:
            raise ConfigError("[api] plain_http = true and tls_cert/tls_key/tls_client_ca are both set; "
                              "choose HTTPS (remove plain_http) or plain HTTP (remove the tls_ keys)",
                              field="api.plain_http")
        return None
    if not tls:
        if config.api_tls_client_ca:
            raise ConfigError("[api] tls_client_ca needs tls_cert and tls_key: mutual TLS is HTTPS first",
                              field="api.tls_cert")
        raise ConfigError(MISSING_TRANSPORT, field="api.tls_cert")
    if not (config.api_tls_cert and config.api_tls_key):
        missing = "tls_key" if config.api_tls_cert else "tls_cert"
        raise ConfigError(f"[api] {missing} is not set: HTTPS needs both tls_cert and tls_key", field=f"api.{missing}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cert, key = _resolve(home, config.api_tls_cert), _resolve(home, config.api_tls_key)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[api] tls_cert {cert} with tls_key {key} cannot be loaded: {exc}",
                          field="api.tls_cert") from exc
    if config.api_tls_client_ca:
        ca = _resolve(home, config.api_tls_client_ca)
        try:
            context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[api] tls_client_ca {ca} cannot be loaded: {exc}", field="api.tls_client_ca") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context
