"""Partial partitions on four real processes: any connected quorum keeps committing.

Links between nodes run through TCP proxies that a test cuts per pair. In a ring (0-1-2-3-0, with 0-2 and
1-3 cut) or a line (0-1-2-3) no node hears every other one directly, yet each is connected to all of them
through its neighbours: votes, proposals and transactions are relayed, so blocks are still decided, and
a transaction submitted at either end of the line is committed everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster import Cluster

RING_CUTS = {frozenset((0, 2)), frozenset((1, 3))}
LINE_CUTS = {frozenset((0, 2)), frozenset((0, 3)), frozenset((1, 3))}


@pytest.mark.parametrize(("shape", "cuts"), [("ring", RING_CUTS), ("line", LINE_CUTS)])
def test_a_connected_quorum_commits_through_relays(tmp_path: Path, shape: str, cuts: set[frozenset[int]]) -> None:
    cluster = Cluster(tmp_path, proxies=True)
    cluster.start_all()
    try:
        cluster.wait_committed(0, cluster.submit(0, ["before"]))
        assert cluster.mesh is not None
        cluster.mesh.cut_pairs(cuts)
        for round_ in range(3):  # several heights, so that every node's turn as proposer comes
            ends = [cluster.submit(0, [f"{shape}-{round_}-at-0"]), cluster.submit(3, [f"{shape}-{round_}-at-3"])]
            for tx_ids in ends:
                for i in range(4):
                    cluster.wait_committed(i, tx_ids, timeout=60)
        cluster.wait_height(max(cluster.height(i) for i in range(4)))
        cluster.assert_consistent()
    finally:
        cluster.stop_all()
    cluster.check_stores()
