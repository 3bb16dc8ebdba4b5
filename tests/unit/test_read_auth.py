"""Signed read requests: the header binds key, method, target, time, nonce, body, chain and the node asked,
for a minute, once."""

from __future__ import annotations

import threading

import pytest

from chainnode import crypto
from chainnode.errors import Busy
from chainnode.read_auth import (
    NONCE_SIZE,
    WINDOW_MS,
    ReadForbidden,
    ReadUnauthenticated,
    ReplayCache,
    SignedRead,
    authenticate,
    reader_member,
    sign_read,
    verify_read,
)
from contracts.base import StateOverlay
from tests.contract_kit import DictState

KEY = crypto.PrivateKey(bytes(range(32)))
NODE = crypto.PrivateKey(bytes(range(1, 33))).public_key
OTHER_NODE = crypto.PrivateKey(bytes(range(2, 34))).public_key
NONCE = bytes(range(NONCE_SIZE))
NOW = 1_800_000_000_000
TARGET = "/v1/documents?department=TAX&box=inbox"


def _header(time_ms: int = NOW, nonce: bytes = NONCE, node_key: bytes = NODE) -> str:
    return sign_read(KEY, "devnet", "GET", TARGET, time_ms, nonce, node_key)


def _verify(header: str | None, **changes: object) -> SignedRead:
    fields: dict[str, object] = {"chain_id": "devnet", "node_key": NODE, "method": "GET", "target": TARGET,
                                 "body_sha256": crypto.sha256(b""), "now_ms": NOW}
    fields.update(changes)
    return verify_read(header, **fields)  # type: ignore[arg-type]


def _signed(nonce: bytes, time_ms: int = NOW) -> SignedRead:
    return SignedRead(public_key=KEY.public_key, time_ms=time_ms, nonce=nonce)


def test_a_signed_request_verifies_and_names_its_key_and_nonce() -> None:
    signed = _verify(_header(NOW - 5_000))
    assert signed.public_key == KEY.public_key and signed.nonce == NONCE and signed.time_ms == NOW - 5_000


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        pytest.param({"chain_id": "other"}, "bad_signature", id="another chain"),
        pytest.param({"method": "PUT"}, "bad_signature", id="another method"),
        pytest.param({"target": "/v1/documents?department=PSB&box=inbox"}, "bad_signature", id="another query"),
        pytest.param({"body_sha256": crypto.sha256(b"x")}, "bad_signature", id="another body"),
        pytest.param({"node_key": OTHER_NODE}, "bad_signature", id="another node, unknown to it"),
        pytest.param({"node_key": OTHER_NODE, "other_node_keys": [OTHER_NODE, NODE]}, "wrong_node",
                     id="another node, which knows the one signed for"),
        pytest.param({"now_ms": NOW + WINDOW_MS + 1}, "read_request_expired", id="a minute later"),
        pytest.param({"now_ms": NOW - WINDOW_MS - 1}, "read_request_expired", id="from the future"),
    ],
)
def test_a_header_serves_only_its_own_request(changes: dict[str, object], code: str) -> None:
    with pytest.raises(ReadUnauthenticated) as caught:
        _verify(_header(), **changes)
    assert caught.value.code == code and caught.value.http_status == 401


def test_a_changed_nonce_breaks_the_signature() -> None:
    header = _header().replace(f"nonce={NONCE.hex()}", f"nonce={bytes(NONCE_SIZE).hex()}")
    with pytest.raises(ReadUnauthenticated) as caught:
        _verify(header)
    assert caught.value.code == "bad_signature"


def test_the_edges_of_the_window_are_inside_it() -> None:
    assert _verify(_header(NOW - WINDOW_MS)).time_ms == NOW - WINDOW_MS
    assert _verify(_header(NOW + WINDOW_MS)).time_ms == NOW + WINDOW_MS


@pytest.mark.parametrize(
    ("header", "code"),
    [
        pytest.param(None, "signature_required", id="missing"),
        pytest.param("Bearer abc", "malformed_signature", id="another scheme"),
        pytest.param("Chainnode-Signed key=zz, time=1, nonce=00, signature=00", "malformed_signature", id="not hex"),
        pytest.param("Chainnode-Signed " + "x" * 600, "malformed_signature", id="oversized"),
        pytest.param(f"Chainnode-Signed key={'a' * 64}, time=1, nonce={'b' * 30}, signature={'c' * 128}",
                     "malformed_signature", id="short nonce"),
        pytest.param(f"Chainnode-Signed key={'a' * 64}, time=1, nonce={'B' * 32}, signature={'c' * 128}",
                     "malformed_signature", id="upper-case nonce"),
        pytest.param(f"Chainnode-Signed key={'a' * 64}, time=1, nonce={'b' * 32}, signature={'c' * 128}\n",
                     "malformed_signature", id="trailing newline"),
    ],
)
def test_missing_or_malformed_headers_are_refused_by_name(header: str | None, code: str) -> None:
    with pytest.raises(ReadUnauthenticated) as caught:
        _verify(header)
    assert caught.value.code == code


