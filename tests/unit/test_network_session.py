"""The encrypted session without I/O: both sides derive the same keys, each direction has its own key and
counter, anything altered, replayed or reordered fails to open, sizes are checked before decryption,
counters never wrap, and a low-order ephemeral key is refused."""

from __future__ import annotations

import pytest
from aiohttp import WSMessage, WSMsgType

from network.errors import ForgedFrame, InvalidEphemeralKey, NonceExhausted, SealedFrameTooLarge
from network.link import SealedWebSocket
from network.session import (
    MAX_COUNTER,
    TAG_SIZE,
    EphemeralKey,
    FrameOpener,
    FrameSealer,
    SecureSession,
    compute_nonce,
    start_session,
)

INITIATOR_HELLO, RESPONDER_HELLO = b"hello from the dialer", b"hello from the listener"


def pair(max_sealed_size: int = 1000) -> tuple[SecureSession, SecureSession]:
    dialer, listener = EphemeralKey(), EphemeralKey()
    a = start_session(dialer, peer_ephemeral_key=listener.public_key, own_hello=INITIATOR_HELLO,
                      peer_hello=RESPONDER_HELLO, is_initiator=True, max_sealed_size=max_sealed_size)
    b = start_session(listener, peer_ephemeral_key=dialer.public_key, own_hello=RESPONDER_HELLO,
                      peer_hello=INITIATOR_HELLO, is_initiator=False, max_sealed_size=max_sealed_size)
    return a, b


def test_both_sides_agree_and_each_direction_has_its_own_key() -> None:
    a, b = pair()
    assert a.transcript_hash == b.transcript_hash
    for n in range(3):
        assert b.opener.open(a.sealer.seal(b"to b %d" % n)) == b"to b %d" % n
        assert a.opener.open(b.sealer.seal(b"to a %d" % n)) == b"to a %d" % n
    sealed = a.sealer.seal(b"x")
    assert len(sealed) == 1 + TAG_SIZE
    with pytest.raises(ForgedFrame):
        a.opener.open(sealed)  # our own frame reflected back: the other direction's key


def test_the_same_frame_seals_differently_each_time() -> None:
    a, _ = pair()
    assert a.sealer.seal(b"vote") != a.sealer.seal(b"vote")
    assert compute_nonce(1) == bytes(4) + (1).to_bytes(8, "little")


def test_a_transcript_with_other_hellos_gives_other_keys() -> None:
    dialer, listener = EphemeralKey(), EphemeralKey()
    a = start_session(dialer, peer_ephemeral_key=listener.public_key, own_hello=INITIATOR_HELLO,
                      peer_hello=RESPONDER_HELLO, is_initiator=True, max_sealed_size=100)
    b = start_session(listener, peer_ephemeral_key=dialer.public_key, own_hello=RESPONDER_HELLO + b"!",
                      peer_hello=INITIATOR_HELLO, is_initiator=False, max_sealed_size=100)
    assert a.transcript_hash != b.transcript_hash
    with pytest.raises(ForgedFrame):
        b.opener.open(a.sealer.seal(b"x"))


@pytest.mark.parametrize("change", ["flip", "truncate", "replay", "reorder", "empty"])
def test_altered_frames_do_not_open(change: str) -> None:
    a, b = pair()
    first, second = a.sealer.seal(b"first"), a.sealer.seal(b"second")
    if change == "replay":
        assert b.opener.open(first) == b"first"
        forged = first
    elif change == "reorder":
        forged = second
    elif change == "flip":
        forged = first[:3] + bytes([first[3] ^ 4]) + first[4:]
    elif change == "truncate":
        forged = first[:-1]
    else:
        forged = b""
    counter = b.opener.counter
    with pytest.raises(ForgedFrame):
        b.opener.open(forged)
    assert b.opener.counter == counter  # a frame that fails changes nothing


def test_size_is_checked_before_decrypting() -> None:
    a, b = pair(max_sealed_size=64 + TAG_SIZE)
    assert b.opener.open(a.sealer.seal(bytes(64))) == bytes(64)
    with pytest.raises(SealedFrameTooLarge):
        b.opener.open(bytes(65 + TAG_SIZE))  # not even authentic: refused on its length alone


def test_counters_never_wrap() -> None:
    sealer, opener = FrameSealer(bytes(32)), FrameOpener(bytes(32), max_sealed_size=100)
    sealer.counter = opener.counter = MAX_COUNTER - 1
    assert opener.open(sealer.seal(b"last")) == b"last"
    with pytest.raises(NonceExhausted):
        sealer.seal(b"one more")
    with pytest.raises(NonceExhausted):
        opener.open(bytes(TAG_SIZE + 1))


def test_a_low_order_ephemeral_key_is_refused() -> None:
    with pytest.raises(InvalidEphemeralKey):
        start_session(EphemeralKey(), peer_ephemeral_key=bytes(32), own_hello=b"a", peer_hello=b"b",
                      is_initiator=True, max_sealed_size=100)


class LoopbackWebSocket:
    """Hands what is sent back to `receive`, as a WebSocket to itself would."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        self.sent.append(data)

    async def receive(self, timeout: float | None = None) -> WSMessage:
        return WSMessage(WSMsgType.BINARY, self.sent.pop(0), None)

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = True
        return True


async def test_a_sealed_websocket_counts_the_bytes_on_the_wire() -> None:
    a, b = pair()
    wire = LoopbackWebSocket()
    sender, receiver = SealedWebSocket(wire, a), SealedWebSocket(wire, b)
    for frame in (b"x" * 10, b"y" * 300):
        await sender.send_bytes(frame)
        assert (await receiver.receive()).data == frame
    wire_bytes = 10 + 300 + 2 * TAG_SIZE  # sealed frames, tags included, not the frames before sealing
    assert (sender.stats.bytes_out, receiver.stats.bytes_in) == (wire_bytes, wire_bytes)
    assert (sender.stats.bytes_in, receiver.stats.bytes_out) == (0, 0)
