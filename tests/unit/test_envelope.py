"""The document envelope: content encrypted once in authenticated chunks, its key sealed per department.

A sealed document opens with each recipient's key and with no other department's; any change to the
ciphertext (a flipped byte, a lost or reordered chunk, bytes appended) is refused, never decrypted."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode import crypto
from chainnode.envelope import (
    CHUNK_SIZE,
    MAGIC,
    compute_ciphertext_size,
    decrypt_stream,
    encrypt_stream,
    open_content_key,
    seal_content_key,
)
from chainnode.errors import DecryptionFailed, InputTooLarge, InvalidField

KEY = bytes(range(32))


def encrypt(plaintext: bytes, key: bytes = KEY) -> tuple[bytes, bytes]:
    sink = io.BytesIO()
    digest = encrypt_stream(io.BytesIO(plaintext), sink, key, max_plaintext=1 << 30)
    data = sink.getvalue()
    assert digest.ciphertext_size == len(data) == compute_ciphertext_size(len(plaintext))
    assert digest.ciphertext_sha256 == crypto.sha256(data) and digest.plaintext_sha256 == crypto.sha256(plaintext)
    return data, digest.plaintext_sha256


def decrypt(ciphertext: bytes, key: bytes = KEY) -> bytes:
    sink = io.BytesIO()
    decrypt_stream(io.BytesIO(ciphertext), sink, key)
    return sink.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5])
def test_contents_of_every_size_round_trip(size: int) -> None:
    plaintext = bytes(i % 251 for i in range(size))
    ciphertext, plain_hash = encrypt(plaintext)
    assert (ciphertext.startswith(MAGIC) and plaintext[:64] not in ciphertext[len(MAGIC):]) or size < 64
    assert decrypt(ciphertext) == plaintext and crypto.sha256(plaintext) == plain_hash


def test_two_encryptions_of_one_content_differ() -> None:
    assert encrypt(b"notice")[0] != encrypt(b"notice")[0]  # a fresh header (nonce) each time


def test_another_content_key_does_not_open_it() -> None:
    ciphertext, _ = encrypt(b"confidential")
    with pytest.raises(DecryptionFailed):
        decrypt(ciphertext, bytes(32))


def chunks_of(ciphertext: bytes) -> tuple[bytes, list[bytes]]:
    head, rest, out = ciphertext[:30], ciphertext[30:], []
    while rest:
        length = int.from_bytes(rest[:4], "big")
        out.append(rest[: 4 + length])
        rest = rest[4 + length:]
    return head, out


def test_a_flipped_byte_a_lost_or_reordered_chunk_and_trailing_bytes_are_refused() -> None:
    ciphertext, _ = encrypt(bytes(2 * CHUNK_SIZE + 10))
    head, chunks = chunks_of(ciphertext)
    assert len(chunks) == 3
    flipped = bytearray(ciphertext)
    flipped[len(ciphertext) // 2] ^= 1
    for damaged in (
        bytes(flipped),
        head + chunks[0] + chunks[1],  # the final chunk lost: truncation
        head + chunks[1] + chunks[0] + chunks[2],  # reordered
        ciphertext + b"\x00",  # bytes after the final chunk
        ciphertext[:-1],  # cut inside the last chunk
    ):
        with pytest.raises(DecryptionFailed):
            decrypt(damaged)
    with pytest.raises(InvalidField):
        decrypt(b"PK\x03\x04 a zip file, not an envelope")


def test_a_short_chunk_before_the_last_is_refused() -> None:
    """Only the documented layout opens: a writer holding the key cannot split the content its own way."""
    import struct

    sealer = crypto.StreamSealer(KEY)
    parts = [MAGIC + sealer.header]
    for chunk, final in ((b"abc", False), (b"def", True)):
        sealed = sealer.seal(chunk, final=final)
        parts.append(struct.pack(">I", len(sealed)) + sealed)
    with pytest.raises(DecryptionFailed, match="before the last"):
        decrypt(b"".join(parts))


def test_a_content_over_the_limit_is_refused() -> None:
    with pytest.raises(InputTooLarge):
        encrypt_stream(io.BytesIO(bytes(CHUNK_SIZE + 1)), io.BytesIO(), KEY, max_plaintext=CHUNK_SIZE)


class Trickle(io.RawIOBase):
    """A source that returns at most 1,000 bytes a read, as a pipe may."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        part, self.data = bytes(self.data[: min(size, 1000)]), self.data[min(size, 1000):]
        return part


def test_short_reads_are_not_taken_for_the_end() -> None:
    plaintext = bytes(CHUNK_SIZE + 3000)
    sink = io.BytesIO()
    encrypt_stream(Trickle(plaintext), sink, KEY, max_plaintext=1 << 30)  # type: ignore[arg-type]
    assert decrypt(sink.getvalue()) == plaintext


DEPARTMENTS = ("SAMR", "TAX", "PSB", "CAB")


@settings(max_examples=25, deadline=None)
@given(
    plaintext=st.binary(max_size=5000),
    seeds=st.lists(st.binary(min_size=32, max_size=32), min_size=4, max_size=4, unique=True),
    recipients=st.integers(min_value=1, max_value=3),
)
def test_a_sealed_document_opens_with_each_recipients_key_and_no_other_departments(
    plaintext: bytes, seeds: list[bytes], recipients: int
) -> None:
    keys = {code: crypto.EncryptionKey(seed) for code, seed in zip(DEPARTMENTS, seeds, strict=True)}
    to = dict(list(keys.items())[:recipients])
    content_key = crypto.new_content_key()
    ciphertext, _ = encrypt(plaintext, content_key)
    sealed = seal_content_key(content_key, {code: key.public_key for code, key in to.items()})
    assert set(sealed) == set(to)
    for code, key in to.items():
        assert decrypt(ciphertext, open_content_key(sealed[code], key)) == plaintext
    for code, key in keys.items():
        if code in to:
            continue
        for sealed_key in sealed.values():  # neither by its fingerprint nor by trying the box
            with pytest.raises(DecryptionFailed):
                open_content_key(sealed_key, key)
            with pytest.raises(DecryptionFailed):
                crypto.open_sealed(key, sealed_key.sealed)


def test_a_key_names_its_fingerprint_and_hides_its_secret() -> None:
    key = crypto.EncryptionKey(bytes([7]) * 32)
    assert crypto.compute_key_fingerprint(key.public_key) == crypto.compute_hash(
        crypto.DOMAIN_ENCRYPTION_KEY, key.public_key
    )
    assert key.secret.hex() not in repr(key)
    with pytest.raises(InvalidField):
        crypto.EncryptionKey(b"short")
