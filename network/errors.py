"""The error tree of node-to-node networking.

A peer's fault derives from `chainnode.errors.InvalidInput`: a `ProtocolViolation` (a bad frame on an
authenticated link: the link is closed and, unless the class says `scored = False` as a `SessionFailure`
does, the peer scored down) or a `HandshakeRefused` (we refuse a
connection before it is authenticated: logged and closed, never scored, since the key is only claimed).
Everything else is a `NetworkError`: the link broke, a request timed out, the caller asked for something
impossible. Each class carries a stable `code` and, where it closes a WebSocket, the close code it uses.
"""

from __future__ import annotations

from typing import ClassVar

from chainnode.errors import ChainError, ConfigError, InvalidInput

# WebSocket close codes (RFC 6455 section 7.4 and the 4000-4999 private range), see docs/network.md.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_DUPLICATE = 4001
CLOSE_PING_TIMEOUT = 4002
CLOSE_STALLED = 4003


# --- the peer's fault, after authentication: close the link and score the peer down ------------------


class ProtocolViolation(InvalidInput):
    """An authenticated peer sent something the protocol forbids."""

    code = "protocol_violation"
    close_code: ClassVar[int] = CLOSE_PROTOCOL_ERROR
    scored: ClassVar[bool] = True
    """Whether the link's peer is scored down for it (False when the bytes may come from anyone on the path)."""


class FrameTooLarge(ProtocolViolation):
    """A frame or payload exceeds the size limit of its kind."""

    code = "frame_too_large"
    close_code = CLOSE_TOO_BIG


class MalformedFrame(ProtocolViolation):
    """Not a canonical frame: bad msgpack, non-canonical bytes, wrong tag, fields or types."""

    code = "malformed_frame"


class UnknownKind(ProtocolViolation):
    """A message kind this node has no limit for, so it does not know it."""

    code = "unknown_kind"


class UnexpectedFrame(ProtocolViolation):
    """A well-formed frame that is not allowed now (a hello after the handshake, an unasked response)."""

    code = "unexpected_frame"


class TextFrame(ProtocolViolation):
    """A WebSocket text message: every frame is binary."""

    code = "text_frame"
    close_code = CLOSE_UNSUPPORTED_DATA


class SessionFailure(ProtocolViolation):
    """The encrypted session broke: the link is closed but the peer is not scored, since anyone on the path
    can alter bytes and must not be able to get an honest node banned that way."""

    code = "session_failure"
    scored = False


class ForgedFrame(SessionFailure):
    """A sealed frame does not authenticate: altered, replayed, reordered, or sealed under another key."""

    code = "forged_frame"


class SealedFrameTooLarge(SessionFailure):
    """A WebSocket message longer than the largest sealed frame: refused before any decryption."""

    code = "sealed_frame_too_large"
    close_code = CLOSE_TOO_BIG


class NonceExhausted(SessionFailure):
    """A direction of the link has used every counter value; the link must be renewed."""

    code = "nonce_exhausted"


# --- the peer's fault, before authentication: refuse, log, never score ------------------------------


class HandshakeRefused(InvalidInput):
    """We refuse a connection during the handshake."""

    code = "handshake_refused"
    close_code: ClassVar[int] = CLOSE_POLICY_VIOLATION


class WrongChainId(HandshakeRefused):
    code = "wrong_chain_id"


class WrongGenesis(HandshakeRefused):
    code = "wrong_genesis"


class BadHandshakeSignature(HandshakeRefused):
    code = "invalid_handshake_signature"


class InvalidEphemeralKey(HandshakeRefused):
    """The peer's ephemeral X25519 key is a low-order point: the shared secret would be all zero."""

    code = "invalid_ephemeral_key"


class PeerNotAllowed(HandshakeRefused):
    """The key is not a current validator or registered observer (`is_allowed` said no)."""

    code = "peer_not_allowed"


class SelfConnection(HandshakeRefused):
    """The peer presents our own key: we dialed ourselves, or someone copied our key."""

    code = "self_connection"


class PeerBanned(HandshakeRefused):
    code = "peer_banned"


class TooManyPeers(HandshakeRefused):
    code = "too_many_peers"
    close_code = CLOSE_TRY_AGAIN_LATER


class HandshakeTimeout(HandshakeRefused):
    code = "handshake_timeout"


class HandshakeViolation(HandshakeRefused):
    """A bad frame during the handshake (wrapping the `ProtocolViolation`, which is not scored here)."""

    code = "handshake_violation"
    close_code = CLOSE_PROTOCOL_ERROR


# --- not the input's fault ---------------------------------------------------------------------------


class NetworkError(ChainError):
    """A link or request failed for a reason that is nobody's proven fault."""

    code = "network_error"
    http_status = 503


class HandshakeAborted(NetworkError):
    """The peer closed the connection during the handshake (it may have refused us: see the reason)."""

    code = "handshake_aborted"

    def __init__(self, message: str, *, close_code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.close_code, self.reason = close_code, reason


class PeerNotConnected(NetworkError):
    code = "peer_not_connected"


class PeerDisconnected(NetworkError):
    """The link closed while a request was waiting for its answer."""

    code = "peer_disconnected"


class RequestTimedOut(NetworkError):
    code = "request_timeout"
    http_status = 504


class TooManyPendingRequests(NetworkError):
    code = "too_many_pending_requests"


class RemoteError(NetworkError):
    """The peer answered a request with an error code instead of a result."""

    code = "remote_error"
    http_status = 502

    def __init__(self, message: str, *, remote_code: str) -> None:
        super().__init__(message)
        self.remote_code = remote_code


class InvalidOutgoingMessage(NetworkError):
    """Our caller asked to send a kind we do not know, or a payload over its kind's limit."""

    code = "invalid_outgoing_message"
    http_status = 500


class ListenError(ConfigError):
    """The listen address cannot be bound (in use, not a local address, no permission)."""

    code = "listen_failed"
