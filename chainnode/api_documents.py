"""API routes of the document exchange (docs/documents.md): ciphertext upload and download, document
records with their state proofs, a department's documents, and opening a document through the node.

Every route here is scoped: it answers only a request signed by a registered member key
(`chainnode.read_auth`). Document records are readable by the sender's and recipients' staff and by
auditors; a ciphertext only by the staff of a department it was sealed to; an upload by a document officer.

Opening (`POST /v1/documents/{id}/open`) takes the member's signed `documents.access` transaction: the node
admits it, waits until it is committed (so the opening is on the ledger before anything is revealed), then
opens its department's sealed content key with the department's encryption key and returns it sealed to
the one-time `reply_key` named in that signed transaction. The content key never travels in clear, and no
opening through a node escapes the read audit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final

from aiohttp import web

from chainnode import api_params, crypto, envelope, records
from chainnode.api_auth import REPLAYS, ReadRequest, read_request, verify_signed
from chainnode.blob_transfer import get_max_document_bytes
from chainnode.blobs import receive_upload
from chainnode.errors import ChainError, DecryptionFailed, InvalidField, InvalidInput, NotFound
from chainnode.read_auth import ReadForbidden, SignedRead, reader_member
from chainnode.results import jsonable
from chainnode.tx import Transaction, decode_transaction
from contracts import args as contract_args
from contracts import document_queries, documents, governance
from contracts.document_args import parse_access

MAX_LIST: Final = 500
MAX_ACCESS_LIST: Final = 1000
"""Access records in one answer: the first 1,000 openings (`access_count` says how many there are)."""
UPLOAD_IDLE_S: Final = 30
"""An upload that sends nothing for this long is dropped (and its claim on the blob store with it)."""
OPEN_WAIT_S: Final = 30
UPLOAD_CHUNK: Final = 256 * 1024
BOXES: Final = ("sent", "inbox", "pending_receipt", "overdue")


_FORBIDDEN: Final = frozenset({"no_access", "document_withdrawn", "not_a_member", "key_revoked",
                               "key_not_yet_effective", "department_removed", "role_required"})
"""Ledger refusals of an opening that mean "this signer may not", answered 403 like the signed reads."""


class CiphertextMissing(InvalidInput):
    code = "ciphertext_missing"
    http_status = 409


class OpenRefused(ChainError):
    code = "open_refused"
    http_status = 409

    def __init__(self, message: str, *, code: str, status: int = 409, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code  # type: ignore[misc]
        self.http_status = status  # type: ignore[misc]


def _doc_id(request: web.Request) -> str:
    text = request.match_info["doc_id"]
    if not api_params.is_code(text, contract_args.ID_HEX):
        raise InvalidField("doc_id must be a document ID of 32 lowercase hex digits", field="doc_id")
    return text


def _signed(request: web.Request, facts: ReadRequest) -> SignedRead:
    """The header's check (form, window, signature for this node, nonce); call it on the read pool."""
    from chainnode.api import NODE

    return verify_signed(request.app[NODE], request.app[REPLAYS], facts)


def _member_now(node: Any, signed: SignedRead) -> governance.MemberRecord:
    """The signer's registration at the head: a key revoked since cannot read, not even past heights."""
    head = records.view(node.reader)
    return reader_member(head, signed, head.height)


def _may_read(node: Any, view: records.View, signed: SignedRead, record: dict[str, Any]) -> governance.MemberRecord:
    member = _member_now(node, signed)
    if not documents.may_read(view, record["doc_id"], member.department, member.roles):
        raise ReadForbidden(
            f"{member.name} ({member.department}) may not read document {record['doc_id']}: it is readable by "
            f"the staff of {', '.join([record['sender'], *record['recipients']])} and by auditors",
        )
    return member


def _record(view: records.View, doc_id: str) -> dict[str, Any]:
    record = documents.get_document(view, doc_id)
    if record is None:
        raise NotFound(f"no document {doc_id} at height {view.height}", field="doc_id")
    return record


# --- routes --------------------------------------------------------------------------------------------


async def get_document(request: web.Request) -> web.Response:
    """A document record as of a height, its access records and a state proof of the record."""
    from chainnode.api import NODE, READS, state_bundle_json

    node = request.app[NODE]
    doc_id = _doc_id(request)
    height = api_params.param_int(request.query, request.match_info, "height", lo=0)
    facts = read_request(request)

    def run() -> dict[str, Any]:
        signed = _signed(request, facts)
        view = records.view(node.reader, height)
        record = _record(view, doc_id)
        _may_read(node, view, signed, record)
        proof = node.reader.state_bundle(document_queries.doc_key(doc_id), view.height) if view.height > 0 else None
        return {
            "height": view.height, "time_ms": view.time_ms, "document": jsonable(record),
            "access": jsonable(documents.access_records(view, doc_id, limit=MAX_ACCESS_LIST)),
            "access_count": record["access_count"],
            "state_proof": None if proof is None else state_bundle_json(proof),
        }

    return web.json_response(await request.app[READS].run(run))


