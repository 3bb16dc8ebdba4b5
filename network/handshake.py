"""The link handshake: mutual challenge-response bound to the chain ID, genesis hash, both nonces, both
keys and the encrypted session, and the rule that decides which of two links to the same peer survives.

No I/O here; `network.link.HandshakeExchange` performs the exchange. Each side sends a `Hello` with its
key, a fresh 32-byte nonce and a fresh ephemeral X25519 key, then (sealed, network/session.py) an `Auth`
whose signature covers

    compute_signing_bytes(SIGN_HANDSHAKE, chain_id,
                          encode([genesis_hash, peer_nonce, own_nonce, own_public_key, peer_public_key,
                                  transcript_hash]))

from the signer's point of view. The verifier's fresh nonce makes a recorded signature useless in any
other session, the verifier's key in any other pairing, the chain ID and genesis hash on any other
network, and the transcript hash (both hellos, with both ephemeral keys) with any other key exchange.
"""

from __future__ import annotations

from chainnode import codec
from chainnode.crypto import SIGN_HANDSHAKE, PrivateKey, compute_signing_bytes, verify_signature
from network.errors import BadHandshakeSignature, SelfConnection, WrongChainId, WrongGenesis
from network.frames import Auth, Hello


def compute_handshake_signing_bytes(
    *, chain_id: str, genesis_hash: bytes, signer_nonce: bytes, verifier_nonce: bytes, signer_key: bytes,
    verifier_key: bytes, transcript_hash: bytes,
) -> bytes:
    """Return the bytes the signer's handshake signature covers."""
    payload = codec.encode([genesis_hash, verifier_nonce, signer_nonce, signer_key, verifier_key, transcript_hash])
    return compute_signing_bytes(SIGN_HANDSHAKE, chain_id, payload)


def sign_handshake(key: PrivateKey, *, own: Hello, peer: Hello, transcript_hash: bytes) -> Auth:
    """Return our answer to the peer's hello: a signature over its nonce, ours and the session's transcript."""
    message = compute_handshake_signing_bytes(
        chain_id=own.chain_id, genesis_hash=own.genesis_hash, signer_nonce=own.nonce, verifier_nonce=peer.nonce,
        signer_key=key.public_key, verifier_key=peer.public_key, transcript_hash=transcript_hash,
    )
    return Auth(key.sign(message))


def validate_hello(peer: Hello, *, own: Hello) -> None:
    """Check a peer's hello against ours. Raises WrongChainId, WrongGenesis or SelfConnection."""
    if peer.chain_id != own.chain_id:
        raise WrongChainId(f"peer is on chain {peer.chain_id!r}, we are on {own.chain_id!r}", field="chain_id")
    if peer.genesis_hash != own.genesis_hash:
        raise WrongGenesis(
            f"peer genesis {peer.genesis_hash.hex()[:16]}… differs from ours {own.genesis_hash.hex()[:16]}…",
            field="genesis_hash",
        )
    if peer.public_key == own.public_key:
        raise SelfConnection("peer presents our own node key", field="public_key")


def validate_auth(auth: Auth, *, own: Hello, peer: Hello, transcript_hash: bytes) -> None:
    """Check the peer's signature over our nonce and the transcript we saw. Raises BadHandshakeSignature."""
    message = compute_handshake_signing_bytes(
        chain_id=own.chain_id, genesis_hash=own.genesis_hash, signer_nonce=peer.nonce, verifier_nonce=own.nonce,
        signer_key=peer.public_key, verifier_key=own.public_key, transcript_hash=transcript_hash,
    )
    if not verify_signature(peer.public_key, message, auth.signature):
        raise BadHandshakeSignature("handshake signature does not verify for this session", field="signature")


def is_preferred_link(new_initiator: bytes, existing_initiator: bytes) -> bool:
    """Return whether a new link to a peer replaces the existing one (else the new one is closed).

    Both ends apply the same rule, so both keep the same link: of two links dialed by different ends,
    the one dialed by the smaller key; of two dialed by the same end, the newer (that end reconnected,
    so the older link is stale).
    """
    return new_initiator <= existing_initiator
