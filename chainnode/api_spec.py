"""The OpenAPI 3.1 document served at /v1/openapi.json."""

from __future__ import annotations

from typing import Any, Final

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _op(summary: str, params: list[dict[str, Any]] | None = None, ok: str = "200", **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": _PROBLEM,
            "404": _PROBLEM,
        },
    }
    if params:
        op["parameters"] = params
    op.update(extra)
    return op


def _path(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


OPENAPI: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "chainnode API",
        "version": "1",
        "description": "Client API of one department node. Errors are application/problem+json with a stable "
        "`code`. Byte strings are lowercase hex in JSON, except transactions and proofs, which are base64 of "
        "their canonical msgpack bytes (docs/wire-format.md, docs/proofs.md).",
    },
    "paths": {
        "/v1/txs": {
            "post": _op(
                "Submit one signed transaction or a batch",
                ok="202",
                requestBody={
                    "required": True,
                    "content": {
                        "application/msgpack": {
                            "schema": {"type": "string", "format": "binary"},
                            "description": "one canonical transaction, or a msgpack array of them as bin",
                        },
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {
                                        "type": "object",
                                        "required": ["tx"],
                                        "properties": {"tx": {"type": "string", "contentEncoding": "base64"}},
                                    },
                                    {
                                        "type": "object",
                                        "required": ["txs"],
                                        "properties": {
                                            "txs": {
                                                "type": "array",
                                                "items": {"type": "string", "contentEncoding": "base64"},
                                            }
                                        },
                                    },
                                ]
                            }
                        },
                    },
                },
                description="A single transaction answers 202 with its tx_id, or a problem document naming why it "
                "was rejected. A batch answers 200 with a verdict per transaction.",
            )
        },
        "/v1/txs/{tx_id}": {
            "get": _op(
                "Status of a transaction: pending, committed (height, index, result) or rejected (code, message); "
                "the result's events only to a signed request of the signer's department's staff or an auditor",
                [
                    _path("tx_id", _HEX32),
                    _query(
                        "wait",
                        {"type": "integer", "minimum": 0, "maximum": 60},
                        "seconds to wait for a pending transaction to be committed",
                    ),
                ],
            )
        },
        "/v1/txs/{tx_id}/proof": {
            "get": _op(
                "Inclusion and result proof of a committed transaction (internal, signed: the signer's department's "
                "staff and auditors)",
                [_path("tx_id", _HEX32), _query("format", {"enum": ["json", "msgpack"]})],
            )
        },
        "/v1/blocks/{height}": {
            "get": _op(
                "A block with its header, transaction IDs, signers, methods, result codes and commit; "
                "format=msgpack (every transaction with its arguments) only to a signed request of an auditor",
                [
                    _path("height", {"oneOf": [{"type": "integer", "minimum": 1}, {"const": "latest"}]}),
                    _query("format", {"enum": ["json", "msgpack"]}),
                ],
            )
        },
        "/v1/status": {"get": _op("Chain ID, genesis hash, head height and hash, mempool size")},
        "/v1/state": {
            "get": _op(
                "Value of a state key at a height (default: head) with a proof, including proof of absence; keys of "
                "applicants' records (case/, material/, their indexes) only to signed requests (docs/api.md)",
                [
                    _query("key", {"type": "string", "pattern": "^[0-9a-f]+$"}),
                    _query("height", {"type": "integer", "minimum": 1}),
                ],
            )
        },
        "/v1/anchors/{content_hash}": {
            "get": _op(
                "Every department's anchor record of a SHA-256 content hash, each with a state proof",
                [_path("content_hash", _HEX32)],
            )
        },
        "/v1/history/{entity}": {
            "get": _op(
                "Every transaction that touched an entity (case:<id>, cert:<id>, material:<id>, item:<code>, "
                "department:<code>, member:<hex>, document:<id>, anchor:<hex>, signer:<hex>, ...), in chain order, "
                "with block time, call, signer and the signer's name, department and roles at that height, "
                "outcome and events; paged by next_cursor (null at the end). Internal: a signed request of an "
                "auditor, or of staff for their own department's entities (docs/api.md)",
                [
                    _path("entity", {"type": "string"}, "KIND:ID"),
                    _query("from_height", {"type": "integer", "minimum": 1}, "lowest height (default 1)"),
                    _query("to_height", {"type": "integer", "minimum": 1}, "highest height (default: the head)"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                           "events per page (default 100; a larger value is capped at 1000)"),
                    _query("cursor", {"type": "string"}, "next_cursor of the previous page, as answered"),
                    _query("proof", {"type": "string", "enum": ["1"]},
                           "1: add `proof`, one transaction bundle (base64) proving every event of the page "
                           "(docs/proofs.md)"),
                    _query("trusted_height", {"type": "integer", "minimum": 0},
                           "with proof=1: the height of the verifier's saved trust (default 0: genesis)"),
                ],
            )
        },
        "/v1/events": {
            "get": _op(
                "WebSocket: one JSON message per committed block with its results' codes, resumable from a height; "
                "with detail=events, a signed upgrade request also gets the results' events (an auditor: all; "
                "staff: those of transactions their department's staff signed)",
                [_query("from_height", {"type": "integer", "minimum": 1}),
                 _query("detail", {"type": "string", "enum": ["codes", "events"]},
                        "codes (default): each result's code and message; events: also its events (signed only)")],
                ok="101",
            )
        },
        "/v1/openapi.json": {"get": _op("This document")},
        "/metrics": {"get": {
            "summary": "Prometheus metrics in the text exposition format (docs/metrics.md)",
            "responses": {"200": {"description": "success", "content": {"text/plain": {"schema": {"type": "string"}}}},
                          "503": _PROBLEM},
        }},
        "/health": {"get": {
            "summary": "Liveness: the process is up and serving",
            "responses": {"200": {"description": "up",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
        "/ready": {"get": {
            "summary": "Readiness: caught up and taking part in consensus; 503 with the reason "
                       "(starting, no_peers, syncing, behind) otherwise",
            "responses": {"200": {"description": "ready",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          "503": _PROBLEM},
        }},
    },
    "components": {
        "securitySchemes": {
            "SignedRead": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Chainnode-Signed key=<hex>, time=<ms>, nonce=<32 hex>, signature=<hex>: an Ed25519 "
                               "signature by a registered member key over the method, path with query, time, nonce, "
                               "body hash and the asked node's key (docs/api.md, signed requests); good for 60 s, "
                               "once, at that node",
            },
        },
        "responses": {
            "Problem": {
                "description": "RFC 9457 problem document",
                "content": {
                    "application/problem+json": {
                        "schema": {
                            "type": "object",
                            "required": ["code", "status", "detail"],
                            "properties": {
                                "type": {"type": "string"},
                                "title": {"type": "string"},
                                "status": {"type": "integer"},
                                "code": {"type": "string"},
                                "detail": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        },
                    }
                },
            }
        },
    },
}
