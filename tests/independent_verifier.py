"""A second verifier of proof bundles, written from docs/proofs.md, docs/wire-format.md, docs/state.md and
docs/merkle.md alone: it imports nothing of chainnode, only hashlib, msgpack and PyNaCl. Tests feed it the
same genuine and altered bundles as chainnode.light and require the same verdict on each.

`verify(genesis_document, data)` returns a summary of what the bundle proves, or raises Refused.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack
import nacl.bindings
import nacl.exceptions


class Refused(Exception):
    pass


def need(condition: bool, why: str) -> None:
    if not condition:
        raise Refused(why)


def chash(domain: str, data: bytes) -> bytes:
    return hashlib.sha256(domain.encode() + b"\x00" + data).digest()


def sort_maps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: sort_maps(value[k]) for k in sorted(value, key=lambda k: k.encode())}
    if isinstance(value, list):
        return [sort_maps(v) for v in value]
    return value


def encode(value: Any) -> bytes:
    return msgpack.packb(sort_maps(value), use_bin_type=True)


def decode(data: bytes) -> Any:
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, TypeError) as exc:
        raise Refused(f"not msgpack: {exc}") from exc
    need(not isinstance(value, float), "float")
    need(encode(value) == data, "not canonical")
    return value


def is_bytes(value: Any, size: int | None = None) -> bool:
    return type(value) is bytes and (size is None or len(value) == size)


def is_uint(value: Any) -> bool:
    return type(value) is int and value >= 0


def set_hash(validators: list[Any]) -> bytes:
    return chash("chainnode/v1/validator-set", encode([8, 1, validators]))


def check_set(validators: Any) -> list[list[Any]]:
    need(type(validators) is list and 1 <= len(validators) <= 256, "validator set size")
    previous = b""
    for v in validators:
        need(type(v) is list and len(v) == 3, "validator shape")
        need(type(v[0]) is str and 1 <= len(v[0]) <= 64 and is_bytes(v[1], 32), "validator fields")
        need(type(v[2]) is int and 1 <= v[2] <= 2**40, "validator power")
        need(v[1] > previous, "validators sorted by key")
        previous = v[1]
    return validators


def genesis_set(document: dict[str, Any]) -> list[list[Any]]:
    members = [[d["code"], bytes.fromhex(d["node_key"]), d["power"]] for d in document["departments"] if d["power"] > 0]
    return sorted(members, key=lambda v: v[1])


def verify_signature(key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        nacl.bindings.crypto_sign_open(signature + message, key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False
    return True


def header_fields_ok(h: Any) -> bool:
    if type(h) is not list or len(h) != 12 or type(h[0]) is not str:
        return False
    return all(is_uint(h[i]) for i in (1, 2, 4)) and h[1] >= 1 and all(
        is_bytes(h[i], 32) for i in (3, 5, 6, 7, 8, 9, 10, 11))


def multiproof_root(leaves: dict[int, bytes], size: int, proof: list[bytes]) -> bytes | None:
    chosen = sorted(leaves)
    position = 0

    def root(lo: int, hi: int) -> bytes | None:
        nonlocal position
        if not any(lo <= i < hi for i in chosen):
            if position >= len(proof):
                return None
            position += 1
            return proof[position - 1]
        if hi - lo == 1:
            return leaves[lo]
        k = 1
        while k * 2 < hi - lo:
            k *= 2
        left = root(lo, lo + k)
        right = root(lo + k, hi) if left is not None else None
        return None if right is None or left is None else hashlib.sha256(b"\x01" + left + right).digest()

    result = root(0, size)
    return result if result is not None and position == len(proof) else None


def hashes(run: Any, limit: int) -> list[bytes]:
    need(type(run) is bytes and len(run) % 32 == 0 and len(run) <= 32 * limit, "hash run")
    return [run[i:i + 32] for i in range(0, len(run), 32)]


def bit(key_hash: bytes, depth: int) -> int:
    return (key_hash[depth // 8] >> (7 - depth % 8)) & 1


SHAPES = [
    ["actions", "case_id", "cert_id", "cert_type", "content_hash", "holder_ref", "issued_height", "issued_ms",
     "issuer", "issuer_officer", "issuer_officer_name", "materials", "metadata", "previous_version", "revoked",
     "revoked_height", "revoked_ms", "revoked_reason", "suspended", "suspended_reason", "tx_id", "updated_height",
     "updated_ms", "valid_from_ms", "valid_until_ms", "version"],
    ["department", "name", "periods", "public_key", "revoked_reason", "rotated_from", "rotated_to"],
]


def item_end(data: bytes, at: int, depth: int = 0) -> int:
    """Where the msgpack object starting at `at` ends (a small parser of the format's lengths)."""
    need(at < len(data) and depth < 64, "shaped values")
    b = data[at]

    def n(size: int) -> int:
        need(at + 1 + size <= len(data), "shaped values")
        return int.from_bytes(data[at + 1:at + 1 + size], "big")

    def items(count: int, start: int) -> int:
        for _ in range(count):
            start = item_end(data, start, depth + 1)
        return start

    if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
        return at + 1
    if 0xA0 <= b <= 0xBF:
        return at + 1 + (b & 0x1F)
    if 0x90 <= b <= 0x9F:
        return items(b & 0x0F, at + 1)
    if 0x80 <= b <= 0x8F:
        return items(2 * (b & 0x0F), at + 1)
    fixed = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
    if b in fixed:
        return at + 1 + fixed[b]
    sized = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
    if b in sized:
        return at + 1 + sized[b] + n(sized[b])
    if b in (0xDC, 0xDD):
        size = 2 if b == 0xDC else 4
        return items(n(size), at + 1 + size)
    if b in (0xDE, 0xDF):
        size = 2 if b == 0xDE else 4
        return items(2 * n(size), at + 1 + size)
    raise Refused("shaped values")


def unshape(value: Any) -> Any:
    if value is None:
        return None
    if is_bytes(value):
        try:
            decoded = msgpack.unpackb(value, raw=False)
        except Exception:
            decoded = None
        need(not (type(decoded) is dict and all(type(k) is str for k in decoded)
                  and any(sorted(decoded) == shape for shape in SHAPES)), "unshaped record")
        return value
    need(type(value) is list and len(value) == 2 and is_uint(value[0]) and value[0] < len(SHAPES)
         and is_bytes(value[1]), "shaped value")
    keys, packed = SHAPES[value[0]], value[1]
    out, at = bytes([0x80 | len(keys)]) if len(keys) < 16 else b"\xde" + len(keys).to_bytes(2, "big"), 0
    for key in keys:
        end = item_end(packed, at)
        need(end <= len(packed), "shaped values")
        out += msgpack.packb(key) + packed[at:end]
        at = end
    need(at == len(packed), "shaped values")
    return out


def check_state_proof(root: bytes, item: Any) -> tuple[bytes, bytes | None]:
    need(type(item) is list and len(item) == 4, "state proof shape")
    key, value, leaf, run = item
    value = unshape(value)
    need(is_bytes(key) and (value is None or is_bytes(value)), "key and value")
    key_hash = chash("chainnode/v1/state-key", key)
    if value is not None:
        need(leaf is None, "a present key carries no leaf")
        leaf = key_hash + chash("chainnode/v1/state-value", value)
    else:
        need(leaf is None or is_bytes(leaf, 64), "leaf")
    siblings = hashes(run, 256)
    depth = len(siblings)
    if value is None and leaf is not None:
        need(leaf[:32] != key_hash, "absent key's leaf holds it")
        need(all(bit(leaf[:32], j) == bit(key_hash, j) for j in range(depth)), "leaf off the path")
    node = bytes(32) if leaf is None else \
        hashlib.sha256(b"chainnode/v1/state-leaf\x00" + leaf[:32] + leaf[32:]).digest()
    for i, sibling in enumerate(siblings):
        j = depth - 1 - i
        pair = sibling + node if bit(key_hash, j) else node + sibling
        node = hashlib.sha256(b"chainnode/v1/state-node\x00" + pair).digest()
    need(node == root, "state path")
    return key, value


def check_tx_payload(h: list[Any], payload: Any) -> list[tuple[int, int, bytes, str]]:
    need(type(payload) is list and len(payload) == 3, "tx payload shape")
    entries, tx_run, result_run = payload
    need(type(entries) is list and entries, "entries")
    tx_leaves, result_leaves, out, previous = {}, {}, [], -1
    for entry in entries:
        need(type(entry) is list and len(entry) == 3 and is_uint(entry[0]), "entry")
        index, tx_bytes, result_bytes = entry
        need(previous < index < h[4] and is_bytes(tx_bytes) and is_bytes(result_bytes), "entry order")
        previous = index
        tx = decode(tx_bytes)
        need(type(tx) is list and len(tx) == 10 and tx[:2] == [1, 1], "transaction")
        chain_id, signer, signature = tx[2], tx[6], tx[9]
        need(is_bytes(signer, 32) and is_bytes(signature, 64), "tx signer")
        body = encode([9, 1, *tx[2:9]])
        need(verify_signature(signer, encode([b"chainnode/v1/sign/tx", chain_id, body]), signature), "tx signature")
        tx_id = chash("chainnode/v1/tx", body)
        result = decode(result_bytes)
        need(type(result) is list and len(result) == 6 and result[:2] == [6, 1], "result")
        need(result[2] == tx_id and type(result[3]) is str, "result of this transaction")
        tx_leaves[index] = hashlib.sha256(b"\x00" + tx_bytes).digest()
        result_leaves[index] = hashlib.sha256(b"\x00" + result_bytes).digest()
        out.append((h[1], index, tx_id, result[3]))
    need(multiproof_root(tx_leaves, h[4], hashes(tx_run, 40 * len(entries) + 40)) == h[5], "tx_root")
    need(multiproof_root(result_leaves, h[4], hashes(result_run, 40 * len(entries) + 40)) == h[6], "results_root")
    return out


def verify(genesis_document: dict[str, Any], data: bytes, trust: dict[str, Any] | None = None) -> dict[str, Any]:
    """Raises Refused; returns {"height", "values": [(key, value)]} or {"height", "txs": [...]}."""
    chain_id = genesis_document["chain_id"]
    bundle = decode(data)
    need(type(bundle) is list and len(bundle) == 4, "bundle shape")
    tag, version, from_height, links = bundle
    need((tag, version) in ((10, 4), (11, 3)), "tag and version")
    need(is_uint(from_height) and type(links) is list and links, "links")
    if from_height == 0:
        trusted, previous, last = genesis_set(genesis_document), None, 0
    else:
        need(trust is not None and trust["height"] == from_height, "trust root")
        assert trust is not None
        trusted, previous, last = trust["validators"], trust["header"], from_height
    values: list[tuple[bytes, bytes | None]] = []
    txs: list[tuple[int, int, bytes, str]] = []
    waiting: list[tuple[list[Any], bytes]] = []  # chained links: (header, block hash)
    for position, link in enumerate(links):
        need(type(link) is list and len(link) == 5, "link shape")
        h, rnd, sigs, vals, payload = link
        need(header_fields_ok(h) and h[0] == chain_id and h[1] > last, "header")
        need(is_uint(rnd) and rnd <= 2**31 and type(sigs) is list, "commit")
        following = links[position + 1] if position + 1 < len(links) else None
        chained = (payload is not None and vals is None and type(following) is list and len(following) == 5
                   and following[3] is None and type(following[0]) is list and following[0][1:2] == [h[1] + 1])
        if chained:
            need(sigs == [] and rnd == 0, "a chained link carries no commit")
            need(h[9] == set_hash(trusted), "chained link of the trusted set")
            need(tag == 11, "state payload on the last link")
            txs.extend(check_tx_payload(h, payload))
            waiting.append((h, chash("chainnode/v1/block", encode([2, 1, *h]))))
            last = h[1]
            continue
        need(sigs != [], "a link that is not chained carries a commit")
        if vals is None:
            need(h[9] == set_hash(trusted), "signed by the trusted set")
            signers = trusted
        else:
            signers = check_set(vals)
            need(set_hash(signers) == h[9] and h[9] != set_hash(trusted), "carried set")
        block_hash = chash("chainnode/v1/block", encode([2, 1, *h]))
        message = encode([b"chainnode/v1/sign/vote", chain_id, encode([5, 1, 2, h[1], rnd, block_hash])])
        trusted_power = {v[1]: v[2] for v in trusted}
        power, overlap, each, prev_index = 0, 0, [], -1
        for sig in sigs:
            need(type(sig) is list and len(sig) == 2 and is_uint(sig[0]) and is_bytes(sig[1], 64), "signature shape")
            need(prev_index < sig[0] < len(signers), "signature order")
            prev_index = sig[0]
            validator = signers[sig[0]]
            need(verify_signature(validator[1], message, sig[1]), "commit signature")
            power += validator[2]
            overlap += trusted_power.get(validator[1], 0)
            each.append((validator[2], trusted_power.get(validator[1], 0)))
        total = sum(v[2] for v in signers)
        total_trusted = sum(v[2] for v in trusted)
        need(3 * power > 2 * total, "two thirds")
        adjacent = previous is not None and h[1] == previous[1] + 1 and previous[10] == h[9]
        skip = signers is not trusted and not adjacent
        need(not skip or 3 * overlap > total_trusted, "one third of the trusted power")
        for own, theirs in each:
            need(not (3 * (power - own) > 2 * total and (not skip or 3 * (overlap - theirs) > total_trusted)),
                 "minimal commit")
        expected = h[3]
        for earlier, earlier_hash in reversed(waiting):
            need(earlier_hash == expected, "prev_hash chain")
            expected = earlier[3]
        waiting = []
        if payload is None:
            need(vals is not None or (type(following) is list and len(following) == 5 and following[3] is not None
                                      and type(following[0]) is list and following[0][1:2] == [h[1] + 1]),
                 "hop moves trust")
            need(following is not None, "ends with a payload")
        elif tag == 10:
            need(position == len(links) - 1, "state payload on the last link")
            need(type(payload) is list and 1 <= len(payload) <= 16, "state payload")
            values = [check_state_proof(h[7], item) for item in payload]
        else:
            txs.extend(check_tx_payload(h, payload))
        trusted, previous, last = signers, h, h[1]
    return {"height": last, "values": values, "txs": txs}
