"""The node's Prometheus metrics: what an operator watches (docs/metrics.md lists each one).

This module alone imports `prometheus_client`. Each node owns one `CollectorRegistry` (never the
process-global one), so several nodes in one process (tests, the simulator) keep their own numbers.

Theory of operation. Two kinds of metric, chosen so that consensus never waits for a scrape:

- *Events* (blocks committed, transactions committed, admission verdicts, execution and write times,
  rounds per height) are counted where they happen, once per block or per admitted batch: a counter
  increment or a histogram observation, no per-transaction work beyond that.
- *Levels* (head height, mempool size, peers and their traffic, sync progress, the current round) are
  read at scrape time by `NodeStateCollector` from the node's own published state: the head reference,
  the mempool's size, and the BFT driver's `ConsensusProbe`. Each read is a reference or a copy of a
  small dict, safe from another thread, so the scrape runs on a thread of its own (the API's scrape
  pool), off the event loop that consensus runs on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The Content-Type of the text exposition format that `render` writes."""
PREFIX: Final = "chainnode_"
ACCEPTED: Final = "accepted"
"""The `code` label of an admitted transaction (a refusal carries its error code)."""
INTERVAL_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)
DURATION_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROUND_BUCKETS: Final = (1.0, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0)


@dataclass(frozen=True, slots=True)
class PeerTraffic:
    """Bytes exchanged with one peer key since the node started, over every link it had."""

    key: bytes
    bytes_in: int
    bytes_out: int
    connected: bool


class ConsensusProbe(Protocol):
    """What the BFT driver lets scrapes and readiness checks read. Every method is cheap and safe to call
    from a thread other than the event loop's (it reads references and copies small containers)."""

    def peer_traffic(self) -> Sequence[PeerTraffic]: ...

    def peer_department(self, key: bytes) -> str | None: ...

    def consensus_round(self) -> int | None: ...

    def sync_target(self) -> int | None:
        """The highest head a linked peer announced (None before any status arrived)."""
        ...

    def is_syncing(self) -> bool: ...

    def state_sync_progress(self) -> tuple[str, int, int] | None:
        """(phase, done, total) while a state sync runs: phase "blocks" (blocks verified of the base height)
        or "chunks" (state chunks written of those with keys); None otherwise."""
        ...


class ErrorCoded(Protocol):
    @property
    def code(self) -> str: ...


class Verdict(Protocol):
    """An admission verdict (chainnode.mempool.Admission): `error` is None when admitted."""

    @property
    def error(self) -> ErrorCoded | None: ...


class NodeMetrics:
    """The metrics of one node: event counters updated by the node, levels read at scrape time."""

    def __init__(self, *, head_height: Callable[[], int], mempool_size: Callable[[], tuple[int, int]]) -> None:
        """`head_height()` and `mempool_size()` (transactions, bytes) are read at each scrape."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.consensus: ConsensusProbe | None = None
        """Set by the BFT driver; None on a single-validator node, which has no peers."""
        self.running = False
        """Set once the node serves its API and takes part in consensus (or produces alone)."""
        registry = self.registry
        self.blocks_committed = Counter(
            PREFIX + "blocks_committed", "Blocks this node committed (by consensus or by block sync).",
            registry=registry)
        txs = Counter(PREFIX + "transactions_committed",
                      "Transactions in committed blocks, by outcome: ok, or failed (refused by a contract).",
                      ["outcome"], registry=registry)
        self._txs_ok, self._txs_failed = txs.labels(outcome="ok"), txs.labels(outcome="failed")
        self.block_interval = Histogram(
            PREFIX + "block_interval_seconds", "Block time of each committed block minus its parent's.",
            buckets=INTERVAL_BUCKETS, registry=registry)
        self.rounds = Histogram(
            PREFIX + "consensus_rounds_per_height", "Rounds consensus needed to decide each height (1: the first).",
            buckets=ROUND_BUCKETS, registry=registry)
        self.admissions = Counter(
            PREFIX + "admission_verdicts", "Admission verdicts on submitted transactions, by code (accepted or the "
            "refusal's error code) and source (api: clients, peer: gossip).", ["code", "source"], registry=registry)
        execution = Histogram(
            PREFIX + "block_execution_seconds", "Time to execute a block through the contracts: build (as proposer) "
            "or validate (a peer's proposal or a synced block, signatures and re-execution).", ["phase"],
            buckets=DURATION_BUCKETS, registry=registry)
        self._build, self._validate = execution.labels(phase="build"), execution.labels(phase="validate")
        synced = Counter(
            PREFIX + "synced_blocks", "Blocks committed from block sync, by execution: executed (validated and "
            "executed here), known (this node had validated the same block as a proposal, and executed it then).",
            ["execution"], registry=registry)
        self._synced_executed = synced.labels(execution="executed")
        self._synced_known = synced.labels(execution="known")
        self._store_write = Histogram(
            PREFIX + "store_write_seconds", "Time to write one committed block to LevelDB (one synced batch).",
            buckets=DURATION_BUCKETS, registry=registry)
        registry.register(NodeStateCollector(self, head_height=head_height, mempool_size=mempool_size))

    # --- events, from the node ---------------------------------------------------------------------

    def time_build(self) -> AbstractContextManager[object]:
        return self._build.time()

    def time_validate(self) -> AbstractContextManager[object]:
        return self._validate.time()

    def time_store_write(self) -> AbstractContextManager[object]:
        return self._store_write.time()

    def on_block_committed(self, *, txs: int, failed: int, interval_ms: int | None) -> None:
        """One committed block: `interval_ms` is its block time minus its parent's (None for block 1)."""
        self.blocks_committed.inc()
        if txs > failed:
            self._txs_ok.inc(txs - failed)
        if failed:
            self._txs_failed.inc(failed)
        if interval_ms is not None:
            self.block_interval.observe(interval_ms / 1000)

    def on_synced_block(self, *, known: bool) -> None:
        """One block committed from block sync; `known`: its executed form came from this node's consensus."""
        (self._synced_known if known else self._synced_executed).inc()

    def on_decided(self, round_: int) -> None:
        """Consensus decided a height in round `round_` (0 is the first)."""
        self.rounds.observe(round_ + 1)

    def count_admissions(self, verdicts: Iterable[Verdict], *, source: str) -> None:
        """Count one batch's verdicts: one counter update per distinct code, not per transaction."""
        counts: dict[str, int] = {}
        for verdict in verdicts:
            code = ACCEPTED if verdict.error is None else verdict.error.code
            counts[code] = counts.get(code, 0) + 1
        for code, n in counts.items():
            self.admissions.labels(code=code, source=source).inc(n)

    # --- the scrape --------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition of every metric (runs the collectors: call it off the event loop)."""
        return generate_latest(self.registry)


