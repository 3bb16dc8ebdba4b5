"""A client for one node's HTTP API: an asyncio `AsyncClient` on aiohttp and a blocking `Client` for scripts.

Every failure reaches the caller as a `ChainError`. A problem+json answer becomes a `RemoteError` with the
node's `code`, message, HTTP status and field; when the code names an error of `chainnode.errors`, the
raised class also derives from that error, so `except NotFound` works on both sides of the wire. A node
that cannot be reached, answers garbage or takes too long becomes a `ClientError` with one clear line.
The client trusts the node for nothing it verifies: proofs come back as bytes for `chainnode.light`.

Given a member's `key`, the client signs every read but GET /v1/status (docs/api.md, "Signed requests"): the
header names the node's key, which the client learns from GET /v1/status once and caches, so one client
talks to one node (not to a load balancer in front of several).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, TypeVar, cast
from urllib.parse import quote

import aiohttp
from yarl import URL

from chainnode import codec, crypto, errors, read_auth
from chainnode.client_records import ContractRefused, Contracts, RecordQueries, check_committed
from chainnode.client_settings import (
    DEFAULT_NODE_URL,
    DEFAULT_TIMEOUT_S,
    MAX_SERVER_WAIT_S,
    NODE_URL_ENV,
    ClientTls,
    InvalidNodeUrl,
    WaitTimeout,
    get_default_node_url,
)
from chainnode.codec import Value
from chainnode.errors import ChainError, ClientError
from chainnode.tx import Transaction, TxBody, sign_transaction

NONCE_SIZE: Final = 16
MSGPACK: Final = "application/msgpack"
PROBLEM: Final = "application/problem+json"
DEVNET_HINT: Final = "is it running? try `./scripts/devnet status`"

T = TypeVar("T")
__all__ = [
    "DEFAULT_NODE_URL", "DEFAULT_TIMEOUT_S", "MAX_SERVER_WAIT_S", "NODE_URL_ENV", "AsyncClient", "Client", "ClientTls",
    "ContractRefused", "InvalidNodeUrl", "RemoteError", "WaitTimeout", "get_default_node_url",
]


def wall_clock_ms() -> int:
    """The time a signed read carries: this machine's clock (the node allows WINDOW_MS either side)."""
    return time.time_ns() // 1_000_000


