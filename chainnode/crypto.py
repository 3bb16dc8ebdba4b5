"""Hashing with domain separation, Ed25519 signatures and key files.

Every hash of a protocol object is `SHA-256(domain || 0x00 || bytes)` with a domain tag per object kind,
so a transaction hash can never be confused with a block hash. Every signature covers
`encode([domain, chain_id, payload])`, so a vote can never be replayed as a transaction or on another
chain. Merkle trees use the RFC 9162 prefixes instead (see merkle.py). This module alone imports nacl.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgpack
import nacl.bindings
import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.secret
import nacl.signing

from chainnode import codec
from chainnode.errors import (
    DecryptionFailed,
    InvalidField,
    InvalidSignature,
    KeyFileEncrypted,
    KeyFileExists,
    KeyFileInsecure,
    KeyFileMalformed,
    KeyFileMissing,
    KeyFileUnreadable,
    KeyPassphraseWrong,
)

PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
SEED_SIZE: Final = 32
HASH_SIZE: Final = 32

# Hash domains. Each is ASCII without NUL, so the 0x00 separator makes the tagged input unambiguous.
DOMAIN_TX: Final = b"chainnode/v1/tx"
DOMAIN_BLOCK: Final = b"chainnode/v1/block"
DOMAIN_COMMIT: Final = b"chainnode/v1/commit"
DOMAIN_VALSET: Final = b"chainnode/v1/validator-set"
DOMAIN_GENESIS: Final = b"chainnode/v1/genesis"
DOMAIN_STATE_KEY: Final = b"chainnode/v1/state-key"
DOMAIN_STATE_VALUE: Final = b"chainnode/v1/state-value"
DOMAIN_STATE_LEAF: Final = b"chainnode/v1/state-leaf"
DOMAIN_STATE_NODE: Final = b"chainnode/v1/state-node"
DOMAIN_CONTENT: Final = b"chainnode/v1/content"
DOMAIN_ENCRYPTION_KEY: Final = b"chainnode/v1/encryption-key"

# Signature domains.
SIGN_TX: Final = b"chainnode/v1/sign/tx"
SIGN_VOTE: Final = b"chainnode/v1/sign/vote"
SIGN_PROPOSAL: Final = b"chainnode/v1/sign/proposal"
SIGN_HANDSHAKE: Final = b"chainnode/v1/sign/handshake"

KEY_FILE_KIND: Final = "chainnode-ed25519-key"
ENCRYPTION_KEY_FILE_KIND: Final = "chainnode-encryption-key"
ENCRYPTED_KEY_FILE_KIND: Final = "chainnode-encrypted-key"
ENCRYPTED_KEY_FILE_VERSION: Final = 1


def compute_hash(domain: bytes, data: bytes) -> bytes:
    """Return SHA-256(domain || 0x00 || data)."""
    return hashlib.sha256(domain + b"\x00" + data).digest()


def sha256(data: bytes) -> bytes:
    """Plain SHA-256, for file contents and the RFC 9162 trees."""
    return hashlib.sha256(data).digest()


def compute_signing_bytes(domain: bytes, chain_id: str, payload: bytes) -> bytes:
    """Return the bytes a signature covers: the canonical array [domain, chain_id, payload]. Two byte strings
    and a string have one encoding, so they are packed as they are (`codec.encode` would give the same
    bytes after checking types it already knows)."""
    if type(domain) is bytes and type(chain_id) is str and type(payload) is bytes:
        try:
            return msgpack.packb([domain, chain_id, payload], use_bin_type=True)  # type: ignore[no-any-return]
        except UnicodeEncodeError:
            pass  # a lone surrogate: codec.encode names it
    return codec.encode([domain, chain_id, payload])


def verify_many(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """`verify_signature` of each (public key, message, signature): what a verification worker process runs."""
    return [verify_signature(public_key, message, signature) for public_key, message, signature in items]


Verifier = Callable[[bytes, bytes, bytes], bool]
"""Checks one Ed25519 signature: (public key, message, signature) -> valid. `verify_signature`, or a cache's."""


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Return whether `signature` is a valid Ed25519 signature of `message` by `public_key`.

    Uses libsodium's strict verification (canonical S, no small-order keys). Releases the GIL, so it
    scales across a thread pool.
    """
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False
    return True


class VerifiedSignatures:
    """The last `capacity` signatures this process found valid, so that one seen again is not verified again.

    Consensus checks most signatures twice: a precommit when it arrives as a vote, then the same precommit
    inside the commit that decides its block, and again inside the next block's last commit. Only a
    successful check is remembered (never a peer's claim, never a failure), keyed by the whole (public key,
    message, signature), so a hit is exactly a check that passed before. Thread-safe: the vote screen fills
    it on the event loop, commits read it on the building thread.
    """

    def __init__(self, capacity: int = 8192) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._valid: dict[tuple[bytes, bytes, bytes], None] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._valid)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """`verify_signature`, answered from memory for a triple that verified before."""
        entry = (public_key, message, signature)
        if entry in self._valid:
            return True
        if not verify_signature(public_key, message, signature):
            return False
        with self._lock:
            self._valid[entry] = None
            if len(self._valid) > self._capacity:
                del self._valid[next(iter(self._valid))]  # the oldest: dicts keep insertion order
        return True


def validate_signature(public_key: bytes, message: bytes, signature: bytes, *, what: str) -> None:
    """Raise InvalidSignature unless the signature is valid."""
    if not verify_signature(public_key, message, signature):
        raise InvalidSignature(f"{what}: signature does not verify", field="signature")


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An Ed25519 signing key, built from its 32-byte seed. Its repr never shows the seed."""

    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    _signer: nacl.signing.SigningKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_SIZE:
            raise InvalidField(f"a seed is {SEED_SIZE} bytes, got {len(self.seed)}", field="seed")
        signer = nacl.signing.SigningKey(self.seed)
        object.__setattr__(self, "_signer", signer)
        object.__setattr__(self, "public_key", bytes(signer.verify_key))

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(os.urandom(SEED_SIZE))

    def sign(self, message: bytes) -> bytes:
        return bytes(self._signer.sign(message).signature)


