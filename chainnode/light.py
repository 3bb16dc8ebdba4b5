"""What a verifier runs offline: check headers, commits and Merkle proofs against genesis alone.

A proof bundle is a short chain of **links**, each a block header with a commit that finalises it, ending
at the block that holds the fact: a state value (or its absence) under `state_root`, or transactions and
their results under `tx_root` and `results_root`. The verifier starts from a trust root (the genesis
validator set, or a newer set it saved from a bundle it verified before) and walks the links in height
order. A link signed by the set it trusts is checked against that set. A link signed by another set carries
that set, and is accepted when the trusted validators who signed it hold more than one third of the
trusted power (skipping verification, as light clients of Tendermint do) or when the previous link names
the set as its `next_validators_hash` one height before; either way more than two thirds of the new set
must have signed. So a bundle carries only the hops where the trusted signers fall short, not every
validator-set change since genesis. The exact bytes and rules are in docs/proofs.md.

Each proof has exactly one encoding: fields have fixed positions and types, a link carries a validator set
only when it differs from the trusted one, a commit carries no signature it could do without, the Merkle
paths consume exactly their hashes, and a link without a payload is a hop that is needed as written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import msgpack

from chainnode import codec, crypto
from chainnode.block import (
    TAG_HEADER,
    VERSION,
    BlockHeader,
    Commit,
    CommitSignature,
    header_from_fields,
    validate_commit,
)
from chainnode.codec import Value
from chainnode.crypto import HASH_SIZE, SIGNATURE_SIZE
from chainnode.errors import ChainError, CorruptStore, InvalidCommit, InvalidField, InvalidInput, InvalidProof
from chainnode.genesis import Genesis
from chainnode.merkle import compute_multiproof_root, leaf_hash
from chainnode.results import TxResult, decode_result
from chainnode.state_tree import (
    KEY_BITS,
    StateProof,
    compute_key_hash,
    compute_value_hash,
    verify_state_proof,
)
from chainnode.tx import Transaction, decode_transaction
from chainnode.validators import MAX_VALIDATORS, Validator, ValidatorSet

TAG_STATE_BUNDLE: Final = 10
TAG_TX_BUNDLE: Final = 11
STATE_BUNDLE_VERSION: Final = 4
TX_BUNDLE_VERSION: Final = 3
"""State bundles 1-3 and transaction bundles 1-2 replayed every validator-set change; they are refused."""
MAX_BUNDLE_BYTES: Final = 32 * 1024 * 1024
"""A history page of thousands of events is one bundle; a single fact is a few kilobytes."""
MAX_LINKS: Final = 20_000
MAX_STATE_PROOFS: Final = 16
MAX_TXS_PER_LINK: Final = 100_000
MAX_KEY_BYTES: Final = 1024
MAX_VALUE_BYTES: Final = 1 << 20
MAX_TX_BYTES: Final = 1 << 20
PARALLEL_SIGNATURES: Final = 128
"""From this many signatures in a bundle on, they are checked on every core (libsodium releases the GIL)."""
TRUST_FILE_KIND: Final = "chainnode-trust"
TRUST_FILE_VERSION: Final = 1


# --- the parts of a bundle -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TxEntry:
    """One transaction of a block and its result, at `index`."""

    index: int
    tx_bytes: bytes
    result_bytes: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TxPayload:
    """Transactions of one block with the multiproofs of their leaves under tx_root and results_root."""

    entries: tuple[TxEntry, ...]
    tx_proof: tuple[bytes, ...]
    result_proof: tuple[bytes, ...]

    def fields(self) -> list[Value]:
        return [[[e.index, e.tx_bytes, e.result_bytes] for e in self.entries],
                b"".join(self.tx_proof), b"".join(self.result_proof)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """A block header and the commit that finalises it; `validators` is the set that signed it when that set
    is not the one trusted before this link; `payload` is what the bundle proves in this block (None for a
    hop that only moves trust forward)."""

    header: BlockHeader
    commit: Commit
    validators: ValidatorSet | None = None
    payload: tuple[StateProof, ...] | TxPayload | None = None

    def fields(self) -> list[Value]:
        payload: Value = None
        if isinstance(self.payload, TxPayload):
            payload = self.payload.fields()
        elif self.payload is not None:
            payload = [_state_proof_fields(p) for p in self.payload]
        return [
            self.header.fields(),
            self.commit.round,
            [[s.validator_index, s.signature] for s in self.commit.signatures],
            None if self.validators is None else [v.fields() for v in self.validators.validators],
            payload,
        ]


VALUE_SHAPES: Final[tuple[tuple[str, ...], ...]] = (
    # 0: a certificate record (contracts/certificates.py)
    ("actions", "case_id", "cert_id", "cert_type", "content_hash", "holder_ref", "issued_height", "issued_ms",
     "issuer", "issuer_officer", "issuer_officer_name", "materials", "metadata", "previous_version", "revoked",
     "revoked_height", "revoked_ms", "revoked_reason", "suspended", "suspended_reason", "tx_id", "updated_height",
     "updated_ms", "valid_from_ms", "valid_until_ms", "version"),
    # 1: a member's roster record (contracts/governance.py)
    ("department", "name", "periods", "public_key", "revoked_reason", "rotated_from", "rotated_to"),
)
"""Key sets of the records a certificate proof carries. A proven value that is a map with exactly one of
these key sets travels as [shape, its values' encodings in key order], without the key strings (about 370
bytes less for a certificate and its officer); the verifier splices the keys back. Append only: a shape's
index never changes meaning."""
_SHAPE_OF: Final = {frozenset(keys): index for index, keys in enumerate(VALUE_SHAPES)}


def _map_header(count: int) -> bytes:
    return bytes([0x80 | count]) if count < 16 else b"\xde" + count.to_bytes(2, "big")


def _map_keys(value: bytes) -> frozenset[str] | None:
    """The keys of a value that is a map with string keys, else None."""
    try:
        decoded = msgpack.unpackb(value, raw=False, strict_map_key=True)
    except Exception:  # any malformed value is simply not a map: its hash decides the rest
        return None
    if type(decoded) is not dict or not all(type(k) is str for k in decoded):
        return None
    return frozenset(decoded)


def shape_value(value: bytes) -> Value:
    """The carried form of a proven value: [shape, values] when its keys are a shape's, else the bytes."""
    keys = _map_keys(value)
    shape = None if keys is None else _SHAPE_OF.get(keys)
    if shape is None:
        return value
    unpacker = msgpack.Unpacker(max_buffer_size=len(value) + 1)
    unpacker.feed(value)
    unpacker.read_map_header()
    parts = []
    for _ in VALUE_SHAPES[shape]:
        unpacker.skip()  # the key
        start = unpacker.tell()
        unpacker.skip()
        parts.append(value[start:unpacker.tell()])
    return [shape, b"".join(parts)]