class NodeStateCollector(Collector):
    """The levels, read from the node at scrape time."""

    def __init__(
        self, metrics: NodeMetrics, *, head_height: Callable[[], int], mempool_size: Callable[[], tuple[int, int]]
    ) -> None:
        self._metrics = metrics
        self._head_height = head_height
        self._mempool_size = mempool_size
        self._departments: dict[bytes, str] = {}
        """Peer key -> department code: a node key belongs to one department for good."""

    def describe(self) -> Iterable[Metric]:
        return list(self._families(None, 0, (0, 0)))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self._metrics.consensus, self._head_height(), self._mempool_size()))

    def _families(self, probe: ConsensusProbe | None, head: int, mempool: tuple[int, int]) -> Iterator[Metric]:
        yield GaugeMetricFamily(PREFIX + "head_height", "Height of the last committed block.", value=head)
        yield GaugeMetricFamily(PREFIX + "mempool_transactions", "Transactions waiting for a block.", value=mempool[0])
        yield GaugeMetricFamily(PREFIX + "mempool_bytes", "Bytes of the transactions waiting.", value=mempool[1])
        traffic = [] if probe is None else list(probe.peer_traffic())
        yield GaugeMetricFamily(PREFIX + "peers_connected", "Peer nodes linked to this node now.",
                                value=sum(1 for t in traffic if t.connected))
        received = CounterMetricFamily(PREFIX + "peer_received_bytes", "Bytes received from each peer, by its "
                                       "department (summed over its node keys), over every link since this node "
                                       "started.", labels=["peer"])
        sent = CounterMetricFamily(PREFIX + "peer_sent_bytes", "Bytes sent to each peer, by its department (summed "
                                   "over its node keys), over every link since this node started.", labels=["peer"])
        # one series per label: a department may have several node keys (a validator and an observer, or a
        # key it replaced), and a label set written twice makes the whole scrape invalid
        totals: dict[str, tuple[int, int]] = {}
        for peer in traffic:
            label = self._department(probe, peer.key)
            bytes_in, bytes_out = totals.get(label, (0, 0))
            totals[label] = (bytes_in + peer.bytes_in, bytes_out + peer.bytes_out)
        for label, (bytes_in, bytes_out) in sorted(totals.items()):
            received.add_metric([label], bytes_in)
            sent.add_metric([label], bytes_out)
        yield received
        yield sent
        round_ = None if probe is None else probe.consensus_round()
        yield GaugeMetricFamily(PREFIX + "consensus_round", "Round of the height being decided (-1: none under way).",
                                value=-1 if round_ is None else round_)
        target = max(head, (None if probe is None else probe.sync_target()) or 0)
        yield GaugeMetricFamily(PREFIX + "sync_target_height", "The highest head a peer announced (this node's own "
                                "head if none is higher).", value=target)
        yield GaugeMetricFamily(PREFIX + "sync_behind_blocks", "Blocks this node lacks to reach the highest head "
                                "a peer announced.", value=target - head)
        yield GaugeMetricFamily(PREFIX + "syncing", "1 while block sync is fetching blocks from a peer.",
                                value=int(probe is not None and probe.is_syncing()))
        state_sync = GaugeMetricFamily(PREFIX + "state_sync_ratio", "While a state sync runs: the part of its "
                                       "phase done (blocks verified, state chunks written), 0 to 1.",
                                       labels=["phase"])
        progress = None if probe is None else probe.state_sync_progress()
        if progress is not None:
            phase, done, total = progress
            state_sync.add_metric([phase], done / total if total else 1.0)
        yield state_sync

    def _department(self, probe: ConsensusProbe | None, key: bytes) -> str:
        known = self._departments.get(key)
        if known is None:
            found = None if probe is None else probe.peer_department(key)
            if found is None:
                return key.hex()[:16]  # not registered (yet): looked up again next time
            known = self._departments[key] = found
        return known