@dataclass(frozen=True, slots=True)
class KeyFile:
    """What a key file holds: the key and the labels written beside it, and whether it was encrypted."""

    key: PrivateKey
    label: str = ""
    encrypted: bool = False


PassphraseProvider = Callable[[Path], bytes]
"""Returns the passphrase for the encrypted key file at the path; raises KeyFileError if it has none."""


KeyProtector = Callable[[Mapping[str, object]], Mapping[str, object]]
"""Turns a new key file's plain document into the one written (keyfile.get_protector: encrypted)."""


def write_key_file(path: Path, key: PrivateKey, *, label: str = "", overwrite: bool = False,
                   protect: KeyProtector | None = None) -> None:
    """Write `key` to `path` as JSON, readable by the owner only (0600), atomically; with `protect`, the
    document it returns (the secret never touches the disk in plain text).

    Raises KeyFileExists if the file exists and `overwrite` is false.
    """
    document = {"kind": KEY_FILE_KIND, "label": label, "public_key": key.public_key.hex(), "seed": key.seed.hex()}
    _write_secret_file(path, protect(document) if protect else document, overwrite=overwrite)


def write_encryption_key_file(path: Path, key: EncryptionKey, *, label: str = "", overwrite: bool = False,
                              protect: KeyProtector | None = None) -> None:
    """Write a department's X25519 encryption key like a signing key: JSON, 0600, atomically."""
    document = {
        "kind": ENCRYPTION_KEY_FILE_KIND,
        "label": label,
        "public_key": key.public_key.hex(),
        "secret": key.secret.hex(),
    }
    _write_secret_file(path, protect(document) if protect else document, overwrite=overwrite)


def write_key_document(path: Path, document: Mapping[str, object], *, overwrite: bool = False) -> None:
    """Write a key file's JSON document (plain or encrypted) atomically with mode 0600."""
    _write_secret_file(path, document, overwrite=overwrite)


