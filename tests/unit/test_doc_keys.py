"""The node's department encryption keys: found by fingerprint, the rotated-away ones too, and a key added
while the node runs is found on the next miss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto, keyfile
from chainnode.doc_keys import DocumentKeys
from chainnode.errors import KeyFileEncrypted


def fingerprint(key: crypto.EncryptionKey) -> bytes:
    return crypto.compute_key_fingerprint(key.public_key)


def test_current_and_archived_keys_are_found_by_fingerprint(tmp_path: Path) -> None:
    keys = DocumentKeys(tmp_path)
    old, new = crypto.EncryptionKey.generate(), crypto.EncryptionKey.generate()
    crypto.write_encryption_key_file(keys.archive_path(old), old)
    crypto.write_encryption_key_file(tmp_path / "encryption.key", new)
    assert keys.find(fingerprint(old)).public_key == old.public_key  # type: ignore[union-attr]
    assert keys.find(fingerprint(new)).public_key == new.public_key  # type: ignore[union-attr]
    assert keys.find(bytes(32)) is None


def test_a_key_added_later_is_found_and_a_bad_file_is_reported_without_its_secret(tmp_path: Path) -> None:
    keys = DocumentKeys(tmp_path)
    later = crypto.EncryptionKey.generate()
    assert keys.find(fingerprint(later)) is None
    crypto.write_encryption_key_file(tmp_path / "encryption.key", later)
    (tmp_path / "encryption-broken.key").write_text("{}")
    (tmp_path / "encryption-broken.key").chmod(0o600)
    assert keys.find(fingerprint(later)) is not None
    assert len(keys.problems) == 1 and "encryption-broken.key" in keys.problems[0]
    assert later.secret.hex() not in " ".join(keys.problems)


def test_a_key_that_does_not_open_is_tried_once_per_version_and_stays_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup of an unknown fingerprint rescans the directory, but a file that did not open (a wrong
    passphrase costs an Argon2id run) is not read again until it changes, and its problem stays listed."""
    for name in list(crypto.KDF_PROFILES):  # the cheapest Argon2id cost: the count is what matters here
        monkeypatch.setitem(crypto.KDF_PROFILES, name, crypto.KdfLimits(opslimit=1, memlimit=8192))
    locked = tmp_path / "encryption.key"
    crypto.write_encryption_key_file(locked, crypto.EncryptionKey.generate())
    keyfile.encrypt_key_file(locked, keyfile.PassphraseSource(environ={keyfile.PASSPHRASE_ENV: "right"}),
                             crypto.KDF_PROFILES["interactive"])
    asked: list[Path] = []

    def wrong(path: Path) -> bytes:
        asked.append(path)
        return b"wrong"

    keys = DocumentKeys(tmp_path, passphrase=wrong)
    for _ in range(3):
        assert keys.find(bytes(32)) is None
    assert asked == [locked]
    assert len(keys.problems) == 1 and "encryption.key" in keys.problems[0]


def test_a_file_that_cannot_be_opened_is_reported_and_not_read_again_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = DocumentKeys(tmp_path)
    current = crypto.EncryptionKey.generate()
    crypto.write_encryption_key_file(tmp_path / "encryption.key", current)
    locked = tmp_path / "encryption-0000000000000000.key"  # sorted first: read before the usable key
    crypto.write_encryption_key_file(locked, crypto.EncryptionKey.generate())
    reads: list[str] = []
    load = crypto.load_encryption_key_file

    def load_counting(path: Path, **kwargs: Any) -> crypto.EncryptionKey:
        reads.append(path.name)
        if path == locked:
            raise KeyFileEncrypted(f"{path} is encrypted and no passphrase was given")
        return load(path, **kwargs)

    monkeypatch.setattr(crypto, "load_encryption_key_file", load_counting)
    assert keys.find(fingerprint(current)) is not None
    assert keys.problems == [f"{locked} is encrypted and no passphrase was given"]
    for _ in range(3):  # documents naming unknown fingerprints: the files are unchanged, none is read again
        assert keys.find(bytes(32)) is None
    assert sorted(reads) == sorted([locked.name, "encryption.key"]) and len(keys.problems) == 1
    with pytest.raises(KeyFileEncrypted):  # a node's start still stops on it
        keys.load()
    locked.write_text("{}")
    assert keys.find(bytes(32)) is None and reads.count(locked.name) == 3
