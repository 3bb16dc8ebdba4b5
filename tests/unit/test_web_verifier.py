"""The console's in-browser certificate verifier (chainnode/web/js) against chainnode.cert_verify: the same
verdict on genuine certificate bundles of every status, on bundles that skip validator-set changes, on each
of them with one byte altered, on a proof from another chain and on a transaction proof. The JavaScript
runs in node (its WebCrypto is the browser's API); tests/browser runs it in Chromium too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto, records
from chainnode.cert_verify import CertificateNotFound, verify_certificate
from chainnode.errors import InvalidProof
from chainnode.genesis import Genesis
from chainnode.home import DepartmentSpec, init_network
from chainnode.node import Node
from chainnode.tx import decode_transaction
from tests.nodeproc import anchor_tx
from tests.unit.test_light_client import CHAIN, Chain, open_chain

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "js" / "check_certificates.mjs"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the JS verifier is not cross-checked")


@pytest.fixture
def web_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chain]:
    yield from open_chain(tmp_path, monkeypatch)


def python_verdict(genesis: Genesis, cert_id: str | None, data: bytes, file_hash: bytes | None) -> str:
    try:
        return verify_certificate(genesis, cert_id or "", data, file_hash).verdict
    except CertificateNotFound:
        return "NOT FOUND"
    except InvalidProof:
        return "INVALID PROOF"


def run_js(geneses: dict[str, Genesis], cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert NODE is not None
    document = {"genesis": {name: json.dumps(g.document) for name, g in geneses.items()}, "cases": cases}
    done = subprocess.run([NODE, "--experimental-detect-module", "--no-warnings", str(HARNESS)],
                          input=json.dumps(document).encode(), capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    answer = json.loads(done.stdout)
    print(f"JS verifier: {len(cases)} bundles in {answer['ms']:.0f} ms")
    verdicts: list[dict[str, Any]] = answer["verdicts"]
    return verdicts


def altered(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ (0x20 if position % 2 else 0x01)]) + data[position + 1:]


async def test_the_browser_verifier_agrees_with_cert_verify_on_every_verdict(web_chain: Chain,
                                                                             tmp_path: Path) -> None:
    chain = web_chain
    reader, genesis = chain.node.reader, chain.node.genesis
    certs = await chain.issue_every_verdict()
    valid, suspended, revoked, expiring, later, amended = (certs.valid, certs.suspended, certs.revoked,
                                                           certs.expiring, certs.later, certs.amended)

    def bundle(cert_id: str, content: bytes | None = None) -> tuple[bytes, bytes | None]:
        file_hash = None if content is None else crypto.sha256(content)
        keys = records.certificate_proof_keys(records.view(reader), cert_id, file_hash)
        return reader.state_values_bundle(keys).encode(), file_hash

    genuine = [(valid, *bundle(valid, b"valid")), (valid, *bundle(valid)), (suspended, *bundle(suspended)),
               (revoked, *bundle(revoked)), (expiring, *bundle(expiring)), (later, *bundle(later)),
               (amended, *bundle(amended, b"v2")), (amended, *bundle(amended, b"v1")),
               (valid, bundle(valid)[0], crypto.sha256(b"another file")), ("0" * 32, *bundle("0" * 32))]

    # a set replaced almost at once: the proof skips to the new set, carrying it
    old = genesis.validator_set().validators
    await chain.block(*[chain.tx("testhook", "set_validator", {"department": f"R{i}", "power": 100,
                                                               "public_key": chain.add_key().public_key})
                        for i in range(3)],
                      *[chain.tx("testhook", "set_validator", {"department": v.department, "power": 0,
                                                               "public_key": v.public_key}) for v in old[1:]])
    for _ in range(3):
        await chain.block()
    skipping = bundle(valid, b"valid")
    genuine.append((valid, *skipping))
    raw = anchor_tx(chain.admin, CHAIN, "x")
    await chain.block(raw)
    tx_bundle = reader.tx_bundle(decode_transaction(raw).tx_id).encode()

    _, others = init_network([tmp_path / "other"], chain_id=CHAIN, departments=[DepartmentSpec(code="PSB", name="P")],
                             api_ports=[9], p2p_ports=[10])
    other = Node.from_home(others[0].home)
    other_genesis = other.genesis
    other.close()
    geneses = {"ours": genesis, "other": other_genesis}

    cases: list[tuple[str, str | None, bytes, bytes | None]] = [("ours", c, d, f) for c, d, f in genuine]
    cases += [("other", valid, skipping[0], skipping[1]), ("other", valid, genuine[0][1], None),
              ("ours", None, genuine[0][1], None), ("ours", valid, tx_bundle, None),
              ("ours", revoked, genuine[0][1], None)]
    for cert_id, data, file_hash in (genuine[0], genuine[3], (valid, *skipping)):
        cases += [("ours", cert_id, altered(data, p), file_hash) for p in range(0, len(data), 2)]

    expected = [python_verdict(geneses[g], c, d, f) for g, c, d, f in cases]
    # the ID taken from the proof, where the CLI needs it given
    expected[len(genuine) + 2] = python_verdict(genesis, valid, genuine[0][1], None)
    js = run_js(geneses, [{"genesis": g, "cert_id": c, "bundle": d.hex(), "file_hash": None if f is None else f.hex()}
                          for g, c, d, f in cases])
    got = [v["verdict"] for v in js]
    assert expected[:len(genuine)] == ["VALID", "VALID", "SUSPENDED", "REVOKED", "EXPIRED", "NOT YET VALID", "VALID",
                                       "SUPERSEDED VERSION", "CONTENT DIFFERS", "NOT FOUND", "VALID"]
    mismatches = [(i, expected[i], got[i], js[i]["reason"]) for i in range(len(cases)) if expected[i] != got[i]]
    assert not mismatches, mismatches[:10]
    assert got.count("INVALID PROOF") > 3 * len(genuine), "altered bundles must be refused"
    assert os.path.getsize(HARNESS) > 0


DECODER = ROOT / "tests" / "js" / "decode_canonical.mjs"


def test_the_browser_decoder_accepts_exactly_the_canonical_encodings() -> None:
    """chainnode/web/js/msgpack.js accepts what chainnode.codec.decode accepts, and re-encodes it to the same
    bytes: canonical values of every type and size class, each truncated and with each byte altered, and
    hand-made non-canonical forms (long forms of short values, unsorted or repeated keys, floats, extension
    types, trailing bytes, non-string keys, invalid UTF-8, forged lengths)."""
    from chainnode import codec
    from chainnode.errors import ChainError

    values: list[Any] = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53, 2**64 - 1, -1, -32, -33,
                         -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63), "", "a" * 31, "a" * 32,
                         "中文" * 100, "x" * 70000, b"", b"\x00" * 255, b"\x01" * 256, b"\x02" * 65536, None, True,
                         False, [], list(range(15)), list(range(16)), {"b": 1, "a": [b"x", {"c": None}]},
                         {f"k{i:02d}": i for i in range(16)}, {"": 0, "a": 1, "é": 2, "中": 3},
                         [[[[[[1]]]]]], [2, 1, "chain", 5, 0, b"\xff" * 32]]
    inputs = [codec.encode(v) for v in values]
    small = [d for d in inputs if len(d) < 200]
    inputs += [d[:cut] for d in small for cut in range(len(d))]
    inputs += [d[:i] + bytes([d[i] ^ bit]) + d[i + 1:] for d in small for i in range(len(d)) for bit in (0x01, 0x80)]
    inputs += [bytes.fromhex(h) for h in (
        "cc05", "cd0005", "ce00000005", "cf0000000000000005", "d0ff", "d1ff80", "d9016162", "c40100" + "",
        "dc000101", "de00010161" "01", "82a16101a16102", "82a16201a16101", "81c40161" "01", "8101" "01",
        "ca3f800000", "cb3ff0000000000000", "d40100", "c70101" "00", "c1", "0101", "a1ff", "a2c0af",
        "dd7fffffff", "df7fffffff", "c6ffffffff", "9f", "dc00", "90" * 40, "91" * 34 + "90", "91" * 33 + "90",
    )]
    expected = []
    for data in inputs:
        try:
            codec.decode(data, max_size=1 << 20)
            expected.append([True, True])
        except ChainError:
            expected.append([False, False])
    assert NODE is not None
    done = subprocess.run([NODE, "--experimental-detect-module", "--no-warnings", str(DECODER)],
                          input=json.dumps({"inputs": [d.hex() for d in inputs], "max_size": 1 << 20}).encode(),
                          capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    got = json.loads(done.stdout)["results"]
    mismatches = [(inputs[i].hex()[:80], expected[i], got[i]) for i in range(len(inputs)) if expected[i] != got[i]]
    assert not mismatches, mismatches[:10]
    assert sum(1 for e in expected if e[0]) > len(values) and sum(1 for e in expected if not e[0]) > 500
