"""The API's read pool: client reads run here, off the consensus event loop and off its thread pool.

Its own `ThreadPoolExecutor` (`api.read_threads` threads, default 2) runs the reads; at most
`api.read_queue` more wait for a thread. A read beyond that is refused at once with `Busy` (503, code
`busy`), so a flood of reads costs a bounded amount of memory and CPU and never queues in front of the
default executor, where consensus runs block validation and commits (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, ParamSpec, TypeVar

from chainnode.errors import Busy

SWITCH_INTERVAL_S: Final = 0.0005
"""The node process's GIL switch interval (Python's default is 5 ms). A read thread that computes (a state
tree rebuilt for an old height) holds the GIL until asked to drop it; the event loop, which needs it back
after every socket wait, would otherwise wait up to 5 ms each time, and consensus makes many such waits
per block. 0.5 ms keeps the loop's wait short for a small cost in switches."""

P = ParamSpec("P")
T = TypeVar("T")


class ReadPool:
    """A bounded executor for reads; admission is counted until the read's thread finishes, not until its
    caller stops waiting, so a client that hangs up cannot make room for more work than threads exist."""

    def __init__(self, *, threads: int, queue: int) -> None:
        self.threads = threads
        self.limit = threads + queue
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="read")
        self._lock = threading.Lock()
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Reads running or waiting now."""
        return self._admitted

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(*args, **kwargs)` on a read thread and return its result. Raises Busy when full."""
        with self._lock:
            if self._admitted >= self.limit:
                raise Busy(f"the node is serving {self._admitted} reads; retry shortly (operators: [api] "
                           "read_threads and read_queue in config.toml size this pool)")
            self._admitted += 1
        try:
            future = self._executor.submit(functools.partial(fn, *args, **kwargs))
        except RuntimeError:  # shut down: the node is stopping
            self._release(None)
            raise Busy("the node is shutting down") from None
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: Future[T] | None) -> None:
        with self._lock:
            self._admitted -= 1

    def shutdown(self) -> None:
        """Stop taking reads and wait for the running ones (before the store closes)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
