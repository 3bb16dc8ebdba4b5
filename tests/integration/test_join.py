"""A department joins the running network by the documented flow, with no peer list edited anywhere: its node
lists one peer, the old nodes list none of it. It is refused until admitted by proposal, then links as an
observer and syncs from genesis, gets its voting power JOIN_DELAY_BLOCKS after admission (effective two
heights later) and signs commits. The old nodes dial it at the address in the proposal, it dials them at
the addresses in genesis, so when its only configured peer dies the network keeps committing. Four real
processes plus the joiner, on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

from chainnode import crypto, light
from chainnode.client import Client
from chainnode.config import HomeLayout, load_config
from chainnode.home import join_home
from contracts.proposals import JOIN_DELAY_BLOCKS
from tests.cluster import FAST, Cluster
from tests.kit import wait_for
from tests.nodeproc import free_port, http_json, kill, log_tail, start_node, wait_ready


def test_a_department_joins_by_proposal_and_signs_commits(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.start_all()
    joiner = None
    try:
        peers = tuple(load_config(HomeLayout(h.home).config).p2p_listen for h in cluster.homes)
        api_port = free_port()
        joiner_p2p = free_port()
        # the documented flow: one peer to start from; the old nodes' configs never learn of it
        joining = join_home(tmp_path / "joiner", genesis_path=HomeLayout(cluster.homes[0].home).genesis,
                            department="HRSS", peers=peers[:1], api_port=api_port, p2p_port=joiner_p2p,
                            config_overrides=FAST)
        payload = joining.proposal_payload(name="Human Resources", power=10, address=f"127.0.0.1:{joiner_p2p}")
        payload["node_key"] = bytes.fromhex(payload["node_key"])
        payload["admins"][0]["public_key"] = bytes.fromhex(payload["admins"][0]["public_key"])
        if "encryption_key" in payload:  # the joiner's document key: its first period starts at admission
            payload["encryption_key"] = bytes.fromhex(payload["encryption_key"])
        # Before admission its links are refused; it keeps retrying and stays at height 0.
        joiner = start_node(joining.home, tmp_path / "joiner.log")
        joiner_url = f"http://127.0.0.1:{api_port}"
        wait_ready(joiner_url, joiner, log=tmp_path / "joiner.log")

        clients = [Client(url, key=key) for url, key in zip(cluster.urls, cluster.keys, strict=True)]
        try:
            head = clients[0].status()["height"]
            proposed = clients[0].call(cluster.keys[0], "governance", "propose", {
                "kind": "add_department", "payload": payload, "title": "Admit HRSS",
                "deadline_height": head + 200, "effective_height": head + 5,
            })
            proposal_id = next(e["attributes"]["id"] for e in proposed["result"]["events"]
                               if e["kind"] == "proposal.created")
            assert http_json(f"{joiner_url}/v1/status")[1]["height"] == 0
            for i in (1, 2, 3):
                clients[i].call(cluster.keys[i], "governance", "vote", {"proposal_id": proposal_id,
                                                                        "approve": True})
            wait_for("the proposal to pass on node0",
                     lambda: clients[0].proposal(proposal_id)["proposal"]["status"] == "passed", timeout=10)
            cluster.wait_committed(0, cluster.submit(0, ["apply"]))  # the next block applies it
            proposal = clients[0].proposal(proposal_id)["proposal"]
            assert proposal["status"] == "applied", proposal
            applied = int(proposal["apply_height"])
            new_key = joining.node_key.public_key.hex()
            listed = {d["code"]: d for d in http_json(f"{cluster.urls[0]}/v1/departments")[1]["departments"]}
            assert listed["HRSS"]["encryption_key"] == (
                payload["encryption_key"].hex() if "encryption_key" in payload else None)

            voting = applied + JOIN_DELAY_BLOCKS + 2

            def validators_at(height: int) -> list[str]:
                answer = http_json(f"{cluster.urls[0]}/v1/validators?height={height}")[1]
                return [v["public_key"] for v in answer["validators"]]

            # an observer first: it links and syncs, but does not count for the quorum yet
            assert new_key not in validators_at(applied + 2)
            wait_for("the joiner to link as an observer and sync",
                     lambda: http_json(f"{joiner_url}/v1/status")[1]["height"] >= applied)
            while cluster.height(0) < voting:
                cluster.wait_committed(0, cluster.submit(0, [f"advance-{time.monotonic_ns()}"]))
            assert new_key not in validators_at(voting - 1) and new_key in validators_at(voting)
            # the old nodes dialed it at the address in the proposal: their configs do not list it
            for i in (1, 2, 3):
                assert f"127.0.0.1:{joiner_p2p} (from the roster)" in cluster.log(i).read_text(), i
            # The joiner syncs from genesis and then signs: find a later block whose commit carries its signature.
            cluster.wait_committed(0, cluster.submit(0, ["after-join-1"]))
            wait_for("the joiner to catch up", lambda: http_json(f"{joiner_url}/v1/status")[1]["height"] >= applied)

            def signed_by_joiner() -> bool:
                cluster.wait_committed(1, cluster.submit(1, [f"probe-{time.monotonic_ns()}"]))
                height = cluster.height(0)
                validators = http_json(f"{cluster.urls[0]}/v1/validators?height={height}")[1]["validators"]
                index = next((v["index"] for v in validators if v["public_key"] == new_key), None)
                commit = http_json(f"{cluster.urls[0]}/v1/blocks/{height}")[1]["commit"]
                return index is not None and index in [s["validator_index"] for s in commit["signatures"]]

            wait_for("a commit signed by the joiner", signed_by_joiner, timeout=90)
            # A verifier holding only genesis checks a proof of a block the new set signed.
            late = cluster.submit(3, ["verified-after-join"])
            cluster.wait_committed(3, late)
            bundle = light.decode_bundle(clients[3].tx_proof(late[0]))
            assert isinstance(bundle, light.TxBundle) and bundle.links[-1].validators is not None \
                and bundle.links[-1].validators.index_of(joining.node_key.public_key) is not None
            assert light.verify_tx_bundle(joining.genesis, bundle).tx.tx_id.hex() == late[0]  # type: ignore[arg-type]
            member = http_json(f"{cluster.urls[0]}/v1/members/{joining.admin_key.public_key.hex()}")[1]
            assert member["active"] and member["roles"] == ["admin"] and member["member"]["department"] == "HRSS"
        finally:
            for client in clients:
                client.close()
        # Five validators of power 10: with the joiner's only configured peer down, 40 of 50 is still a
        # quorum, and the joiner is linked to the other three through the roster.
        cluster.kill(0)
        before = cluster.height(2)
        cluster.wait_committed(2, cluster.submit(2, ["node0-down"]), timeout=30)
        cluster.wait_committed(3, cluster.submit(3, ["node0-down-2"]), timeout=30)
        assert cluster.height(2) > before
        wait_for("the joiner to follow", lambda: http_json(f"{joiner_url}/v1/status")[1]["height"] >= before + 1,
                 timeout=30)
        cluster.assert_consistent()
    finally:
        if joiner is not None:
            kill(joiner)
        cluster.stop_all()
    cluster.check_stores()


def test_a_removed_department_is_disconnected_and_refused(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.start_all()
    clients = [Client(url) for url in cluster.urls]
    try:
        removed_key = crypto.load_key_file(HomeLayout(cluster.homes[3].home).node_key).key.public_key.hex()

        def peers_of(i: int) -> set[str]:
            return {p["key"] for p in http_json(f"{cluster.urls[i]}/v1/status")[1]["consensus"]["peers"]}

        wait_for("node0 to link with node3", lambda: removed_key in peers_of(0))
        head = clients[0].status()["height"]
        proposed = clients[0].call(cluster.keys[0], "governance", "propose", {
            "kind": "remove_department", "payload": {"code": "TAX"}, "title": "Remove TAX",
            "deadline_height": head + 200, "effective_height": head + 5,
        })
        proposal_id = next(e["attributes"]["id"] for e in proposed["result"]["events"]
                           if e["kind"] == "proposal.created")
        for i in (0, 1, 2):
            clients[i].call(cluster.keys[i], "governance", "vote", {"proposal_id": proposal_id, "approve": True})

        def applied() -> bool:
            cluster.wait_committed(1, cluster.submit(1, [f"tick-{time.monotonic_ns()}"]))
            return bool(clients[0].proposal(proposal_id)["proposal"]["status"] == "applied")

        wait_for("the removal to apply", applied)
        # every remaining node closes its link to the removed node and refuses it from then on
        for i in (0, 1, 2):
            try:
                wait_for(f"node{i} to drop node3", lambda i=i: removed_key not in peers_of(i), timeout=20)
            except AssertionError as exc:
                heads = [clients[j].status()["height"] for j in range(4)]
                raise AssertionError(f"{exc}; heads {heads}; node{i}'s log ends:\n{log_tail(cluster.log(i))}\n"
                                     f"node3's log ends:\n{log_tail(cluster.log(3))}") from None
        cluster.wait_committed(2, cluster.submit(2, ["after-removal"]))
        assert all(removed_key not in peers_of(i) for i in (0, 1, 2))
        assert "no longer allowed" in cluster.log(0).read_text()
    finally:
        for client in clients:
            client.close()
        cluster.stop_all()
