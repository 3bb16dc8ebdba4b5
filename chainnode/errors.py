"""The error tree of the node.

Every error raised on purpose derives from `ChainError` and carries a stable `code` string that the API
(as problem+json) and the CLI show, a human message, and where it applies the `field` at fault.
`InvalidInput` and its subclasses are the other side's fault (a client or a peer): reject and keep running.
`InvariantViolation` is our own bug: it is never caught and stops the node loudly.
"""

from __future__ import annotations

from typing import ClassVar


class ChainError(Exception):
    """Root of every error this package raises on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_problem(self) -> dict[str, object]:
        """Return the RFC 9457 problem document for this error."""
        problem: dict[str, object] = {
            "type": f"urn:chainnode:error:{self.code}",
            "title": self.code.replace("_", " "),
            "status": self.http_status,
            "code": self.code,
            "detail": self.message,
        }
        if self.field is not None:
            problem["field"] = self.field
        return problem


# --- the other side's fault -------------------------------------------------------------------------


class InvalidInput(ChainError):
    code = "invalid_input"


class MalformedEncoding(InvalidInput):
    code = "malformed_encoding"


class NonCanonicalEncoding(InvalidInput):
    code = "non_canonical_encoding"


class TrailingBytes(InvalidInput):
    code = "trailing_bytes"


class UnknownTag(InvalidInput):
    code = "unknown_tag"


class UnsupportedVersion(InvalidInput):
    code = "unsupported_version"


class InputTooLarge(InvalidInput):
    code = "too_large"
    http_status = 413


class InvalidField(InvalidInput):
    """A field has the wrong type, length or range."""

    code = "invalid_field"


class InvalidJson(InvalidInput):
    code = "malformed_json"


class InvalidSignature(InvalidInput):
    code = "invalid_signature"


class DecryptionFailed(InvalidInput):
    """A sealed key or an encrypted content does not open with the key given: another key, or tampered."""

    code = "decryption_failed"


class WrongChain(InvalidInput):
    code = "wrong_chain_id"


class TxExpired(InvalidInput):
    code = "tx_expired"


class TxExpiryTooFar(InvalidInput):
    code = "tx_expiry_too_far"


class TxAlreadyCommitted(InvalidInput):
    code = "tx_already_committed"
    http_status = 409


class TxAlreadyPending(InvalidInput):
    code = "tx_already_pending"
    http_status = 409


class SignerNotAuthorised(InvalidInput):
    """The signing key is not on the roster at the next height, so every contract would refuse the call.

    `code` is the roster's own refusal, the one execution would record: `not_a_member`, `key_revoked`,
    `key_not_yet_effective` or `department_removed`.
    """

    code = "not_a_member"
    http_status = 403
    CODES: ClassVar[frozenset[str]] = frozenset(
        {"not_a_member", "key_revoked", "key_not_yet_effective", "department_removed"}
    )

    def __init__(self, message: str, *, code: str = "not_a_member", field: str | None = "signer") -> None:
        super().__init__(message, field=field)
        self.code = code if code in self.CODES else "not_a_member"  # type: ignore[misc]


class UnknownContract(InvalidInput):
    code = "unknown_contract"


class UnknownMethod(InvalidInput):
    code = "unknown_method"


class InvalidArguments(InvalidInput):
    code = "invalid_arguments"


class InvalidBlock(InvalidInput):
    """A block, header or commit breaks a protocol rule."""

    code = "invalid_block"


class InvalidCommit(InvalidBlock):
    code = "invalid_commit"


class InvalidProof(InvalidInput):
    code = "invalid_proof"


# --- not the input's fault, but cannot be served now ------------------------------------------------


class NotFound(ChainError):
    code = "not_found"
    http_status = 404


class StateNotKept(NotFound):
    """A state read below the height a state-synced node started from: that state is not in its store."""

    code = "state_not_kept"
    http_status = 410


class MempoolFull(ChainError):
    code = "mempool_full"
    http_status = 503


class NodeUnavailable(ChainError):
    code = "node_unavailable"
    http_status = 503


class Busy(ChainError):
    """Every read thread is busy and the queue of waiting reads is full: retry shortly."""

    code = "busy"
    http_status = 503


# --- local files and configuration ------------------------------------------------------------------


class KeyFileError(ChainError):
    code = "key_file_invalid"


class KeyFileMissing(KeyFileError):
    code = "key_file_missing"


class KeyFileUnreadable(KeyFileError):
    code = "key_file_unreadable"


class KeyFileMalformed(KeyFileError):
    code = "key_file_malformed"


class KeyFileExists(KeyFileError):
    code = "key_file_exists"


class KeyFileInsecure(KeyFileError):
    code = "key_file_insecure"


class KeyFileEncrypted(KeyFileError):
    """The key file is encrypted and no passphrase was available to open it."""

    code = "key_file_encrypted"


class KeyPassphraseWrong(KeyFileError):
    """The passphrase does not open the key file (or the file's ciphertext was altered)."""

    code = "key_passphrase_wrong"


class KeyPassphraseUnusable(KeyFileError):
    """A passphrase could not be read from its source, is empty, or the two entries differ."""

    code = "key_passphrase_unusable"


class ConfigError(ChainError):
    code = "config_invalid"


class GenesisError(ConfigError):
    code = "genesis_invalid"


class StoreError(ChainError):
    code = "store_error"
    http_status = 500


class StoreLocked(StoreError):
    code = "store_locked"


class CorruptStore(StoreError):
    code = "store_corrupt"


class ClientError(ChainError):
    """The client could not talk to a node (down, wrong URL, unexpected answer)."""

    code = "node_unreachable"


# --- our own bug -------------------------------------------------------------------------------------


class InvariantViolation(Exception):
    """An internal invariant does not hold: a bug. Never caught; the node stops loudly."""