class RemoteError(ChainError):
    """The node refused a request with a problem+json document; `code` is the node's own code."""

    def __init__(self, message: str, *, code: str, status: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code  # type: ignore[misc]
        self.status = status


def _error_classes() -> dict[str, type[ChainError]]:
    found: dict[str, type[ChainError]] = {}
    pending: list[type[ChainError]] = [ChainError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__ == errors.__name__ and cls is not ClientError and "code" in vars(cls):
            found.setdefault(cls.code, cls)
    return found


_REMOTE_CLASSES: dict[str, type[RemoteError]] = {}


def compute_remote_error(problem: dict[str, Any], *, status: int) -> RemoteError:
    """The error to raise for a problem document: a RemoteError that also derives from the named error."""
    code = str(problem.get("code") or f"http_{status}")
    message = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    field = problem.get("field")
    cls = _REMOTE_CLASSES.get(code)
    if cls is None:
        base = _error_classes().get(code)
        cls = RemoteError if base is None else cast(
            type[RemoteError], type(f"Remote{base.__name__}", (RemoteError, base), {"__module__": __name__})
        )
        _REMOTE_CLASSES[code] = cls
    return cls(message, code=code, status=status, field=None if field is None else str(field))


def normalise_node_url(url: str) -> str:
    """Return `url` without a trailing slash. Raises InvalidNodeUrl unless it is http(s)://HOST[:PORT]."""
    text = url.strip()
    try:
        parsed = URL(text)
        port = parsed.port
    except (ValueError, TypeError) as exc:
        raise InvalidNodeUrl(f"invalid node URL {url!r}: {exc}", field="node") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host or port is None:
        raise InvalidNodeUrl(
            f"invalid node URL {url!r}: expected http://HOST:PORT, e.g. {DEFAULT_NODE_URL}", field="node"
        )
    if parsed.query_string or parsed.fragment:
        raise InvalidNodeUrl(f"invalid node URL {url!r}: no query or fragment allowed", field="node")
    return text.rstrip("/")


def describe_connection_error(exc: BaseException) -> str:
    """A short reason for a failed connection: refused, unknown host, unreachable, ..."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return (f"the node's TLS certificate is not trusted ({exc.certificate_error}); "
                "pass --ca FILE with the CA that signed it")
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"the TLS handshake failed ({exc}); does the node require a client certificate (--client-cert)?"
    os_error = getattr(exc, "os_error", None)
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or isinstance(os_error, socket.gaierror):
        return "the host name cannot be resolved"
    if isinstance(os_error, OSError):
        if os_error.errno == errno.ECONNREFUSED:
            return f"connection refused ({DEVNET_HINT})"
        if os_error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "host unreachable"
        return os_error.strerror or str(os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    return str(exc) or type(exc).__name__


class AsyncClient(RecordQueries[Coroutine[Any, Any, dict[str, Any]]]):
    """The node's HTTP API as coroutines. Use `async with AsyncClient(url) as client:` (or call `close`).

    Every method raises RemoteError (the node refused: its code, message, status, field) or ClientError
    (unreachable, timed out, not a chainnode answer).
    """

    def __init__(
        self, base_url: str = DEFAULT_NODE_URL, *, timeout: float = DEFAULT_TIMEOUT_S, tls: ClientTls | None = None,
        key: crypto.PrivateKey | None = None,
    ) -> None:
        """`tls` sets the CA to trust and a client certificate for an https node (default: the system's CAs,
        no client certificate); `key`, a registered member's key, signs every read (internal records need
        one). Raises InvalidNodeUrl, or TlsSettingsError for files that cannot be used."""
        self.base_url = normalise_node_url(base_url)
        self.timeout = timeout
        self.key = key
        self._ssl = (tls or ClientTls()).create_ssl_context() if self.base_url.startswith("https:") else None
        self._session: aiohttp.ClientSession | None = None
        self._chain_id: str | None = None
        self._node_key: bytes | None = None

    async def __aenter__(self) -> AsyncClient:
        self._get_session()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None else None
            self._session = aiohttp.ClientSession(headers={"Accept": "application/json"}, connector=connector)
        return self._session

    async def _request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None,
        content_type: str | None = None, extra_timeout: float = 0.0, headers: dict[str, str] | None = None,
        sink: BinaryIO | None = None,
    ) -> tuple[str, bytes]:
        """Send one request; return the answer's content type and body. Raises RemoteError or ClientError.

        `body` may be bytes or an open binary file (streamed). With `sink`, a successful answer's body is
        streamed into it instead of returned."""
        url = self.base_url + path
        all_headers = dict(headers or {})
        if content_type:
            all_headers["Content-Type"] = content_type
        timeout = aiohttp.ClientTimeout(total=self.timeout + extra_timeout)
        try:
            async with self._get_session().request(
                method, url, params=params, data=body, headers=all_headers or None, timeout=timeout
            ) as response:
                status, ctype = response.status, response.content_type
                if sink is not None and status < 300:
                    async for chunk in response.content.iter_chunked(1 << 16):
                        await asyncio.to_thread(sink.write, chunk)
                    data = b""
                else:
                    data = await response.read()
        except aiohttp.InvalidURL as exc:
            raise InvalidNodeUrl(f"invalid node URL {self.base_url!r}: {exc}", field="node") from exc
        except TimeoutError as exc:
            limit = self.timeout + extra_timeout
            message = f"node at {self.base_url} did not answer {method} {path} within {limit:g} s"
            raise ClientError(message) from exc
        except (aiohttp.ClientError, OSError) as exc:
            reason = describe_connection_error(exc)
            if self._ssl is not None and isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError):
                reason += " (a node that requires a client certificate does this: see --client-cert)"
            raise ClientError(f"cannot reach node at {self.base_url}: {reason}") from exc
        if ctype == PROBLEM or (status >= 400 and ctype == "application/json"):
            problem = _parse_json(data)
            if isinstance(problem, dict) and "code" in problem:
                raise compute_remote_error(problem, status=status)
        if status >= 400:
            raise self._unexpected(f"HTTP {status} ({ctype or 'no content type'}) to {method} {path}")
        return ctype, data

    def _unexpected(self, what: str) -> ClientError:
        return ClientError(f"unexpected answer from {self.base_url}: {what}; is this a chainnode API URL?")

    async def _json(self, method: str, path: str, *, key: crypto.PrivateKey | None = None,
                    **kwargs: Any) -> dict[str, Any]:
        """One request answered with a JSON object; a GET is signed by `key` (default: the client's key, if any)."""
        path, kwargs = await self._sign_get(method, path, key, kwargs)
        ctype, data = await self._request(method, path, **kwargs)
        document = _parse_json(data)
        if not isinstance(document, dict):
            raise self._unexpected(f"{method} {path} returned {ctype or 'no content type'}, not JSON")
        return document

    # --- the API ---------------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """Chain ID, genesis hash, head height and hash, mempool size."""
        return await self._json("GET", "/v1/status")

    async def submit(self, raw_tx: bytes) -> str:
        """Submit one signed transaction; return its tx_id in hex. Raises RemoteError if it is refused."""
        answer = await self._json("POST", "/v1/txs", body=raw_tx, content_type=MSGPACK)
        return _want_hex_field(answer, "tx_id", self.base_url)

    async def submit_batch(self, raws: Sequence[bytes]) -> list[dict[str, Any]]:
        """Submit several transactions at once; return one verdict per input, in order.

        A verdict is {"index", "tx_id", "status": "pending"} or
        {"index", "tx_id", "status": "rejected", "code", "message"}.
        """
        if not raws:
            return []
        answer = await self._json("POST", "/v1/txs", body=codec.encode(list(raws)), content_type=MSGPACK)
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(raws):
            raise self._unexpected("a batch answer without one result per transaction")
        return [dict(r) for r in results]

    async def tx_status(self, tx_id: str | bytes, wait_s: float = 0, *, key: crypto.PrivateKey | None = None
                        ) -> dict[str, Any]:
        """Status of a transaction: pending, committed (height, index, result) or rejected (code, message).

        With `wait_s`, the node holds the request until the transaction leaves pending or the wait (at most
        60 s) ends. The result's events come only to a signed request (`key`, else the client's) of the
        signer's department or an auditor. Raises RemoteError not_found for a transaction the node does not know.
        """
        wait = max(0, min(int(wait_s), MAX_SERVER_WAIT_S))
        return await self._json(
            "GET", f"/v1/txs/{_hex(tx_id)}", params={"wait": str(wait)} if wait else None, extra_timeout=wait,
            key=key,
        )

    async def wait_committed(self, tx_id: str | bytes, timeout_s: float, *, key: crypto.PrivateKey | None = None
                             ) -> dict[str, Any]:
        """Wait until the transaction is committed or rejected; return its status.

        A committed transaction may still have failed: check `status["result"]["code"]`. Raises WaitTimeout
        if it is still pending after `timeout_s`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            remaining = deadline - loop.time()
            status = await self.tx_status(tx_id, wait_s=max(0.0, min(remaining, MAX_SERVER_WAIT_S)), key=key)
            if status.get("status") in ("committed", "rejected"):
                return status
            if loop.time() >= deadline:
                message = f"transaction {_hex(tx_id)} is still pending after {timeout_s:g} s"
                raise WaitTimeout(message, field="tx_id")
            if remaining < 1:
                await asyncio.sleep(min(0.1, max(remaining, 0.0)))

    async def block(self, height: int | str = "latest") -> dict[str, Any]:
        """A block with header, transactions (with result codes) and commit; `height` or "latest"."""
        return await self._json("GET", f"/v1/blocks/{height}")

    async def state(self, key: bytes, height: int | None = None) -> dict[str, Any]:
        """A state value with its proof (`proof` is a base64 state bundle)."""
        params = {"key": key.hex()}
        if height is not None:
            params["height"] = str(height)
        return await self._json("GET", "/v1/state", params=params)

    async def anchors(self, content_hash: str | bytes) -> dict[str, Any]:
        """Every department's anchor of a SHA-256 hash, each with a base64 state bundle in `proof`.

        Raises RemoteError not_found (also a NotFound) when no department anchored it.
        """
        return await self._json("GET", f"/v1/anchors/{_hex(content_hash)}")

    async def tx_proof(self, tx_id: str | bytes) -> bytes:
        """The canonical bytes of a committed transaction's proof bundle (`chainnode.light.decode_bundle`)."""
        path, kwargs = await self._sign_get("GET", f"/v1/txs/{_hex(tx_id)}/proof", None,
                                            {"params": {"format": "msgpack"}})
        ctype, data = await self._request("GET", path, **kwargs)
        if ctype != MSGPACK:
            raise self._unexpected(f"a proof as {ctype or 'no content type'}")
        return data

    async def history_page(
        self, entity: str, *, limit: int = 100, from_height: int | None = None, to_height: int | None = None,
        cursor: str | None = None, proof: bool = False, trusted_height: int | None = None,
    ) -> dict[str, Any]:
        """One page of an entity's history ("case:<id>", "department:PSB", "member:<hex>", ...): the node's
        whole answer, with `events` in chain order and `next_cursor` (None after the last page); with `proof`,
        also `proof`, one bundle of every event (chainnode.trace_verify).

        Raises RemoteError invalid_field (field "cursor") for a cursor of another entity or chain.
        """
        params = {"limit": str(limit)}
        if proof:
            params["proof"] = "1"
        for name, value in (("from_height", from_height), ("to_height", to_height), ("cursor", cursor),
                            ("trusted_height", trusted_height)):
            if value is not None:
                params[name] = str(value)
        answer = await self._json("GET", f"/v1/history/{quote(entity, safe=':')}", params=params)
        if not isinstance(answer.get("events"), list):
            raise self._unexpected("history without events")
        return answer

    async def history(
        self, entity: str, limit: int = 100, *, from_height: int | None = None, to_height: int | None = None,
        cursor: str | None = None,
    ) -> list[dict[str, Any]]:
        """The events of one page of an entity's history (see `history_page` for its cursor)."""
        page = await self.history_page(entity, limit=limit, from_height=from_height, to_height=to_height,
                                       cursor=cursor)
        return [dict(e) for e in page["events"]]

    async def iter_history(
        self, entity: str, *, from_height: int | None = None, to_height: int | None = None, page_size: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every event of an entity's history within the bounds, following the cursor page by page."""
        cursor: str | None = None
        while True:
            page = await self.history_page(entity, limit=page_size, from_height=from_height, to_height=to_height,
                                           cursor=cursor)
            for event in page["events"]:
                yield dict(event)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def build_tx(
        self, key: crypto.PrivateKey, contract: str, method: str, args: Value, *, expiry_blocks: int = 1000
    ) -> Transaction:
        """Sign a call for this node's chain, expiring `expiry_blocks` after the current head."""
        status = await self.status()
        chain_id, height = status.get("chain_id"), status.get("height")
        if not isinstance(chain_id, str) or not isinstance(height, int):
            raise self._unexpected("status without chain_id and height")
        body = TxBody(
            chain_id=chain_id, contract=contract, method=method, args=args, signer=key.public_key,
            nonce=os.urandom(NONCE_SIZE), expiry_height=height + expiry_blocks,
        )
        return sign_transaction(key, body)

    def _read(self, path: str, params: dict[str, str]) -> Coroutine[Any, Any, dict[str, Any]]:
        return self._json("GET", path, params=params)

    # --- signed requests (docs/api.md): scoped records, ciphertexts, opening a document -------------------

    async def _node_identity(self) -> tuple[str, bytes]:
        """The chain ID and the node's public key (from GET /v1/status, once): a signed read names both."""
        if self._chain_id is None or self._node_key is None:
            status = await self.status()
            chain_id, node_key = status.get("chain_id"), status.get("node_key")
            if not isinstance(chain_id, str) or not isinstance(node_key, str) or len(node_key) != 64:
                raise self._unexpected("status without chain_id and node_key")
            try:
                self._node_key = bytes.fromhex(node_key)
            except ValueError:
                raise self._unexpected("status with a node_key that is not hex") from None
            self._chain_id = chain_id
        return self._chain_id, self._node_key

    async def _signed_headers(self, key: crypto.PrivateKey, method: str, target: str,
                              body_sha256: bytes = read_auth.EMPTY_SHA256) -> dict[str, str]:
        """The Authorization header for `method target` (the path with its query string, as sent), for this
        node, with a fresh nonce."""
        chain_id, node_key = await self._node_identity()
        now_ms = wall_clock_ms()
        nonce = os.urandom(read_auth.NONCE_SIZE)
        return {"Authorization": read_auth.sign_read(key, chain_id, method, target, now_ms, nonce, node_key,
                                                     body_sha256)}

    async def _sign_get(self, method: str, path: str, key: crypto.PrivateKey | None, kwargs: dict[str, Any]
                        ) -> tuple[str, dict[str, Any]]:
        """A GET (but of /v1/status) signed by `key` or the client's key: the path with its query as the
        signed target, and the header. Other requests are returned as they are."""
        signer = key if key is not None else self.key
        if signer is None or method != "GET" or path == "/v1/status" or kwargs.get("headers"):
            return path, kwargs
        params = kwargs.pop("params", None)
        target = str(URL(path).with_query(params)) if params else path
        return target, {**kwargs, "headers": await self._signed_headers(signer, "GET", target)}

    async def signed_json(self, key: crypto.PrivateKey, path: str, params: dict[str, str] | None = None
                          ) -> dict[str, Any]:
        """GET a scoped record with a request signed by `key` (a registered member's)."""
        return await self._json("GET", path, params=params, key=key)

    async def upload_ciphertext(self, key: crypto.PrivateKey, path: Path, sha256: bytes) -> dict[str, Any]:
        """Stream a ciphertext file to the node's blob store (PUT /v1/blobs/<sha256>)."""
        route = f"/v1/blobs/{sha256.hex()}"
        headers = await self._signed_headers(key, "PUT", route, body_sha256=sha256)
        size = path.stat().st_size
        headers["Content-Length"] = str(size)
        with path.open("rb") as handle:
            return await self._json("PUT", route, body=handle, content_type="application/octet-stream",
                                    headers=headers, extra_timeout=size / 1_000_000)

    async def download_ciphertext(self, key: crypto.PrivateKey, doc_id: str, sink: BinaryIO, *, size: int) -> None:
        """Stream a document's ciphertext into `sink`."""
        route = f"/v1/documents/{doc_id}/ciphertext"
        headers = await self._signed_headers(key, "GET", route)
        await self._request("GET", route, headers=headers, sink=sink, extra_timeout=size / 1_000_000)

    async def open_document_key(self, doc_id: str, access_tx: bytes) -> dict[str, Any]:
        """POST the member's signed documents.access transaction; the node answers once it is committed."""
        return await self._json("POST", f"/v1/documents/{doc_id}/open", body=access_tx, content_type=MSGPACK,
                                extra_timeout=35)

    async def call(
        self, key: crypto.PrivateKey, contract: str, method: str, args: Value, *, wait_s: float = 30
    ) -> dict[str, Any]:
        """Sign, submit and wait for a contract call; return its committed status (result and events).

        Raises RemoteError if the node refuses it at admission, ContractRefused if the contract refused it
        (the refusal is on chain with its code), WaitTimeout if it is not committed within `wait_s`.
        """
        tx = await self.build_tx(key, contract, method, args)
        tx_id = await self.submit(tx.raw)
        return check_committed(await self.wait_committed(tx_id, wait_s, key=key), tx_id)

    @property
    def contracts(self) -> Contracts:
        """`contracts.<contract>.<method>(key, **args)` returns a coroutine of `call`."""
        return Contracts(self.call)


class Client(RecordQueries[dict[str, Any]]):
    """A blocking client for scripts: runs an `AsyncClient` on its own event loop.

    Use it as a context manager (`with Client(url) as client:`) or call `close`. It cannot be used from
    inside a running event loop; use `AsyncClient` there.
    """

    def __init__(
        self, base_url: str = DEFAULT_NODE_URL, *, timeout: float = DEFAULT_TIMEOUT_S, tls: ClientTls | None = None,
        key: crypto.PrivateKey | None = None,
    ) -> None:
        self._client = AsyncClient(base_url, timeout=timeout, tls=tls, key=key)
        self._loop = asyncio.new_event_loop()

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._loop.run_until_complete(self._client.close())
        finally:
            self._loop.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    def status(self) -> dict[str, Any]:
        return self._run(self._client.status())

    def submit(self, raw_tx: bytes) -> str:
        return self._run(self._client.submit(raw_tx))

    def submit_batch(self, raws: Sequence[bytes]) -> list[dict[str, Any]]:
        return self._run(self._client.submit_batch(raws))

    @property
    def key(self) -> crypto.PrivateKey | None:
        """The member key that signs reads, or None."""
        return self._client.key

    @key.setter
    def key(self, key: crypto.PrivateKey | None) -> None:
        self._client.key = key

    def tx_status(self, tx_id: str | bytes, wait_s: float = 0, *, key: crypto.PrivateKey | None = None
                  ) -> dict[str, Any]:
        return self._run(self._client.tx_status(tx_id, wait_s, key=key))

    def wait_committed(self, tx_id: str | bytes, timeout_s: float, *, key: crypto.PrivateKey | None = None
                       ) -> dict[str, Any]:
        return self._run(self._client.wait_committed(tx_id, timeout_s, key=key))

    def block(self, height: int | str = "latest") -> dict[str, Any]:
        return self._run(self._client.block(height))

    def state(self, key: bytes, height: int | None = None) -> dict[str, Any]:
        return self._run(self._client.state(key, height))

    def anchors(self, content_hash: str | bytes) -> dict[str, Any]:
        return self._run(self._client.anchors(content_hash))

    def tx_proof(self, tx_id: str | bytes) -> bytes:
        return self._run(self._client.tx_proof(tx_id))

    def history_page(
        self, entity: str, *, limit: int = 100, from_height: int | None = None, to_height: int | None = None,
        cursor: str | None = None, proof: bool = False, trusted_height: int | None = None,
    ) -> dict[str, Any]:
        return self._run(self._client.history_page(entity, limit=limit, from_height=from_height,
                                                   to_height=to_height, cursor=cursor, proof=proof,
                                                   trusted_height=trusted_height))

    def history(
        self, entity: str, limit: int = 100, *, from_height: int | None = None, to_height: int | None = None,
        cursor: str | None = None,
    ) -> list[dict[str, Any]]:
        return self._run(self._client.history(entity, limit, from_height=from_height, to_height=to_height,
                                              cursor=cursor))

    def iter_history(
        self, entity: str, *, from_height: int | None = None, to_height: int | None = None, page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every event of an entity's history within the bounds, one page (one request) at a time."""
        cursor: str | None = None
        while True:
            page = self.history_page(entity, limit=page_size, from_height=from_height, to_height=to_height,
                                     cursor=cursor)
            yield from (dict(e) for e in page["events"])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def build_tx(
        self, key: crypto.PrivateKey, contract: str, method: str, args: Value, *, expiry_blocks: int = 1000
    ) -> Transaction:
        return self._run(self._client.build_tx(key, contract, method, args, expiry_blocks=expiry_blocks))

    def _read(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._run(self._client._read(path, params))

    def call(
        self, key: crypto.PrivateKey, contract: str, method: str, args: Value, *, wait_s: float = 30
    ) -> dict[str, Any]:
        """See `AsyncClient.call`."""
        return self._run(self._client.call(key, contract, method, args, wait_s=wait_s))

    def signed_json(self, key: crypto.PrivateKey, path: str, params: dict[str, str] | None = None
                    ) -> dict[str, Any]:
        return self._run(self._client.signed_json(key, path, params))

    def upload_ciphertext(self, key: crypto.PrivateKey, path: Path, sha256: bytes) -> dict[str, Any]:
        return self._run(self._client.upload_ciphertext(key, path, sha256))

    def download_ciphertext(self, key: crypto.PrivateKey, doc_id: str, sink: BinaryIO, *, size: int) -> None:
        self._run(self._client.download_ciphertext(key, doc_id, sink, size=size))

    def open_document_key(self, doc_id: str, access_tx: bytes) -> dict[str, Any]:
        return self._run(self._client.open_document_key(doc_id, access_tx))

    @property
    def contracts(self) -> Contracts:
        """`contracts.<contract>.<method>(key, **args)`: sign, submit, wait; raises ContractRefused."""
        return Contracts(self.call)


def _hex(value: str | bytes) -> str:
    """A transaction ID or hash as lowercase hex. Raises InvalidField for a string that is not hex."""
    if isinstance(value, bytes):
        return value.hex()
    try:
        return bytes.fromhex(value).hex()
    except ValueError as exc:
        raise errors.InvalidField(f"{value!r} is not hex", field="id") from exc


def _parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _want_hex_field(document: dict[str, Any], name: str, base_url: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise ClientError(f"unexpected answer from {base_url}: no {name} in the node's answer")
    return value
