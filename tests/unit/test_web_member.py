"""The console's member-key code (chainnode/web/js/member) against the Python it mirrors: the canonical encoder
gives chainnode.codec's bytes on many values and refuses what it refuses; a transaction built and signed in
JavaScript is the one chainnode.tx builds (same bytes, same ID, a signature that verifies); a signed read
header is read_auth's and verifies; plain and encrypted key files open to their key, and a wrong passphrase, an
altered byte or a hostile Argon2id cost is refused. The JavaScript runs in node (its WebCrypto is the
browser's API); tests/browser runs the same code in Chromium against a real node."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chainnode import codec, crypto
from chainnode.errors import ChainError
from chainnode.read_auth import sign_read, verify_read
from chainnode.tx import TxBody, decode_transaction, sign_transaction

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "js" / "member_check.mjs"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the JS member code is not cross-checked")

SEED = bytes(range(32))
KEY = crypto.PrivateKey(SEED)


def run_js(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert NODE is not None
    done = subprocess.run([NODE, "--experimental-detect-module", "--no-warnings", str(HARNESS)],
                          input=json.dumps({"cases": cases}).encode(), capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    assert len(results) == len(cases)
    return results


def typed(value: Any) -> Any:
    """A Python value as the harness's typed JSON (dicts become Maps)."""
    if value is None:
        return {"z": None}
    if isinstance(value, bool):
        return {"t": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, bytes):
        return {"b": value.hex()}
    if isinstance(value, str):
        return {"s": value}
    if isinstance(value, list | tuple):
        return {"a": [typed(v) for v in value]}
    if isinstance(value, dict):
        return {"m": [[k, typed(v)] for k, v in value.items()]}
    raise TypeError(type(value))


INT_EDGES = [0, 1, 31, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1, 2**53, 2**53 + 1, 2**63,
             2**64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**53, -2**63]
TEXT_EDGES = ["", "a", "办件", "证照 🧾", "x" * 31, "x" * 32, "é" * 200, "y" * 255, "y" * 256, "z" * 65535, "z" * 65536]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(INT_EDGES) if rng.random() < 0.5 else rng.randint(-2**63, 2**64 - 1)
    if kind == 1:
        tail = "".join(chr(rng.choice([rng.randint(32, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]))
                       for _ in range(rng.randrange(5)))
        return rng.choice(TEXT_EDGES[:8]) + tail
    if kind == 2:
        return rng.randbytes(rng.choice([0, 1, 16, 32, 255, 256, 300]))
    if kind == 3:
        return rng.choice([None, True, False])
    if kind in (4, 5):
        return rng.randint(-1000, 1000)
    if kind in (6, 7):
        return [random_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 3, 15, 16, 17]))]
    names = ["a", "b", "ab", "b\u00e9", "\u00e9", "z", "Z", "case_id", "键", "🧾", ""]
    keys = {rng.choice(names) + str(rng.randrange(40)) for _ in range(rng.choice([0, 1, 2, 15, 16, 20]))}
    return {k: random_value(rng, depth + 1) for k in keys}


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_the_encoder_gives_codecs_bytes_on_many_values() -> None:
    rng = random.Random(20261206)
    values: list[Any] = [*INT_EDGES, *TEXT_EDGES, b"", b"\x00" * 65535, b"\x01" * 65536, [], {}, [None] * 16,
                         list(range(65536)), {str(i): i for i in range(16)}, nested(33),
                         {"b": 1, "a": {"é": 2, "z": 3}}]
    values += [random_value(rng) for _ in range(400)]
    results = run_js([{"op": "encode", "value": typed(v)} for v in values])
    for value, result in zip(values, results, strict=True):
        assert result["ok"], (repr(value)[:200], result)
        assert result["hex"] == codec.encode(value).hex(), repr(value)[:200]


