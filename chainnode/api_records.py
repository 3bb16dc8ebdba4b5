"""API routes that read the contracts' records: governance, the item catalogue, materials, cases and
certificates. Every route takes `?height=` (default: the head) and answers with the height and block time it
describes. Contract methods themselves are called by submitting signed transactions to POST /v1/txs;
GET /v1/contracts lists every method with its arguments' example.

One table (`ROUTES`) drives both the router and the OpenAPI paths, so the document cannot drift. A route
with an `access` rule is internal: it answers only a signed request of a registered member
(chainnode.api_auth), and the rule (chainnode.read_scope) decides, from the answer, whether that member may
read it (or filters it to what the member may see).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from chainnode import api_params, authority, periods, read_scope, records
from chainnode.api_auth import REPLAYS, read_request, signed_member
from chainnode.errors import InvalidField
from chainnode.results import jsonable
from contracts import args as contract_args
from contracts import case_queries, governance
from contracts.registry import REGISTRY

MAX_LIST: Final = 1000
CASE_STATUSES: Final = ("returned", "accepted", "approved", "denied")

Query = Callable[[records.View, web.Request], dict[str, Any]]
Access = Callable[[records.View, governance.MemberRecord, web.Request, dict[str, Any]], dict[str, Any]]
"""An internal route's rule: given the signer's registration and the answer, return what the signer may read
of it, or raise ReadForbidden naming who may read it."""


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    query: Query
    summary: str
    params: tuple[tuple[str, str, dict[str, Any], str], ...] = ()
    """(name, "path" | "query", JSON schema, description) beyond the common `height`."""
    access: Access | None = None
    """None: public. Otherwise the route is internal and this is its rule (read_scope)."""


def _int(request: web.Request, name: str, *, default: int | None = None, lo: int = 0, hi: int = 2**62) -> int | None:
    return api_params.param_int(request.query, request.match_info, name, default=default, lo=lo, hi=hi)


def _hex32(request: web.Request, name: str) -> bytes:
    text = request.match_info[name]
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise InvalidField(f"{name} must be 64 hex digits (32 bytes)", field=name)
    return value


def _id(request: web.Request, name: str) -> str:
    text = request.match_info[name]
    if not api_params.is_code(text, contract_args.ID_HEX):
        raise InvalidField(f"{name} must be a record ID of 32 lowercase hex digits", field=name)
    return text


def _code(request: web.Request, name: str, pattern: Any = contract_args.CODE) -> str:
    text = request.match_info.get(name) or request.query.get(name, "")
    if not api_params.is_code(text, pattern):
        raise InvalidField(f"{name} {text!r} is not a valid code", field=name)
    return text


def _department(request: web.Request, name: str = "department") -> str:
    return _code(request, name, contract_args.DEPARTMENT_CODE)


def contracts_json() -> dict[str, Any]:
    return {
        "contracts": {
            contract: {
                name: {"description": method.description, "example": jsonable(method.example)}
                for name, method in sorted(methods.items())
            }
            for contract, methods in sorted(REGISTRY.items())
        },
        "submit": "sign a transaction with contract, method and args, and POST it to /v1/txs",
    }


def _status(request: web.Request) -> str | None:
    status = request.query.get("status")
    if status is not None and status not in CASE_STATUSES:
        raise InvalidField(f"status must be one of {', '.join(CASE_STATUSES)}", field="status")
    return status


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "0")
    if value not in ("0", "1", ""):
        raise InvalidField(f"{name} must be 0 or 1", field=name)
    return value == "1"


def _supervision(v: records.View, request: web.Request) -> dict[str, Any]:
    """Supervision by heights (from_height, height) or by dates (from_date, to_date), never a mix."""
    from chainnode.api import NODE

    department = _department(request)
    within_days = _int(request, "within_days", default=3, hi=3650) or 0
    per_officer = _flag(request, "per_officer")
    from_date = periods.parse_date_param(request.query.get("from_date"), "from_date")
    to_date = periods.parse_date_param(request.query.get("to_date"), "to_date")
    if from_date is None and to_date is None:
        return records.supervision(v, department, within_days, _int(request, "from_height", default=0) or 0,
                                   per_officer=per_officer)
    if request.query.get("from_height"):
        raise InvalidField("give from_date or from_height, not both", field="from_height")
    if request.query.get("height"):
        raise InvalidField("give to_date or height, not both: a period of dates is answered as of its last "
                           "block", field="height")
    return records.supervision_of_dates(request.app[NODE].reader, department, within_days, from_date, to_date,
                                        per_officer=per_officer)


def _case_access(v: records.View, member: governance.MemberRecord, r: web.Request,
                 answer: dict[str, Any]) -> dict[str, Any]:
    read_scope.validate_case_reader(member, answer["case"])
    return answer


def _material_access(v: records.View, member: governance.MemberRecord, r: web.Request,
                     answer: dict[str, Any]) -> dict[str, Any]:
    read_scope.validate_material_reader(member, answer["material"]["material_id"], answer["material"]["issuer"])
    return answer


def _department_access(what: str) -> Access:
    def check(v: records.View, member: governance.MemberRecord, r: web.Request,
              answer: dict[str, Any]) -> dict[str, Any]:
        read_scope.validate_department_reader(member, _department(r), what)
        return answer

    return check


def _holder_access(v: records.View, member: governance.MemberRecord, r: web.Request,
                   answer: dict[str, Any]) -> dict[str, Any]:
    return read_scope.filter_holder_records(v, member, answer)


_DATE: Final = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_HEX32: Final = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_ID: Final = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
_CODE: Final = {"type": "string"}
_INT: Final = {"type": "integer", "minimum": 0}

ROUTES: Final[tuple[Route, ...]] = (
    Route("/v1/departments", lambda v, r: records.list_departments(v), "The departments of the alliance"),
    Route("/v1/departments/{department}/members", lambda v, r: records.roster(v, _department(r)),
          "The department's keys holding a role at the height, with their roles",
          (("department", "path", _CODE, "department code"),)),
    Route("/v1/members/{public_key}", lambda v, r: records.member(v, _hex32(r, "public_key")),
          "A key's registration: department, role periods by height, and its roles at the height",
          (("public_key", "path", _HEX32, "Ed25519 public key"),)),
    Route("/v1/proposals", lambda v, r: records.list_proposals(v, _int(r, "limit", default=100, lo=1,
                                                                             hi=MAX_LIST) or 100),
          "Governance proposals, with votes and status (open, passed, rejected, expired, applied, failed)",
          (("limit", "query", _INT, "at most this many, newest last"),)),
    Route("/v1/proposals/{proposal_id}", lambda v, r: records.proposal(v, _int(r, "proposal_id", lo=1) or 0),
          "One governance proposal", (("proposal_id", "path", _INT, "proposal number"),)),
    Route("/v1/registries", lambda v, r: records.registries(v),
          "Certificate types, material types, published calendar years and consensus limits"),
    Route("/v1/calendar/{year}", lambda v, r: records.calendar_year(v, _int(r, "year", lo=1971, hi=9998) or 0),
          "The working-day calendar of a year: holidays and make-up working days",
          (("year", "path", _INT, "calendar year"),)),
    Route("/v1/items", lambda v, r: records.list_items(v, _department(r) if "department" in r.query else None),
          "The approval-item catalogue (current versions)",
          (("department", "query", _CODE, "only items implemented by this department"),)),
    Route("/v1/items/{code}", lambda v, r: records.item(v, _code(r, "code"), _int(r, "version", lo=1)),
          "An approval item, its current or a given version",
          (("code", "path", _CODE, "item code"), ("version", "query", _INT, "version number"))),
    Route("/v1/materials/{material_id}", lambda v, r: records.material(v, _id(r, "material_id")),
          "An attested material record (internal: its issuing department's staff and auditors)",
          (("material_id", "path", _ID, "material ID"),), _material_access),
    Route("/v1/holders/{holder_ref}", lambda v, r: records.holder_records(v, _hex32(r, "holder_ref")),
          "Every material, case and certificate of a holder reference (internal: auditors see all; a department's "
          "staff what their department issued or takes part in)",
          (("holder_ref", "path", _HEX32, "the holder's salted hash"),), _holder_access),
    Route("/v1/cases", lambda v, r: records.list_cases(v, _department(r), _status(r),
                                                         _int(r, "limit", default=100, lo=1, hi=MAX_LIST) or 100),
          "Cases of a department, newest first, optionally by status (internal: the department's staff and "
          "auditors)",
          (("department", "query", _CODE, "department code (required)"),
           ("status", "query", {"enum": list(CASE_STATUSES)}, "returned, accepted, approved or denied"),
           ("limit", "query", _INT, "at most this many")), _department_access("the cases")),
    Route("/v1/cases/{case_id}", lambda v, r: records.case(v, _id(r, "case_id")),
          "A case: state, materials, steps, deadline, and time spent per step and per officer (internal: the staff "
          "of the departments taking part in it, and auditors)",
          (("case_id", "path", _ID, "case ID"),), _case_access),
    Route("/v1/supervision/{department}", lambda v, r: _supervision(v, r),
          "Deadline supervision of the cases filed in a period (from_height to height, or from_date to to_date): "
          "open cases overdue at the period's last block, those due within N working days, counts and the "
          "on-time rate; with per_officer=1, time per step and per officer",
          (("department", "path", _CODE, "department code"),
           ("within_days", "query", _INT, "working days ahead (default 3)"),
           ("from_height", "query", _INT, "only cases filed at or after this height (default: all)"),
           ("from_date", "query", _DATE, "only cases filed on or after this day (network time zone); not with "
                                         "from_height"),
           ("to_date", "query", _DATE, "only cases filed up to this day inclusive, answered as of the day's "
                                       "last block; not with height"),
           ("per_officer", "query", {"enum": ["0", "1"]}, "1: add time per step and per officer")),
          _department_access("the supervision")),
    Route("/v1/certs/{cert_id}", lambda v, r: records.certificate(v, _id(r, "cert_id"), _int(r, "version", lo=1)),
          "A certificate with its status at the height (valid, suspended, revoked, expired) and history",
          (("cert_id", "path", _ID, "certificate ID"), ("version", "query", _INT, "an earlier version"))),
)


def _handler(route: Route) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        from chainnode.api import NODE, READS

        node = request.app[NODE]
        reader = node.reader
        height = _int(request, "height")
        facts = None if route.access is None else read_request(request)
        replays = request.app[REPLAYS]

        def run() -> dict[str, Any]:
            member = None if facts is None else signed_member(node, replays, facts)
            view = records.view(reader, height)
            answer = route.query(view, request)
            return answer if member is None or route.access is None else route.access(view, member, request, answer)

        return web.json_response(await request.app[READS].run(run))

    return handle


async def list_contracts(request: web.Request) -> web.Response:
    return web.json_response(contracts_json())


async def get_validators(request: web.Request) -> web.Response:
    """The validator set that signs block `height` (default: the next block)."""
    from chainnode.api import NODE, READS

    reader = request.app[NODE].reader
    head = reader.head_height()
    height = _int(request, "height", default=head + 1, lo=1, hi=head + 2) or head + 1
    validators = await request.app[READS].run(reader.validators_at, height)
    return web.json_response({
        "height": height,
        "total_power": validators.total_power,
        "validators": [
            {"index": i, "department": v.department, "public_key": v.public_key.hex(), "power": v.power}
            for i, v in enumerate(validators.validators)
        ],
    })


async def get_cert_proof(request: web.Request) -> web.Response:
    """The bundle a verifier checks a certificate with (chainnode.cert_verify): under one block, the
    certificate's record and its issuing officer's roster record (for an unknown ID, the proof that the record
    is absent), and with `content_hash` of an older version's content, that version's record too.
    `trusted_height` starts the bundle from a verifier's saved trust; `format=binary` answers its bytes."""
    from chainnode.api import NODE, READS, b64

    reader = request.app[NODE].reader
    cert_id = _id(request, "cert_id")
    height = _int(request, "height", lo=1)
    trusted = _int(request, "trusted_height", default=0) or 0
    content = request.query.get("content_hash")
    content_hash = None if content is None else api_params.parse_hex(content, "content_hash", size=32)

    def prove() -> tuple[bytes, int]:
        view = records.view(reader, height)
        keys = records.certificate_proof_keys(view, cert_id, content_hash)
        bundle = reader.state_values_bundle(keys, view.height, trusted_height=trusted)
        return bundle.encode(), bundle.header.height

    data, proven = await request.app[READS].run(prove)
    if request.query.get("format") == "binary":
        return web.Response(body=data, content_type="application/octet-stream")
    return web.json_response({"cert_id": cert_id, "height": proven, "bytes": len(data), "proof": b64(data)})