def unshape_value(carried: Value) -> bytes:
    """The value's canonical bytes from its carried form. Raises InvalidProof for a shape that does not
    split into exactly its keys' values, or for plain bytes that should have been carried shaped."""
    if type(carried) is bytes:
        if len(carried) > MAX_VALUE_BYTES:
            raise InvalidProof(f"a proven value is at most {MAX_VALUE_BYTES} bytes", field="value")
        keys = _map_keys(carried)
        if keys is not None and keys in _SHAPE_OF:
            raise InvalidProof(f"a value with the keys of shape {_SHAPE_OF[keys]} is carried as that shape; its one "
                               "encoding omits the keys", field="value")
        return carried
    parts = codec.want_list(carried, "value", max_len=2)
    if len(parts) != 2:
        raise InvalidProof("a shaped value is [shape, values]", field="value")
    shape = codec.want_int(parts[0], "shape", hi=len(VALUE_SHAPES) - 1)
    packed = codec.want_bytes(parts[1], "values", max_size=MAX_VALUE_BYTES)
    names = VALUE_SHAPES[shape]
    unpacker = msgpack.Unpacker(max_buffer_size=len(packed) + 1)
    unpacker.feed(packed)
    out = [_map_header(len(names))]
    start = 0
    try:
        for key in names:
            unpacker.skip()
            end = unpacker.tell()
            out += [msgpack.packb(key, use_bin_type=True), packed[start:end]]
            start = end
    except Exception as exc:  # out of data, a malformed item, nesting too deep
        raise InvalidProof(f"the values of shape {shape} are not {len(names)} encoded items", field="value") from exc
    if start != len(packed):
        raise InvalidProof(f"the values of shape {shape} hold more than {len(names)} items", field="value")
    return b"".join(out)


def _state_proof_fields(proof: StateProof) -> list[Value]:
    # the leaf of a present key is its key hash and value hash: derived, so not carried
    leaf = None if proof.value is not None else proof.leaf
    value = None if proof.value is None else shape_value(proof.value)
    return [proof.key, value, leaf, b"".join(proof.siblings)]


@dataclass(frozen=True, slots=True, kw_only=True)
class StateValueBundle:
    """Proof that state keys held values (or were absent) after the last link's block."""

    from_height: int
    """The trust root the links start from: 0 for the genesis validator set, else a trusted header's height."""
    links: tuple[Link, ...]

    @property
    def header(self) -> BlockHeader:
        return self.links[-1].header

    @property
    def proofs(self) -> tuple[StateProof, ...]:
        payload = self.links[-1].payload
        assert isinstance(payload, tuple)
        return payload

    @property
    def proof(self) -> StateProof:
        return self.proofs[0]

    def encode(self) -> bytes:
        return codec.encode_object(TAG_STATE_BUNDLE, STATE_BUNDLE_VERSION,
                                   [self.from_height, [link.fields() for link in self.links]])