async def list_documents(request: web.Request) -> web.Response:
    """A department's documents: sent, inbox, pending receipt, or overdue replies (at the height)."""
    from chainnode.api import NODE, READS

    node = request.app[NODE]
    department = request.query.get("department", "")
    if not api_params.is_code(department, contract_args.DEPARTMENT_CODE):
        raise InvalidField("department (a department code) is required", field="department")
    box = request.query.get("box", "inbox")
    if box not in BOXES:
        raise InvalidField(f"box must be one of {', '.join(BOXES)}", field="box")
    limit = api_params.param_int(request.query, request.match_info, "limit", default=100, lo=1, hi=MAX_LIST) or 100
    height = api_params.param_int(request.query, request.match_info, "height", lo=0)
    facts = read_request(request)

    def run() -> dict[str, Any]:
        signed = _signed(request, facts)
        view = records.view(node.reader, height)
        member = _member_now(node, signed)
        if member.department != department and "auditor" not in member.roles:
            raise ReadForbidden(
                f"{member.name} ({member.department}) may list the documents of {member.department} only; "
                "auditors may list any department's"
            )
        found = documents.documents_of(view, department, box, now_ms=view.time_ms, limit=limit)
        return {"height": view.height, "time_ms": view.time_ms, "department": department, "box": box,
                "documents": jsonable(found)}

    return web.json_response(await request.app[READS].run(run))


async def get_ciphertext(request: web.Request) -> web.StreamResponse:
    """The ciphertext, to the staff of a department it was sealed to (a withdrawn one: the sender's only)."""
    from chainnode.api import NODE, READS

    node = request.app[NODE]
    doc_id = _doc_id(request)
    facts = read_request(request)

    def run() -> dict[str, Any]:
        signed = _signed(request, facts)
        view = records.view(node.reader)
        record = _record(view, doc_id)
        member = reader_member(view, signed, view.height)
        _check_opener(record, member.department)
        return record

    record = await request.app[READS].run(run)
    digest = record["ciphertext_sha256"]
    size = node.blobs.size(digest)
    if size is None:
        raise NotFound(
            f"this node does not hold the ciphertext of {doc_id} yet; your node fetches it from the sender's "
            f"node once the document is committed: retry shortly (or ask the node of {record['sender']})",
            field="doc_id",
        )
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream",
                                           "X-Ciphertext-SHA256": digest.hex()})
    response.content_length = size
    await response.prepare(request)
    chunks = node.blobs.iter_range(digest)  # 1 MiB at a time, each read in a worker thread
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        await response.write(chunk)
    await response.write_eof()
    return response


def _check_opener(record: dict[str, Any], department: str) -> None:
    sealed_to = [entry["department"] for entry in record["sealed_keys"]]
    if department not in sealed_to:
        raise ReadForbidden(
            f"document {record['doc_id']} was sealed to {', '.join(sealed_to)}, not to {department}",
            code="no_access",
        )
    if record["withdrawn"] is not None and department != record["sender"]:
        raise ReadForbidden(f"document {record['doc_id']} was withdrawn by {record['sender']}",
                            code="document_withdrawn")


async def upload_blob(request: web.Request) -> web.Response:
    """Store a ciphertext under its SHA-256, streamed to disk and checked, before `documents.send`."""
    from chainnode.api import NODE, READS

    node = request.app[NODE]
    digest = api_params.parse_hex(request.match_info["sha256"], "sha256", size=32)
    facts = read_request(request, body_sha256=digest)
    size = request.content_length
    if size is None:
        raise InvalidField("an upload needs a Content-Length (the ciphertext's size)", field="Content-Length")

    def check() -> int:
        signed = _signed(request, facts)
        view = records.view(node.reader)
        member = reader_member(view, signed, view.height)
        if "document_officer" not in member.roles:
            raise ReadForbidden(f"uploading a document needs the role document_officer; {member.name} "
                                f"({member.department}) holds {', '.join(member.roles)}", code="role_required")
        own = governance.member_record(view, node.node_key.public_key)
        if own is None or own["department"] != member.department:
            here = "no department" if own is None else own["department"]
            raise ReadForbidden(f"upload to your own department's node: this is the node of {here}, and "
                                f"{member.name} belongs to {member.department}", code="wrong_node")
        return get_max_document_bytes(view)

    limit = await request.app[READS].run(check)
    if size > limit:
        raise InvalidField(f"the ciphertext is {size} bytes; documents are limited to {limit} bytes (governance "
                           "parameter max_document_bytes)", field="Content-Length")
    if node.blobs.has(digest):
        return web.json_response({"sha256": digest.hex(), "size": size, "stored": False, "held": True})
    await receive_upload(node.blobs, digest, size, _idle_bounded(request, UPLOAD_IDLE_S))
    return web.json_response({"sha256": digest.hex(), "size": size, "stored": True, "held": True}, status=201)