async def get_case_proof(request: web.Request) -> web.Response:
    """The proof a verifier checks a case's standing with (chainnode.case_verify): the case record at one
    height (default: the head); for an unknown ID, the proof that the record is absent. `trusted_height`
    starts the bundle from a verifier's saved trust."""
    from chainnode.api import NODE, READS, b64

    node = request.app[NODE]
    reader = node.reader
    case_id = _id(request, "case_id")
    height = _int(request, "height", lo=1)
    trusted = _int(request, "trusted_height", default=0) or 0
    facts, replays = read_request(request), request.app[REPLAYS]

    def prove() -> dict[str, Any]:
        member = signed_member(node, replays, facts)
        record = case_queries.get_case(records.view(reader, height), case_id)
        if record is not None:  # the proof of an absence reveals nothing
            read_scope.validate_case_reader(member, record)
        bundle = reader.state_bundle(case_queries.case_key(case_id), records.view(reader, height).height,
                                     trusted_height=trusted)
        data = bundle.encode()
        return {"case_id": case_id, "height": bundle.header.height, "bytes": len(data), "proof": b64(data)}

    return web.json_response(await request.app[READS].run(prove))


async def get_authority_report(request: web.Request) -> web.Response:
    """Committed decisions, certificate and document actions whose signer lacked the role or department
    (chainnode.authority); at most authority.MAX_BLOCKS blocks per request."""
    from chainnode.api import NODE, READS

    node = request.app[NODE]
    first, last = _int(request, "from_height", lo=1), _int(request, "to_height", lo=1)
    facts, replays = read_request(request), request.app[REPLAYS]

    def run() -> dict[str, Any]:
        read_scope.validate_auditor(signed_member(node, replays, facts), "the authority report")
        return authority.get_authority_report(node.reader, first, last)

    return web.json_response(await request.app[READS].run(run))


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_get(route.path, _handler(route))
    app.router.add_get("/v1/contracts", list_contracts)
    app.router.add_get("/v1/validators", get_validators)
    app.router.add_get("/v1/certs/{cert_id}/proof", get_cert_proof)
    app.router.add_get("/v1/cases/{case_id}/proof", get_case_proof)
    app.router.add_get("/v1/reports/authority", get_authority_report)


