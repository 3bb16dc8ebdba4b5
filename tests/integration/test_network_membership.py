"""Dial targets set at run time, keyed by node key (the on-chain roster): a new key is dialed with no peer
configured, a changed address is dialed anew, and a key removed from the membership is dropped and its
link closed."""

from __future__ import annotations

import logging

import pytest

from network.errors import CLOSE_POLICY_VIOLATION
from tests.integration.test_network_support import KEYS, Cluster, free_port, logged, wait_linked, wait_until

A, B, C = KEYS[0], KEYS[1], KEYS[2]


async def test_a_roster_target_is_dialed_and_redialed_at_its_new_address() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        b = await cluster.add(B)  # neither lists the other as a peer
        a.network.set_dial_targets({B.public_key: b.address, A.public_key: a.address})  # own key: skipped
        await wait_linked(a, b)
        assert a.network.dial_targets() == {B.public_key: b.address}

        # b moves to another port: the roster says so, and a dials the new address only
        await b.network.stop()
        await wait_until(lambda: a.network.peers() == [], "a to lose b")
        moved = await cluster.add(B, listen=f"127.0.0.1:{free_port()}")
        a.network.set_dial_targets({B.public_key: moved.address})
        await wait_linked(a, moved)
        assert a.network.dial_targets() == {B.public_key: moved.address}


async def test_a_removed_member_is_dropped_and_its_link_closed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="network")
    members = {A.public_key, B.public_key, C.public_key}
    async with Cluster() as cluster:
        a = await cluster.add(A, allowed=members.__contains__)
        b = await cluster.add(B, allowed=members.__contains__)
        c = await cluster.add(C, allowed=members.__contains__)
        a.network.set_dial_targets({B.public_key: b.address, C.public_key: c.address})
        await wait_linked(a, b)
        await wait_linked(a, c)

        # B's department is removed: the roster drops it, and the membership change closes its link
        members.discard(B.public_key)
        a.network.set_dial_targets({C.public_key: c.address})
        assert a.network.disconnect_disallowed() == 1
        await wait_until(lambda: not a.is_linked(b) and not b.is_linked(a), "b's link to close")
        assert a.network.dial_targets() == {C.public_key: c.address}
        assert a.is_linked(c)
        # a no longer dials b, and refuses b's own dials (b still allows a, and would link if a did)
        b.network.set_dial_targets({A.public_key: a.address})
        await wait_until(lambda: logged(caplog, "refused inbound link", "peer_not_allowed") >= 2, "b's dials refused")
        assert not a.is_linked(b) and CLOSE_POLICY_VIOLATION == 1008
