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
from network.session import EphemeralKey, compute_session_keys, start_session

ALICE, BOB, MALLORY = (PrivateKey(bytes([i]) * 32) for i in (1, 2, 3))
GENESIS = sha256(b"genesis")


TRANSCRIPT = sha256(b"transcript")


def hello(key: PrivateKey, nonce: int, *, chain_id: str = "chain", genesis: bytes = GENESIS) -> Hello:
    return Hello(chain_id, genesis, key.public_key, bytes([nonce]) * 32, bytes([nonce + 100]) * 32)


def sign(key: PrivateKey, *, own: Hello, peer: Hello, transcript: bytes = TRANSCRIPT) -> Auth:
    return sign_handshake(key, own=own, peer=peer, transcript_hash=transcript)


def check(auth: Auth, *, own: Hello, peer: Hello, transcript: bytes = TRANSCRIPT) -> None:
    validate_auth(auth, own=own, peer=peer, transcript_hash=transcript)


def test_signing_bytes_are_the_documented_array() -> None:
    got = compute_handshake_signing_bytes(
        chain_id="chain", genesis_hash=GENESIS, signer_nonce=b"S" * 32, verifier_nonce=b"V" * 32,
        signer_key=ALICE.public_key, verifier_key=BOB.public_key, transcript_hash=TRANSCRIPT,
    )
    payload = codec.encode([GENESIS, b"V" * 32, b"S" * 32, ALICE.public_key, BOB.public_key, TRANSCRIPT])
    assert got == codec.encode([SIGN_HANDSHAKE, "chain", payload])
    assert SIGN_HANDSHAKE == b"chainnode/v1/sign/handshake"


def test_both_sides_accept_each_other() -> None:
    a, b = hello(ALICE, 1), hello(BOB, 2)
    validate_hello(b, own=a)
    validate_hello(a, own=b)
    check(sign(BOB, own=b, peer=a), own=a, peer=b)
    check(sign(ALICE, own=a, peer=b), own=b, peer=a)


def test_recorded_signature_fails_in_a_new_session() -> None:
    a1, b = hello(ALICE, 1), hello(BOB, 2)
    recorded = sign(BOB, own=b, peer=a1)
    a2 = hello(ALICE, 9)  # alice's next session has a fresh nonce
    with pytest.raises(BadHandshakeSignature):
        check(recorded, own=a2, peer=b)


def test_signature_for_one_peer_fails_at_another() -> None:
    a, m, b = hello(ALICE, 1), hello(MALLORY, 1), hello(BOB, 2)
    to_mallory = sign(BOB, own=b, peer=m)  # mallory relays bob's answer to alice
    with pytest.raises(BadHandshakeSignature):
        check(to_mallory, own=a, peer=b)


@pytest.mark.parametrize("change", [{"chain_id": "other"}, {"genesis_hash": sha256(b"other")}])
def test_signature_from_another_network_fails(change: dict[str, object]) -> None:
    a, b = hello(ALICE, 1), hello(BOB, 2)
    signed = sign(BOB, own=replace(b, **change), peer=replace(a, **change))  # type: ignore[arg-type]
    with pytest.raises(BadHandshakeSignature):
        check(signed, own=a, peer=b)


def test_own_signature_reflected_back_fails() -> None:
    a, b = hello(ALICE, 1), hello(BOB, 2)
    mine = sign(ALICE, own=a, peer=b)
    with pytest.raises(BadHandshakeSignature):
        check(mine, own=a, peer=b)
    with pytest.raises(BadHandshakeSignature):
        check(Auth(bytes(64)), own=a, peer=b)


