"""What the CLI needs of the client before it talks to a node: the defaults, the node URL from the
environment, and the two client-side errors. Kept apart from `chainnode.client` so that commands that never
reach a node (offline verification at a service window) do not load the HTTP stack."""

from __future__ import annotations

import os
from typing import Final

from chainnode.errors import ChainError, ClientError

DEFAULT_NODE_URL: Final = "http://127.0.0.1:8700"
NODE_URL_ENV: Final = "CHAINNODE_NODE"
DEFAULT_TIMEOUT_S: Final = 10.0
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
