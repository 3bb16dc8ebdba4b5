"""What a node sends again every status interval, so that any connected quorum decides.

Peers announce their height and round (status). Every interval a node sends: its own votes of the
current height; to every peer at the same height and a round not above its own, the votes of its
current round, of its valid round and of the proof-of-lock rounds the round's proposals claim (as
CometBFT's vote gossip: a node that lost them in a restart, or never got them, can then accept a
re-proposed value); and, once the round has run longer than the propose timeout, the round's proposal
to validators that have not prevoted in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE
from chainnode.consensus.state import ConsensusState
from chainnode.driver.gossip import KIND_PROPOSAL, KIND_VOTE, PeerStatus

RESEND_OWN: Final = 8
"""Own messages of the current height sent again every status interval (the newest ones)."""

Send = tuple[bytes | None, str, bytes]
"""(peer, kind, payload); peer None: every peer."""


class Regossip:
    """Peers' announced positions and the proposals of recent rounds, and what to send again."""

    def __init__(self) -> None:
        self.peer_status: dict[bytes, PeerStatus] = {}
        self._proposals: dict[tuple[int, int], list[bytes]] = {}

    def note_status(self, peer: bytes, status: PeerStatus) -> None:
        self.peer_status[peer] = status

    def forget_peer(self, peer: bytes) -> None:
        self.peer_status.pop(peer, None)

    def remember_proposal(self, height: int, round_: int, payload: bytes) -> None:
        self._proposals.setdefault((height, round_), []).append(payload)

    def forget(self, *, below_height: int, height: int | None = None, below_round: int = 0) -> None:
        """Forget proposals of heights below `below_height`, and of `height`'s rounds below `below_round`."""
        for key in list(self._proposals):
            if key[0] < below_height or (key[0] == height and key[1] < below_round):
                del self._proposals[key]

    def compute_sends(self, state: ConsensusState, own: Sequence[tuple[str, bytes]], *, stale: bool) -> list[Send]:
        """What to send this interval; `stale`: the round has run longer than the propose timeout."""
        sends: list[Send] = [(None, kind, payload) for kind, payload in own[-RESEND_OWN:] if kind == KIND_VOTE]
        pol_rounds = {received.proposal.pol_round for received in state.get_proposals(state.round)}
        rounds = sorted(({state.round, state.valid_round} | pol_rounds) - {-1})
        votes = [
            signed.encode()
            for round_ in rounds
            for vote_type in (VOTE_PREVOTE, VOTE_PRECOMMIT)
            for values in state.get_votes(round_, vote_type).votes.values()
            for signed in values
        ]
        prevoted = set(state.get_votes(state.round, VOTE_PREVOTE).votes)
        proposals = self._proposals.get((state.height, state.round), [])
        for peer, status in self.peer_status.items():
            if status.height != state.height or status.round > state.round:
                continue  # a peer ahead has what we have; one behind a height syncs blocks
            sends.extend((peer, KIND_VOTE, payload) for payload in votes)
            index = state.validators.index_of(peer)
            if stale and index is not None and index not in prevoted:
                sends.extend((peer, KIND_PROPOSAL, payload) for payload in proposals[:1])
        return sends