async def _idle_bounded(request: web.Request, idle_s: float) -> AsyncIterator[bytes]:
    """The body's chunks; raises InvalidInput if the client sends nothing for `idle_s` seconds."""
    while True:
        try:
            chunk = await asyncio.wait_for(request.content.read(UPLOAD_CHUNK), idle_s)
        except TimeoutError:
            raise InvalidInput(f"the upload sent nothing for {idle_s:g} s; it was dropped", field="body") from None
        if not chunk:
            return
        yield chunk


async def open_document(request: web.Request) -> web.Response:
    """Record the opening on the ledger, then hand the content key to the opener, sealed to its reply key."""
    from chainnode.api import NODE, READS, tx_status

    node = request.app[NODE]
    doc_id = _doc_id(request)
    limit = node.genesis.params.max_tx_bytes
    if request.content_length is not None and request.content_length > limit:
        raise InvalidField(f"the body must be one signed transaction of at most {limit} bytes", field="body")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise InvalidField(f"the body must be one signed transaction of at most {limit} bytes", field="body")
    tx = _access_tx(raw, doc_id, limit)

    def check() -> tuple[str, dict[str, Any]]:
        view = records.view(node.reader)
        own = governance.member_record(view, node.node_key.public_key)
        if own is None:
            raise OpenRefused("this node's key is not on the roster", code="node_not_registered", status=503)
        member = governance.member_record(view, tx.body.signer)
        if member is not None and member["department"] != own["department"]:
            raise OpenRefused(
                f"a member of {member['department']} opens documents through the node of {member['department']}; "
                f"this is the node of {own['department']}, which holds only that department's key",
                code="wrong_node", field="signer",
            )
        return own["department"], _record(view, doc_id)

    department, record = await request.app[READS].run(check)
    admission = (await node.submit([raw]))[0]
    if admission.error is not None and admission.error.code not in ("tx_already_committed", "tx_already_pending"):
        raise admission.error  # a repeated request waits for the same access record
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OPEN_WAIT_S
    status = await tx_status(request, tx.tx_id)
    while status.status == "pending" and loop.time() < deadline:
        await node.wait_for_height(node.head_height() + 1, deadline - loop.time())
        status = await tx_status(request, tx.tx_id)
    if status.status == "rejected":
        raise OpenRefused(f"the access record was refused: {status.message}", code=status.code or "rejected")
    if status.status != "committed":
        raise OpenRefused(
            f"the access record {tx.tx_id.hex()} was not committed within {OPEN_WAIT_S} s; nothing was opened. "
            "Ask again with the same request once it commits", code="access_not_committed", status=503,
        )
    result = status.result or {}
    if result.get("code") != "ok":
        code = str(result.get("code") or "refused")
        status_code = 403 if code in _FORBIDDEN else 409
        raise OpenRefused(f"the ledger refused the opening (tx {tx.tx_id.hex()}, height {status.height}): "
                          f"{result.get('message')}", code=code, status=status_code)
    sealed = next((e for e in record["sealed_keys"] if e["department"] == department), None)
    if sealed is None:
        raise OpenRefused(f"document {doc_id} holds no key sealed to {department}", code="no_access", status=403)
    key = await asyncio.to_thread(node.document_keys.find, sealed["fingerprint"])
    if key is None:
        raise OpenRefused(
            f"this node holds no encryption key with fingerprint {sealed['fingerprint'].hex()[:16]}… (the key "
            f"{department} had when the document was sent); put it in {node.layout.keys}/", code="key_not_held",
            status=503,
        )
    try:
        content_key = envelope.open_content_key(envelope.SealedKey(sealed["fingerprint"], sealed["sealed"]), key)
    except DecryptionFailed as exc:
        raise OpenRefused(
            f"the key {record['sender']} sealed for {department} does not open with {department}'s key "
            f"{sealed['fingerprint'].hex()[:16]}…: the sender's client sealed it wrongly; ask {record['sender']} to "
            "send the document again", code="sealed_key_broken", status=409,
        ) from exc
    reply_key = parse_access(tx.body.args).reply_key
    return web.json_response({
        "doc_id": doc_id, "access_tx": tx.tx_id.hex(), "height": status.height,
        "fingerprint": sealed["fingerprint"].hex(),
        "sealed_content_key": crypto.seal_to(reply_key, content_key).hex(),
    })


