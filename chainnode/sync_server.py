"""State sync on the wire: the three request kinds, their checks, and the server that answers them.

Every request and answer field is hostile until checked (docs/sync.md, "The requests"). The server answers
from height-addressed rows that never change once written (blocks, commits, results, validator sets, the
versioned state tree and the state history), in worker threads, at most SERVE_SLOTS at a time, never under
the commit lock and never on the event loop: any height from the node's base (or 1) to its head.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from chainnode import codec
from chainnode.errors import ChainError, InvalidInput, NotFound
from chainnode.limits import SYNC_BLOCKS_LIMIT
from chainnode.node import Node
from chainnode.reader import load_validator_set
from chainnode.snapshot import MAX_CHUNK_BITS, compute_manifest, estimate_bits, read_chunk_page

KIND_SYNC_BLOCKS: Final = "sync_blocks"
KIND_SYNC_MANIFEST: Final = "sync_manifest"
KIND_SYNC_CHUNK: Final = "sync_chunk"
SYNC_KINDS: Final = (KIND_SYNC_BLOCKS, KIND_SYNC_MANIFEST, KIND_SYNC_CHUNK)
BATCH_BLOCKS: Final = 200
BATCH_BYTES: Final = 8 * 1024 * 1024
MAX_HEIGHT: Final = 2**63 - 1
SERVE_SLOTS: Final = 2
"""Sync requests served at once (each in a worker thread); the rest wait, and the link pushes back."""


class AnswerTooLarge(ChainError):
    """One block with its results is larger than a sync_blocks answer may be: the requester replays instead."""

    code = "answer_too_large"


# --- requests and answers: every field hostile until checked ----------------------------------------------


def _want_request(payload: bytes, n: int, what: str) -> list[codec.Value]:
    value = codec.decode(payload, max_size=128)
    # [REJECT] anything but an array of the documented length
    if type(value) is not list or len(value) != n:
        raise InvalidInput(f"a {what} request is an array of {n} items")
    return value


def validate_blocks_request(payload: bytes) -> tuple[int, int]:
    """`[from_height, max_blocks]` with 1 <= from_height <= 2^63-1 and 1 <= max_blocks <= 2^20 (answers hold
    at most BATCH_BLOCKS). Raises InvalidInput."""
    value = _want_request(payload, 2, "sync_blocks")
    from_height = codec.want_int(value[0], "from_height", lo=1, hi=MAX_HEIGHT)
    max_blocks = codec.want_int(value[1], "max_blocks", lo=1, hi=1 << 20)
    return from_height, min(max_blocks, BATCH_BLOCKS)


def validate_manifest_request(payload: bytes) -> int:
    """`[height]`, 0 for the server's head. Raises InvalidInput."""
    return codec.want_int(_want_request(payload, 1, "sync_manifest")[0], "height", hi=MAX_HEIGHT)


def validate_chunk_request(payload: bytes) -> tuple[int, int, int, bytes | None]:
    """`[height, bits, index, cursor]`: 1 <= height <= 2^63-1, 0 <= bits <= 16, 0 <= index < 2^bits, cursor
    nil or a 32-byte key hash. Raises InvalidInput."""
    value = _want_request(payload, 4, "sync_chunk")
    height = codec.want_int(value[0], "height", lo=1, hi=MAX_HEIGHT)
    bits = codec.want_int(value[1], "bits", hi=MAX_CHUNK_BITS)
    index = codec.want_int(value[2], "index", hi=(1 << bits) - 1)
    cursor = None if value[3] is None else codec.want_bytes(value[3], "cursor", size=32)
    return height, bits, index, cursor


@dataclass(frozen=True, slots=True)
class SyncEntry:
    block: bytes
    commit: bytes
    results: bytes
    next_set: bytes | None
    """The validator set of the next height when the block's header names a new one, else None."""


