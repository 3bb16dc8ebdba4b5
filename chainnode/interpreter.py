"""Interpreter settings for the long-running node process.

Python's cyclic garbage collector is tuned for small scripts: a young collection every 700 new container
objects, and a full collection of every tracked object once enough survivors have piled up. A loaded
node keeps many containers alive for seconds (each pending transaction is several: the transaction, its
body, its arguments, their parse), so at the default settings most of them are scanned by every
generation before they die, and a full collection of a node holding tens of thousands of pending
transactions stops every thread for up to a tenth of a second of CPU (a quarter to half a second of wall
time where nodes share cores). Measured on 4 validators under a burst of 40,000 transactions
(docs/performance.md, "part 3: the garbage collector"), collections took 0.77 s of each node's CPU; 0.25 s
with the settings below.

What the node does about it, at startup once its home is open:
- `gc.freeze()`: everything alive then (modules, the genesis, the configuration, about 55,000 objects)
  moves to the permanent generation, which collections never scan. Those objects live as long as the
  process, so freezing them loses nothing.
- `gc.set_threshold(YOUNG_THRESHOLD, 10, 10)`: a young collection every 10,000 new containers, not 700.
  Most of a batch's temporaries are freed by reference counting before that; far fewer objects are
  scanned twice. Cyclic garbage (an exception kept with its traceback, say) is still collected; it
  waits a little longer, a bounded amount of memory.

`chainnode check` uses the same collector settings: its replay keeps the whole state in memory, and a
store of 100,000 anchors in 50 blocks spent 0.71 s of the check's CPU in collections with the defaults,
0.33 s tuned.

Nothing here changes what the node computes; only when the interpreter looks for unreachable cycles.
"""

from __future__ import annotations

import gc
import sys
from typing import Final

from chainnode.read_pool import SWITCH_INTERVAL_S

YOUNG_THRESHOLD: Final = 10_000
"""New container objects between two young collections (Python's default is 700)."""
OLDER_THRESHOLDS: Final = (10, 10)
"""Python's defaults: a middle collection every 10 young ones; a full one every 10 middle ones, and then
only if the survivors since the last full collection are a quarter of the old generation."""


def tune_collector() -> None:
    """Freeze what is alive now and collect young objects less often (see the module docstring)."""
    gc.collect()  # whatever startup left as garbage goes now, not into the permanent generation
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def tune_node_process() -> None:
    """The settings of a node process: the collector's, and a short GIL switch interval
    (read_pool.SWITCH_INTERVAL_S says why)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    tune_collector()