def test_the_encoder_refuses_what_codec_refuses() -> None:
    refused: list[Any] = [1.5, 2**64, -2**63 - 1, "\ud800", "a\udc00b", {"k\ud800": 1}, nested(34), [1, [0.25]]]
    for value in refused:
        with pytest.raises(ChainError):
            codec.encode(value)
    results = run_js([{"op": "encode", "value": typed(v)} for v in refused])
    for value, result in zip(refused, results, strict=True):
        assert not result["ok"] and result["code"] == "EncodeError", (repr(value)[:80], result)
    # a plain object is a map, like a dict
    [plain] = run_js([{"op": "encode", "value": {"o": {"b": {"i": "1"}, "a": {"s": "x"}}}}])
    assert plain["hex"] == codec.encode({"a": "x", "b": 1}).hex()


ARGS: list[Any] = [
    {"item_code": "SAMR-001", "holder_ref": bytes(32), "materials": ["0123456789abcdef0123456789abcdef"],
     "note": "窗口受理"},
    {"case_id": "0123456789abcdef0123456789abcdef", "decision": "deny", "reason": "材料不全 🧾"},
    {"cert_type": "business_licence", "holder_ref": b"\x07" * 32, "content_hash": b"\x08" * 32,
     "valid_until_ms": 1_800_000_000_000, "metadata": {"name": "Example Trading Co."}},
    {},
]


@pytest.mark.parametrize("height", [0, 1, 127, 2**32, 2**53 - 1001])
def test_a_transaction_signed_in_javascript_is_chainnode_txs(height: int) -> None:
    nonce = bytes(range(16, 32))
    cases = [{"op": "tx", "seed": SEED.hex(), "chain_id": "devnet-7", "height": height, "contract": "cases",
              "method": "file", "args": typed(args), "nonce": nonce.hex()} for args in ARGS]
    for args, result in zip(ARGS, run_js(cases), strict=True):
        assert result["ok"], result
        expected = sign_transaction(KEY, TxBody(chain_id="devnet-7", contract="cases", method="file", args=args,
                                                signer=KEY.public_key, nonce=nonce, expiry_height=height + 1000))
        tx = decode_transaction(bytes.fromhex(result["raw"]))
        assert tx.is_signature_valid()
        assert result["raw"] == expected.raw.hex()
        assert result["tx_id"] == expected.tx_id.hex() == tx.tx_id.hex()
        assert result["body"] == expected.body.encode().hex()


def test_a_transaction_with_a_bad_name_or_argument_is_refused_before_signing() -> None:
    base = {"op": "tx", "seed": SEED.hex(), "chain_id": "c", "height": 5, "contract": "cases", "method": "file",
            "args": typed({}), "nonce": bytes(16).hex()}
    results = run_js([{**base, "contract": "Cases"}, {**base, "method": "file\n"}, {**base, "chain_id": ""},
                      {**base, "args": {"f": 0.5}}, {**base, "nonce": bytes(4).hex()}])
    assert [r["ok"] for r in results] == [False] * 5
    assert all(r["code"] == "EncodeError" for r in results)


@pytest.mark.parametrize(("method", "target", "body"), [
    ("GET", "/v1/cases?department=SAMR&limit=50", b""),
    ("GET", "/v1/cases/0123456789abcdef0123456789abcdef", b""),
    ("POST", "/v1/documents/0123456789abcdef0123456789abcdef/open", b'{"purpose":"x"}'),
])
def test_a_read_header_signed_in_javascript_is_read_auths(method: str, target: str, body: bytes) -> None:
    node_key, nonce, time_ms = crypto.PrivateKey(b"\x09" * 32).public_key, bytes(range(100, 116)), 1_780_000_000_123
    [result] = run_js([{"op": "read", "seed": SEED.hex(), "chain_id": "devnet", "method": method, "target": target,
                        "node_key": node_key.hex(), "body": body.hex(), "time_ms": time_ms, "nonce": nonce.hex()}])
    assert result["ok"], result
    header = result["header"]
    assert header == sign_read(KEY, "devnet", method, target, time_ms, nonce, node_key, crypto.sha256(body))
    signed = verify_read(header, chain_id="devnet", node_key=node_key, method=method, target=target,
                         body_sha256=crypto.sha256(body), now_ms=time_ms + 5_000)
    assert signed.public_key == KEY.public_key


