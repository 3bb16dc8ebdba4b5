"""Keys at rest: where a key file's passphrase comes from, and encrypting, decrypting and re-keying key files.

The file format and the cryptography are in crypto.py (the one module that imports nacl); this module is the
I/O around them. A passphrase never comes from the command line (it would show in `ps` and in shell
history): it comes from a file descriptor (`--passphrase-fd N`), the environment variable
CHAINNODE_KEY_PASSPHRASE, a systemd credential (`$CREDENTIALS_DIRECTORY/chainnode-key-passphrase`), or,
on a terminal, a prompt. It is read once per process and remembered, so a node with several encrypted
keys (node key, document keys) asks once. Neither the passphrase nor a seed is ever logged or put in an
error message.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from chainnode import crypto
from chainnode.doc_keys import DocumentKeys
from chainnode.errors import (
    InvalidField,
    KeyFileEncrypted,
    KeyFileError,
    KeyFileMalformed,
    KeyPassphraseUnusable,
)

log = logging.getLogger("chainnode.keys")

PASSPHRASE_ENV: Final = "CHAINNODE_KEY_PASSPHRASE"
NEW_PASSPHRASE_ENV: Final = "CHAINNODE_KEY_NEW_PASSPHRASE"
CREDENTIAL_NAME: Final = "chainnode-key-passphrase"
CREDENTIALS_DIRECTORY_ENV: Final = "CREDENTIALS_DIRECTORY"
DEFAULT_KDF_PROFILE: Final = "moderate"
MAX_PASSPHRASE_BYTES: Final = 4096

Prompt = Callable[[str], str]


class PassphraseSource:
    """One passphrase, from the first source that has it: a file descriptor, an environment variable, a
    systemd credential, then (on a terminal) a prompt, asked twice when `confirm` (a passphrase being set).

    Reads its source at most once and remembers the answer; `get` is a crypto.PassphraseProvider.
    """

    def __init__(
        self,
        *,
        fd: int | None = None,
        environ: Mapping[str, str] | None = None,
        env_name: str = PASSPHRASE_ENV,
        credential_name: str | None = CREDENTIAL_NAME,
        interactive: bool = False,
        prompt: Prompt = getpass.getpass,
        confirm: bool = False,
        what: str = "passphrase",
    ) -> None:
        self._fd = fd
        self._environ = environ if environ is not None else {}
        self._env_name = env_name
        self._credential_name = credential_name
        self._interactive = interactive
        self._prompt = prompt
        self._confirm = confirm
        self._what = what
        self._passphrase: bytes | None = None

    def __repr__(self) -> str:  # never the passphrase
        return f"PassphraseSource({self.describe()})"

    def describe(self) -> str:
        """The sources this one tries, in order, for error messages."""
        sources = [f"--{self._what.replace(' ', '-')}-fd N"] if self._fd is None else [f"file descriptor {self._fd}"]
        if self._fd is None:
            sources.append(f"${self._env_name}")
            if self._credential_name is not None:
                sources.append(f"${CREDENTIALS_DIRECTORY_ENV}/{self._credential_name}")
        text = ", ".join(sources)
        return text if self._fd is not None else f"{text}, or run on a terminal to be asked"

    def get(self, path: Path) -> bytes:
        """The passphrase for the key file at `path`. Raises KeyPassphraseUnusable if no source has one,
        or if what the source gives is empty, not UTF-8, or (asked twice) not the same both times."""
        if self._passphrase is None:
            self._passphrase = self._read(path)
        return self._passphrase

    def _read(self, path: Path) -> bytes:
        if self._fd is not None:
            return _normalise(_read_fd(self._fd), f"file descriptor {self._fd}")
        if self._env_name in self._environ:
            return _normalise(self._environ[self._env_name], f"${self._env_name}")
        credential = self._credential_path()
        if credential is not None:
            return _normalise(_read_credential(credential), str(credential))
        if self._interactive:
            return self._ask(path)
        raise KeyPassphraseUnusable(f"key file {path} needs a {self._what} and none was given; give it with "
                                    f"{self.describe()}", field="passphrase")

    def _credential_path(self) -> Path | None:
        directory = self._environ.get(CREDENTIALS_DIRECTORY_ENV)
        if not directory or self._credential_name is None:
            return None
        path = Path(directory) / self._credential_name
        return path if path.exists() else None

    def _ask(self, path: Path) -> bytes:
        first = _normalise(self._prompt_once(f"{self._what} for {path}: "), "the prompt")
        if self._confirm and _normalise(self._prompt_once(f"{self._what} again: "), "the prompt") != first:
            raise KeyPassphraseUnusable(f"the two {self._what}s typed for {path} differ; nothing was changed",
                                        field="passphrase")
        return first

    def _prompt_once(self, question: str) -> str:
        try:
            return self._prompt(question)
        except EOFError:
            raise KeyPassphraseUnusable("no passphrase was typed (end of input)", field="passphrase") from None


def _read_fd(fd: int) -> str:
    chunks: list[bytes] = []
    try:
        while sum(map(len, chunks)) <= MAX_PASSPHRASE_BYTES and (chunk := os.read(fd, 4096)):
            chunks.append(chunk)
        os.close(fd)
    except OSError as exc:
        raise KeyPassphraseUnusable(f"cannot read the passphrase from file descriptor {fd}: {exc.strerror}",
                                    field="passphrase") from None
    return _decode(b"".join(chunks), f"file descriptor {fd}")


def _read_credential(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyPassphraseUnusable(f"cannot read the passphrase credential {path}: {exc.strerror}",
                                    field="passphrase") from None
    return _decode(data, str(path))


def _decode(data: bytes, where: str) -> str:
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise KeyPassphraseUnusable(f"the passphrase from {where} is longer than {MAX_PASSPHRASE_BYTES} bytes",
                                    field="passphrase")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyPassphraseUnusable(f"the passphrase from {where} is not UTF-8 text", field="passphrase") from None


def _normalise(text: str, where: str) -> bytes:
    """One trailing line end is dropped (`echo secret > file`); Unicode is NFC, so the same passphrase typed
    on another terminal gives the same bytes."""
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    if not text:
        raise KeyPassphraseUnusable(f"the passphrase from {where} is empty", field="passphrase")
    return unicodedata.normalize("NFC", text).encode("utf-8")


def get_passphrase_source(*, fd: int | None = None, environ: Mapping[str, str] | None = None,
                          interactive: bool | None = None, confirm: bool = False) -> PassphraseSource:
    """The passphrase of the keys a process opens: `fd`, else $CHAINNODE_KEY_PASSPHRASE, else the systemd
    credential, else a prompt when standard input is a terminal (asked twice when `confirm`)."""
    return PassphraseSource(fd=fd, environ=os.environ if environ is None else environ, confirm=confirm,
                            interactive=sys.stdin.isatty() if interactive is None else interactive)


def get_new_passphrase_source(*, fd: int | None = None, environ: Mapping[str, str] | None = None,
                              interactive: bool | None = None) -> PassphraseSource:
    """A passphrase being set by `rotate-passphrase`: `fd`, else $CHAINNODE_KEY_NEW_PASSPHRASE, else a prompt
    (asked twice). Never a systemd credential: that holds the passphrase in force."""
    return PassphraseSource(fd=fd, environ=os.environ if environ is None else environ, env_name=NEW_PASSPHRASE_ENV,
                            credential_name=None, confirm=True, what="new passphrase",
                            interactive=sys.stdin.isatty() if interactive is None else interactive)


# --- loading, with the warning an operator needs --------------------------------------------------------------


def warn_if_plain(path: Path, *, encrypted: bool) -> None:
    if not encrypted:
        log.warning("key file %s is not encrypted; protect it with a passphrase: chainnode key encrypt %s",
                    path, path)


def load_node_key(path: Path, passphrase: crypto.PassphraseProvider | None) -> crypto.PrivateKey:
    """The node's signing key, decrypted if need be; one warning in the log if the file is plain.

    Raises what crypto.load_key_file raises.
    """
    loaded = crypto.load_key_file(path, passphrase=passphrase)
    warn_if_plain(path, encrypted=loaded.encrypted)
    return loaded.key


def load_document_keys(keys_dir: Path, passphrase: crypto.PassphraseProvider | None) -> DocumentKeys:
    """The department's document keys, read now; one warning in the log for each plain file.

    Raises KeyFileEncrypted, KeyPassphraseWrong or KeyPassphraseUnusable; a damaged file is only listed
    in `problems` (documents sealed to it will not open), as it always was.
    """
    keys = DocumentKeys(keys_dir, passphrase=passphrase)
    for path in keys.paths():
        try:
            encrypted = is_encrypted_key_file(path)
        except KeyFileError:
            continue
        warn_if_plain(path, encrypted=encrypted)
    keys.load()
    return keys


def is_encrypted_key_file(path: Path) -> bool:
    """Whether the key file at `path` is encrypted (reads only its readable part). Raises KeyFileError."""
    return crypto.is_encrypted_key_document(crypto.read_key_document(path))


# --- the key commands' work ----------------------------------------------------------------------------------


def _validate_plain_document(path: Path, document: Mapping[str, object]) -> None:
    """Raises KeyFileMalformed unless `document` is a plain key file this build can load."""
    kind = document.get("kind")
    if kind == crypto.KEY_FILE_KIND:
        crypto.load_key_file(path)
    elif kind == crypto.ENCRYPTION_KEY_FILE_KIND:
        crypto.load_encryption_key_file(path)
    else:
        raise KeyFileMalformed(f"key file {path} is not a chainnode key file (kind {kind!r})")


def encrypt_key_file(path: Path, new_passphrase: PassphraseSource, limits: crypto.KdfLimits) -> None:
    """Replace the plain key file at `path` by its encrypted form (atomically, mode 0600).

    Raises KeyFileEncrypted if it is already encrypted (use `rotate_passphrase`), the errors of loading a
    key file, or KeyPassphraseUnusable.
    """
    document = crypto.read_key_document(path)
    if crypto.is_encrypted_key_document(document):
        raise KeyFileEncrypted(f"key file {path} is already encrypted; to change its passphrase run: "
                               f"chainnode key rotate-passphrase {path}")
    _validate_plain_document(path, document)
    envelope = _encrypt(document, new_passphrase.get(path), limits)
    crypto.write_key_document(path, envelope, overwrite=True)


def get_protector(passphrase: PassphraseSource, limits: crypto.KdfLimits, *, asked_for: Path) -> crypto.KeyProtector:
    """Encrypts each new key file a command writes (`--encrypt-keys`) under one passphrase.

    The passphrase is read here, before anything is written, so a mistyped confirmation leaves nothing
    behind. Raises KeyPassphraseUnusable.
    """
    secret = passphrase.get(asked_for)

    def protect(document: Mapping[str, object]) -> Mapping[str, object]:
        return _encrypt(document, secret, limits)

    return protect


def decrypt_key_file(path: Path, passphrase: PassphraseSource) -> None:
    """Replace the encrypted key file at `path` by the plain file it holds (atomically, mode 0600).

    Raises KeyFileMalformed if it is not encrypted, KeyPassphraseWrong, or the errors of loading a key file.
    """
    document = crypto.read_key_document(path)
    if not crypto.is_encrypted_key_document(document):
        raise KeyFileMalformed(f"key file {path} is not encrypted; there is nothing to decrypt")
    plain = crypto.decrypt_key_document(document, passphrase.get(path), path=path)
    crypto.write_key_document(path, plain, overwrite=True)


def rotate_passphrase(path: Path, passphrase: PassphraseSource, new_passphrase: PassphraseSource,
                      limits: crypto.KdfLimits | None = None) -> crypto.KdfLimits:
    """Re-encrypt the key file at `path` under a new passphrase, a new salt and a new nonce (atomically).

    `limits` None keeps the file's Argon2id limits. Returns the limits written. Raises what
    `decrypt_key_file` raises, or KeyPassphraseUnusable; the file is unchanged on any error.
    """
    document = crypto.read_key_document(path)
    if not crypto.is_encrypted_key_document(document):
        raise KeyFileMalformed(f"key file {path} is not encrypted; encrypt it first: chainnode key encrypt {path}")
    plain = crypto.decrypt_key_document(document, passphrase.get(path), path=path)
    limits = limits or crypto.get_kdf_limits(document, path)
    crypto.write_key_document(path, _encrypt(plain, new_passphrase.get(path), limits), overwrite=True)
    return limits


def _encrypt(document: Mapping[str, object], passphrase: bytes, limits: crypto.KdfLimits) -> dict[str, object]:
    try:
        return crypto.encrypt_key_document(document, passphrase, limits)
    except InvalidField as exc:
        raise KeyPassphraseUnusable(exc.message, field="passphrase") from None
