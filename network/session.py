"""The encrypted session of a link: an X25519 key exchange bound to both hellos, per-direction keys from
HKDF-SHA256, and every frame after the hellos sealed with ChaCha20-Poly1305 under a counter nonce.

No I/O here; `network.link` drives it. This module alone imports `cryptography`. The construction follows
CometBFT's SecretConnection (and Noise's NN pattern plus signatures): each side sends a fresh ephemeral
X25519 key in its hello; both compute

    transcript_hash = SHA-256(encode([b"chainnode/v1/p2p/transcript", initiator_hello, responder_hello]))
    shared          = X25519(own_ephemeral_secret, peer_ephemeral_key)      (all zero: refused)
    okm             = HKDF-SHA256(ikm=shared, salt=transcript_hash, info=b"chainnode/v1/p2p/keys", L=64)
    initiator key   = okm[0:32]   (frames the dialer sends)
    responder key   = okm[32:64]  (frames the listener sends)

where the hellos are the exact frame bytes each side sent (canonical, so both sides hold the same bytes).
The handshake signature covers `transcript_hash` (network/handshake.py), which binds the node key to this
key exchange: a relay that substitutes its own ephemeral keys makes the two sides hash different
transcripts, and cannot sign either one with a node key. Frame n (from 0) in one direction is sealed with
the nonce `00000000 || n as 8 bytes little-endian` and no associated data; counters are implicit (the
WebSocket over TCP is ordered), so a dropped, replayed, reordered or altered frame fails to open.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chainnode import codec
from network.errors import ForgedFrame, InvalidEphemeralKey, NonceExhausted, SealedFrameTooLarge

TRANSCRIPT_LABEL: Final = b"chainnode/v1/p2p/transcript"
KEYS_LABEL: Final = b"chainnode/v1/p2p/keys"
EPHEMERAL_SIZE: Final = 32
TAG_SIZE: Final = 16
"""Bytes a sealed frame is longer than the frame (the Poly1305 tag)."""
MAX_COUNTER: Final = 2**64 - 1
"""The last counter value never used: a direction that reaches it refuses to seal or open more."""


class EphemeralKey:
    """One X25519 key pair, fresh per connection and forgotten with it."""

    def __init__(self, secret: bytes | None = None) -> None:
        """A fresh key from the OS CSPRNG; `secret` (32 bytes) only for test vectors."""
        self._secret = X25519PrivateKey.generate() if secret is None else X25519PrivateKey.from_private_bytes(secret)
        self.public_key: bytes = self._secret.public_key().public_bytes_raw()

    def compute_shared_secret(self, peer_public_key: bytes) -> bytes:
        """X25519 with the peer's ephemeral key. Raises InvalidEphemeralKey for a low-order point (the
        result would be all zero, known to anyone)."""
        try:
            return self._secret.exchange(X25519PublicKey.from_public_bytes(peer_public_key))
        except ValueError as exc:
            raise InvalidEphemeralKey("the peer's ephemeral key gives an all-zero shared secret",
                                      field="ephemeral_key") from exc


def compute_transcript_hash(initiator_hello: bytes, responder_hello: bytes) -> bytes:
    """SHA-256 of the two hello frames in role order: what the handshake signatures and the keys bind."""
    return hashlib.sha256(codec.encode([TRANSCRIPT_LABEL, initiator_hello, responder_hello])).digest()


@dataclass(frozen=True, slots=True)
class SessionKeys:
    initiator_to_responder: bytes
    responder_to_initiator: bytes


def compute_session_keys(shared_secret: bytes, transcript_hash: bytes) -> SessionKeys:
    """Derive the two direction keys with HKDF-SHA256 (RFC 5869)."""
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=transcript_hash, info=KEYS_LABEL).derive(shared_secret)
    return SessionKeys(okm[:32], okm[32:])


_NONCE: Final = struct.Struct("<4xQ")


def compute_nonce(counter: int) -> bytes:
    """The 96-bit ChaCha20-Poly1305 nonce of frame `counter`: 4 zero bytes, then the counter little-endian."""
    return _NONCE.pack(counter)  # one allocation per frame, not three


class FrameSealer:
    """One direction's sealing: a key and the counter of the next frame."""

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self.counter = 0

    def seal(self, frame: bytes) -> bytes:
        """Encrypt and authenticate the next frame. Raises NonceExhausted after 2^64 - 1 frames."""
        if self.counter >= MAX_COUNTER:
            raise NonceExhausted("this direction has sealed 2^64 - 1 frames; the link must be renewed")
        sealed = self._aead.encrypt(compute_nonce(self.counter), frame, None)
        self.counter += 1
        return sealed


class FrameOpener:
    """One direction's opening: a key, the counter of the next frame, and the largest sealed frame allowed."""

    def __init__(self, key: bytes, *, max_sealed_size: int) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._max = max_sealed_size
        self.counter = 0

    def open(self, sealed: bytes) -> bytes:
        """Check the size, then authenticate and decrypt the next frame.

        Raises SealedFrameTooLarge (before any decryption), ForgedFrame (too short, or the tag does not verify
        under this key and counter: altered, replayed, reordered or not ours) or NonceExhausted.
        """
        if len(sealed) > self._max:
            raise SealedFrameTooLarge(f"a {len(sealed)}-byte sealed frame exceeds the largest allowed ({self._max})")
        if len(sealed) < TAG_SIZE:
            raise ForgedFrame(f"a {len(sealed)}-byte sealed frame is shorter than its tag")
        if self.counter >= MAX_COUNTER:
            raise NonceExhausted("this direction has opened 2^64 - 1 frames; the link must be renewed")
        try:
            frame = self._aead.decrypt(compute_nonce(self.counter), sealed, None)
        except InvalidTag:
            raise ForgedFrame(f"sealed frame {self.counter} does not authenticate") from None
        self.counter += 1
        return frame


@dataclass(frozen=True, slots=True)
class SecureSession:
    """Both directions of one link, from our point of view."""

    sealer: FrameSealer
    opener: FrameOpener
    transcript_hash: bytes


def start_session(
    ephemeral: EphemeralKey, *, peer_ephemeral_key: bytes, own_hello: bytes, peer_hello: bytes, is_initiator: bool,
    max_sealed_size: int,
) -> SecureSession:
    """Run the key exchange for our role (the dialer is the initiator). Raises InvalidEphemeralKey."""
    shared = ephemeral.compute_shared_secret(peer_ephemeral_key)
    if is_initiator:
        transcript = compute_transcript_hash(own_hello, peer_hello)
    else:
        transcript = compute_transcript_hash(peer_hello, own_hello)
    keys = compute_session_keys(shared, transcript)
    send_key, receive_key = (
        (keys.initiator_to_responder, keys.responder_to_initiator) if is_initiator
        else (keys.responder_to_initiator, keys.initiator_to_responder)
    )
    return SecureSession(FrameSealer(send_key), FrameOpener(receive_key, max_sealed_size=max_sealed_size), transcript)
