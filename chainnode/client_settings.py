"""What the CLI needs of the client before it talks to a node: the defaults, the node URL from the
environment, and the two client-side errors. Kept apart from `chainnode.client` so that commands that never
reach a node (offline verification at a service window) do not load the HTTP stack."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chainnode.errors import ChainError, ClientError

DEFAULT_NODE_URL: Final = "http://127.0.0.1:8700"
NODE_URL_ENV: Final = "CHAINNODE_NODE"
DEFAULT_TIMEOUT_S: Final = 10.0
CA_ENV: Final = "CHAINNODE_CA"
CLIENT_CERT_ENV: Final = "CHAINNODE_CLIENT_CERT"
CLIENT_KEY_ENV: Final = "CHAINNODE_CLIENT_KEY"
MAX_SERVER_WAIT_S: Final = 60
"""The node caps `?wait=` at this many seconds."""


class InvalidNodeUrl(ClientError):
    """The node URL given is not an http(s)://HOST[:PORT] URL: the caller's mistake, not the node's."""

    code = "invalid_node_url"


class WaitTimeout(ChainError):
    """A transaction was still pending when the caller's deadline passed."""

    code = "wait_timeout"


def get_default_node_url() -> str:
    """The node URL from the environment variable CHAINNODE_NODE, or the devnet's first node."""
    return os.environ.get(NODE_URL_ENV) or DEFAULT_NODE_URL


class TlsSettingsError(ClientError):
    """A CA or client certificate file given to the client cannot be used: the caller's files, not the node."""

    code = "invalid_tls_settings"


@dataclass(frozen=True, slots=True)
class ClientTls:
    """How the client checks an https node and proves itself to it.

    `ca_file`: PEM CA certificates to trust for the node's certificate (default: the system's). `cert_file`
    and `key_file`: a client certificate and its key, for nodes that require one (mutual TLS)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], *, ca_file: Path | None = None, cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> ClientTls:
        """The given files, else those named by CHAINNODE_CA, CHAINNODE_CLIENT_CERT and CHAINNODE_CLIENT_KEY."""
        def pick(given: Path | None, name: str) -> Path | None:
            return given if given is not None else (Path(environ[name]) if environ.get(name) else None)

        return cls(pick(ca_file, CA_ENV), pick(cert_file, CLIENT_CERT_ENV), pick(key_file, CLIENT_KEY_ENV))

    def create_ssl_context(self) -> ssl.SSLContext:
        """A context that verifies the node's certificate and host name. Raises TlsSettingsError."""
        if (self.cert_file is None) != (self.key_file is None):
            given, missing = (("certificate", "key") if self.key_file is None else ("key", "certificate"))
            raise TlsSettingsError(
                f"a client {given} was given without its {missing}: give both with --client-cert and "
                f"--client-key, or with ${CLIENT_CERT_ENV} and ${CLIENT_KEY_ENV}", field="client_cert",
            )
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsSettingsError(f"CA file {self.ca_file} cannot be loaded: {exc}", field="ca") from exc
        if self.cert_file is not None and self.key_file is not None:
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise TlsSettingsError(
                    f"client certificate {self.cert_file} with key {self.key_file} cannot be loaded: {exc}",
                    field="client_cert",
                ) from exc
        return context
