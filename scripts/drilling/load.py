"""A steady load of unique writes: each worker signs a batch of anchors of fresh hashes, submits it to a node
that serves, and waits for each transaction's commit; what is still pending after a while goes again, the
same signed bytes, to another node (as a client whose node died would do), so a write that lands twice
shows up as a duplicate in the chain.

A write is *acknowledged* when a node's API answered that it is committed; the audit at the end looks for
every acknowledged write in the final chain. The load runs on its own thread and event loop.
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import time
from dataclasses import dataclass
from typing import Final

import aiohttp

from chainnode import crypto
from chainnode.tx import TxBody, decode_transaction, sign_transaction
from scripts.drilling.net import CHAIN_ID, DrillNet

ATTEMPTS: Final = 3
EXPIRY_AHEAD: Final = 2_000


@dataclass(frozen=True, slots=True)
class Ack:
    """One acknowledged write: its id, when (time.monotonic()) and through which node."""

    tx_id: str
    at: float
    node: int


def make_anchor(key: crypto.PrivateKey, label: str, expiry_height: int) -> tuple[str, bytes]:
    """A signed anchor of the SHA-256 of `label`: (tx id hex, canonical bytes)."""
    body = TxBody(
        chain_id=CHAIN_ID, contract="anchor", method="put",
        args={"content_hash": crypto.sha256(label.encode()), "kind": "drill"},
        signer=key.public_key, nonce=os.urandom(16), expiry_height=expiry_height,
    )
    raw = sign_transaction(key, body).raw
    return decode_transaction(raw).tx_id.hex(), raw


class Load:
    """`workers` closed-loop clients, each with `batch` writes in flight."""

    def __init__(self, net: DrillNet, *, workers: int = 4, batch: int = 10, commit_wait_s: float = 8.0) -> None:
        self.net, self.workers, self.batch, self.commit_wait_s = net, workers, batch, commit_wait_s
        self.acks: list[Ack] = []
        self.sent = 0
        self.resent = 0
        self.errors = 0
        self._run_id = os.urandom(4).hex()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="drill-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.commit_wait_s * ATTEMPTS + 30)

    def count(self, start: float, end: float) -> int:
        """Writes acknowledged in [start, end)."""
        return sum(1 for ack in list(self.acks) if start <= ack.at < end)

    def rate(self, start: float, end: float) -> float:
        return self.count(start, end) / (end - start) if end > start else 0.0

    async def _main(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=2)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
            await asyncio.gather(*(self._worker(w, session) for w in range(self.workers)))

    async def _worker(self, worker: int, session: aiohttp.ClientSession) -> None:
        round_no = 0
        while not self._stop.is_set():
            round_no += 1
            targets = self.net.serving()
            if not targets:
                await asyncio.sleep(0.1)
                continue
            first = targets[(worker + round_no) % len(targets)]
            key = self.net.keys[first % len(self.net.keys)]
            expiry = self.net.max_seen + EXPIRY_AHEAD
            pending = dict(make_anchor(key, f"drill-{self._run_id}-{worker}-{round_no}-{k}", expiry)
                           for k in range(self.batch))
            self.sent += len(pending)
            for attempt in range(ATTEMPTS):
                targets = self.net.serving() or [first]
                node = targets[(worker + round_no + attempt) % len(targets)]
                if attempt:
                    self.resent += len(pending)
                await self._deliver(session, node, pending)
                if not pending or self._stop.is_set():
                    break

    async def _deliver(self, session: aiohttp.ClientSession, node: int, pending: dict[str, bytes]) -> None:
        """Submit `pending` to `node`, wait for each commit; remove what was acknowledged."""
        url = self.net.nodes[node].url
        body = {"txs": [base64.b64encode(raw).decode() for raw in pending.values()]}
        try:
            async with session.post(f"{url}/v1/txs", json=body, timeout=aiohttp.ClientTimeout(total=10)) as answer:
                await answer.read()
        except (aiohttp.ClientError, OSError):
            self.errors += 1
            await asyncio.sleep(0.2)
            return
        deadline = time.monotonic() + self.commit_wait_s
        done = await asyncio.gather(*(self._wait(session, url, tx_id, deadline) for tx_id in list(pending)))
        for tx_id, committed in zip(list(pending), done, strict=True):
            if committed:
                del pending[tx_id]
                self.acks.append(Ack(tx_id, time.monotonic(), node))

    async def _wait(self, session: aiohttp.ClientSession, url: str, tx_id: str, deadline: float) -> bool:
        """True once the node says `tx_id` is committed; False at the deadline, on an error or a rejection."""
        while (left := deadline - time.monotonic()) > 0 and not self._stop.is_set():
            wait = max(1, min(5, int(left)))
            try:
                async with session.get(f"{url}/v1/txs/{tx_id}", params={"wait": str(wait)},
                                       timeout=aiohttp.ClientTimeout(total=wait + 3)) as answer:
                    status = answer.status
                    document = await answer.json(content_type=None)
            except (aiohttp.ClientError, OSError, ValueError):
                self.errors += 1
                return False
            if status == 200 and document.get("status") == "committed":
                return True
            if status != 200 or document.get("status") == "rejected":
                return False
        return False