def _get_doc(summary: str, *params: tuple[str, str, dict[str, Any], str]) -> dict[str, Any]:
    """The OpenAPI entry of a GET route with these (name, "path" | "query", schema, description) parameters."""
    return {"get": {
        "summary": summary,
        "parameters": [{"name": name, "in": where, "required": where == "path", "schema": schema,
                        "description": text} for name, where, schema, text in params],
        "responses": {"200": {"description": "success"}, "400": {"$ref": "#/components/responses/Problem"}},
    }}


def openapi_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/validators": {"get": {
            "summary": "The validator set that signs a block (default: the next one); commit signatures name "
                       "validators by their index in it",
            "parameters": [{"name": "height", "in": "query", "required": False, "schema": _INT,
                            "description": "a height up to head + 2 (sets are known two heights ahead)"}],
            "responses": {"200": {"description": "success"}, "400": {"$ref": "#/components/responses/Problem"}},
        }},
        "/v1/certs/{cert_id}/proof": {"get": {
            "summary": "The bundle to check a certificate against genesis (docs/proofs.md): under one block, its "
                       "record and its issuing officer's roster record (for an unknown ID, a proof of absence); "
                       "`proof` in base64, or the raw bytes with format=binary",
            "parameters": [{"name": "cert_id", "in": "path", "required": True, "schema": _ID,
                            "description": "certificate ID as printed (32 hex digits)"},
                           {"name": "height", "in": "query", "required": False, "schema": _INT,
                            "description": "prove the state after this block (default: the head)"},
                           {"name": "trusted_height", "in": "query", "required": False, "schema": _INT,
                            "description": "the height of the verifier's saved trust (default 0: genesis); "
                                           "the bundle carries only the hops from there"},
                           {"name": "content_hash", "in": "query", "required": False,
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                            "description": "SHA-256 of a presented file: if it is an older version's content, "
                                           "that version's record is proven too"},
                           {"name": "format", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["json", "binary"]},
                            "description": "binary: the bundle's bytes (application/octet-stream)"}],
            "responses": {"200": {"description": "success"}, "400": {"$ref": "#/components/responses/Problem"}},
        }},
        "/v1/cases/{case_id}/proof": _get_doc(
            "A state proof to check a case's standing against genesis: its record at one height (for an unknown ID, "
            "a proof of absence); `proof` in base64. Internal: the case's parties' staff and auditors",
            ("case_id", "path", _ID, "case ID (32 hex digits)"),
            ("height", "query", _INT, "prove the state after this block (default: the head)"),
            ("trusted_height", "query", _INT, "the height of the verifier's saved trust (default 0: genesis); the "
                                              "bundle carries only the hops from there")),
        "/v1/reports/authority": _get_doc(
            "Committed decisions (cases.*), certificate and document actions whose signer did not hold the needed "
            "role at that height or whose department was not authorised; empty on a healthy chain. Internal: "
            "auditors",
            ("from_height", "query", _INT, "first block (default: the last 10,000 blocks)"),
            ("to_height", "query", _INT, "last block (default: 10,000 blocks on, or the head); at most 10,000 "
                                         "blocks per request")),
        "/v1/contracts": {"get": {"summary": "Every contract method with its description and an example of its "
                                             "arguments; call one by submitting a signed transaction to /v1/txs",
                                  "responses": {"200": {"description": "success"}}}},
    }
    for signed in ("/v1/cases/{case_id}/proof", "/v1/reports/authority"):  # internal: docs/api.md
        paths[signed]["get"]["security"] = [{"SignedRead": []}]
    for route in ROUTES:
        params = [
            {"name": name, "in": where, "required": where == "path", "schema": schema, "description": text}
            for name, where, schema, text in route.params
        ]
        params.append({"name": "height", "in": "query", "required": False, "schema": _INT,
                       "description": "answer as of the state after this block (default: the head)"})
        paths[route.path] = {
            "get": {
                "summary": route.summary,
                "parameters": params,
                **({} if route.access is None else {"security": [{"SignedRead": []}]}),
                "responses": {
                    "200": {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": {"$ref": "#/components/responses/Problem"},
                    "404": {"$ref": "#/components/responses/Problem"},
                },
            }
        }
    return paths
