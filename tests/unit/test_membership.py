"""The roster a node dials and accepts, read from the chain: a department admitted by proposal is dialed at
the address in its proposal from the block that applies it; a removed one is dropped and its links closed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chainnode.membership import MembershipTracker, compute_roster
from tests.contract_kit import Chain, key_for
from tests.unit.test_proposals import KIND_CASES, NEW_NODE, advance_to, pass_proposal, proposal, vote

OWN = key_for("PSB/node").public_key
GENESIS_KEYS = {key_for(f"{code}/node").public_key for code in ("PSB", "SAMR", "CAB", "TAX")}


@dataclass
class FakeNetwork:
    targets: list[dict[bytes, str]] = field(default_factory=list)
    disconnects: int = 0

    def set_dial_targets(self, targets: Mapping[bytes, str]) -> None:
        self.targets.append(dict(targets))

    def disconnect_disallowed(self) -> int:
        self.disconnects += 1
        return 1


def admit(chain: Chain) -> int:
    added = pass_proposal(chain, "add_department", KIND_CASES[0].payload, effective=5)
    applied = int(proposal(chain, added)["apply_height"])
    advance_to(chain, applied)
    return applied


def test_genesis_nodes_without_addresses_are_allowed_but_not_dialed() -> None:
    roster = compute_roster(Chain().state, 1, own_key=OWN)
    assert roster.node_keys == GENESIS_KEYS and dict(roster.dial_targets) == {}


def test_an_admitted_department_is_dialed_at_its_address_from_the_applying_block() -> None:
    chain = Chain()
    network = FakeNetwork()
    tracker = MembershipTracker(chain.state, network, own_key=OWN)
    assert tracker.refresh(chain.height + 1)
    assert network.targets == [{}] and network.disconnects == 0  # the first roster closes nothing
    applied = admit(chain)
    assert tracker.refresh(applied + 1)  # the node refreshes after committing the applying block
    assert network.targets[-1] == {NEW_NODE.public_key: "cac.example:26656"}
    assert tracker.roster is not None and NEW_NODE.public_key in tracker.roster.node_keys
    assert not tracker.refresh(applied + 2)  # no change, no call
    assert len(network.targets) == 2


def test_a_removed_department_is_dropped_and_its_links_closed() -> None:
    chain = Chain()
    admit(chain)
    network = FakeNetwork()
    tracker = MembershipTracker(chain.state, network, own_key=OWN)
    tracker.refresh(chain.height + 1)
    removed = pass_proposal(chain, "remove_department", {"code": "CAC"}, effective=6)
    vote(chain, removed, "TAX")
    advance_to(chain, int(proposal(chain, removed)["apply_height"]))
    assert tracker.refresh(chain.height + 1)
    assert network.targets[-1] == {} and network.disconnects == 1
    assert tracker.roster is not None and tracker.roster.node_keys == GENESIS_KEYS


def test_own_key_is_never_a_target() -> None:
    chain = Chain()
    admit(chain)
    roster = compute_roster(chain.state, chain.height + 1, own_key=NEW_NODE.public_key)
    assert NEW_NODE.public_key in roster.node_keys and dict(roster.dial_targets) == {}


def test_with_roster_dialing_off_nothing_is_dialed_but_removed_links_still_close() -> None:
    chain = Chain()
    admit(chain)
    network = FakeNetwork()
    tracker = MembershipTracker(chain.state, network, own_key=OWN, dial=False)
    tracker.refresh(chain.height + 1)
    removed = pass_proposal(chain, "remove_department", {"code": "CAC"}, effective=6)
    vote(chain, removed, "TAX")
    advance_to(chain, int(proposal(chain, removed)["apply_height"]))
    assert tracker.refresh(chain.height + 1)
    assert network.targets == [{}, {}] and network.disconnects == 1