def _access_tx(raw: bytes, doc_id: str, max_tx_bytes: int) -> Transaction:
    if not raw:
        raise InvalidField("the body must be a signed documents.access transaction (msgpack)", field="body")
    tx = decode_transaction(raw, max_size=max_tx_bytes)
    body = tx.body
    if (body.contract, body.method) != ("documents", "access"):
        raise InvalidField("the body must be a documents.access transaction", field="body")
    parsed = parse_access(body.args)
    if parsed.doc_id != doc_id:
        raise InvalidField(f"the access transaction names document {parsed.doc_id}, not {doc_id}", field="body")
    return tx


def check_client_tx(node: Any, tx: Transaction) -> None:
    """Admission rule for a client's `documents.send` or `forward`: this node must hold the ciphertext.

    Raises CiphertextMissing naming the upload to make first. Gossip from other nodes is not checked (the
    sender's node checked it)."""
    body = tx.body
    if body.contract != "documents" or body.method not in ("send", "forward") or type(body.args) is not dict:
        return
    if body.method == "send":
        digest = body.args.get("ciphertext_sha256")
        if type(digest) is bytes and not node.blobs.has(digest):
            raise CiphertextMissing(
                f"this node does not hold the ciphertext {digest.hex()}; upload it first (PUT /v1/blobs/"
                f"{digest.hex()}, or chainnode doc send, which does both)", field="args.ciphertext_sha256",
            )
        return
    original = documents.get_document(node.store, str(body.args.get("doc_id", "")))
    if original is not None and not node.blobs.has(original["ciphertext_sha256"]):
        raise CiphertextMissing(
            f"this node does not hold the ciphertext {original['ciphertext_sha256'].hex()} of the document to "
            "forward yet; wait until it is delivered to your department's node (chainnode doc show), then forward "
            "through that node", field="args.doc_id",
        )


def add_routes(app: web.Application) -> None:
    app.router.add_put("/v1/blobs/{sha256}", upload_blob)
    app.router.add_get("/v1/documents", list_documents)
    app.router.add_get("/v1/documents/{doc_id}", get_document)
    app.router.add_get("/v1/documents/{doc_id}/ciphertext", get_ciphertext)
    app.router.add_post("/v1/documents/{doc_id}/open", open_document)


_SIGNED: Final[list[dict[str, list[str]]]] = [{"SignedRead": []}]
_ID: Final = {"type": "string", "pattern": "^[0-9a-f]{32}$"}


def _op(summary: str, params: list[dict[str, Any]], responses: dict[str, str], **extra: Any) -> dict[str, Any]:
    out = {
        "summary": summary, "parameters": params, "security": _SIGNED,
        "responses": {code: {"description": text} for code, text in responses.items()},
    }
    out.update(extra)
    return out


def openapi_paths() -> dict[str, Any]:
    doc_id = {"name": "doc_id", "in": "path", "required": True, "schema": _ID, "description": "document ID"}
    height = {"name": "height", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
              "description": "as of the state after this block (default: the head)"}
    denied = {"401": "unsigned, malformed, expired or wrong signature", "403": "the signer may not read this"}
    return {
        "/v1/blobs/{sha256}": {"put": _op(
            "Upload a document's ciphertext (streamed, checked against its SHA-256) before documents.send; "
            "needs the role document_officer",
            [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"},
              "description": "the ciphertext's SHA-256 (64 hex); the signed body hash"}],
            {"201": "stored", "200": "already held", "400": "size or hash refused", **denied},
            requestBody={"content": {"application/octet-stream": {}}},
        )},
        "/v1/documents": {"get": _op(
            "A department's documents: sent, inbox, pending_receipt or overdue (reply deadline passed)",
            [{"name": "department", "in": "query", "required": True, "schema": {"type": "string"},
              "description": "department code"},
             {"name": "box", "in": "query", "required": False, "schema": {"enum": list(BOXES)},
              "description": "which documents (default inbox)"},
             {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1},
              "description": f"at most this many (up to {MAX_LIST})"}, height],
            {"200": "success", "400": "bad parameter", **denied},
        )},
        "/v1/documents/{doc_id}": {"get": _op(
            "A document record (status per recipient, receipts, returns, forwards, withdrawal), its access "
            "records and a state proof of the record", [doc_id, height],
            {"200": "success", "404": "no such document", **denied},
        )},
        "/v1/documents/{doc_id}/ciphertext": {"get": _op(
            "The ciphertext, to the staff of a department it was sealed to", [doc_id],
            {"200": "the ciphertext", "404": "not held by this node yet", **denied},
        )},
        "/v1/documents/{doc_id}/open": {"post": _op(
            "Open a document through the node: the body is the member's signed documents.access transaction; "
            "once it is committed the node returns the content key sealed to its reply_key",
            [doc_id], {"200": "sealed_content_key", "409": "refused (wrong node, ledger refusal)",
                       "503": "not committed in time, or the node lacks the key"},
            requestBody={"content": {"application/msgpack": {}}},
        )},
    }
