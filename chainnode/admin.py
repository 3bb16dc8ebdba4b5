"""The node's local admin socket: HOME/admin.sock, a Unix socket that only the node's own user can open.

It serves what an operator on the node's machine asks of a running node and nobody on the network may:
`GET /backup` streams a backup of the store as of one committed height (chainnode/backup.py). Access is the
file's permission (0600, in the home); nothing is signed and nothing listens on a TCP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from aiohttp import web

from chainnode import backup
from chainnode.node import Node

log = logging.getLogger("chainnode.admin")
MAX_SOCKET_PATH: Final = 100
"""Unix socket paths are limited to about 108 bytes."""


def socket_path(home: Path) -> Path:
    return home / backup.ADMIN_SOCKET


def create_admin_app(node: Node) -> web.Application:
    app = web.Application()
    # the backup's reads get a thread of their own: consensus runs its block work on the default executor
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backup")
    running = asyncio.Lock()

    async def close_reader(_: web.Application) -> None:
        reader.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(close_reader)

    async def get_backup(request: web.Request) -> web.StreamResponse:
        if running.locked():
            raise web.HTTPConflict(text="a backup of this node is already being written; wait for it to end\n")
        async with running:
            return await stream_backup(request)

    async def stream_backup(request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        snapshot = node.store.snapshot()
        frames = backup.backup_frames(snapshot, node.layout.blobs, chain_id=node.genesis.chain_id,
                                      genesis_hash=node.genesis.hash)
        estimate = await loop.run_in_executor(reader, backup.estimate_backup_bytes, node.layout.data,
                                              node.layout.blobs)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream",
                                               "X-Chainnode-Height": str(snapshot.head_height()),
                                               "X-Chainnode-Estimated-Bytes": str(estimate)})
        await response.prepare(request)
        log.info("backup: streaming the store at height %d to the admin socket", snapshot.head_height())
        try:
            while True:
                # rows are read in a thread from the LevelDB snapshot: the event loop (consensus) never waits
                frame = await loop.run_in_executor(reader, next, frames, None)
                if frame is None:
                    break
                await response.write(frame)
        finally:
            snapshot.close()
        await response.write_eof()
        log.info("backup: done")
        return response

    app.router.add_get("/backup", get_backup)
    return app


async def start_admin(node: Node) -> web.AppRunner | None:
    """Listen on HOME/admin.sock (mode 0600); None, with a warning, when the path is too long for a socket."""
    path = socket_path(node.layout.root)
    if len(str(path)) > MAX_SOCKET_PATH:
        log.warning("no admin socket: %s is longer than a Unix socket path may be; `chainnode backup` needs the "
                    "node stopped", path)
        return None
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a node that did not stop cleanly; the store's lock says no other node runs here
    runner = web.AppRunner(create_admin_app(node), handle_signals=False, access_log=None)
    await runner.setup()
    old_umask = os.umask(0o077)
    try:
        await web.UnixSite(runner, str(path)).start()
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return runner


async def stop_admin(runner: web.AppRunner | None, home: Path) -> None:
    if runner is not None:
        await runner.cleanup()
        with contextlib.suppress(FileNotFoundError):
            socket_path(home).unlink()
