"""Signed read requests: the header binds key, method, target, time, body and chain, for a minute."""

from __future__ import annotations

import pytest

from chainnode import crypto
from chainnode.read_auth import (
    WINDOW_MS,
    ReadForbidden,
    ReadUnauthenticated,
    SignedRead,
    reader_member,
    sign_read,
    verify_read,
)
from contracts.base import StateOverlay
from tests.contract_kit import DictState

KEY = crypto.PrivateKey(bytes(range(32)))
NOW = 1_800_000_000_000
TARGET = "/v1/documents?department=TAX&box=inbox"


def _verify(header: str | None, **changes: object) -> SignedRead:
    fields: dict[str, object] = {"chain_id": "devnet", "method": "GET", "target": TARGET,
                                 "body_sha256": crypto.sha256(b""), "now_ms": NOW}
    fields.update(changes)
    return verify_read(header, **fields)  # type: ignore[arg-type]


def test_a_signed_request_verifies_and_names_its_key() -> None:
    signed = _verify(sign_read(KEY, "devnet", "GET", TARGET, NOW - 5_000))
    assert signed.public_key == KEY.public_key


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        pytest.param({"chain_id": "other"}, "bad_signature", id="another chain"),
        pytest.param({"method": "PUT"}, "bad_signature", id="another method"),
        pytest.param({"target": "/v1/documents?department=PSB&box=inbox"}, "bad_signature", id="another query"),
        pytest.param({"body_sha256": crypto.sha256(b"x")}, "bad_signature", id="another body"),
        pytest.param({"now_ms": NOW + WINDOW_MS + 1}, "read_request_expired", id="a minute later"),
        pytest.param({"now_ms": NOW - WINDOW_MS - 1}, "read_request_expired", id="from the future"),
    ],
)
def test_a_header_serves_only_its_own_request(changes: dict[str, object], code: str) -> None:
    header = sign_read(KEY, "devnet", "GET", TARGET, NOW)
    with pytest.raises(ReadUnauthenticated) as caught:
        _verify(header, **changes)
    assert caught.value.code == code and caught.value.http_status == 401


@pytest.mark.parametrize(
    ("header", "code"),
    [
        pytest.param(None, "signature_required", id="missing"),
        pytest.param("Bearer abc", "malformed_signature", id="another scheme"),
        pytest.param("Chainnode-Signed key=zz, time=1, signature=00", "malformed_signature", id="not hex"),
        pytest.param("Chainnode-Signed " + "x" * 600, "malformed_signature", id="oversized"),
    ],
)
def test_missing_or_malformed_headers_are_refused_by_name(header: str | None, code: str) -> None:
    with pytest.raises(ReadUnauthenticated) as caught:
        _verify(header)
    assert caught.value.code == code


def test_a_key_off_the_roster_is_forbidden_with_the_rosters_code() -> None:
    signed = _verify(sign_read(KEY, "devnet", "GET", TARGET, NOW))
    with pytest.raises(ReadForbidden) as caught:
        reader_member(StateOverlay(DictState()), signed, 5)
    assert caught.value.code == "not_a_member" and caught.value.http_status == 403
