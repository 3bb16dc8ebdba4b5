"""Running a node process: the API server, the block producer, signals and a clean shutdown.

Startup order: open the home (config, genesis, key, store), bind the API port, then start producing.
On SIGTERM or SIGINT the API stops accepting, the block in hand is finished and committed, and the
store is closed, so the next start resumes at the committed head with no operator action.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
from pathlib import Path

from aiohttp import web

from chainnode.admin import start_admin, stop_admin
from chainnode.api import create_app
from chainnode.api_tls import create_api_ssl_context
from chainnode.bft import BftDriver
from chainnode.config import parse_listen
from chainnode.crypto import PassphraseProvider
from chainnode.errors import ChainError, ConfigError
from chainnode.interpreter import tune_node_process
from chainnode.logs import HEIGHT_SOURCE
from chainnode.node import Node
from contracts import documents

log = logging.getLogger("chainnode.service")


async def serve(node: Node, *, ready: asyncio.Event | None = None) -> None:
    """Serve `node` until SIGTERM/SIGINT (or cancellation), then shut down cleanly."""
    HEIGHT_SOURCE.set(lambda: node.head_height() + 1)  # log lines of this node's tasks carry its height
    host, port = parse_listen(node.config.api_listen, field="api.listen")
    try:
        ssl_context = create_api_ssl_context(node.config, node.layout.root)
    except ConfigError:
        node.close()
        raise
    scheme = "http" if ssl_context is None else "https"
    if node.admission.processes:  # before the API serves, so no batch waits for workers to start
        await asyncio.to_thread(node.admission.start)
        if node.admission.processes:
            count = node.admission.processes
            workers = "1 worker process checks" if count == 1 else f"{count} worker processes check"
            log.info("admission: %s submitted batches", workers)
    runner = web.AppRunner(create_app(node), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        node.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"API address {host}:{port} is already in use; change [api] listen in config.toml"
            ) from exc
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    admin_runner = await start_admin(node)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if ssl_context is None:
        log.warning("the API serves plain HTTP on %s:%d ([api] plain_http = true): requests and answers travel "
                    "unencrypted; set [api] tls_cert and tls_key unless it is reachable from loopback only",
                    host, port)
    log.info(
        "node %s serving the API on %s://%s:%d (chain %s, height %d)%s",
        node.config.moniker,
        scheme,
        host,
        port,
        node.genesis.chain_id,
        node.head_height(),
        " requiring client certificates" if node.config.api_tls_client_ca else "",
    )
    if ready is not None:
        ready.set()
    validators = node.validators_at(node.head_height() + 1)
    solo = len(validators) == 1 and node.is_producer and not node.config.peers
    driver = None if solo else BftDriver(node, documents=documents, blobs=node.blobs)
    if driver is not None:
        try:
            await driver.start()
        except BaseException:
            driver.wal.close()
            await stop_admin(admin_runner, node.layout.root)
            await runner.cleanup()
            node.close()
            raise
    node.metrics.running = True  # /ready may now answer 200
    try:
        async with asyncio.TaskGroup() as group:
            runner_task = group.create_task(node.run_producer() if driver is None else driver.run())
            await stop.wait()
            log.info("shutting down: finishing the block in hand")
            await node.stop()
            if driver is not None:
                await driver.stop()
            await runner_task
    except* ChainError as group:  # one clear error for the operator, not a task group's traceback
        raise group.exceptions[0] from None
    finally:
        await stop_admin(admin_runner, node.layout.root)
        await runner.cleanup()
        node.close()
        log.info("node stopped at height %d", node.head_height())


def run_home(home: Path, *, passphrase: PassphraseProvider | None = None, sync_mode: str | None = None) -> None:
    """`passphrase` opens encrypted key files; without it an encrypted key is a KeyFileEncrypted error.
    `sync_mode` overrides `[sync] mode` of config.toml."""
    node = Node.from_home(home, passphrase=passphrase, sync_mode=sync_mode)
    tune_node_process()  # once the home is open: what is alive now lives as long as the process
    asyncio.run(serve(node))