def key_documents(tmp_path: Path) -> tuple[dict[str, object], dict[str, object]]:
    path = tmp_path / "clerk.key"
    crypto.write_key_file(path, KEY, label="Clerk Wang")
    plain = crypto.read_key_document(path)
    encrypted = crypto.encrypt_key_document(plain, "correct horse café".encode(), crypto.KdfLimits(1, 8192))
    return plain, encrypted


def open_cases(documents: list[tuple[Any, str]]) -> list[dict[str, Any]]:
    return run_js([{"op": "keyfile", "text": d if isinstance(d, str) else json.dumps(d), "passphrase": p}
                   for d, p in documents])


def test_plain_and_encrypted_key_files_open_to_their_key(tmp_path: Path) -> None:
    plain, encrypted = key_documents(tmp_path)
    interactive = crypto.encrypt_key_document(plain, b"s3cret words", crypto.KDF_PROFILES["interactive"])
    decomposed = "correct horse cafe\u0301"  # typed another way, the same after NFC
    results = open_cases([(plain, ""), (encrypted, "correct horse café"), (encrypted, decomposed),
                          (interactive, "s3cret words")])
    for result in results:
        assert result["ok"], result
        assert result["public_key"] == KEY.public_key.hex() and result["label"] == "Clerk Wang"
    assert [r["encrypted"] for r in results] == [False, True, True, True]
    print(f"Argon2id interactive (2, 64 MiB) in node: {results[3]['ms']:.0f} ms")


def test_a_wrong_passphrase_an_altered_file_or_a_hostile_cost_is_refused(tmp_path: Path) -> None:
    plain, encrypted = key_documents(tmp_path)
    cipher = dict(encrypted["cipher"])  # type: ignore[call-overload]
    text = cipher["ciphertext"]
    flipped = {**encrypted, "cipher": {**cipher, "ciphertext": text[:-2] + ("00" if text[-2:] != "00" else "01")}}
    kdf = dict(encrypted["kdf"])  # type: ignore[call-overload]
    other_seed = {**plain, "seed": (b"\x05" * 32).hex()}
    encryption_key = crypto.encrypt_key_document({"kind": crypto.ENCRYPTION_KEY_FILE_KIND, "public_key": "00" * 32,
                                                  "secret": "11" * 32}, b"pw", crypto.KdfLimits(1, 8192))
    cases: list[tuple[Any, str, str]] = [
        (encrypted, "wrong", "key_passphrase_wrong"),
        (encrypted, "", "key_passphrase_unusable"),
        (flipped, "correct horse café", "key_passphrase_wrong"),
        ({**encrypted, "kdf": {**kdf, "opslimit": 17}}, "x", "key_file_malformed"),
        ({**encrypted, "kdf": {**kdf, "memlimit": 2**31}}, "x", "key_file_malformed"),
        ({**encrypted, "kdf": {**kdf, "memlimit": 4096}}, "x", "key_file_malformed"),
        ({**encrypted, "kdf": {**kdf, "opslimit": 2.5}}, "x", "key_file_malformed"),
        ({**encrypted, "version": 2}, "x", "key_file_malformed"),
        ({**encrypted, "public_key": "ab" * 32}, "correct horse café", "key_file_malformed"),
        (other_seed, "", "key_file_malformed"),
        (encryption_key, "pw", "key_file_kind"),
        ({"kind": crypto.ENCRYPTION_KEY_FILE_KIND}, "", "key_file_kind"),
        ("not json", "", "key_file_malformed"),
        ("[1, 2]", "", "key_file_malformed"),
        (json.dumps({**plain, "label": "x" * 70_000}), "", "key_file_malformed"),
    ]
    results = open_cases([(d, p) for d, p, _ in cases])
    for (_, _, code), result in zip(cases, results, strict=True):
        assert not result["ok"] and result["code"] == code, (code, result)
        assert "correct horse" not in result["error"] and SEED.hex() not in result["error"]