def test_the_old_form_without_a_nonce_is_refused_naming_the_new_form() -> None:
    old = f"Chainnode-Signed key={KEY.public_key.hex()}, time={NOW}, signature={'0' * 128}"
    with pytest.raises(ReadUnauthenticated) as caught:
        _verify(old)
    assert caught.value.code == "malformed_signature"
    assert "nonce=<32 hex>" in caught.value.message


def test_signing_refuses_a_nonce_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        sign_read(KEY, "devnet", "GET", TARGET, NOW, b"short", NODE)


def test_a_key_off_the_roster_is_forbidden_with_the_rosters_code() -> None:
    signed = _verify(_header())
    with pytest.raises(ReadForbidden) as caught:
        reader_member(StateOverlay(DictState()), signed, 5)
    assert caught.value.code == "not_a_member" and caught.value.http_status == 403


# --- the replay cache ------------------------------------------------------------------------------------


def test_a_header_is_answered_once() -> None:
    replays = ReplayCache()
    fields = {"chain_id": "devnet", "node_key": NODE, "method": "GET", "target": TARGET,
              "body_sha256": crypto.sha256(b""), "now_ms": NOW, "replays": replays}
    header = _header()
    authenticate(header, **fields)  # type: ignore[arg-type]
    with pytest.raises(ReadUnauthenticated) as caught:
        authenticate(header, **fields)  # type: ignore[arg-type]
    assert caught.value.code == "read_replayed" and caught.value.http_status == 401
    authenticate(_header(nonce=bytes(NONCE_SIZE)), **fields)  # type: ignore[arg-type]  # a fresh nonce is new
    assert len(replays) == 2


def test_a_bad_signature_leaves_no_entry_to_block_the_real_key() -> None:
    replays = ReplayCache()
    header = _header()
    forged = header[:-1] + ("0" if header[-1] != "0" else "1")  # the signature's last digit changed
    with pytest.raises(ReadUnauthenticated):
        authenticate(forged, chain_id="devnet", node_key=NODE, method="GET", target=TARGET,
                     body_sha256=crypto.sha256(b""), now_ms=NOW, replays=replays)
    assert len(replays) == 0


def test_an_entry_is_kept_for_its_whole_window_then_dropped() -> None:
    replays = ReplayCache(window_ms=WINDOW_MS)
    replays.record(_signed(NONCE, time_ms=NOW + WINDOW_MS), NOW)  # from the future edge: lives until NOW + 2W
    with pytest.raises(ReadUnauthenticated):
        replays.record(_signed(NONCE, time_ms=NOW + WINDOW_MS), NOW + 2 * WINDOW_MS)
    replays.record(_signed(b"\x01" * NONCE_SIZE, time_ms=NOW + 2 * WINDOW_MS), NOW + 2 * WINDOW_MS + 1)
    assert len(replays) == 1  # the first one, past its window, was dropped


def test_a_full_cache_refuses_new_reads_rather_than_forget_a_live_one() -> None:
    replays = ReplayCache(capacity=3)
    for i in range(3):
        replays.record(_signed(bytes([i]) * NONCE_SIZE), NOW)
    with pytest.raises(Busy) as caught:
        replays.record(_signed(b"\x09" * NONCE_SIZE), NOW)
    assert caught.value.http_status == 503
    with pytest.raises(ReadUnauthenticated) as replayed:  # the live ones are all still refused
        replays.record(_signed(b"\x00" * NONCE_SIZE), NOW)
    assert replayed.value.code == "read_replayed"
    replays.record(_signed(b"\x09" * NONCE_SIZE, time_ms=NOW + WINDOW_MS), NOW + WINDOW_MS + 1)  # the expired go
    assert len(replays) == 1


def test_the_cache_is_thread_safe_each_nonce_is_accepted_exactly_once() -> None:
    replays = ReplayCache()
    nonces = [i.to_bytes(NONCE_SIZE, "big") for i in range(400)]
    accepted: list[bytes] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for nonce in nonces:
            try:
                replays.record(_signed(nonce), NOW)
            except ReadUnauthenticated:
                continue
            with lock:
                accepted.append(nonce)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(accepted) == nonces and len(replays) == len(nonces)


def test_a_request_timed_before_an_eviction_cannot_replay_the_dropped_entry() -> None:
    replays = ReplayCache(window_ms=WINDOW_MS)
    replays.record(_signed(NONCE, time_ms=NOW), NOW)
    replays.record(_signed(b"\x01" * NONCE_SIZE, time_ms=NOW + WINDOW_MS), NOW + WINDOW_MS + 1)  # drops the first
    with pytest.raises(ReadUnauthenticated) as caught:  # timed on arrival just before, checked just after
        replays.record(_signed(NONCE, time_ms=NOW), NOW + WINDOW_MS)
    assert caught.value.code == "read_request_expired"
