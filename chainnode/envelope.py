"""The encrypted envelope of an official document: content encrypted once, its key sealed per recipient.

The sender's client draws a random 32-byte content key, encrypts the file with it as an
XChaCha20-Poly1305 secretstream in chunks (so a 64 MiB document streams from disk to disk), and seals the
content key to the X25519 encryption key of each recipient department, and of the sender, with an
anonymous sealed box. The chain holds only the hashes, the size and the sealed keys with the fingerprint
of the key each was sealed to (docs/documents.md); no node ever holds a plaintext it is not a recipient of.

Ciphertext layout (all that a node stores and transfers):

    magic    b"CNDOC\\x01"                       6 bytes
    header   secretstream header                 24 bytes
    chunk*   length (4 bytes, big-endian) || secretstream message (plaintext chunk + 17 bytes)

Every chunk but the last carries the tag MESSAGE and exactly CHUNK_SIZE bytes of plaintext; the last
carries FINAL (an empty file is one empty FINAL chunk). A reader refuses a stream without a FINAL chunk,
anything after it, and any chunk that does not authenticate, so truncation, reordering and tampering are
all detected before the plaintext's hash is compared with the one on chain.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO, Final

from chainnode import crypto
from chainnode.errors import DecryptionFailed, InputTooLarge, InvalidField

MAGIC: Final = b"CNDOC\x01"
CHUNK_SIZE: Final = 1024 * 1024
"""Plaintext bytes per chunk (the last may hold fewer)."""
_LENGTH: Final = struct.Struct(">I")
MAX_CHUNK_BYTES: Final = CHUNK_SIZE + crypto.STREAM_OVERHEAD


@dataclass(frozen=True, slots=True)
class ContentDigest:
    """What the chain records of a content: both hashes (plain SHA-256) and the ciphertext's size."""

    plaintext_sha256: bytes
    ciphertext_sha256: bytes
    ciphertext_size: int


@dataclass(frozen=True, slots=True)
class SealedKey:
    """The content key sealed to one department's encryption key, named by that key's fingerprint."""

    fingerprint: bytes
    sealed: bytes


def compute_ciphertext_size(plaintext_size: int) -> int:
    """The exact ciphertext size for a plaintext of `plaintext_size` bytes."""
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    return len(MAGIC) + crypto.STREAM_HEADER_SIZE + chunks * (_LENGTH.size + crypto.STREAM_OVERHEAD) + plaintext_size


def encrypt_stream(source: BinaryIO, sink: BinaryIO, content_key: bytes, *, max_plaintext: int) -> ContentDigest:
    """Encrypt `source` into `sink`. Raises InputTooLarge past `max_plaintext` bytes (what was written to
    `sink` is then incomplete: the caller discards it)."""
    sealer = crypto.StreamSealer(content_key)
    plain_hash, cipher_hash = hashlib.sha256(), hashlib.sha256()
    size = 0

    def write(data: bytes) -> None:
        nonlocal size
        sink.write(data)
        cipher_hash.update(data)
        size += len(data)

    write(MAGIC + sealer.header)
    total = 0
    chunk = _read_full(source, CHUNK_SIZE)
    while True:
        following = _read_full(source, CHUNK_SIZE) if len(chunk) == CHUNK_SIZE else b""
        total += len(chunk)
        if total > max_plaintext:
            raise InputTooLarge(f"the document is larger than {max_plaintext} bytes")
        plain_hash.update(chunk)
        sealed = sealer.seal(chunk, final=not following)
        write(_LENGTH.pack(len(sealed)) + sealed)
        if not following:
            break
        chunk = following
    return ContentDigest(plain_hash.digest(), cipher_hash.digest(), size)


def _read_full(source: BinaryIO, size: int) -> bytes:
    """`size` bytes, or fewer only at the end of `source` (a pipe may return short reads before it)."""
    parts: list[bytes] = []
    wanted = size
    while wanted:
        part = source.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def decrypt_stream(source: BinaryIO, sink: BinaryIO, content_key: bytes) -> bytes:
    """Decrypt `source` into `sink`; return the plaintext's SHA-256 (compare it with the chain's).

    Raises DecryptionFailed for another key, an altered, reordered or truncated stream, or trailing
    bytes; InvalidField for what is not an envelope at all. What reached `sink` before an error is not
    to be trusted: write to a temporary file and keep it only on success."""
    head = _read_full(source, len(MAGIC) + crypto.STREAM_HEADER_SIZE)
    if len(head) != len(MAGIC) + crypto.STREAM_HEADER_SIZE or not head.startswith(MAGIC):
        raise InvalidField("not a chainnode document envelope (bad magic or short header)", field="ciphertext")
    opener = crypto.StreamOpener(content_key, head[len(MAGIC):])
    plain_hash = hashlib.sha256()
    while True:
        prefix = _read_full(source, _LENGTH.size)
        if len(prefix) != _LENGTH.size:
            raise DecryptionFailed("the content ends before its final chunk (truncated)")
        (length,) = _LENGTH.unpack(prefix)
        if not crypto.STREAM_OVERHEAD <= length <= MAX_CHUNK_BYTES:
            raise DecryptionFailed(f"a content chunk claims {length} bytes; at most {MAX_CHUNK_BYTES}")
        sealed = _read_full(source, length)
        if len(sealed) != length:
            raise DecryptionFailed("the content ends inside a chunk (truncated)")
        plain, final = opener.open(sealed)
        if not final and len(plain) != CHUNK_SIZE:  # one plaintext has one ciphertext layout
            raise DecryptionFailed(f"a content chunk before the last holds {len(plain)} bytes, not {CHUNK_SIZE}")
        plain_hash.update(plain)
        sink.write(plain)
        if final:
            break
    if source.read(1):
        raise DecryptionFailed("bytes follow the final chunk")
    return plain_hash.digest()


def seal_content_key(content_key: bytes, recipients: Mapping[str, bytes]) -> dict[str, SealedKey]:
    """The content key sealed to each department's encryption public key (code -> key)."""
    return {
        code: SealedKey(crypto.compute_key_fingerprint(public_key), crypto.seal_to(public_key, content_key))
        for code, public_key in sorted(recipients.items())
    }


def open_content_key(sealed_key: SealedKey, key: crypto.EncryptionKey) -> bytes:
    """The content key, if `sealed_key` was sealed to `key`. Raises DecryptionFailed otherwise (checked by
    fingerprint first, so a wrong key is named as such)."""
    if sealed_key.fingerprint != crypto.compute_key_fingerprint(key.public_key):
        raise DecryptionFailed(
            f"the content key was sealed to the encryption key {sealed_key.fingerprint.hex()[:16]}…, not to "
            f"{crypto.compute_key_fingerprint(key.public_key).hex()[:16]}… (an older key of the department?)"
        )
    content_key = crypto.open_sealed(key, sealed_key.sealed)
    if len(content_key) != crypto.CONTENT_KEY_SIZE:
        raise DecryptionFailed("the sealed content key has the wrong size")
    return content_key
