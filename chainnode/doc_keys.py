"""The department's encryption keys held by its node: the current one and those it rotated away from.

`keys/encryption.key` is the key in force; a rotation keeps the old one as `keys/encryption-<first 16 hex
of its fingerprint>.key`, so documents sealed before the rotation still open. Keys are found by the
fingerprint the document's sealed key names. Files are read on first use and re-read when a fingerprint
is not found (an operator may add an archived key while the node runs).
"""

from __future__ import annotations

import threading
from pathlib import Path

from chainnode import crypto
from chainnode.errors import KeyFileError


class DocumentKeys:
    def __init__(self, keys_dir: Path) -> None:
        self._dir = keys_dir
        self._lock = threading.Lock()
        self._by_fingerprint: dict[bytes, crypto.EncryptionKey] = {}
        self.problems: list[str] = []
        """Key files that could not be read at the last scan, with the reason (never the secret)."""

    def archive_path(self, key: crypto.EncryptionKey) -> Path:
        return self._dir / f"encryption-{crypto.compute_key_fingerprint(key.public_key).hex()[:16]}.key"

    def find(self, fingerprint: bytes) -> crypto.EncryptionKey | None:
        with self._lock:
            if fingerprint not in self._by_fingerprint:
                self._scan()
            return self._by_fingerprint.get(fingerprint)

    def _scan(self) -> None:
        problems = []
        for path in sorted(self._dir.glob("encryption*.key")):
            try:
                key = crypto.load_encryption_key_file(path)
            except KeyFileError as exc:
                problems.append(exc.message)
                continue
            self._by_fingerprint[crypto.compute_key_fingerprint(key.public_key)] = key
        self.problems = problems
