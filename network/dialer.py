"""Outbound links: one dialer per configured address, and one per node key of the on-chain roster, keeps a
link to it, with backoff and jitter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import aiohttp

from chainnode.config import parse_listen
from network.backoff import RandomSource, compute_backoff_ms
from network.config import NetworkConfig
from network.link import P2P_PATH, LinkOutcome, LinkResult, WebSocket, format_key
from network.registry import PeerRegistry

log = logging.getLogger("network")

Serve: TypeAlias = Callable[[WebSocket, str, Callable[[bytes], None]], Awaitable[LinkResult]]
"""Runs an outbound link: the WebSocket, the address, and a callback for the authenticated key."""


class Dialer:
    def __init__(
        self, config: NetworkConfig, *, session: aiohttp.ClientSession, registry: PeerRegistry, serve: Serve,
        rng: RandomSource, max_msg_size: int,
    ) -> None:
        self._config, self._session, self._registry, self._serve = config, session, registry, serve
        self._rng, self._max_msg_size = rng, max_msg_size
        self._address_keys: dict[str, bytes] = {}

    async def run(self, address: str, *, key: bytes | None = None) -> None:
        """Keep one link to `address`: dial, serve, and after any ending wait a jittered, growing delay.

        `key` is the node key expected there (a target from the on-chain roster), so the dialer waits
        while that key is already linked, even before it has dialed the address once.

        Failures in a row double the delay up to `backoff_max_ms`; a link that stayed up that long resets
        it; losing to a duplicate link does not count as a failure. While the key last seen at the address
        is connected (either way) or banned, it is not dialed. Returns only if the address is this node.
        """
        failures = 0
        if key is not None:
            self._address_keys[address] = key
        while True:
            if (key := self._address_keys.get(address)) is not None:
                await self._registry.wait_until_dialable(key)
            result = await self._dial(address)
            if result.outcome is LinkOutcome.SELF:
                log.warning("not dialing %s again: it is this node", address)
                return
            if result.outcome is LinkOutcome.RAN and result.duration_ms >= self._config.backoff_max_ms:
                failures = 0
            delay_ms = compute_backoff_ms(
                failures, base_ms=self._config.backoff_base_ms, max_ms=self._config.backoff_max_ms, rng=self._rng
            )
            if result.outcome is not LinkOutcome.DUPLICATE:
                failures += 1
            log.debug("dialing %s again in %d ms (%s, %d failures)", address, delay_ms, result.outcome.value, failures)
            await asyncio.sleep(delay_ms / 1000)

    async def _dial(self, address: str) -> LinkResult:
        host, port = parse_listen(address, field="peers")
        url = f"http://[{host}]:{port}{P2P_PATH}" if ":" in host else f"http://{host}:{port}{P2P_PATH}"
        try:
            async with asyncio.timeout(self._config.handshake_timeout_ms / 1000):
                ws = await self._session.ws_connect(
                    url,
                    autoping=True, compress=0, max_msg_size=self._max_msg_size,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._config.close_timeout_ms / 1000),
                )
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            log.info("cannot reach %s: %s", address, str(exc) or type(exc).__name__)
            return LinkResult(LinkOutcome.FAILED)
        return await self._serve(ws, address, lambda key: self._remember_key(address, key))

    def _remember_key(self, address: str, key: bytes) -> None:
        previous = self._address_keys.get(address)
        if previous is not None and previous != key:
            log.warning("%s answered with key %s, before with key %s", address, format_key(key), format_key(previous))
        self._address_keys[address] = key
