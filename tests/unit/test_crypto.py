"""Unit tests of hashing with domain separation, Ed25519 signatures and key files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from chainnode import codec, crypto
from chainnode.errors import (
    InvalidField,
    InvalidSignature,
    KeyFileError,
    KeyFileExists,
    KeyFileInsecure,
    KeyFileMalformed,
    KeyFileMissing,
    KeyFileUnreadable,
)

HASH_DOMAINS = {name: getattr(crypto, name) for name in dir(crypto) if name.startswith("DOMAIN_")}
SIGN_DOMAINS = {name: getattr(crypto, name) for name in dir(crypto) if name.startswith("SIGN_")}
ALL_DOMAINS = {**HASH_DOMAINS, **SIGN_DOMAINS}

KEY = crypto.PrivateKey(bytes([1]) * 32)
OTHER_KEY = crypto.PrivateKey(bytes([2]) * 32)
CHAIN = "gov-test-1"

# RFC 8032 section 7.1, TEST 1 (empty message).
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


# --- hashing -----------------------------------------------------------------------------------------


def test_there_are_hash_and_signature_domains() -> None:
    assert len(HASH_DOMAINS) >= 8
    assert len(SIGN_DOMAINS) >= 4


@pytest.mark.parametrize("name", sorted(ALL_DOMAINS))
def test_domains_are_ascii_without_nul(name: str) -> None:
    domain = ALL_DOMAINS[name]
    assert type(domain) is bytes
    assert domain.isascii()
    assert b"\x00" not in domain  # what makes domain || 0x00 || data unambiguous
    assert domain.startswith(b"chainnode/v1/")


def test_domains_are_distinct() -> None:
    assert len(set(ALL_DOMAINS.values())) == len(ALL_DOMAINS)


@pytest.mark.parametrize("name", sorted(HASH_DOMAINS))
@pytest.mark.parametrize("data", [b"", b"chainnode", bytes(range(256))], ids=["empty", "word", "all bytes"])
def test_compute_hash_is_sha256_of_domain_nul_data(name: str, data: bytes) -> None:
    domain = HASH_DOMAINS[name]
    assert crypto.compute_hash(domain, data) == hashlib.sha256(domain + b"\x00" + data).digest()
    assert len(crypto.compute_hash(domain, data)) == crypto.HASH_SIZE


def test_same_bytes_under_different_domains_hash_differently() -> None:
    data = codec.encode(["same", b"bytes"])
    hashes = {crypto.compute_hash(domain, data) for domain in HASH_DOMAINS.values()}
    assert len(hashes) == len(HASH_DOMAINS)
    assert crypto.compute_hash(crypto.DOMAIN_TX, data) != crypto.compute_hash(crypto.DOMAIN_BLOCK, data)
    assert crypto.compute_hash(crypto.DOMAIN_TX, data) != crypto.sha256(data)


def test_moving_bytes_between_domain_and_data_changes_the_hash() -> None:
    # Without the separator these two inputs would be the same byte string "chainnode/v1/txX".
    assert crypto.compute_hash(b"chainnode/v1/tx", b"X") != crypto.compute_hash(b"chainnode/v1/txX", b"")


def test_sha256_and_content_hash_are_plain_sha256() -> None:
    abc = bytes.fromhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert crypto.sha256(b"abc") == abc
    assert crypto.compute_content_hash(b"abc") == abc


def test_compute_signing_bytes_is_the_canonical_triple() -> None:
    payload = b"payload"
    expected = codec.encode([crypto.SIGN_TX, CHAIN, payload])
    assert crypto.compute_signing_bytes(crypto.SIGN_TX, CHAIN, payload) == expected
    assert crypto.compute_signing_bytes(crypto.SIGN_TX, CHAIN, payload) != crypto.compute_signing_bytes(
        crypto.SIGN_VOTE, CHAIN, payload
    )
    assert crypto.compute_signing_bytes(crypto.SIGN_TX, CHAIN, payload) != crypto.compute_signing_bytes(
        crypto.SIGN_TX, "gov-test-2", payload
    )


# --- signatures --------------------------------------------------------------------------------------


def test_private_key_matches_rfc8032_test_1() -> None:
    key = crypto.PrivateKey(RFC8032_SEED)
    assert key.public_key == RFC8032_PUBLIC
    assert key.sign(b"") == RFC8032_SIGNATURE
    assert crypto.verify_signature(RFC8032_PUBLIC, b"", RFC8032_SIGNATURE)


def test_signatures_are_deterministic_and_verify() -> None:
    message = crypto.compute_signing_bytes(crypto.SIGN_TX, CHAIN, b"body")
    signature = KEY.sign(message)
    assert len(signature) == crypto.SIGNATURE_SIZE
    assert KEY.sign(message) == signature
    assert crypto.verify_signature(KEY.public_key, message, signature)
    crypto.validate_signature(KEY.public_key, message, signature, what="test")


def flip(data: bytes, index: int) -> bytes:
    """Return `data` with the lowest bit of the byte at `index` inverted."""
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


MESSAGE = crypto.compute_signing_bytes(crypto.SIGN_TX, CHAIN, b"body")
SIGNATURE = KEY.sign(MESSAGE)


@pytest.mark.parametrize(
    ("public_key", "message", "signature"),
    [
        pytest.param(KEY.public_key, flip(MESSAGE, 0), SIGNATURE, id="tampered message, first byte"),
        pytest.param(KEY.public_key, flip(MESSAGE, -1), SIGNATURE, id="tampered message, last byte"),
        pytest.param(KEY.public_key, MESSAGE + b"\x00", SIGNATURE, id="message with a byte appended"),
        pytest.param(KEY.public_key, MESSAGE, flip(SIGNATURE, 0), id="tampered signature R"),
        pytest.param(KEY.public_key, MESSAGE, flip(SIGNATURE, 40), id="tampered signature S"),
        pytest.param(OTHER_KEY.public_key, MESSAGE, SIGNATURE, id="another key"),
        pytest.param(flip(KEY.public_key, 5), MESSAGE, SIGNATURE, id="tampered key"),
        pytest.param(KEY.public_key, MESSAGE, OTHER_KEY.sign(MESSAGE), id="another key's signature"),
        pytest.param(
            KEY.public_key,
            crypto.compute_signing_bytes(crypto.SIGN_VOTE, CHAIN, b"body"),
            SIGNATURE,
            id="same payload under another signature domain",
        ),
        pytest.param(
            KEY.public_key,
            crypto.compute_signing_bytes(crypto.SIGN_TX, "gov-test-2", b"body"),
            SIGNATURE,
            id="same payload on another chain",
        ),
        pytest.param(KEY.public_key[:31], MESSAGE, SIGNATURE, id="key of 31 bytes"),
        pytest.param(KEY.public_key + b"\x00", MESSAGE, SIGNATURE, id="key of 33 bytes"),
        pytest.param(b"", MESSAGE, SIGNATURE, id="empty key"),
        pytest.param(KEY.public_key, MESSAGE, SIGNATURE[:63], id="signature of 63 bytes"),
        pytest.param(KEY.public_key, MESSAGE, SIGNATURE + b"\x00", id="signature of 65 bytes"),
        pytest.param(KEY.public_key, MESSAGE, b"", id="empty signature"),
        pytest.param(bytes(32), MESSAGE, bytes(64), id="all-zero key and signature"),
    ],
)
def test_verify_signature_returns_false(public_key: bytes, message: bytes, signature: bytes) -> None:
    assert crypto.verify_signature(public_key, message, signature) is False
    with pytest.raises(InvalidSignature, match="thing: signature does not verify") as caught:
        crypto.validate_signature(public_key, message, signature, what="thing")
    assert caught.value.field == "signature"


def test_private_key_refuses_a_seed_of_the_wrong_size() -> None:
    for size in (0, 31, 33, 64):
        with pytest.raises(InvalidField, match=f"a seed is 32 bytes, got {size}") as caught:
            crypto.PrivateKey(bytes(size))
        assert caught.value.field == "seed"


def test_private_key_repr_hides_the_seed() -> None:
    seed = bytes([7]) * 32
    key = crypto.PrivateKey(seed)
    for text in (repr(key), str(key), f"{key}"):
        assert seed.hex() not in text
        assert repr(seed) not in text
        assert "seed" not in text


def test_generated_keys_differ_and_sign() -> None:
    first, second = crypto.PrivateKey.generate(), crypto.PrivateKey.generate()
    assert first.seed != second.seed
    assert crypto.verify_signature(first.public_key, b"m", first.sign(b"m"))


# --- key files ---------------------------------------------------------------------------------------


def write_document(path: Path, document: object, *, mode: int = 0o600) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    os.chmod(path, mode)
    return path


def good_document(key: crypto.PrivateKey = KEY) -> dict[str, str]:
    return {
        "kind": crypto.KEY_FILE_KIND,
        "label": "",
        "public_key": key.public_key.hex(),
        "seed": key.seed.hex(),
    }


def test_key_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "node.key"
    crypto.write_key_file(path, KEY, label="finance")
    loaded = crypto.load_key_file(path)
    assert loaded.key == KEY
    assert loaded.key.public_key == KEY.public_key
    assert loaded.label == "finance"
    assert loaded.key.sign(b"m") == KEY.sign(b"m")


def test_key_file_is_written_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        crypto.write_key_file(path, KEY)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_key_file_refuses_to_overwrite_by_default(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    crypto.write_key_file(path, KEY)
    with pytest.raises(KeyFileExists):
        crypto.write_key_file(path, OTHER_KEY)
    assert crypto.load_key_file(path).key == KEY  # the first key is untouched


def test_write_key_file_overwrites_when_asked_and_tightens_the_mode(tmp_path: Path) -> None:
    path = write_document(tmp_path / "node.key", "old", mode=0o644)
    crypto.write_key_file(path, OTHER_KEY, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypto.load_key_file(path).key == OTHER_KEY


def test_load_key_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(KeyFileMissing, match="does not exist") as caught:
        crypto.load_key_file(path)
    assert str(path) in caught.value.message
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_load_key_file_directory_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "a-directory"
    path.mkdir(mode=0o700)
    with pytest.raises(KeyFileUnreadable, match="is a directory"):
        crypto.load_key_file(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o004])
def test_load_key_file_insecure_mode(tmp_path: Path, mode: int) -> None:
    path = write_document(tmp_path / "node.key", good_document(), mode=mode)
    with pytest.raises(KeyFileInsecure, match="accessible by other users") as caught:
        crypto.load_key_file(path)
    assert f"mode {mode:o}" in caught.value.message
    assert f"chmod 600 {path}" in caught.value.message


def test_load_key_file_accepts_owner_only_modes(tmp_path: Path) -> None:
    for mode in (0o600, 0o400):
        path = write_document(tmp_path / f"key-{mode:o}", good_document(), mode=mode)
        assert crypto.load_key_file(path).key == KEY


def malformed_documents() -> list[object]:
    def edited(**changes: object) -> dict[str, object]:
        return {**good_document(), **changes}

    without_seed = good_document()
    del without_seed["seed"]
    return [
        pytest.param("not json {", "is not JSON", id="not JSON"),
        pytest.param("", "is not JSON", id="empty file"),
        pytest.param([good_document()], "is not a chainnode key", id="a JSON array"),
        pytest.param("null", "is not a chainnode key", id="JSON null"),
        pytest.param(edited(kind="ssh-ed25519"), "is not a chainnode key", id="wrong kind"),
        pytest.param(edited(kind=None), "is not a chainnode key", id="no kind"),
        pytest.param(without_seed, "missing or malformed seed", id="no seed"),
        pytest.param(edited(seed="zz" * 32), "missing or malformed seed", id="seed not hex"),
        pytest.param(edited(seed="0" * 63), "missing or malformed seed", id="seed of odd length"),
        pytest.param(edited(seed="01" * 31), "missing or malformed seed", id="seed of 31 bytes"),
        pytest.param(edited(seed=12), "missing or malformed seed", id="seed is a number"),
        pytest.param(edited(public_key="xyz"), "malformed seed or public_key", id="public key not hex"),
        pytest.param(
            edited(public_key=OTHER_KEY.public_key.hex()),
            "public_key does not belong to the seed",
            id="mismatched key",
        ),
        pytest.param(edited(public_key=""), "public_key does not belong to the seed", id="empty public key"),
    ]


@pytest.mark.parametrize(("document", "words"), malformed_documents())
def test_load_key_file_malformed(tmp_path: Path, document: object, words: str) -> None:
    path = write_document(tmp_path / "node.key", document)
    with pytest.raises(KeyFileMalformed) as caught:
        crypto.load_key_file(path)
    assert words in caught.value.message
    assert str(path) in caught.value.message
    assert KEY.seed.hex() not in caught.value.message  # never echo a secret


def test_key_file_errors_share_a_root_and_codes() -> None:
    codes = {cls.code for cls in (KeyFileMissing, KeyFileUnreadable, KeyFileMalformed, KeyFileInsecure)}
    assert codes == {"key_file_missing", "key_file_unreadable", "key_file_malformed", "key_file_insecure"}
    for cls in (KeyFileMissing, KeyFileUnreadable, KeyFileMalformed, KeyFileInsecure):
        assert issubclass(cls, KeyFileError)


def test_load_key_file_ignores_a_non_string_label(tmp_path: Path) -> None:
    path = write_document(tmp_path / "node.key", {**good_document(), "label": 5})
    assert crypto.load_key_file(path).label == ""


def test_encryption_key_file_round_trip_is_owner_only(tmp_path: Path) -> None:
    key = crypto.EncryptionKey.generate()
    path = tmp_path / "keys" / "encryption.key"
    crypto.write_encryption_key_file(path, key, label="SAMR documents")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = crypto.load_encryption_key_file(path)
    assert loaded.public_key == key.public_key and loaded.secret == key.secret
    assert key.secret.hex() not in repr(loaded)


def test_encryption_key_file_is_not_a_signing_key_and_back(tmp_path: Path) -> None:
    signing, sealing = tmp_path / "node.key", tmp_path / "encryption.key"
    crypto.write_key_file(signing, KEY)
    crypto.write_encryption_key_file(sealing, crypto.EncryptionKey.generate())
    with pytest.raises(KeyFileMalformed, match="is not a chainnode encryption key"):
        crypto.load_encryption_key_file(signing)
    with pytest.raises(KeyFileMalformed, match="is not a chainnode key"):
        crypto.load_key_file(sealing)


def test_encryption_key_file_with_a_foreign_public_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "encryption.key"
    crypto.write_encryption_key_file(path, crypto.EncryptionKey.generate())
    document = json.loads(path.read_text())
    document["public_key"] = crypto.EncryptionKey.generate().public_key.hex()
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileMalformed, match="does not belong to the secret"):
        crypto.load_encryption_key_file(path)


class _CountingVerify:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        self.calls += 1
        return _REAL_VERIFY(public_key, message, signature)


_REAL_VERIFY = crypto.verify_signature


def test_a_verified_signature_is_answered_from_memory_and_only_the_exact_triple(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = _CountingVerify()
    monkeypatch.setattr(crypto, "verify_signature", counting)
    cache = crypto.VerifiedSignatures()
    signature = KEY.sign(b"precommit")
    assert cache.verify(KEY.public_key, b"precommit", signature) and counting.calls == 1
    assert cache.verify(KEY.public_key, b"precommit", signature) and counting.calls == 1  # from memory
    # the same signature under another message or key is not the triple that passed: checked, and refused
    assert not cache.verify(KEY.public_key, b"another vote", signature) and counting.calls == 2
    other = crypto.PrivateKey(b"\x09" * 32).public_key
    assert not cache.verify(other, b"precommit", signature) and counting.calls == 3
    assert len(cache) == 1


def test_a_failed_check_is_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = _CountingVerify()
    monkeypatch.setattr(crypto, "verify_signature", counting)
    cache = crypto.VerifiedSignatures()
    forged = bytes(64)
    assert not cache.verify(KEY.public_key, b"vote", forged)
    assert not cache.verify(KEY.public_key, b"vote", forged)
    assert counting.calls == 2 and len(cache) == 0


def test_the_cache_keeps_its_newest_entries_within_its_capacity(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = _CountingVerify()
    monkeypatch.setattr(crypto, "verify_signature", counting)
    cache = crypto.VerifiedSignatures(capacity=2)
    triples = [(KEY.public_key, m, KEY.sign(m)) for m in (b"a", b"b", b"c")]
    for triple in triples:
        assert cache.verify(*triple)
    assert len(cache) == 2 and counting.calls == 3
    assert cache.verify(*triples[2]) and counting.calls == 3  # kept
    assert cache.verify(*triples[0]) and counting.calls == 4  # the oldest was forgotten, so checked again
    with pytest.raises(ValueError, match="at least 1"):
        crypto.VerifiedSignatures(capacity=0)
