"""Test helpers shared by several test files: an in-process node serving its API on 127.0.0.1, a polling
wait for multi-process clusters, and the blob store and documents-query fakes of the blob tests."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp.test_utils import TestClient, TestServer

from chainnode import crypto
from chainnode.api import create_app
from chainnode.blobs import BlobStore
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.read_auth import EMPTY_SHA256, NONCE_SIZE, sign_read
from contracts.base import StateReader

T = TypeVar("T")

# --- an in-process node ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve_node(
    home: Path, *, chain_id: str
) -> AsyncIterator[tuple[TestClient[Any, Any], Node, crypto.PrivateKey]]:
    """A one-department (PSB) network initialised in `home`, its node and API running in this process:
    `(client, node, officer_key)`. The API and the node are closed on exit."""
    _, created = init_home(home, chain_id=chain_id, department="PSB", name="Police")
    node = Node.from_home(created.home)
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, node, crypto.load_key_file(created.officer_key).key
    finally:
        await client.close()
        node.close()


def signed_headers(node: Node, key: crypto.PrivateKey, target: str, *, method: str = "GET",
                   body_sha256: bytes = EMPTY_SHA256) -> dict[str, str]:
    """The Authorization header of one signed read of `target` (path and query as sent) from `node`."""
    header = sign_read(key, node.genesis.chain_id, method, target, node.clock.now_ms(), os.urandom(NONCE_SIZE),
                       node.node_key.public_key, body_sha256)
    return {"Authorization": header}


# --- waiting on other processes ----------------------------------------------------------------------


def wait_for(what: str, check: Callable[[], T], timeout: float = 60, interval: float = 0.05) -> T:
    """Poll `check` until it returns something true, and return that; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


# --- blobs -------------------------------------------------------------------------------------------


def new_store(root: Path) -> BlobStore:
    """A blob store with room for anything a test writes (1 GiB per blob and in total)."""
    return BlobStore(root, max_store_bytes=1 << 30, max_blob_bytes=lambda: 1 << 30)


def put_blob(store: BlobStore, blob_hash: bytes, data: bytes, *, chunk: int = 300_000) -> None:
    """Upload `data` as the blob `blob_hash`, in chunks (raises what BlobUpload.finish raises)."""
    upload = store.begin_upload(blob_hash, len(data))
    for start in range(0, len(data), chunk):
        upload.write(data[start : start + chunk])
    upload.finish()


@dataclass
class FakeDocuments:
    """The documents queries the blob server and fetcher use, over plain dicts."""

    parties: dict[bytes, frozenset[str]] = field(default_factory=dict)
    pending: dict[str, list[tuple[str, bytes, int]]] = field(default_factory=dict)
    pages: list[str | None] = field(default_factory=list)
    """The cursors asked for, in order."""

    def blob_parties(self, reader: StateReader, ciphertext_sha256: bytes) -> frozenset[str]:
        return self.parties.get(ciphertext_sha256, frozenset())

    def pending_deliveries(
        self, reader: StateReader, department: str, limit: int, *, after: str | None = None
    ) -> list[tuple[str, bytes, int]]:
        self.pages.append(after)
        entries = sorted(self.pending.get(department, []))
        return [entry for entry in entries if after is None or entry[0] > after][:limit]
