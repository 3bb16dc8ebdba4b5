"""Keys at rest: encrypted key files round-trip, a wrong passphrase or a damaged file is one clear error, the
passphrase comes from a file descriptor, the environment, a systemd credential or a prompt, and neither the
passphrase nor the seed ever shows in an error or the log."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainnode import crypto, keyfile
from chainnode.cli import main
from chainnode.errors import (
    KeyFileEncrypted,
    KeyFileError,
    KeyFileMalformed,
    KeyPassphraseUnusable,
    KeyPassphraseWrong,
)
from chainnode.home import init_home
from chainnode.node import Node

FAST = crypto.KdfLimits(opslimit=1, memlimit=8192)
"""Argon2id's minimum cost: what every test here encrypts with, so the suite stays fast."""
PASSPHRASE = "correct horse battery staple"
SEED = bytes(range(32))


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test-only override: every named Argon2id cost becomes the minimum (files still record it)."""
    for name in list(crypto.KDF_PROFILES):
        monkeypatch.setitem(crypto.KDF_PROFILES, name, FAST)
    yield


def source(passphrase: str = PASSPHRASE, **kwargs: object) -> keyfile.PassphraseSource:
    return keyfile.PassphraseSource(environ={keyfile.PASSPHRASE_ENV: passphrase}, **kwargs)  # type: ignore[arg-type]


def plain_key(path: Path) -> crypto.PrivateKey:
    key = crypto.PrivateKey(SEED)
    crypto.write_key_file(path, key, label="PSB officer")
    return key


def encrypted_key(path: Path, passphrase: str = PASSPHRASE) -> crypto.PrivateKey:
    key = plain_key(path)
    keyfile.encrypt_key_file(path, source(passphrase), FAST)
    return key


def assert_no_secret(text: str, passphrase: str = PASSPHRASE) -> None:
    assert passphrase not in text
    assert SEED.hex() not in text


# --- the format -----------------------------------------------------------------------------------------------


def test_an_encrypted_key_round_trips_and_keeps_its_label_public_key_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "officer.key"
    key = encrypted_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["kind"] == crypto.ENCRYPTED_KEY_FILE_KIND and document["version"] == 1
    assert document["public_key"] == key.public_key.hex() and document["label"] == "PSB officer"
    assert document["kdf"]["opslimit"] == FAST.opslimit and document["kdf"]["memlimit"] == FAST.memlimit
    assert_no_secret(path.read_text())
    loaded = crypto.load_key_file(path, passphrase=source().get)
    assert loaded.key.seed == SEED and loaded.label == "PSB officer" and loaded.encrypted


def test_an_encrypted_document_key_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "encryption.key"
    key = crypto.EncryptionKey.generate()
    crypto.write_encryption_key_file(path, key)
    keyfile.encrypt_key_file(path, source(), FAST)
    assert crypto.load_encryption_key_file(path, passphrase=source().get).secret == key.secret
    with pytest.raises(KeyFileEncrypted):
        crypto.load_encryption_key_file(path)


def test_decrypt_gives_back_the_plain_file_and_rotate_changes_salt_and_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    before = json.loads(path.read_text())
    new = keyfile.PassphraseSource(environ={keyfile.NEW_PASSPHRASE_ENV: "another one"},
                                   env_name=keyfile.NEW_PASSPHRASE_ENV)
    keyfile.rotate_passphrase(path, source(), new)
    after = json.loads(path.read_text())
    assert after["kdf"]["salt"] != before["kdf"]["salt"] and after["cipher"]["nonce"] != before["cipher"]["nonce"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(KeyPassphraseWrong):
        crypto.load_key_file(path, passphrase=source().get)
    keyfile.decrypt_key_file(path, source("another one"))
    loaded = crypto.load_key_file(path)
    assert loaded.key.seed == SEED and not loaded.encrypted
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_a_wrong_passphrase_is_one_clear_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    with pytest.raises(KeyPassphraseWrong) as caught:
        crypto.load_key_file(path, passphrase=source("wrong guess").get)
    assert caught.value.code == "key_passphrase_wrong" and isinstance(caught.value, KeyFileError)
    assert str(path) in caught.value.message and "wrong passphrase" in caught.value.message
    assert_no_secret(caught.value.message, "wrong guess")


def test_an_encrypted_key_without_a_passphrase_says_so(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    with pytest.raises(KeyFileEncrypted, match="is encrypted") as caught:
        crypto.load_key_file(path)
    assert f"chainnode key decrypt {path}" in caught.value.message  # what to do about it


def tampered(document: dict[str, object], part: str, field: str, value: object) -> dict[str, object]:
    inner = dict(document[part])  # type: ignore[call-overload]
    inner[field] = value
    return {**document, part: inner}


def damaged_files() -> list[object]:
    return [
        pytest.param(lambda d: {**d, "version": 2}, KeyFileMalformed, "format version", id="unknown version"),
        pytest.param(lambda d: {**d, "version": "1"}, KeyFileMalformed, "format version", id="version as text"),
        pytest.param(lambda d: {k: v for k, v in d.items() if k != "kdf"}, KeyFileMalformed, "damaged",
                     id="no kdf"),
        pytest.param(lambda d: tampered(d, "kdf", "algorithm", "scrypt"), KeyFileMalformed, "damaged",
                     id="unknown kdf"),
        pytest.param(lambda d: tampered(d, "kdf", "memlimit", 1 << 40), KeyFileMalformed, "out of range",
                     id="hostile memlimit"),
        pytest.param(lambda d: tampered(d, "kdf", "opslimit", 0), KeyFileMalformed, "out of range",
                     id="opslimit zero"),
        pytest.param(lambda d: tampered(d, "kdf", "salt", "00"), KeyFileMalformed, "size", id="short salt"),
        pytest.param(lambda d: tampered(d, "cipher", "nonce", "zz"), KeyFileMalformed, "damaged",
                     id="nonce not hex"),
        pytest.param(lambda d: tampered(d, "cipher", "ciphertext", d["cipher"]["ciphertext"][:-2]),  # type: ignore[index]
                     KeyPassphraseWrong, "altered", id="truncated ciphertext"),
        pytest.param(lambda d: tampered(d, "cipher", "ciphertext", "00" * 8), KeyFileMalformed, "size",
                     id="ciphertext shorter than its tag"),
        pytest.param(lambda d: tampered(d, "kdf", "opslimit", 2), KeyPassphraseWrong, "altered",
                     id="limits changed"),
        pytest.param(lambda d: {**d, "public_key": "00" * 32}, KeyFileMalformed, "differs", id="swapped public key"),
    ]


@pytest.mark.parametrize(("damage", "error", "words"), damaged_files())
def test_a_damaged_encrypted_file_is_a_clear_error(tmp_path: Path, damage: object, error: type[Exception],
                                                   words: str) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    document = damage(json.loads(path.read_text()))  # type: ignore[operator]
    crypto.write_key_document(path, document, overwrite=True)
    with pytest.raises(error) as caught:
        crypto.load_key_file(path, passphrase=source().get)
    assert words in str(caught.value) and str(path) in str(caught.value)
    assert_no_secret(str(caught.value))


def test_a_truncated_file_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(KeyFileMalformed, match="is not JSON"):
        crypto.load_key_file(path, passphrase=source().get)


def test_encrypting_twice_or_decrypting_a_plain_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    with pytest.raises(KeyFileEncrypted, match="rotate-passphrase"):
        keyfile.encrypt_key_file(path, source(), FAST)
    plain = tmp_path / "plain.key"
    plain_key(plain)
    with pytest.raises(KeyFileMalformed, match="not encrypted"):
        keyfile.decrypt_key_file(plain, source())
    with pytest.raises(KeyFileMalformed, match="not encrypted"):
        keyfile.rotate_passphrase(plain, source(), source())


# --- where the passphrase comes from ----------------------------------------------------------------------------


def test_the_passphrase_from_a_file_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    read_end, write_end = os.pipe()
    os.write(write_end, (PASSPHRASE + "\n").encode())  # a trailing line end is not part of it
    os.close(write_end)
    from_fd = keyfile.PassphraseSource(fd=read_end, environ={keyfile.PASSPHRASE_ENV: "not this one"})
    assert crypto.load_key_file(path, passphrase=from_fd.get).key.seed == SEED
    assert crypto.load_key_file(path, passphrase=from_fd.get).key.seed == SEED  # read once, remembered


def test_the_passphrase_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    env = keyfile.get_passphrase_source(environ={keyfile.PASSPHRASE_ENV: PASSPHRASE}, interactive=False)
    assert crypto.load_key_file(path, passphrase=env.get).key.seed == SEED


def test_the_passphrase_from_a_systemd_credential(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / keyfile.CREDENTIAL_NAME).write_text(PASSPHRASE + "\n")
    systemd = keyfile.get_passphrase_source(environ={"CREDENTIALS_DIRECTORY": str(credentials)}, interactive=False)
    assert crypto.load_key_file(path, passphrase=systemd.get).key.seed == SEED


def test_the_passphrase_from_a_prompt_is_asked_twice_when_it_is_set(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    plain_key(path)
    answers = iter([PASSPHRASE, "a typo"])
    typed = keyfile.PassphraseSource(environ={}, interactive=True, confirm=True, prompt=lambda _: next(answers))
    with pytest.raises(KeyPassphraseUnusable, match="differ"):
        keyfile.encrypt_key_file(path, typed, FAST)
    assert not crypto.load_key_file(path).encrypted  # unchanged
    asked: list[str] = []
    prompt = keyfile.PassphraseSource(environ={}, interactive=True, prompt=lambda q: asked.append(q) or PASSPHRASE)
    keyfile.encrypt_key_file(path, source(), FAST)
    assert crypto.load_key_file(path, passphrase=prompt.get).key.seed == SEED
    assert len(asked) == 1 and str(path) in asked[0]


def test_no_source_empty_or_unreadable_passphrases_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    encrypted_key(path)
    with pytest.raises(KeyPassphraseUnusable) as caught:
        crypto.load_key_file(path, passphrase=keyfile.PassphraseSource(environ={}, interactive=False).get)
    assert keyfile.PASSPHRASE_ENV in caught.value.message and "--passphrase-fd" in caught.value.message
    with pytest.raises(KeyPassphraseUnusable, match="empty"):
        crypto.load_key_file(path, passphrase=source("").get)
    with pytest.raises(KeyPassphraseUnusable, match="file descriptor 987"):
        crypto.load_key_file(path, passphrase=keyfile.PassphraseSource(fd=987).get)

    def end_of_input(_: str) -> str:
        raise EOFError

    with pytest.raises(KeyPassphraseUnusable, match="end of input"):
        crypto.load_key_file(path, passphrase=keyfile.PassphraseSource(interactive=True, prompt=end_of_input).get)
    assert PASSPHRASE not in repr(source())


# --- the node --------------------------------------------------------------------------------------------------


def test_a_node_home_with_encrypted_keys_opens_and_a_wrong_passphrase_stops_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    plain_node_key = crypto.load_key_file(created.node_key).key
    for path in (created.node_key, created.home / "keys" / "encryption.key"):
        keyfile.encrypt_key_file(path, source(), FAST)
    with pytest.raises(KeyFileEncrypted):
        Node.from_home(created.home)
    with pytest.raises(KeyPassphraseWrong) as caught:
        Node.from_home(created.home, passphrase=source("wrong guess").get)
    assert str(created.node_key) in caught.value.message
    caplog.set_level(logging.INFO)
    node = Node.from_home(created.home, passphrase=source().get)
    try:
        assert node.node_key.public_key == plain_node_key.public_key
        assert not node.document_keys.problems
        assert "not encrypted" not in caplog.text
        assert PASSPHRASE not in caplog.text
    finally:
        node.close()


def test_a_node_with_plain_keys_starts_with_one_warning_per_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    caplog.set_level(logging.WARNING, logger="chainnode.keys")
    node = Node.from_home(created.home)
    node.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "chainnode.keys"]
    assert len(warnings) == 2, warnings
    assert f"chainnode key encrypt {created.node_key}" in warnings[0]
    assert "encryption.key" in warnings[1]


# --- the commands ------------------------------------------------------------------------------------------------


def test_key_commands_round_trip_with_exit_codes_and_no_secret_in_their_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "officer.key"
    plain_key(path)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv(keyfile.PASSPHRASE_ENV, PASSPHRASE)
    assert main(["key", "encrypt", str(path), "--kdf", "interactive"]) == 0
    assert crypto.load_key_file(path, passphrase=source().get).encrypted
    assert main(["key", "encrypt", str(path)]) == 2  # already encrypted

    monkeypatch.setenv(keyfile.PASSPHRASE_ENV, "wrong guess")
    capsys.readouterr()
    assert main(["key", "decrypt", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: key_passphrase_wrong: ") and str(path) in err
    assert_no_secret(err, "wrong guess")

    monkeypatch.setenv(keyfile.PASSPHRASE_ENV, PASSPHRASE)
    read_end, write_end = os.pipe()
    os.write(write_end, b"the new one\n")
    os.close(write_end)
    assert main(["key", "rotate-passphrase", str(path), "--new-passphrase-fd", str(read_end), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["encrypted"] is True
    monkeypatch.delenv(keyfile.PASSPHRASE_ENV)
    monkeypatch.setenv(keyfile.PASSPHRASE_ENV, "the new one")
    assert main(["key", "decrypt", str(path)]) == 0
    out = capsys.readouterr()
    assert_no_secret(out.out + out.err, "the new one")
    assert crypto.load_key_file(path).key.seed == SEED
    assert main(["key", "rotate-passphrase", str(path), "--passphrase-fd", "x"]) == 2


def test_init_join_and_keygen_write_encrypted_keys_that_a_node_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv(keyfile.PASSPHRASE_ENV, PASSPHRASE)
    home = tmp_path / "psb"
    assert main(["init", "--home", str(home), "--chain-id", "n", "--department", "PSB", "--name", "Police",
                 "--encrypt-keys"]) == 0
    assert "key files are encrypted" in capsys.readouterr().out
    keys = sorted((home / "keys").iterdir())
    assert [k.name for k in keys] == ["encryption.key", "node.key", "officer.key"]
    for path in keys:
        assert keyfile.is_encrypted_key_file(path), path
        assert SEED.hex() not in path.read_text()
    node = Node.from_home(home, passphrase=source().get)
    try:
        assert not node.document_keys.problems
    finally:
        node.close()

    joining = tmp_path / "hrss"
    assert main(["join", "--home", str(joining), "--genesis", str(home / "genesis.json"), "--department", "HRSS",
                 "--name", "Human Resources", "--peer", "127.0.0.1:26656", "--encrypt-keys"]) == 0
    assert all(keyfile.is_encrypted_key_file(path) for path in (joining / "keys").iterdir())
    assert crypto.load_key_file(joining / "keys" / "admin.key", passphrase=source().get).encrypted

    assert main(["keygen", "--out", str(tmp_path / "clerk.key"), "--encrypt-keys"]) == 0
    assert crypto.load_key_file(tmp_path / "clerk.key", passphrase=source().get).encrypted


def test_init_without_encrypt_keys_says_the_keys_are_plain_and_a_used_home_is_refused_before_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(keyfile.PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    home = tmp_path / "psb"
    assert main(["init", "--home", str(home), "--chain-id", "n", "--department", "PSB", "--name", "Police"]) == 0
    assert "NOT encrypted" in capsys.readouterr().out
    assert not keyfile.is_encrypted_key_file(home / "keys" / "node.key")
    # the home exists: refused by name, and no passphrase is asked for (none is set: asking would fail otherwise)
    assert main(["init", "--home", str(home), "--chain-id", "n", "--department", "PSB", "--name", "Police",
                 "--encrypt-keys"]) == 2
    assert "already holds a node home" in capsys.readouterr().err
    # a passphrase source without --encrypt-keys is a usage error, not silently ignored
    assert main(["keygen", "--out", str(tmp_path / "k.key"), "--passphrase-fd", "0"]) == 2
    assert not (tmp_path / "k.key").exists()
