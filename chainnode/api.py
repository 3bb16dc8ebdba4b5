"""The client-facing HTTP API, versioned under /v1, with a WebSocket stream of committed blocks.

Every error is an RFC 9457 `application/problem+json` document with a stable `code`; the error
middleware maps our typed errors to their HTTP status, so no input yields a bare 500. Transactions are
submitted as msgpack (one signed transaction, or an array of them) or as JSON with base64. Proofs are
served as the canonical bundle bytes (base64 in JSON), which `chainnode.light` verifies offline.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, Final

from aiohttp import WSMsgType, web

from chainnode import api_documents, api_records, codec, console, history, read_scope, records
from chainnode.api_auth import REPLAYS, ReadRequest, read_request, signed_member
from chainnode.api_params import MAX_HEIGHT, parse_hex, parse_int, parse_json_body, parse_wait
from chainnode.api_spec import OPENAPI
from chainnode.block import Block
from chainnode.errors import Busy, ChainError, InputTooLarge, InvalidField, InvalidInput, NotFound
from chainnode.health import compute_readiness
from chainnode.light import StateValueBundle
from chainnode.mempool import Admission
from chainnode.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from chainnode.node import Node
from chainnode.read_auth import ReadForbidden, ReadUnauthenticated, ReplayCache
from chainnode.read_pool import ReadPool
from chainnode.reader import Reader, TxStatus
from chainnode.results import decode_result, jsonable, read_result_summary
from chainnode.tx import decode_transaction
from contracts import governance

log = logging.getLogger("chainnode.api")

SCOPED_STATE_PREFIXES: Final = (b"doc/", b"docs/")
"""State that /v1/state does not serve: documents are read through their own, signed routes."""
NODE: Final = web.AppKey("node", Node)
READS: Final = web.AppKey("reads", ReadPool)
"""Every read handler that touches the store or decodes a block, transaction or proof runs here."""
SCRAPES: Final = web.AppKey("scrapes", ReadPool)
"""`/metrics` runs here: one thread of its own, so a read flood cannot blind monitoring, nor a scrape
stall the loop (a scrape already waiting makes the next one `busy`)."""
MSGPACK: Final = "application/msgpack"
PROBLEM: Final = "application/problem+json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem_response(error: ChainError) -> web.Response:
    headers = {"Retry-After": "1"} if error.http_status == 503 else None  # busy, mempool full: transient
    return web.Response(
        status=error.http_status, text=json.dumps(error.to_problem()), content_type=PROBLEM, headers=headers
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ChainError as exc:
        return problem_response(exc)
    except web.HTTPRequestEntityTooLarge as exc:
        return problem_response(InputTooLarge(f"request body exceeds the limit: {exc.text}"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
        body = {
            "type": f"urn:chainnode:error:{code}",
            "title": exc.reason,
            "status": exc.status,
            "code": code,
            "detail": f"{request.method} {request.path}: {exc.reason}",
        }
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return web.Response(status=exc.status, text=json.dumps(body), content_type=PROBLEM, headers=allow)
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        body = {
            "type": "urn:chainnode:error:internal",
            "title": "internal error",
            "status": 500,
            "code": "internal",
            "detail": "the node failed to serve this request; see its log",
        }
        return web.Response(status=500, text=json.dumps(body), content_type=PROBLEM)


# --- helpers ------------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidField(f"{field} must be a base64 string", field=field)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidField(f"{field} is not valid base64", field=field) from exc


def admission_json(index: int, admission: Admission) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "tx_id": None if admission.tx_id is None else admission.tx_id.hex()}
    if admission.error is None:
        out["status"] = "pending"
    else:
        out.update(status="rejected", code=admission.error.code, message=admission.error.message)
        if admission.error.field:
            out["field"] = admission.error.field
    return out


async def read_submission(request: web.Request) -> tuple[list[bytes], bool]:
    """The transactions in a submit request, and whether it was a batch. The body (up to
    `max_request_bytes`) is decoded on the read pool, never on the event loop consensus runs on."""
    body = await request.read()
    config = request.app[NODE].config
    return await request.app[READS].run(
        decode_submission, body, request.content_type, max_batch=config.max_batch_txs,
        max_bytes=config.max_request_bytes,
    )


def decode_submission(body: bytes, content_type: str, *, max_batch: int, max_bytes: int) -> tuple[list[bytes], bool]:
    """Raises InvalidField, InvalidJson or InputTooLarge naming what is wrong with the body."""
    if content_type == MSGPACK:
        value = codec.decode(body, max_size=max_bytes) if body[:1] != b"" else None
        if type(value) is list and value and all(type(v) is bytes for v in value):
            if len(value) > max_batch:
                raise InputTooLarge(f"a batch holds at most {max_batch} transactions, got {len(value)}")
            return list(value), True
        return [body], False
    if content_type not in ("application/json", ""):
        raise InvalidField(f"Content-Type must be {MSGPACK} or application/json", field="content-type")
    document = parse_json_body(body)
    if isinstance(document, dict) and "tx" in document:
        return [unb64(document["tx"], "tx")], False
    if isinstance(document, dict) and isinstance(document.get("txs"), list):
        txs = document["txs"]
        if len(txs) > max_batch:
            raise InputTooLarge(f"a batch holds at most {max_batch} transactions, got {len(txs)}")
        return [unb64(t, f"txs[{i}]") for i, t in enumerate(txs)], True
    raise InvalidField('JSON body must be {"tx": "<base64>"} or {"txs": ["<base64>", ...]}', field="body")


# --- handlers -----------------------------------------------------------------------------------------


async def submit_txs(request: web.Request) -> web.Response:
    node = request.app[NODE]
    raws, is_batch = await read_submission(request)
    admissions = await node.submit(raws)
    if not is_batch:
        admission = admissions[0]
        if admission.error is not None:
            return problem_response(admission.error)
        return web.json_response(admission_json(0, admission), status=202)
    results = [admission_json(i, a) for i, a in enumerate(admissions)]
    accepted = sum(1 for a in admissions if a.accepted)
    return web.json_response({"accepted": accepted, "rejected": len(admissions) - accepted, "results": results})


async def tx_status(request: web.Request, tx_id: bytes) -> TxStatus:
    """Committed (from the store, on the read pool), else what the mempool knows (on the loop)."""
    node = request.app[NODE]
    status = await request.app[READS].run(node.reader.tx_status, tx_id)
    if status.status == "committed":
        return status
    local = node.mempool_status(tx_id)
    if local is not None:
        return local
    # Neither committed when the store was read nor in the mempool now: it may have committed meanwhile.
    return await request.app[READS].run(node.reader.tx_status, tx_id)


def get_tx_signer(reader: Reader, height: int, index: int) -> bytes:
    """The signer of the committed transaction at (height, index)."""
    block, _ = reader.get_block(height)
    return decode_transaction(block.txs[index]).signer


def validate_tx_reader(node: Node, member: governance.MemberRecord, tx_id: bytes, height: int, index: int) -> None:
    """A transaction's arguments, events and proof: the staff of its signer's department, and auditors."""
    if read_scope.is_auditor(member):
        return
    signer = get_tx_signer(node.reader, height, index)
    read_scope.validate_signer_reader(records.view(node.reader), member, signer, f"transaction {tx_id.hex()}")


def public_tx_json(status: TxStatus) -> dict[str, Any]:
    """What anyone may know of a transaction, as GET /v1/blocks lists it: status, place and outcome code, not
    its events (which carry the records' data)."""
    out = status.to_json()
    if status.result is not None:
        out["result"] = {"tx_id": status.result.get("tx_id"), "code": status.result.get("code"),
                         "message": status.result.get("message")}
    return out


async def get_tx(request: web.Request) -> web.Response:
    """A transaction's status. Anyone: status, height, index and result code; a signed request of the signer's
    department's staff or an auditor: also the result's events."""
    node = request.app[NODE]
    tx_id = parse_hex(request.match_info["tx_id"], "tx_id", size=32)
    wait = parse_wait(request.query.get("wait"))
    facts = read_request(request)
    member = None
    if facts.is_signed:  # checked before the wait: the header's window runs meanwhile
        member = await request.app[READS].run(signed_member, node, request.app[REPLAYS], facts)
    status = await tx_status(request, tx_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while status.status == "pending" and loop.time() < deadline:
        await node.wait_for_height(node.head_height() + 1, deadline - loop.time())
        status = await tx_status(request, tx_id)
    if status.status == "unknown":
        raise NotFound(f"transaction {tx_id.hex()} is not known to this node", field="tx_id")
    if member is None or status.result is None or status.height is None or status.index is None:
        return web.json_response(public_tx_json(status))
    await request.app[READS].run(validate_tx_reader, node, member, tx_id, status.height, status.index)
    return web.json_response(status.to_json())


async def get_tx_proof(request: web.Request) -> web.StreamResponse:
    """A committed transaction with its proof: internal (it carries the arguments), to the staff of its signer's
    department and auditors."""
    node = request.app[NODE]
    reader = node.reader
    tx_id = parse_hex(request.match_info["tx_id"], "tx_id", size=32)
    trusted = parse_int(request.query.get("trusted_height"), "trusted_height", lo=0) or 0
    facts, replays = read_request(request), request.app[REPLAYS]

    def prove() -> tuple[int, bytes]:
        member = signed_member(node, replays, facts)
        status = reader.tx_status(tx_id)
        if status.height is not None and status.index is not None:
            validate_tx_reader(node, member, tx_id, status.height, status.index)
        bundle = reader.tx_bundle(tx_id, trusted_height=trusted)
        return bundle.header.height, bundle.encode()

    height, data = await request.app[READS].run(prove)
    if request.query.get("format") == "msgpack":
        return web.Response(body=data, content_type=MSGPACK)
    return web.json_response({"tx_id": tx_id.hex(), "height": height, "proof": b64(data)})


def block_json(reader: Reader, height: int) -> dict[str, Any]:
    block, commit = reader.get_block(height)
    results = reader.get_results(height)
    txs = []
    for raw, result_raw in zip(block.txs, results, strict=False):
        tx = decode_transaction(raw)
        result = decode_result(result_raw)
        txs.append(
            {
                "tx_id": tx.tx_id.hex(),
                "contract": tx.body.contract,
                "method": tx.body.method,
                "signer": tx.signer.hex(),
                "code": result.code,
                "message": result.message,
            }
        )
    return {
        "height": height,
        "hash": block.compute_hash().hex(),
        "header": block.header.to_json(),
        "txs": txs,
        "last_commit": None if block.last_commit is None else block.last_commit.to_json(),
        "commit": commit.to_json(),
    }


async def get_block(request: web.Request) -> web.Response:
    reader = request.app[NODE].reader
    which = request.match_info["height"]
    height = reader.head_height() if which == "latest" else parse_int(which, "height", lo=1)
    if height is None or height < 1:
        raise NotFound("no block has been committed yet")
    if request.query.get("format") == "msgpack":  # every transaction with its arguments: auditors only
        node, facts, replays = request.app[NODE], read_request(request), request.app[REPLAYS]

        def full_block() -> bytes:
            read_scope.validate_auditor(signed_member(node, replays, facts), "a block's full transactions")
            return reader.get_block(height)[0].encode()

        raw = await request.app[READS].run(full_block)
        return web.Response(body=raw, content_type=MSGPACK)
    return web.json_response(await request.app[READS].run(block_json, reader, height))


async def get_status(request: web.Request) -> web.Response:
    """From memory only (the published head and the node's own counters): stays cheap under a read flood."""
    node = request.app[NODE]
    return web.json_response({**node.reader.status(), **node.local_status()})


def state_bundle_json(bundle: StateValueBundle) -> dict[str, Any]:
    value = bundle.proof.value
    decoded: Any = None
    if value is not None:
        try:
            decoded = jsonable(codec.decode(value, max_size=len(value)))
        except ChainError:
            decoded = None
    return {
        "key": bundle.proof.key.hex(),
        "height": bundle.header.height,
        "value": None if value is None else value.hex(),
        "value_json": decoded,
        "proof": b64(bundle.encode()),
    }


async def get_state(request: web.Request) -> web.Response:
    reader = request.app[NODE].reader
    key = parse_hex(request.query.get("key", ""), "key", max_size=1024)
    if not key:
        raise InvalidField("query parameter key (hex) is required", field="key")
    if key.startswith(SCOPED_STATE_PREFIXES):
        raise ReadForbidden(
            "document records and their read audit are answered only to signed requests of their parties' staff "
            "and auditors: GET /v1/documents/{id} (it carries the record's state proof)", code="scoped_record",
        )
    height = parse_int(request.query.get("height"), "height", lo=1)
    trusted = parse_int(request.query.get("trusted_height"), "trusted_height", lo=0) or 0
    node = request.app[NODE]
    facts = None if read_scope.is_public_state_key(key) else read_request(request)
    replays = request.app[REPLAYS]

    def run() -> dict[str, Any]:
        if facts is not None:  # a case, material or index of applicants' records: internal
            read_scope.validate_state_reader(records.view(reader), signed_member(node, replays, facts), key)
        return state_bundle_json(reader.state_bundle(key, height, trusted_height=trusted))

    return web.json_response(await request.app[READS].run(run))


async def get_anchors(request: web.Request) -> web.Response:
    reader = request.app[NODE].reader
    content_hash = parse_hex(request.match_info["content_hash"], "content_hash", size=32)
    anchors = await request.app[READS].run(
        lambda: [state_bundle_json(b) for b in reader.anchor_bundles(content_hash)]
    )
    if not anchors:
        raise NotFound(f"no department has anchored {content_hash.hex()}", field="content_hash")
    return web.json_response({"content_hash": content_hash.hex(), "anchors": anchors})


async def get_history(request: web.Request) -> web.Response:
    """One page of an entity's history (chainnode/history.py): the parameters are checked on the loop; the
    index, blocks and roster are read, and the answer encoded, on the read pool."""
    node = request.app[NODE]
    entity = request.match_info["entity"]
    if not 1 <= len(entity) <= 200 or "\x00" in entity:
        raise InvalidField("entity must be 1-200 characters, e.g. case:<id> or department:PSB", field="entity")
    query = request.query
    limit = min(parse_int(query.get("limit"), "limit", default=history.DEFAULT_LIMIT, lo=1)
                or history.DEFAULT_LIMIT, history.MAX_LIMIT)
    from_height = parse_int(query.get("from_height"), "from_height", default=1, lo=1) or 1
    to_height = parse_int(query.get("to_height"), "to_height", lo=1)
    if to_height is not None and to_height < from_height:
        raise InvalidField(f"to_height {to_height} is below from_height {from_height}", field="to_height")
    chain_id = node.reader.genesis.chain_id
    cursor = query.get("cursor") or None
    after = None if cursor is None else history.decode_cursor(cursor, chain_id, entity, max_height=MAX_HEIGHT)
    reader = node.reader
    prove = query.get("proof") in ("1", "true")
    trusted = parse_int(query.get("trusted_height"), "trusted_height", lo=0) or 0
    public = read_scope.is_public_history(entity)
    facts, replays = read_request(request), request.app[REPLAYS]

    def read_page() -> str:  # encoded on the read pool too: a full page is hundreds of kB of JSON
        if not public:
            read_scope.validate_history_reader(records.view(reader), signed_member(node, replays, facts), entity)
        page = reader.entity_history(entity, limit=limit, from_height=from_height, to_height=to_height, after=after)
        answer = page.to_json(chain_id)
        if prove and page.events:
            bundle = reader.txs_bundle([(e["height"], e["index"]) for e in page.events], trusted_height=trusted)
            answer["proof"] = b64(bundle.encode())
        return json.dumps(answer)

    return web.Response(text=await request.app[READS].run(read_page), content_type="application/json")


class EventCache:
    """The JSON text of recent block events, so many subscribers cost one encoding per block and scope."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._texts: OrderedDict[tuple[int, str | None], str] = OrderedDict()

    def get(self, height: int, scope: str | None = None) -> str | None:
        return self._texts.get((height, scope))

    def put(self, height: int, text: str, scope: str | None = None) -> None:
        self._texts[(height, scope)] = text
        if len(self._texts) > self._size:
            self._texts.popitem(last=False)


EVENTS: Final = web.AppKey("events", EventCache)
ALL_EVENTS: Final = "*"
"""The scope of an auditor's event stream: every result's events."""


def block_event(reader: Reader, height: int, scope: str | None = ALL_EVENTS) -> dict[str, Any]:
    """A block's event. `scope`: ALL_EVENTS (an auditor) gives every result's events; a department code, the
    events of the transactions its staff signed; None, no events: each result's tx_id, code and message only,
    as GET /v1/blocks lists them (the stored events are then not even turned into JSON)."""
    block, _ = reader.get_block(height)
    if scope is None:
        results: list[dict[str, Any]] = [_summary(*read_result_summary(r)) for r in reader.get_results(height)]
        return _block_event(block, height, results)
    decoded = [decode_result(r) for r in reader.get_results(height)]
    if scope == ALL_EVENTS:
        results = [r.to_json() for r in decoded]
    else:
        view = records.view(reader, height)
        results = []
        for raw, result in zip(block.txs, decoded, strict=False):
            member = governance.member_record(view, decode_transaction(raw).signer)
            in_scope = member is not None and member["department"] == scope
            results.append(result.to_json() if in_scope else _summary(result.tx_id, result.code, result.message))
    return _block_event(block, height, results)


def _block_event(block: Block, height: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "block",
        "height": height,
        "hash": block.compute_hash().hex(),
        "time_ms": block.header.time_ms,
        "tx_count": block.header.tx_count,
        "results": results,
    }


def _summary(tx_id: bytes, code: str, message: str) -> dict[str, Any]:
    """A result as anyone may see it: no events."""
    return {"tx_id": tx_id.hex(), "code": code, "message": message}


async def event_text(app: web.Application, height: int, scope: str | None = ALL_EVENTS) -> str | None:
    """The event of block `height` as JSON text, built once per scope on the read pool; None while the pool is
    full."""
    cache = app[EVENTS]
    text = cache.get(height, scope)
    if text is None:
        reader = app[NODE].reader
        try:
            text = await app[READS].run(lambda: json.dumps(block_event(reader, height, scope)))
        except Busy:
            return None
        cache.put(height, text, scope)
    return text


EVENT_DETAIL: Final = ("codes", "events")
"""`detail` of the event stream: `codes` (the default) gives each result's code and message; `events` also
its events, to a signed upgrade request within the signer's scope."""


async def event_scope(request: web.Request, facts: ReadRequest) -> str | None:
    """The scope of a subscriber's stream: None (codes only: the default, and every unsigned request), an
    auditor's, or a department's (`detail=events` on a signed request). Raises InvalidInput for another
    `detail`, ReadUnauthenticated for `detail=events` unsigned, and ReadUnauthenticated or ReadForbidden for
    a header that does not hold (before the upgrade)."""
    detail = request.query.get("detail", "codes")
    if detail not in EVENT_DETAIL:
        raise InvalidInput(f"detail must be one of {', '.join(EVENT_DETAIL)}, not {detail[:32]!r}", field="detail")
    if not facts.is_signed:
        if detail == "events":
            raise ReadUnauthenticated(
                "detail=events needs a signed request (an auditor, or the staff of the signers' department)",
                code="signature_required")
        return None
    member = await request.app[READS].run(signed_member, request.app[NODE], request.app[REPLAYS], facts)
    if detail == "codes":
        return None
    return ALL_EVENTS if read_scope.is_auditor(member) else member.department


async def events(request: web.Request) -> web.WebSocketResponse:
    node = request.app[NODE]
    next_height = parse_int(request.query.get("from_height"), "from_height", lo=1)
    scope = await event_scope(request, read_request(request))
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    if next_height is None:
        next_height = node.head_height() + 1

    async def drain_incoming() -> None:
        async for message in ws:
            if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break

    reader = asyncio.ensure_future(drain_incoming())
    try:
        while not ws.closed and not reader.done():
            if next_height <= node.reader.head_height():
                text = await event_text(request.app, next_height, scope)
                if text is None:  # the read pool is full: the subscriber waits, the node does not
                    await node.wait_for_height(node.head_height() + 1, 0.1)
                    continue
                await ws.send_str(text)
                next_height += 1
                continue
            await node.wait_for_height(next_height, 15.0)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        reader.cancel()
        await ws.close()
    return ws


OPENAPI_DOCUMENT: Final = {
    **OPENAPI, "paths": {**OPENAPI["paths"], **api_records.openapi_paths(), **api_documents.openapi_paths()},
}


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI_DOCUMENT)


# --- operations: metrics, liveness, readiness --------------------------------------------------------


async def get_metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition (docs/metrics.md), rendered on the scrape thread, never on the loop."""
    body = await request.app[SCRAPES].run(request.app[NODE].metrics.render)
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


async def get_health(request: web.Request) -> web.Response:
    """The process is up and its event loop answers: 200, from memory only."""
    node = request.app[NODE]
    return web.json_response({"status": "ok", "moniker": node.config.moniker, "height": node.head_height()})


async def get_ready(request: web.Request) -> web.Response:
    """200 when caught up and taking part in consensus; else 503 with the reason (chainnode/health.py)."""
    node = request.app[NODE]
    readiness = compute_readiness(node.metrics, height=node.head_height())
    if readiness.ready:
        return web.json_response({"status": "ready", **readiness.to_json()})
    body = {
        "type": f"urn:chainnode:error:{readiness.reason}", "title": "not ready", "status": 503,
        "code": readiness.reason, "detail": readiness.detail, **readiness.to_json(),
    }
    return web.Response(status=503, text=json.dumps(body), content_type=PROBLEM, headers={"Retry-After": "1"})


async def read_pool_context(app: web.Application) -> AsyncIterator[None]:
    """The read pool lives as long as the app: its threads finish before the node closes the store."""
    pool, scrapes = app[READS], app[SCRAPES]
    yield
    await asyncio.to_thread(scrapes.shutdown)
    await asyncio.to_thread(pool.shutdown)


def create_app(node: Node) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=node.config.max_request_bytes)
    app[NODE] = node
    app[READS] = ReadPool(threads=node.config.read_threads, queue=node.config.read_queue)
    app[EVENTS] = EventCache()
    app[REPLAYS] = ReplayCache()
    app[SCRAPES] = ReadPool(threads=1, queue=1)
    app.cleanup_ctx.append(read_pool_context)
    app.router.add_post("/v1/txs", submit_txs)
    app.router.add_get("/v1/txs/{tx_id}", get_tx)
    app.router.add_get("/v1/txs/{tx_id}/proof", get_tx_proof)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/v1/state", get_state)
    app.router.add_get("/v1/anchors/{content_hash}", get_anchors)
    app.router.add_get("/v1/history/{entity}", get_history)
    app.router.add_get("/v1/events", events)
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/health", get_health)
    app.router.add_get("/ready", get_ready)
    api_records.add_routes(app)
    api_documents.add_routes(app)
    console.add_routes(app)  # the web console at / (chainnode/console.py)
    node.client_checks["documents"] = partial(api_documents.check_client_tx, node)
    return app
