"""The handshake signature: its exact bytes, and that it cannot be replayed to another session, peer or
network, nor reflected back; and the rule that picks which of two links to a peer survives."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chainnode import codec
from chainnode.crypto import SIGN_HANDSHAKE, PrivateKey, sha256
from network.errors import BadHandshakeSignature, SelfConnection, WrongChainId, WrongGenesis
from network.frames import Auth, Hello, encode_frame
from network.handshake import (
    compute_handshake_signing_bytes,
    is_preferred_link,
    sign_handshake,
    validate_auth,
    validate_hello,
)

ALICE, BOB, MALLORY = (PrivateKey(bytes([i]) * 32) for i in (1, 2, 3))
GENESIS = sha256(b"genesis")


def hello(key: PrivateKey, nonce: int, *, chain_id: str = "chain", genesis: bytes = GENESIS) -> Hello:
    return Hello(chain_id, genesis, key.public_key, bytes([nonce]) * 32)


def test_signing_bytes_are_the_documented_array() -> None:
    got = compute_handshake_signing_bytes(
        chain_id="chain", genesis_hash=GENESIS, signer_nonce=b"S" * 32, verifier_nonce=b"V" * 32,
        signer_key=ALICE.public_key, verifier_key=BOB.public_key,
    )
    payload = codec.encode([GENESIS, b"V" * 32, b"S" * 32, ALICE.public_key, BOB.public_key])
    assert got == codec.encode([SIGN_HANDSHAKE, "chain", payload])
    assert SIGN_HANDSHAKE == b"chainnode/v1/sign/handshake"


def test_both_sides_accept_each_other() -> None:
    a, b = hello(ALICE, 1), hello(BOB, 2)
    validate_hello(b, own=a)
    validate_hello(a, own=b)
    validate_auth(sign_handshake(BOB, own=b, peer=a), own=a, peer=b)
    validate_auth(sign_handshake(ALICE, own=a, peer=b), own=b, peer=a)


def test_recorded_signature_fails_in_a_new_session() -> None:
    a1, b = hello(ALICE, 1), hello(BOB, 2)
    recorded = sign_handshake(BOB, own=b, peer=a1)
    a2 = hello(ALICE, 9)  # alice's next session has a fresh nonce
    with pytest.raises(BadHandshakeSignature):
        validate_auth(recorded, own=a2, peer=b)


def test_signature_for_one_peer_fails_at_another() -> None:
    a, m, b = hello(ALICE, 1), hello(MALLORY, 1), hello(BOB, 2)
    to_mallory = sign_handshake(BOB, own=b, peer=m)  # mallory relays bob's answer to alice
    with pytest.raises(BadHandshakeSignature):
        validate_auth(to_mallory, own=a, peer=b)


@pytest.mark.parametrize("change", [{"chain_id": "other"}, {"genesis_hash": sha256(b"other")}])
def test_signature_from_another_network_fails(change: dict[str, object]) -> None:
    a, b = hello(ALICE, 1), hello(BOB, 2)
    signed = sign_handshake(BOB, own=replace(b, **change), peer=replace(a, **change))  # type: ignore[arg-type]
    with pytest.raises(BadHandshakeSignature):
        validate_auth(signed, own=a, peer=b)


def test_own_signature_reflected_back_fails() -> None:
    a, b = hello(ALICE, 1), hello(BOB, 2)
    mine = sign_handshake(ALICE, own=a, peer=b)
    with pytest.raises(BadHandshakeSignature):
        validate_auth(mine, own=a, peer=b)
    with pytest.raises(BadHandshakeSignature):
        validate_auth(Auth(bytes(64)), own=a, peer=b)


def test_hello_checks() -> None:
    own = hello(ALICE, 1)
    with pytest.raises(WrongChainId):
        validate_hello(hello(BOB, 2, chain_id="other"), own=own)
    with pytest.raises(WrongGenesis):
        validate_hello(hello(BOB, 2, genesis=bytes(32)), own=own)
    with pytest.raises(SelfConnection):
        validate_hello(hello(ALICE, 2), own=own)


def test_link_choice_is_the_same_at_both_ends() -> None:
    small, large = sorted([ALICE.public_key, BOB.public_key])
    assert is_preferred_link(small, large) and not is_preferred_link(large, small)
    assert is_preferred_link(small, small) and is_preferred_link(large, large)  # a redial replaces


def test_worked_example_in_docs_network_md() -> None:
    """The example in docs/network.md, byte for byte (Ed25519 signatures are deterministic)."""
    a, b = PrivateKey(b"\x01" * 32), PrivateKey(b"\x02" * 32)
    hello_a = Hello("example", b"\x47" * 32, a.public_key, b"\x11" * 32)
    hello_b = Hello("example", b"\x47" * 32, b.public_key, b"\x22" * 32)
    assert encode_frame(hello_a).hex() == (
        "961401a76578616d706c65c420" + "47" * 32 + "c420" + a.public_key.hex() + "c420" + "11" * 32
    )
    signing = compute_handshake_signing_bytes(
        chain_id="example", genesis_hash=b"\x47" * 32, signer_nonce=b"\x11" * 32, verifier_nonce=b"\x22" * 32,
        signer_key=a.public_key, verifier_key=b.public_key,
    )
    assert signing.hex() == (
        "93c41b636861696e6e6f64652f76312f7369676e2f68616e647368616b65a76578616d706c65c4ab95c420" + "47" * 32
        + "c420" + "22" * 32 + "c420" + "11" * 32 + "c420" + a.public_key.hex() + "c420" + b.public_key.hex()
    )
    assert encode_frame(sign_handshake(a, own=hello_a, peer=hello_b)).hex() == (
        "931501c440efb6c8db93b92c8330e81c0cf2623033790b3b94ecfce780dcf96aab1260ea362432aae2db6524bd10929817291e3b"
        "3eb959e9008d9ebb2dfa1e73927631c609"
    )