def decode_blocks_answer(answer: bytes) -> list[SyncEntry]:
    """Raises InvalidInput unless the answer is a non-empty array of [block, commit, results, set or nil]."""
    value = codec.decode(answer, max_size=SYNC_BLOCKS_LIMIT)
    if type(value) is not list or not value:
        raise InvalidInput("a sync_blocks answer is a non-empty array")
    entries = []
    for item in value:
        if (type(item) is not list or len(item) != 4 or not all(type(v) is bytes for v in item[:3])
                or not (item[3] is None or type(item[3]) is bytes)):
            raise InvalidInput("a sync_blocks entry is [block, commit, results, validator set or nil]")
        entries.append(SyncEntry(item[0], item[1], item[2], item[3]))
    return entries


# --- serving ----------------------------------------------------------------------------------------------------


class SyncServer:
    """Answers peers' sync_blocks, sync_manifest and sync_chunk requests from height-addressed rows."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._slots = asyncio.Semaphore(SERVE_SLOTS)
        self._pool = ThreadPoolExecutor(max_workers=SERVE_SLOTS, thread_name_prefix="sync-serve")
        """Threads of their own: serving peers never takes the default executor's threads, which run consensus's
        block work."""
        self._manifests: dict[int, bytes] = {}
        self._lock = threading.Lock()
        """Guards `_manifests`: requests are served in worker threads."""

    async def serve(self, kind: str, payload: bytes) -> bytes:
        """Raises InvalidInput (a bad request) or NotFound (a height this node cannot serve)."""
        handlers: dict[str, Callable[[bytes], bytes]] = {
            KIND_SYNC_BLOCKS: self.serve_blocks, KIND_SYNC_MANIFEST: self.serve_manifest,
            KIND_SYNC_CHUNK: self.serve_chunk,
        }
        handler = handlers[kind]
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, handler, payload)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _served_height(self, height: int) -> int:
        head, base = self.node.head_height(), self.node.store.base_height()
        if not max(1, base) <= height <= head:
            raise NotFound(f"this node serves the state of heights {max(1, base)} to {head}, not {height}")
        return height

    def serve_blocks(self, payload: bytes) -> bytes:
        from_height, count = validate_blocks_request(payload)
        store = self.node.store
        head = self.node.head_height()
        out: list[list[bytes | None]] = []
        size = 0
        for height in range(from_height, min(head, from_height + count - 1) + 1):
            block, commit, results = (store.get_block_bytes(height), store.get_commit_bytes(height),
                                      store.get_result_raw(height))
            header = store.get_header(height)
            if block is None or commit is None or results is None or header is None:
                break
            next_set = None
            if header.next_validators_hash != header.validators_hash:
                next_set = load_validator_set(store, self.node.genesis, height + 1).encode()
            size += len(block) + len(commit) + len(results) + len(next_set or b"") + 16
            if out and size > BATCH_BYTES:
                break
            if size > SYNC_BLOCKS_LIMIT - 1024:
                raise AnswerTooLarge(f"block {height} with its results does not fit a sync_blocks answer")
            out.append([block, commit, results, next_set])
        if not out:
            raise NotFound(f"no blocks from height {from_height}")
        return codec.encode(out)

    def serve_manifest(self, payload: bytes) -> bytes:
        height = validate_manifest_request(payload) or self.node.head_height()
        self._served_height(height)
        with self._lock:
            cached = self._manifests.get(height)
        if cached is None:
            store = self.node.store
            tree = store.root_at(height)
            bits = estimate_bits(tree, store.load_node)
            cached = compute_manifest(tree, height, bits, store.load_node).encode()
            with self._lock:
                if len(self._manifests) >= 2:
                    self._manifests.pop(min(self._manifests))
                self._manifests[height] = cached
        return cached

    def serve_chunk(self, payload: bytes) -> bytes:
        height, bits, index, cursor = validate_chunk_request(payload)
        self._served_height(height)
        store = self.node.store
        with store.history_reader(height) as history_pair:
            page = read_chunk_page(store.root_at(height), height, bits, index, cursor, load_node=store.load_node,
                                   history_pair=history_pair)
        return page.encode()


__all__ = [
    "BATCH_BLOCKS",
    "KIND_SYNC_BLOCKS",
    "KIND_SYNC_CHUNK",
    "KIND_SYNC_MANIFEST",
    "SYNC_KINDS",
    "SyncEntry",
    "SyncServer",
    "decode_blocks_answer",
    "validate_blocks_request",
    "validate_chunk_request",
    "validate_manifest_request",
]