def _write_secret_file(path: Path, document: Mapping[str, object], *, overwrite: bool) -> None:
    """The secret goes to a new 0600 file beside the target, is synced, then renamed over it, so a crash
    never leaves a half-written key and the secret is never in a file others can read."""
    if path.exists() and not overwrite:
        raise KeyFileExists(f"key file {path} already exists; choose another path or pass --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_key_document(path: Path) -> dict[str, object]:
    """A key file's JSON object as stored (plain or encrypted), after checking that only its owner can read it.

    Raises KeyFileMissing, KeyFileUnreadable, KeyFileInsecure or KeyFileMalformed (not a JSON object).
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise KeyFileMissing(f"key file {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise KeyFileUnreadable(f"key file {path} is a directory") from exc
    except UnicodeDecodeError as exc:
        raise KeyFileMalformed(f"key file {path} is not UTF-8 text") from exc
    except OSError as exc:
        raise KeyFileUnreadable(f"key file {path} cannot be read: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileInsecure(
            f"key file {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileMalformed(f"key file {path} is not JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(document, dict):
        raise KeyFileMalformed(f"key file {path} is not a chainnode key file (not a JSON object)")
    return document


def is_encrypted_key_document(document: Mapping[str, object]) -> bool:
    return document.get("kind") == ENCRYPTED_KEY_FILE_KIND


def _read_secret_file(
    path: Path, kind: str, what: str, passphrase: PassphraseProvider | None
) -> tuple[dict[str, object], bool]:
    """A key file's plain JSON object of `kind` (decrypted if the file is encrypted), and whether it was.

    Raises KeyFileMissing, KeyFileUnreadable, KeyFileInsecure, KeyFileMalformed, KeyFileEncrypted (encrypted
    and no passphrase provider), KeyPassphraseWrong, or what the provider raises.
    """
    document = read_key_document(path)
    encrypted = is_encrypted_key_document(document)
    if encrypted:
        if passphrase is None:
            raise KeyFileEncrypted(f"key file {path} is encrypted and this command cannot ask for its passphrase; "
                                   f"to use it here, decrypt it first: chainnode key decrypt {path}")
        document = decrypt_key_document(document, passphrase(path), path=path)
    if document.get("kind") != kind:
        raise KeyFileMalformed(f"key file {path} is not {what} (expected kind {kind!r})")
    return document, encrypted


def load_key_file(path: Path, *, passphrase: PassphraseProvider | None = None) -> KeyFile:
    """Read a key file written by `write_key_file`, or that file encrypted by `encrypt_key_document`.

    `passphrase` is asked only if the file is encrypted. Raises KeyFileMissing, KeyFileUnreadable,
    KeyFileInsecure (readable by group or others), KeyFileMalformed (not JSON, wrong kind, bad hex, a public
    key that does not match the seed, a damaged envelope), KeyFileEncrypted (encrypted, no `passphrase`),
    KeyPassphraseWrong, or what `passphrase` raises.
    """
    document, encrypted = _read_secret_file(path, KEY_FILE_KIND, "a chainnode key", passphrase)
    try:
        seed = bytes.fromhex(str(document["seed"]))
        public_key = bytes.fromhex(str(document["public_key"]))
        key = PrivateKey(seed)
    except (KeyError, ValueError, InvalidField) as exc:
        raise KeyFileMalformed(f"key file {path} has a missing or malformed seed or public_key") from exc
    if key.public_key != public_key:
        raise KeyFileMalformed(f"key file {path}: public_key does not belong to the seed")
    label = document.get("label", "")
    return KeyFile(key=key, label=label if isinstance(label, str) else "", encrypted=encrypted)


def load_encryption_key_file(path: Path, *, passphrase: PassphraseProvider | None = None) -> EncryptionKey:
    """Read a department encryption key written by `write_encryption_key_file`, plain or encrypted (same errors
    as load_key_file)."""
    document, _ = _read_secret_file(path, ENCRYPTION_KEY_FILE_KIND, "a chainnode encryption key", passphrase)
    try:
        key = EncryptionKey(bytes.fromhex(str(document["secret"])))
        public_key = bytes.fromhex(str(document["public_key"]))
    except (KeyError, ValueError, InvalidField) as exc:
        raise KeyFileMalformed(f"key file {path} has a missing or malformed secret or public_key") from exc
    if key.public_key != public_key:
        raise KeyFileMalformed(f"key file {path}: public_key does not belong to the secret")
    return key


# --- keys at rest: a key file's JSON sealed with a passphrase (Argon2id + XSalsa20-Poly1305) --------------

KDF_ALGORITHM: Final = "argon2id13"
CIPHER_ALGORITHM: Final = "xsalsa20poly1305"
KDF_SALT_SIZE: Final = nacl.pwhash.argon2id.SALTBYTES
SECRETBOX_NONCE_SIZE: Final = nacl.secret.SecretBox.NONCE_SIZE


@dataclass(frozen=True, slots=True)
class KdfLimits:
    """Argon2id's cost: passes over memory and bytes of memory. Stored in each file, so it can change."""

    opslimit: int
    memlimit: int


KDF_PROFILES: Final[dict[str, KdfLimits]] = {
    "interactive": KdfLimits(nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": KdfLimits(nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "sensitive": KdfLimits(nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE, nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE),
}
"""The named costs `chainnode key encrypt --kdf` offers (libsodium's own levels); "moderate" by default."""

MAX_KDF_LIMITS: Final = KdfLimits(opslimit=16, memlimit=nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE)
"""The most a file may ask for: a damaged or hostile file cannot make a load take minutes or all memory."""


def _derive_box(passphrase: bytes, salt: bytes, limits: KdfLimits) -> nacl.secret.SecretBox:
    key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase, salt,
                                   opslimit=limits.opslimit, memlimit=limits.memlimit)
    return nacl.secret.SecretBox(key)


def encrypt_key_document(document: Mapping[str, object], passphrase: bytes, limits: KdfLimits) -> dict[str, object]:
    """The encrypted form of a plain key file's `document`; its kind, label and public key stay readable.

    The plaintext is the whole plain document as compact JSON, so decryption gives back the same file.
    """
    if not passphrase:
        raise InvalidField("a passphrase may not be empty", field="passphrase")
    salt, nonce = os.urandom(KDF_SALT_SIZE), os.urandom(SECRETBOX_NONCE_SIZE)
    plaintext = json.dumps(dict(document), separators=(",", ":"), sort_keys=True).encode()
    ciphertext = _derive_box(passphrase, salt, limits).encrypt(plaintext, nonce).ciphertext
    return {
        "kind": ENCRYPTED_KEY_FILE_KIND,
        "version": ENCRYPTED_KEY_FILE_VERSION,
        "key_kind": str(document.get("kind", "")),
        "label": str(document.get("label", "")),
        "public_key": str(document.get("public_key", "")),
        "kdf": {"algorithm": KDF_ALGORITHM, "opslimit": limits.opslimit, "memlimit": limits.memlimit,
                "salt": salt.hex()},
        "cipher": {"algorithm": CIPHER_ALGORITHM, "nonce": nonce.hex(), "ciphertext": ciphertext.hex()},
    }


def _parse_envelope(envelope: Mapping[str, object], path: Path) -> tuple[KdfLimits, bytes, bytes, bytes]:
    """The limits, salt, nonce and ciphertext of an encrypted key file. Raises KeyFileMalformed."""
    version = envelope.get("version")
    if version != ENCRYPTED_KEY_FILE_VERSION or type(version) is not int:
        raise KeyFileMalformed(f"key file {path} has encrypted-key format version {version!r}; this build reads "
                               f"version {ENCRYPTED_KEY_FILE_VERSION}")
    kdf, cipher = envelope.get("kdf"), envelope.get("cipher")
    try:
        if not isinstance(kdf, dict) or not isinstance(cipher, dict):
            raise ValueError("kdf or cipher is not an object")
        if kdf.get("algorithm") != KDF_ALGORITHM or cipher.get("algorithm") != CIPHER_ALGORITHM:
            raise ValueError("unknown algorithm")
        opslimit, memlimit = kdf.get("opslimit"), kdf.get("memlimit")
        if type(opslimit) is not int or type(memlimit) is not int:
            raise ValueError("limits are not integers")
        salt = bytes.fromhex(str(kdf["salt"]))
        nonce = bytes.fromhex(str(cipher["nonce"]))
        ciphertext = bytes.fromhex(str(cipher["ciphertext"]))
    except (KeyError, ValueError) as exc:
        raise KeyFileMalformed(f"key file {path} is a damaged encrypted key file (kdf or cipher fields)") from exc
    if len(salt) != KDF_SALT_SIZE or len(nonce) != SECRETBOX_NONCE_SIZE or len(ciphertext) <= 16:
        raise KeyFileMalformed(f"key file {path} is a damaged encrypted key file (salt, nonce or ciphertext size)")
    if not (nacl.pwhash.argon2id.OPSLIMIT_MIN <= opslimit <= MAX_KDF_LIMITS.opslimit
            and nacl.pwhash.argon2id.MEMLIMIT_MIN <= memlimit <= MAX_KDF_LIMITS.memlimit):
        raise KeyFileMalformed(f"key file {path} asks for Argon2id limits out of range (opslimit {opslimit}, "
                               f"memlimit {memlimit})")
    return KdfLimits(opslimit, memlimit), salt, nonce, ciphertext


def get_kdf_limits(envelope: Mapping[str, object], path: Path) -> KdfLimits:
    """The Argon2id limits an encrypted key file was sealed with. Raises KeyFileMalformed."""
    return _parse_envelope(envelope, path)[0]


def decrypt_key_document(envelope: Mapping[str, object], passphrase: bytes, *, path: Path) -> dict[str, object]:
    """The plain key document inside an encrypted one.

    Raises KeyFileMalformed (damaged envelope, or a plaintext that does not match the readable kind and
    public key) or KeyPassphraseWrong (the passphrase does not open it, or the ciphertext was altered).
    Neither message ever holds the passphrase or the key.
    """
    limits, salt, nonce, ciphertext = _parse_envelope(envelope, path)
    try:
        plaintext = _derive_box(passphrase, salt, limits).decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError as exc:
        raise KeyPassphraseWrong(
            f"the passphrase does not open key file {path} (wrong passphrase, or the file was altered)"
        ) from exc
    try:
        document = json.loads(plaintext)
    except ValueError:  # no `from`: the cause would quote the decrypted bytes
        document = None
    if not isinstance(document, dict):
        raise KeyFileMalformed(f"key file {path} decrypts to something that is not a key document")
    if document.get("kind") != envelope.get("key_kind") or document.get("public_key") != envelope.get("public_key"):
        raise KeyFileMalformed(f"key file {path}: its readable kind or public_key differs from the encrypted key")
    return document


def compute_content_hash(data: bytes) -> bytes:
    """Plain SHA-256 of a file's bytes: what is anchored, so anyone can recompute it with sha256sum."""
    return sha256(data)


# --- encryption: X25519 sealed boxes for content keys, XChaCha20-Poly1305 secretstream for content ----------

ENCRYPTION_KEY_SIZE: Final = 32
CONTENT_KEY_SIZE: Final = nacl.bindings.crypto_secretstream_xchacha20poly1305_KEYBYTES
STREAM_HEADER_SIZE: Final = nacl.bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES
STREAM_OVERHEAD: Final = nacl.bindings.crypto_secretstream_xchacha20poly1305_ABYTES
SEAL_OVERHEAD: Final = nacl.bindings.crypto_box_SEALBYTES
_TAG_MESSAGE: Final = nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: Final = nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class EncryptionKey:
    """A department's X25519 encryption key (never its Ed25519 signing key). `secret` never leaves it."""

    __slots__ = ("_secret", "public_key")

    def __init__(self, secret: bytes) -> None:
        if type(secret) is not bytes or len(secret) != ENCRYPTION_KEY_SIZE:
            raise InvalidField(f"an encryption key is {ENCRYPTION_KEY_SIZE} bytes", field="secret")
        self._secret = secret
        self.public_key: bytes = nacl.bindings.crypto_scalarmult_base(secret)

    @classmethod
    def generate(cls) -> EncryptionKey:
        return cls(os.urandom(ENCRYPTION_KEY_SIZE))

    @property
    def secret(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return f"EncryptionKey(public_key={self.public_key.hex()})"


def compute_key_fingerprint(public_key: bytes) -> bytes:
    """What the chain names an encryption key by: H("chainnode/v1/encryption-key" || public key)."""
    return compute_hash(DOMAIN_ENCRYPTION_KEY, public_key)


_PROBE_SCALAR: Final = bytes([0x48] + [0x11] * 30 + [0x51])


def is_usable_encryption_key(public_key: bytes) -> bool:
    """Whether a 32-byte X25519 public key can be sealed to: not a low-order point (all-zero shared secret,
    which libsodium refuses). Deterministic, one scalar multiplication: contracts use it on keys they accept."""
    if type(public_key) is not bytes or len(public_key) != ENCRYPTION_KEY_SIZE:
        return False
    try:
        nacl.bindings.crypto_scalarmult(_PROBE_SCALAR, public_key)
    except (nacl.exceptions.CryptoError, RuntimeError, ValueError, TypeError):
        return False
    return True


def seal_to(public_key: bytes, message: bytes) -> bytes:
    """An anonymous sealed box (X25519 + XSalsa20-Poly1305) that only `public_key`'s owner opens."""
    if len(public_key) != ENCRYPTION_KEY_SIZE:
        raise InvalidField(f"an encryption public key is {ENCRYPTION_KEY_SIZE} bytes", field="public_key")
    return bytes(nacl.bindings.crypto_box_seal(message, public_key))


def open_sealed(key: EncryptionKey, sealed: bytes) -> bytes:
    """Open a sealed box. Raises DecryptionFailed if it was sealed to another key or altered."""
    try:
        return bytes(nacl.bindings.crypto_box_seal_open(sealed, key.public_key, key.secret))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise DecryptionFailed("the sealed key does not open with this encryption key") from exc


def new_content_key() -> bytes:
    return os.urandom(CONTENT_KEY_SIZE)


class StreamSealer:
    """XChaCha20-Poly1305 secretstream encryption, one chunk at a time; `header` goes first on the wire."""

    def __init__(self, content_key: bytes) -> None:
        self._state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
        self.header: bytes = bytes(
            nacl.bindings.crypto_secretstream_xchacha20poly1305_init_push(self._state, content_key)
        )

    def seal(self, chunk: bytes, *, final: bool) -> bytes:
        tag = _TAG_FINAL if final else _TAG_MESSAGE
        return bytes(nacl.bindings.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, None, tag))


class StreamOpener:
    """The matching decryption: `open` returns a chunk's plaintext and whether it was the final one."""

    def __init__(self, content_key: bytes, header: bytes) -> None:
        self._state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
        try:
            nacl.bindings.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, content_key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
            raise DecryptionFailed("the content header does not fit this content key") from exc

    def open(self, chunk: bytes) -> tuple[bytes, bool]:
        """Raises DecryptionFailed for a chunk altered, reordered, or from another stream."""
        try:
            plain, tag = nacl.bindings.crypto_secretstream_xchacha20poly1305_pull(self._state, chunk, None)
        except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
            raise DecryptionFailed("a content chunk does not authenticate (altered, reordered or truncated)") from exc
        if tag not in (_TAG_MESSAGE, _TAG_FINAL):  # this format uses no PUSH or REKEY chunks
            raise DecryptionFailed("a content chunk carries a tag this format does not use")
        return bytes(plain), tag == _TAG_FINAL