HOLDER = "ab" * 32
MATERIAL = "0123456789abcdef0123456789abcdef"
GOOD_FORMS: list[tuple[str, dict[str, str], str, str]] = [
    ("file", {"item_code": "SAMR-001", "holder_ref": HOLDER, "materials": f"{MATERIAL}\n{MATERIAL[::-1]}", "note": ""},
     "cases", "file"),
    ("file", {"item_code": "SAMR-001", "holder_ref": HOLDER.upper(), "materials": "", "note": "窗口"}, "cases", "file"),
    ("attest", {"material_type": "id_card", "holder_ref": HOLDER, "content_hash": "cd" * 32, "form": "copy",
                "valid_from_ms": "2026-01-01", "valid_until_ms": "2030-12-31"}, "materials", "attest"),
    ("decide", {"case_id": MATERIAL, "decision": "approve", "reason": "all conditions met",
                "certificate_hash": "ef" * 32}, "cases", "decide"),
    ("decide", {"case_id": MATERIAL, "decision": "deny", "reason": "材料不全", "certificate_hash": ""},
     "cases", "decide"),
    ("issue", {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": "01" * 32,
               "valid_until_ms": "2031-06-30", "materials": MATERIAL, "name": "Example Trading Co."},
     "certificates", "issue"),
    ("status", {"cert_id": MATERIAL, "action": "revoke", "reason": "obtained by fraud"}, "certificates", "revoke"),
    ("status", {"cert_id": MATERIAL, "action": "suspend", "reason": "under investigation"}, "certificates", "suspend"),
]


def test_the_staff_forms_give_arguments_the_contracts_parse() -> None:
    from contracts import cases, certificates, materials

    methods = {"cases": cases.METHODS, "materials": materials.METHODS, "certificates": certificates.METHODS}
    results = run_js([{"op": "call", "task": task, "values": values} for task, values, _, _ in GOOD_FORMS])
    for (task, _, contract, method), result in zip(GOOD_FORMS, results, strict=True):
        assert result["ok"] and "errors" not in result, (task, result)
        assert result["method"] == method
        methods[contract][method].parse(codec.decode(bytes.fromhex(result["args"]), max_size=1 << 16))


def test_the_staff_forms_refuse_what_the_contracts_refuse_before_signing() -> None:
    bad: list[tuple[str, dict[str, str], str]] = [
        ("file", {"item_code": "", "holder_ref": HOLDER}, "item_code"),
        ("file", {"item_code": "SAMR 001", "holder_ref": HOLDER}, "item_code"),
        ("file", {"item_code": "A", "holder_ref": "ab" * 31}, "holder_ref"),
        ("file", {"item_code": "A", "holder_ref": HOLDER, "materials": f"{MATERIAL} {MATERIAL}"}, "materials"),
        ("file", {"item_code": "A", "holder_ref": HOLDER, "materials": "\n".join(f"{i:032x}" for i in range(33))},
         "materials"),
        ("attest", {"material_type": "t", "holder_ref": HOLDER, "content_hash": "zz" * 32}, "content_hash"),
        ("attest", {"material_type": "t", "holder_ref": HOLDER, "content_hash": HOLDER, "valid_from_ms": "2030-01-01",
                    "valid_until_ms": "2029-01-01"}, "valid_until_ms"),
        ("attest", {"material_type": "t", "holder_ref": HOLDER, "content_hash": HOLDER, "valid_from_ms": "2030-02-30"},
         "valid_from_ms"),
        ("decide", {"case_id": MATERIAL, "decision": "deny", "reason": "x", "certificate_hash": HOLDER},
         "certificate_hash"),
        ("decide", {"case_id": MATERIAL, "decision": "approve", "reason": "x" * 513}, "reason"),
        ("status", {"cert_id": MATERIAL, "action": "delete", "reason": "x"}, "action"),
    ]
    results = run_js([{"op": "call", "task": task, "values": values} for task, values, _ in bad])
    for (task, values, field), result in zip(bad, results, strict=True):
        assert result["ok"] and field in result.get("errors", {}), (task, values, result)
