"""The department's encryption keys held by its node: the current one and those it rotated away from.

`keys/encryption.key` is the key in force; a rotation keeps the old one as `keys/encryption-<first 16 hex
of its fingerprint>.key`, so documents sealed before the rotation still open. Keys are found by the
fingerprint the document's sealed key names. Files are read on first use and re-read when a fingerprint
is not found (an operator may add an archived key while the node runs); a file already read and unchanged
(same size and modification time) is not read again, so an encrypted file costs its Argon2id run once.
"""

from __future__ import annotations

import threading
from pathlib import Path

from chainnode import crypto
from chainnode.errors import KeyFileEncrypted, KeyFileError, KeyPassphraseUnusable, KeyPassphraseWrong


class DocumentKeys:
    def __init__(self, keys_dir: Path, *, passphrase: crypto.PassphraseProvider | None = None) -> None:
        self._dir = keys_dir
        self._passphrase = passphrase
        self._lock = threading.Lock()
        self._by_fingerprint: dict[bytes, crypto.EncryptionKey] = {}
        self._read: dict[Path, tuple[int, int, int]] = {}
        self._problems: dict[Path, str] = {}

    @property
    def problems(self) -> list[str]:
        """Key files that could not be read, with the reason (never the secret), until they change."""
        return list(self._problems.values())

    def archive_path(self, key: crypto.EncryptionKey) -> Path:
        return self._dir / f"encryption-{crypto.compute_key_fingerprint(key.public_key).hex()[:16]}.key"

    def find(self, fingerprint: bytes) -> crypto.EncryptionKey | None:
        with self._lock:
            if fingerprint not in self._by_fingerprint:
                self._scan()
            return self._by_fingerprint.get(fingerprint)

    def load(self) -> None:
        """Read every key file now (a node does at start). Raises the passphrase errors (KeyFileEncrypted,
        KeyPassphraseWrong, KeyPassphraseUnusable); other problems go to `problems`, as in a later scan."""
        with self._lock:
            self._scan(strict=True)

    def paths(self) -> list[Path]:
        return sorted(self._dir.glob("encryption*.key"))

    def _scan(self, *, strict: bool = False) -> None:
        for path in self.paths():
            try:
                stat = path.stat()
            except OSError:
                stat = None
            signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns) if stat is not None else None
            if signature is not None and self._read.get(path) == signature and not (strict and path in self._problems):
                continue  # unchanged since read; a start (strict) still stops on a file that did not open
            try:
                key = crypto.load_encryption_key_file(path, passphrase=self._passphrase)
            except KeyFileError as exc:
                if strict and isinstance(exc, (KeyFileEncrypted, KeyPassphraseWrong, KeyPassphraseUnusable)):
                    raise
                # a file is read once per version, whether it opens or not: a key that does not open costs an
                # Argon2id run, and a lookup of an unknown fingerprint must not pay it again
                self._problems[path] = exc.message
                if signature is not None:
                    self._read[path] = signature
                continue
            self._problems.pop(path, None)
            if signature is not None:
                self._read[path] = signature
            self._by_fingerprint[crypto.compute_key_fingerprint(key.public_key)] = key
