"""What the network needs of the node: a handler for messages, requests and peer arrivals."""

from __future__ import annotations

from typing import Protocol

from network.verdict import Verdict


class MessageHandler(Protocol):
    """The node side of the network. Calls for one peer come one at a time, in arrival order.

    A method that raises a `ChainError` is answered for it: `on_message` as `compute_verdict(error)`,
    `on_request` with an error response carrying the error's code. Any other exception is a bug in the
    handler, but one that this peer's input triggered: it is logged with its traceback, the peer is
    scored down (`Offence.HANDLER_FAILURE`) and a request is answered `internal_error`. It never stops
    the network: one peer must not be able to take a node down, even with a validator's key.
    """

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        """Handle one gossip message. REJECT scores the peer down."""
        ...

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        """Answer one request. The answer must fit the kind's limit. Do not await `Network.request` to
        the same peer here: that peer may be waiting for us in the same way."""
        ...

    def on_peer_connected(self, peer: bytes) -> None: ...

    def on_peer_disconnected(self, peer: bytes) -> None: ...