def test_signature_for_another_key_exchange_fails() -> None:
    """A relay that swaps the ephemeral keys makes the two sides hash different transcripts."""
    a, b = hello(ALICE, 1), hello(BOB, 2)
    with pytest.raises(BadHandshakeSignature):
        check(sign(BOB, own=b, peer=a, transcript=sha256(b"the relay's")), own=a, peer=b)


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
    """The example in docs/network.md, byte for byte (Ed25519 signatures are deterministic; the ephemeral
    X25519 keys come from fixed secrets here, from the OS CSPRNG in a node)."""
    a, b = PrivateKey(b"\x01" * 32), PrivateKey(b"\x02" * 32)
    ea, eb = EphemeralKey(b"\x33" * 32), EphemeralKey(b"\x44" * 32)
    assert ea.public_key.hex() == "7b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14"
    assert eb.public_key.hex() == "ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b"
    hello_a = Hello("example", b"\x47" * 32, a.public_key, b"\x11" * 32, ea.public_key)
    hello_b = Hello("example", b"\x47" * 32, b.public_key, b"\x22" * 32, eb.public_key)
    assert encode_frame(hello_a).hex() == (
        "971402a76578616d706c65c420" + "47" * 32 + "c420" + a.public_key.hex() + "c420" + "11" * 32
        + "c420" + ea.public_key.hex()
    )
    # a dialed b: a is the initiator
    session_a = start_session(ea, peer_ephemeral_key=eb.public_key, own_hello=encode_frame(hello_a),
                              peer_hello=encode_frame(hello_b), is_initiator=True, max_sealed_size=1000)
    session_b = start_session(eb, peer_ephemeral_key=ea.public_key, own_hello=encode_frame(hello_b),
                              peer_hello=encode_frame(hello_a), is_initiator=False, max_sealed_size=1000)
    shared = ea.compute_shared_secret(eb.public_key)
    assert shared.hex() == "3c528e9fd39731b15d10de8feb5f71d3f65b73c993581dedb03315a9ed177730"
    transcript = session_a.transcript_hash
    assert transcript == session_b.transcript_hash == sha256(
        codec.encode([b"chainnode/v1/p2p/transcript", encode_frame(hello_a), encode_frame(hello_b)])
    )
    assert transcript.hex() == "da9e652e1547b84401bf846a7fcf99f38aa9812a4abebda1f053189ba6e479af"
    keys = compute_session_keys(shared, transcript)
    assert keys.initiator_to_responder.hex() == "9afebee1714eb57e2f14773bcf4b12f1a13b7ee8af1b1ef0aa728f3adcbddde1"
    assert keys.responder_to_initiator.hex() == "4d09111db08c47918cd1bf3d87312308b48f7c966090d2320348d8b2e51ce1e0"
    signing = compute_handshake_signing_bytes(
        chain_id="example", genesis_hash=b"\x47" * 32, signer_nonce=b"\x11" * 32, verifier_nonce=b"\x22" * 32,
        signer_key=a.public_key, verifier_key=b.public_key, transcript_hash=transcript,
    )
    assert signing.hex() == (
        "93c41b636861696e6e6f64652f76312f7369676e2f68616e647368616b65a76578616d706c65c4cd96c420" + "47" * 32
        + "c420" + "22" * 32 + "c420" + "11" * 32 + "c420" + a.public_key.hex() + "c420" + b.public_key.hex()
        + "c420" + transcript.hex()
    )
    auth = encode_frame(sign_handshake(a, own=hello_a, peer=hello_b, transcript_hash=transcript))
    assert auth.hex() == (
        "931502c4403086c991333fed54338d087da57ccd639adbe6dd7a8dd22f4fcb7d5cbc7941170ce89e5ad697630328e19f1f2641"
        "9824e3c86f45e923105f4f7c274c4fd37107"
    )
    sealed = session_a.sealer.seal(auth)  # a's first sealed frame: counter 0
    assert sealed.hex() == (
        "02beaabdf4bacaa5c584a962cc96172f879c0877d342bb2036bb874f3d208539f2612d426055aacceae6261f05100b853827b10a"
        "f33042bcfdd68e771a412283e300d1c406d4e610a8fcdd494f7ce89fe2bc5b25ef"
    )
    assert session_b.opener.open(sealed) == auth
    validate_auth(Auth(auth[5:]), own=hello_b, peer=hello_a, transcript_hash=transcript)