@dataclass(frozen=True, slots=True, kw_only=True)
class TxBundle:
    """Proof that transactions were committed, where, and with what result: one or many blocks."""

    from_height: int
    links: tuple[Link, ...]

    @property
    def header(self) -> BlockHeader:
        return self.links[-1].header

    def encode(self) -> bytes:
        return codec.encode_object(TAG_TX_BUNDLE, TX_BUNDLE_VERSION,
                                   [self.from_height, [link.fields() for link in self.links]])


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustRoot:
    """What a verifier trusts: the genesis validator set (height 0), or the set that signed a header it
    verified before, with that header."""

    chain_id: str
    genesis_hash: bytes
    height: int
    header: BlockHeader | None
    validators: ValidatorSet

    @classmethod
    def of_genesis(cls, genesis: Genesis) -> TrustRoot:
        return cls(chain_id=genesis.chain_id, genesis_hash=genesis.hash, height=0, header=None,
                   validators=genesis.validator_set())

    def to_json(self) -> dict[str, Any]:
        """The trust file (`--trust-out`): JSON, with the header and set in their canonical bytes (hex)."""
        assert self.header is not None
        return {
            "kind": TRUST_FILE_KIND, "version": TRUST_FILE_VERSION, "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash.hex(), "height": self.height,
            "block_hash": self.header.compute_hash().hex(), "header": self.header.encode().hex(),
            "validators": self.validators.encode().hex(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedState:
    height: int
    time_ms: int
    block_hash: bytes
    key: bytes
    value: bytes | None
    trust: TrustRoot | None = None
    """The trust root after this bundle: its proven block and the set that signed it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedTx:
    height: int
    time_ms: int
    block_hash: bytes
    index: int
    tx: Transaction
    result: TxResult


# --- decoding --------------------------------------------------------------------------------------------


def _hashes(data: bytes, field: str, max_count: int) -> tuple[bytes, ...]:
    if len(data) % HASH_SIZE or len(data) > max_count * HASH_SIZE:
        raise InvalidField(f"{field} is a run of at most {max_count} hashes of {HASH_SIZE} bytes", field=field)
    return tuple(data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE))


def _decode_validators(value: Value) -> ValidatorSet:
    validators = []
    for item in codec.want_list(value, "validators", max_len=MAX_VALIDATORS):
        entry = codec.want_list(item, "validator", max_len=3)
        if len(entry) != 3:
            raise InvalidField("a validator is [department, public_key, power]", field="validators")
        validators.append(Validator(department=entry[0], public_key=entry[1], power=entry[2]))
    return ValidatorSet(tuple(validators))


def _decode_state_proof(value: Value) -> StateProof:
    parts = codec.want_list(value, "state proof", max_len=4)
    if len(parts) != 4:
        raise InvalidField("a state proof is [key, value, leaf, siblings]", field="proofs")
    key = codec.want_bytes(parts[0], "key", max_size=MAX_KEY_BYTES)
    proven = None if parts[1] is None else unshape_value(parts[1])
    if proven is not None:
        if parts[2] is not None:
            raise InvalidProof("a proof of a present key carries no leaf: it is the key hash and the value hash",
                               field="leaf")
        leaf: bytes | None = compute_key_hash(key) + compute_value_hash(proven)
    else:
        leaf = None if parts[2] is None else codec.want_bytes(parts[2], "leaf", size=2 * HASH_SIZE)
    siblings = _hashes(codec.want_bytes(parts[3], "siblings", max_size=KEY_BITS * HASH_SIZE), "siblings", KEY_BITS)
    return StateProof(key=key, value=proven, leaf=leaf, siblings=siblings)


def _decode_tx_payload(value: Value) -> TxPayload:
    parts = codec.want_list(value, "transactions", max_len=3)
    if len(parts) != 3:
        raise InvalidField("a block's transactions are [entries, tx_proof, result_proof]", field="transactions")
    entries = []
    for item in codec.want_list(parts[0], "entries", max_len=MAX_TXS_PER_LINK):
        entry = codec.want_list(item, "entry", max_len=3)
        if len(entry) != 3:
            raise InvalidField("a transaction entry is [index, tx, result]", field="entries")
        entries.append(TxEntry(index=codec.want_int(entry[0], "index", hi=MAX_TXS_PER_LINK),
                               tx_bytes=codec.want_bytes(entry[1], "tx", max_size=MAX_TX_BYTES),
                               result_bytes=codec.want_bytes(entry[2], "result", max_size=MAX_TX_BYTES)))
    if not entries:
        raise InvalidProof("a block's transaction payload names at least one transaction", field="entries")
    bound = 2 * 17 * len(entries) + 34
    return TxPayload(entries=tuple(entries),
                     tx_proof=_hashes(codec.want_bytes(parts[1], "tx_proof", max_size=bound * HASH_SIZE),
                                      "tx_proof", bound),
                     result_proof=_hashes(codec.want_bytes(parts[2], "result_proof", max_size=bound * HASH_SIZE),
                                          "result_proof", bound))


def _decode_link(value: Value, tag: int) -> Link:
    parts = codec.want_list(value, "link", max_len=5)
    if len(parts) != 5:
        raise InvalidField("a link is [header, round, signatures, validators, payload]", field="links")
    header = header_from_fields([TAG_HEADER, VERSION, *codec.want_list(parts[0], "header", max_len=12)])
    signatures = []
    for item in codec.want_list(parts[2], "signatures", max_len=MAX_VALIDATORS):
        pair = codec.want_list(item, "signature", max_len=2)
        if len(pair) != 2:
            raise InvalidField("a commit signature is [validator_index, signature]", field="signatures")
        signatures.append(CommitSignature(validator_index=codec.want_int(pair[0], "validator_index", hi=1023),
                                          signature=codec.want_bytes(pair[1], "signature", size=SIGNATURE_SIZE)))
    commit = Commit(height=header.height, round=codec.want_int(parts[1], "round", hi=2**31),
                    block_hash=header.compute_hash(), signatures=tuple(signatures))
    validators = None if parts[3] is None else _decode_validators(parts[3])
    if not signatures and (commit.round != 0 or validators is not None or parts[4] is None):
        raise InvalidProof(f"block {header.height} carries no commit; such a link is [header, 0, [], nil, payload]",
                           field="signatures")
    payload: tuple[StateProof, ...] | TxPayload | None = None
    if parts[4] is not None:
        if tag == TAG_STATE_BUNDLE:
            proofs = codec.want_list(parts[4], "proofs", max_len=MAX_STATE_PROOFS)
            if not proofs:
                raise InvalidProof("a state payload proves at least one key", field="proofs")
            payload = tuple(_decode_state_proof(p) for p in proofs)
        else:
            payload = _decode_tx_payload(parts[4])
    return Link(header=header, commit=commit, validators=validators, payload=payload)


def decode_bundle(data: bytes) -> StateValueBundle | TxBundle:
    """Decode either kind of bundle. Raises InvalidProof for anything malformed or in an older version."""
    try:
        value = codec.decode(data, max_size=MAX_BUNDLE_BYTES)
        if type(value) is not list or len(value) < 2:
            raise InvalidField("a proof bundle is an array [tag, version, ...]")
        tag, version = value[0], value[1]
        if (tag, version) in ((TAG_STATE_BUNDLE, 1), (TAG_STATE_BUNDLE, 2), (TAG_STATE_BUNDLE, 3),
                              (TAG_TX_BUNDLE, 1), (TAG_TX_BUNDLE, 2)):
            raise InvalidProof(f"proof bundle version {version} is of an older release, which replayed every "
                               "validator-set change; ask a node for a new proof")
        if tag not in (TAG_STATE_BUNDLE, TAG_TX_BUNDLE):
            raise InvalidProof(f"tag {tag!r} is not a proof bundle (10: state values, 11: transactions)")
        want = STATE_BUNDLE_VERSION if tag == TAG_STATE_BUNDLE else TX_BUNDLE_VERSION
        fields = codec.check_object(value, tag=tag, version=want, n_fields=2, what="proof bundle")
        from_height = codec.want_int(fields[0], "from_height", hi=2**63 - 1)
        raw_links = codec.want_list(fields[1], "links", max_len=MAX_LINKS)
        links = tuple(_decode_link(link, tag) for link in raw_links)
        if not links or links[-1].payload is None:
            raise InvalidProof("a bundle ends with the link whose block holds what it proves", field="links")
        if tag == TAG_STATE_BUNDLE:
            if any(link.payload is not None for link in links[:-1]):
                raise InvalidProof("a state bundle proves values of one block: only its last link has a payload",
                                   field="links")
            return StateValueBundle(from_height=from_height, links=links)
        return TxBundle(from_height=from_height, links=links)
    except InvalidProof:
        raise
    except InvalidInput as exc:
        raise InvalidProof(f"malformed proof: {exc.message}", field=exc.field) from exc


# --- verification ----------------------------------------------------------------------------------------


def load_trust(document: Any, genesis: Genesis) -> TrustRoot:
    """A trust root from a trust file's JSON (`TrustRoot.to_json`). Raises InvalidProof naming the problem:
    another chain or genesis, a malformed header or set, a set that did not sign the header."""
    if type(document) is not dict or document.get("kind") != TRUST_FILE_KIND:
        raise InvalidProof(f"not a trust file (expected kind {TRUST_FILE_KIND!r})", field="kind")
    if document.get("version") != TRUST_FILE_VERSION:
        raise InvalidProof(f"trust file version {document.get('version')!r} is not {TRUST_FILE_VERSION}",
                           field="version")
    if document.get("chain_id") != genesis.chain_id or document.get("genesis_hash") != genesis.hash.hex():
        raise InvalidProof(f"the trust file is for chain {document.get('chain_id')!r} with another genesis, not "
                           f"{genesis.chain_id!r} of this genesis file", field="genesis_hash")
    try:
        header = header_from_fields(codec.decode(bytes.fromhex(str(document.get("header"))), max_size=4096))
        validators_value = codec.decode(bytes.fromhex(str(document.get("validators"))), max_size=1 << 20)
        (inner,) = codec.check_object(validators_value, tag=8, version=1, n_fields=1, what="validator set")
        validators = _decode_validators(inner)
    except (ValueError, ChainError) as exc:
        raise InvalidProof(f"the trust file's header or validator set is malformed: {exc}") from exc
    if header.chain_id != genesis.chain_id or header.height != document.get("height") \
            or validators.compute_hash() != header.validators_hash:
        raise InvalidProof("the trust file's validator set did not sign its header, or its height is not the "
                           "header's", field="validators")
    return TrustRoot(chain_id=genesis.chain_id, genesis_hash=genesis.hash, height=header.height, header=header,
                     validators=validators)


def read_trust_file(text: str, genesis: Genesis) -> TrustRoot:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidProof(f"the trust file is not JSON: {exc}") from exc
    return load_trust(document, genesis)


def trust_root(genesis: Genesis, from_height: int, trust: TrustRoot | None) -> TrustRoot:
    """The root a bundle starts from: genesis (height 0) or the verifier's saved trust of that height."""
    if from_height == 0:
        return TrustRoot.of_genesis(genesis)
    if trust is not None and trust.height == from_height:
        return trust
    held = "genesis only" if trust is None else f"a trust root at height {trust.height}"
    raise InvalidProof(f"the proof starts from a trust root at height {from_height}, and this verifier holds {held}; "
                       "ask for a proof from genesis or from the height you trust (trusted_height)",
                       field="from_height")


def _signer_power(commit: Commit, signers: ValidatorSet, trusted: ValidatorSet
                  ) -> tuple[int, int, list[tuple[int, int]]]:
    """(power of the signers in their set, power the trusted set gives them, each signature's two powers)."""
    each = []
    for sig in commit.signatures:
        validator = signers.validators[sig.validator_index]
        index = trusted.index_of(validator.public_key)
        each.append((validator.power, 0 if index is None else trusted.validators[index].power))
    return sum(p for p, _ in each), sum(t for _, t in each), each


def is_trusting(trusted_power: int, total: int) -> bool:
    """More than one third of the trusted set's power."""
    return 3 * trusted_power > total


def check_link(trusted: ValidatorSet, previous: BlockHeader | None, link: Link, chain_id: str,
               verify: crypto.Verifier = crypto.verify_signature) -> tuple[bytes, ValidatorSet]:
    """Check one link against the trusted set; return (block hash, the set that signed it).

    Raises InvalidProof naming the failed rule (docs/proofs.md, "Links")."""
    header = link.header
    where = f"block {header.height}"
    if header.chain_id != chain_id:
        raise InvalidProof(f"{where} is of chain {header.chain_id!r}, genesis is {chain_id!r}", field="links")
    trusted_hash = trusted.compute_hash()
    if link.validators is None:
        if header.validators_hash != trusted_hash:
            raise InvalidProof(f"{where} was signed by a validator set other than the trusted one, and the proof "
                               "does not carry that set", field="validators")
        signers = trusted
    else:
        signers = link.validators
        if signers.compute_hash() != header.validators_hash:
            raise InvalidProof(f"the validator set carried for {where} is not the one its header names",
                               field="validators")
        if header.validators_hash == trusted_hash:
            raise InvalidProof(f"{where} carries the validator set it is trusted for; its one encoding omits it",
                               field="validators")
    block_hash = link.commit.block_hash  # the header's hash: decode_bundle computes it once
    try:
        validate_commit(link.commit, chain_id=chain_id, height=header.height, block_hash=block_hash,
                        validators=signers, verify=verify)
    except InvalidCommit as exc:
        raise InvalidProof(f"the commit does not finalise {where}: {exc.message}", field="signatures") from exc
    power, trusted_power, each = _signer_power(link.commit, signers, trusted)
    skipping = signers is not trusted and not (
        previous is not None and header.height == previous.height + 1
        and previous.next_validators_hash == header.validators_hash)
    if skipping and not is_trusting(trusted_power, trusted.total_power):
        raise InvalidProof(f"{where} is signed by a new validator set in which the trusted validators hold "
                           f"{trusted_power} of {trusted.total_power} power, not more than a third; the proof lacks "
                           "a hop between them", field="links")
    # one encoding: no signature can go while the commit still proves what it must
    for own, theirs in each:
        if signers.is_quorum(power - own) and (not skipping or is_trusting(trusted_power - theirs,
                                                                             trusted.total_power)):
            raise InvalidProof(f"the commit of {where} carries a signature it does not need; a proof's commit is "
                               "minimal", field="signatures")
    return block_hash, signers


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedLink:
    link: Link
    block_hash: bytes


def _preverified(chain_id: str, root: ValidatorSet, links: Sequence[Link]) -> crypto.Verifier:
    """For a bundle with many commit signatures: check them all at once on every core, before the walk, and
    return the lookup the walk's commit checks use (a signature not in the batch is checked there). Each
    link's signer set is the one it carries, else the one before it: the walk checks that later."""
    batch: list[Signed] = []
    signers = root
    for link in links:
        signers = signers if link.validators is None else link.validators
        if link.commit.signatures:
            message = link.commit.precommit().compute_signing_bytes(chain_id)
            batch.extend((signers.validators[sig.validator_index].public_key, message, sig.signature)
                         for sig in link.commit.signatures if sig.validator_index < len(signers))
    if len(batch) < PARALLEL_SIGNATURES:
        return crypto.verify_signature
    good = {item for item, ok in zip(batch, _verify_many(batch), strict=True) if ok}
    return lambda public_key, message, signature: ((public_key, message, signature) in good
                                                  or crypto.verify_signature(public_key, message, signature))


def is_chained(links: Sequence[Link], i: int) -> bool:
    """Whether link `i` is proven by the next link's `prev_hash` instead of a commit of its own: it holds a
    payload, is signed by the set trusted before it, and the next link is the block right above it, signed by
    the same set. Such a link carries no signatures (its one encoding), so a run of consecutive blocks needs
    one commit, at its top."""
    link = links[i]
    after = links[i + 1] if i + 1 < len(links) else None
    return (link.payload is not None and link.validators is None and after is not None
            and after.header.height == link.header.height + 1 and after.validators is None)


def verify_links(genesis: Genesis, from_height: int, links: Sequence[Link], trust: TrustRoot | None = None
                 ) -> tuple[list[VerifiedLink], TrustRoot]:
    """Walk the links from the trust root; return each link with its block hash, and the trust after them."""
    root = trust_root(genesis, from_height, trust)
    trusted, previous, last = root.validators, root.header, root.height
    verify = _preverified(genesis.chain_id, trusted, links)
    verified: list[VerifiedLink] = []
    chained: list[Link] = []  # links waiting for the block above them to prove their hash
    for i, link in enumerate(links):
        height = link.header.height
        if height <= last:
            raise InvalidProof(f"the links are not in increasing height order after {last}", field="links")
        if is_chained(links, i):
            if link.commit.signatures:
                raise InvalidProof(f"block {height} is followed by block {height + 1} of the same validator set; "
                                   "its one encoding carries no commit (the next block's prev_hash proves it)",
                                   field="signatures")
            if link.header.chain_id != genesis.chain_id:
                raise InvalidProof(f"block {height} is of chain {link.header.chain_id!r}, genesis is "
                                   f"{genesis.chain_id!r}", field="links")
            if link.header.validators_hash != trusted.compute_hash():
                raise InvalidProof(f"block {height} was signed by a validator set other than the trusted one, and "
                                   "the proof does not carry that set", field="validators")
            chained.append(link)
            last = height
            continue
        if not link.commit.signatures:
            raise InvalidProof(f"block {height} carries no commit, and the next link is not the block above it "
                               "signed by the same validator set", field="signatures")
        if link.payload is None:
            after = links[i + 1] if i + 1 < len(links) else None
            changes = link.validators is not None or (
                after is not None and after.validators is not None and after.header.height == link.header.height + 1)
            if not changes:
                raise InvalidProof(f"the hop at block {link.header.height} moves no trust: a hop carries a new "
                                   "validator set or precedes the block that does", field="links")
        block_hash, trusted = check_link(trusted, previous, link, genesis.chain_id, verify)
        expected = link.header.prev_hash
        for earlier in reversed(chained):
            if earlier.commit.block_hash != expected:
                raise InvalidProof(f"block {earlier.header.height} is not the block that block "
                                   f"{earlier.header.height + 1} follows (its prev_hash)", field="prev_hash")
            expected = earlier.header.prev_hash
        verified.extend(VerifiedLink(link=earlier, block_hash=earlier.commit.block_hash) for earlier in chained)
        chained.clear()
        previous, last = link.header, height
        verified.append(VerifiedLink(link=link, block_hash=block_hash))
    assert previous is not None
    return verified, TrustRoot(chain_id=genesis.chain_id, genesis_hash=genesis.hash, height=previous.height,
                               header=previous, validators=trusted)


def verify_state_values(genesis: Genesis, bundle: StateValueBundle, trust: TrustRoot | None = None
                        ) -> list[VerifiedState]:
    """Every value the bundle proves, in its order. Raises InvalidProof naming the first check that fails."""
    links, after = verify_links(genesis, bundle.from_height, bundle.links, trust)
    final = links[-1]
    header = final.link.header
    proven = []
    for proof in bundle.proofs:
        verify_state_proof(header.state_root, proof)
        proven.append(VerifiedState(height=header.height, time_ms=header.time_ms, block_hash=final.block_hash,
                                    key=proof.key, value=proof.value, trust=after))
    return proven


def verify_state_bundle(genesis: Genesis, bundle: StateValueBundle, trust: TrustRoot | None = None) -> VerifiedState:
    """The first value the bundle proves. Raises InvalidProof naming the first check that fails."""
    return verify_state_values(genesis, bundle, trust)[0]


def _check_payload(header: BlockHeader, block_hash: bytes, payload: TxPayload) -> list[VerifiedTx]:
    previous = -1
    out = []
    tx_leaves: dict[int, bytes] = {}
    result_leaves: dict[int, bytes] = {}
    for entry in payload.entries:
        if not previous < entry.index < header.tx_count:
            raise InvalidProof(f"block {header.height}'s transaction indexes are not increasing within its "
                               f"{header.tx_count} transactions", field="entries")
        previous = entry.index
        try:
            tx = decode_transaction(entry.tx_bytes)
            result = decode_result(entry.result_bytes)
        except InvalidInput as exc:
            raise InvalidProof(f"malformed transaction or result in block {header.height}: {exc.message}") from exc
        if result.tx_id != tx.tx_id:
            raise InvalidProof(f"the result at index {entry.index} belongs to another transaction", field="result")
        tx_leaves[entry.index] = leaf_hash(entry.tx_bytes)
        result_leaves[entry.index] = leaf_hash(entry.result_bytes)
        out.append(VerifiedTx(height=header.height, time_ms=header.time_ms, block_hash=block_hash,
                              index=entry.index, tx=tx, result=result))
    if compute_multiproof_root(tx_leaves, header.tx_count, payload.tx_proof) != header.tx_root:
        raise InvalidProof(f"the transactions are not in block {header.height}'s tx_root at their indexes",
                           field="tx_proof")
    if compute_multiproof_root(result_leaves, header.tx_count, payload.result_proof) != header.results_root:
        raise InvalidProof(f"the results are not in block {header.height}'s results_root at their indexes",
                           field="result_proof")
    return out


Signed = tuple[bytes, bytes, bytes]
"""(public key, message, signature)"""


def _verify_many(items: Sequence[Signed]) -> list[bool]:
    """Each signature's verdict, in order; on every core when there are many (libsodium releases the GIL)."""
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < PARALLEL_SIGNATURES or workers == 1:
        return [crypto.verify_signature(*item) for item in items]
    from concurrent.futures import ThreadPoolExecutor  # only a verifier of long pages needs threads

    size = -(-len(items) // workers)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    with ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="proof-verify") as pool:
        return [ok for part in pool.map(lambda chunk: [crypto.verify_signature(*item) for item in chunk], chunks)
                for ok in part]


def _check_tx_signatures(proven: Sequence[VerifiedTx]) -> None:
    """Each transaction's own signature: the proof shows its signer signed it, not only that a quorum
    committed it. Raises InvalidProof naming the first transaction, in chain order, whose signature fails."""
    valid = _verify_many([(p.tx.body.signer, p.tx.compute_signing_bytes(), p.tx.signature) for p in proven])
    for p, ok in zip(proven, valid, strict=True):
        if not ok:
            raise InvalidProof(f"the signature of transaction {p.tx.tx_id.hex()} in block {p.height} does not "
                               "verify", field="tx")


def verify_txs(genesis: Genesis, bundle: TxBundle, trust: TrustRoot | None = None
               ) -> tuple[list[VerifiedTx], TrustRoot]:
    """Every transaction the bundle proves, in chain order, and the trust after it. Raises InvalidProof."""
    links, after = verify_links(genesis, bundle.from_height, bundle.links, trust)
    proven: list[VerifiedTx] = []
    for verified in links:
        payload = verified.link.payload
        if payload is not None:
            assert isinstance(payload, TxPayload)
            proven.extend(_check_payload(verified.link.header, verified.block_hash, payload))
    _check_tx_signatures(proven)
    return proven, after


def verify_tx_bundle(genesis: Genesis, bundle: TxBundle, trust: TrustRoot | None = None) -> VerifiedTx:
    """The one transaction a single-transaction bundle proves. Raises InvalidProof."""
    proven, _ = verify_txs(genesis, bundle, trust)
    if len(proven) != 1:
        raise InvalidProof(f"expected a proof of one transaction, this one proves {len(proven)}")
    return proven[0]


# --- building (node side, and tests) ---------------------------------------------------------------------


def minimal_commit(commit: Commit, signers: ValidatorSet, trusted: ValidatorSet | None) -> Commit:
    """The commit with only the signatures a proof needs: more than two thirds of `signers`' power, and, when
    `trusted` is given (a skip), more than one third of the trusted power. The largest powers are kept
    first, then any signature the rest can do without is dropped. The input commit must satisfy both."""
    def weights(sig: CommitSignature) -> tuple[int, int]:
        validator = signers.validators[sig.validator_index]
        index = None if trusted is None else trusted.index_of(validator.public_key)
        return validator.power, 0 if trusted is None or index is None else trusted.validators[index].power

    def enough(chosen: Iterable[CommitSignature]) -> bool:
        pairs = [weights(s) for s in chosen]
        return signers.is_quorum(sum(p for p, _ in pairs)) and (
            trusted is None or is_trusting(sum(t for _, t in pairs), trusted.total_power))

    ranked = sorted(commit.signatures, key=lambda s: (-weights(s)[1], -weights(s)[0], s.validator_index))
    chosen: list[CommitSignature] = []
    for sig in ranked:
        if enough(chosen):
            break
        chosen.append(sig)
    for sig in sorted(chosen, key=lambda s: (weights(s), s.validator_index)):
        rest = [s for s in chosen if s is not sig]
        if enough(rest):
            chosen = rest
    return Commit(height=commit.height, round=commit.round, block_hash=commit.block_hash,
                  signatures=tuple(sorted(chosen, key=lambda s: s.validator_index)))


def can_skip(commit: Commit, signers: ValidatorSet, trusted: ValidatorSet) -> bool:
    """Whether the trusted validators among `commit`'s signers hold more than a third of the trusted power."""
    return is_trusting(_signer_power(commit, signers, trusted)[1], trusted.total_power)


BlockSource = Callable[[int], tuple[BlockHeader, Commit]]
SetSource = Callable[[int], ValidatorSet]


def plan_links(targets: Sequence[tuple[int, Any]], *, from_height: int, root_set: ValidatorSet,
               root_header: BlockHeader | None, change_heights: Sequence[int], block_at: BlockSource,
               set_at: SetSource) -> list[Link]:
    """The links of a bundle for `targets` ([(height, payload)], increasing heights above `from_height`):
    each target block, preceded by the hops that carry trust from the set trusted before it to the set that
    signed it. Greedy: the furthest validator-set period whose last block the trusted signers can vouch for
    (more than a third of the trusted power), else the change one height at a time (the block before a
    change names the next set).

    `change_heights` are the heights at which a new set took effect (ascending); `block_at(h)` gives a
    stored header and commit, `set_at(h)` the set that signs block h.
    """
    links: list[Link] = []
    trusted, previous = root_set, root_header
    last = from_height

    def add(height: int, payload: Any) -> None:
        nonlocal trusted, previous, last
        header, commit = block_at(height)
        signers = set_at(height)
        same = signers.compute_hash() == trusted.compute_hash()
        adjacent = previous is not None and height == previous.height + 1 \
            and previous.next_validators_hash == header.validators_hash
        trimmed = minimal_commit(commit, signers, None if same or adjacent else trusted)
        links.append(Link(header=header, commit=trimmed, validators=None if same else signers, payload=payload))
        trusted, previous, last = (trusted if same else signers), header, height

    for height, payload in targets:
        while True:
            header, commit = block_at(height)
            signers = set_at(height)
            if signers.compute_hash() == trusted.compute_hash() or can_skip(commit, signers, trusted) or (
                    previous is not None and height == previous.height + 1
                    and previous.next_validators_hash == header.validators_hash):
                break
            # the periods strictly between the trusted block and the target: the last block of each
            periods = [h for h in change_heights if last < h <= height]
            ends = [(min(nxt - 1, height - 1)) for nxt in [*periods[1:], height + 1]]
            hop = next((end for start, end in reversed(list(zip(periods, ends, strict=True)))
                        if last < end < height and start <= end
                        and set_at(end).compute_hash() != trusted.compute_hash()
                        and can_skip(block_at(end)[1], set_at(end), trusted)), None)
            if hop is not None:
                add(hop, None)
                continue
            # no period can be vouched for by the trusted signers: walk the next change one height at a time
            trusted_hash = trusted.compute_hash()
            change = next((h for h in change_heights if h > last and set_at(h).compute_hash() != trusted_hash), None)
            if change is None or change > height:
                raise CorruptStore(f"block {height} is signed by a set other than the one trusted at height {last}, "
                                   "but no validator-set change lies between them; run `chainnode check`")
            if change - 1 > last:
                add(change - 1, None)  # signed by the trusted set; names the next set
            if change == height:
                break
            add(change, None)
        add(height, payload)
    for i in range(len(links) - 1):
        if is_chained(links, i):
            link = links[i]
            links[i] = replace(link, commit=Commit(height=link.header.height, round=0,
                                                   block_hash=link.commit.block_hash, signatures=()))
    return links
