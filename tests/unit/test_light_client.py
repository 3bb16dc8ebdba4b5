"""Light-client proofs on a real node's store: links that skip validator-set changes, a bundle size that does
not grow with history, trust roots a verifier saves, and one encoding per proof."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainnode import codec, crypto, light, records
from chainnode.anchor_verify import verify_state_values
from chainnode.block import VOTE_PRECOMMIT, Commit, CommitSignature, Vote
from chainnode.cert_verify import verify_certificate
from chainnode.codec import Value
from chainnode.errors import InvalidProof
from chainnode.home import DepartmentSpec, init_network
from chainnode.node import Node
from chainnode.qr import MAX_QR_BYTES
from chainnode.tx import TxBody, decode_transaction, sign_transaction
from contracts import certificates, governance
from contracts.certificates import compute_cert_id
from tests.nodeproc import anchor_tx

CHAIN = "lc"


class Chain:
    """One running node of a network whose every validator key the test holds: it builds each block and
    signs its commit with every validator of that height, as a quorum would."""

    def __init__(self, node: Node, keys: list[crypto.PrivateKey], officers: list[crypto.PrivateKey]) -> None:
        self.node, self.admin, self.officers = node, officers[0], officers
        self.keys = {k.public_key: k for k in keys}

    def add_key(self) -> crypto.PrivateKey:
        key = crypto.PrivateKey.generate()
        self.keys[key.public_key] = key
        return key

    def tx(self, contract: str, method: str, args: Value, signer: crypto.PrivateKey | None = None) -> bytes:
        key = signer or self.admin
        body = TxBody(chain_id=CHAIN, contract=contract, method=method, args=args, signer=key.public_key,
                      nonce=os.urandom(16), expiry_height=self.node.head_height() + 100)
        return sign_transaction(key, body).raw

    async def block(self, *raws: bytes, signers: set[bytes] | None = None) -> int:
        node = self.node
        if raws:
            await node.submit(list(raws))
        proposed = node.build_proposal(node.take_proposal_txs(), now_ms=node.clock.now_ms())
        height = proposed.block.height
        validators = node.validators_at(height)
        vote = Vote(vote_type=VOTE_PRECOMMIT, height=height, round=0, block_hash=proposed.block_hash)
        message = vote.compute_signing_bytes(CHAIN)
        signatures = tuple(
            CommitSignature(validator_index=i, signature=self.keys[v.public_key].sign(message))
            for i, v in enumerate(validators.validators) if signers is None or v.public_key in signers)
        node.commit_decided(proposed, Commit(height=height, round=0, block_hash=proposed.block_hash,
                                             signatures=signatures))
        await node.announce_commit(proposed)
        for raw in raws:
            result = node.reader.tx_status(decode_transaction(raw).tx_id).result
            assert result is not None and result["code"] == "ok", result
        return height

    async def register_permit(self) -> None:
        """Register the certificate type `permit` (issued by PSB) by proposal, in force from the next block."""
        height = self.node.head_height()
        await self.block(self.tx("governance", "propose", {
            "kind": "register_cert_type", "payload": {"code": "permit", "name": "Permit", "issuers": ["PSB"],
                                                      "validity_days": 3650},
            "deadline_height": height + 50, "effective_height": height + 2}))
        # a proposal passes with more than two thirds of the departments
        await self.block(*(self.tx("governance", "vote", {"proposal_id": 1, "approve": True}, officer)
                           for officer in self.officers[:3]))
        await self.block()

    async def set_validator(self, department: str, key: bytes, power: int) -> int:
        return await self.block(self.tx("testhook", "set_validator",
                                        {"department": department, "public_key": key, "power": power}))

    async def issue_every_verdict(self) -> CertSet:
        """Certificates of type `permit`, one for each verdict a check can give, the expiring one's end passed
        (the node's clock must be a ManualClock)."""
        clock = self.node.clock
        assert isinstance(clock, ManualClock)
        await self.register_permit()

        async def issue(label: str, **extra: int) -> str:
            raw = self.tx("certificates", "issue", {"cert_type": "permit", "holder_ref": crypto.sha256(label.encode()),
                                                    "content_hash": crypto.sha256(label.encode()), **extra})
            await self.block(raw)
            return compute_cert_id(decode_transaction(raw).tx_id)

        now = clock.ms
        certs = CertSet(valid=await issue("valid"), suspended=await issue("suspended"), revoked=await issue("revoked"),
                        expiring=await issue("expiring", valid_until_ms=now + 60_000),
                        later=await issue("later", valid_from_ms=now + 10**9), amended=await issue("v1"))
        await self.block(self.tx("certificates", "suspend", {"cert_id": certs.suspended, "reason": "inspection"}))
        await self.block(self.tx("certificates", "revoke", {"cert_id": certs.revoked, "reason": "fraud"}))
        await self.block(self.tx("certificates", "amend", {"cert_id": certs.amended, "reason": "new address",
                                                           "content_hash": crypto.sha256(b"v2")}))
        clock.ms += 120_000  # the expiring one's end passes
        await self.block()
        return certs


@dataclasses.dataclass(frozen=True)
class CertSet:
    """What `Chain.issue_every_verdict` made: valid (file b"valid"), suspended, revoked, expired, not yet valid,
    and amended (version 1 file b"v1", version 2 file b"v2")."""

    valid: str
    suspended: str
    revoked: str
    expiring: str
    later: str
    amended: str


class ManualClock:
    """Block time that moves only when a test moves it (one second a block otherwise)."""

    def __init__(self) -> None:
        self.ms = 1_900_000_000_000

    def now_ms(self) -> int:
        self.ms += 1000
        return self.ms


def open_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chain]:
    """Four genesis validators (PSB, SAMR, CAB, TAX, power 10 each); only PSB's node runs."""
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "test-hooks")
    codes = ["PSB", "SAMR", "CAB", "TAX"]
    _, homes = init_network([tmp_path / c for c in codes], chain_id=CHAIN,
                            departments=[DepartmentSpec(code=c, name=c) for c in codes],
                            api_ports=[1, 2, 3, 4], p2p_ports=[5, 6, 7, 8], params={"test_hooks": 1})
    node = Node.from_home(homes[0].home, clock=ManualClock())
    try:
        yield Chain(node, [crypto.load_key_file(h.node_key).key for h in homes],
                    [crypto.load_key_file(h.officer_key).key for h in homes])
    finally:
        node.close()


@pytest.fixture
def chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chain]:
    yield from open_chain(tmp_path, monkeypatch)


def reencode(bundle: light.StateValueBundle | light.TxBundle) -> bytes:
    data = bundle.encode()
    assert light.decode_bundle(data) == bundle
    return data


async def test_a_genesis_signed_block_needs_one_link_and_no_set(chain: Chain) -> None:
    raw = anchor_tx(chain.admin, CHAIN, "first")
    await chain.block(raw)
    bundle = chain.node.reader.tx_bundle(decode_transaction(raw).tx_id)
    assert bundle.from_height == 0 and len(bundle.links) == 1 and bundle.links[0].validators is None
    assert len(bundle.links[0].commit.signatures) == 3  # of four signatures, three are more than two thirds
    proven = light.verify_tx_bundle(chain.node.genesis, light.decode_bundle(reencode(bundle)))  # type: ignore[arg-type]
    assert proven.tx.tx_id == decode_transaction(raw).tx_id and proven.result.code == "ok"


async def test_replacing_every_genesis_validator_one_by_one_needs_few_hops(chain: Chain) -> None:
    """Each genesis validator is replaced by a new department, one change at a time (eight changes). The
    bundle of the last block carries only the hops where the trusted signers fall short: two links, not
    eight, and a verifier checks it from genesis."""
    genesis = chain.node.genesis
    changes = 0
    for validator in genesis.validator_set().validators:
        await chain.set_validator(f"N{changes}", chain.add_key().public_key, 10)
        await chain.set_validator(validator.department, validator.public_key, 0)
        changes += 2
    raw = anchor_tx(chain.admin, CHAIN, "after")
    await chain.block(raw)
    await chain.block()
    final = chain.node.validators_at(chain.node.head_height())
    assert not {v.public_key for v in final.validators} & {v.public_key for v in genesis.validator_set().validators}
    bundle = chain.node.reader.tx_bundle(decode_transaction(raw).tx_id)
    assert changes == 8 and 2 <= len(bundle.links) <= 3, [link.header.height for link in bundle.links]
    assert all(link.validators is not None for link in bundle.links)
    light.verify_tx_bundle(genesis, light.decode_bundle(reencode(bundle)))  # type: ignore[arg-type]
    # without the hop, the genesis validators hold nothing of the final set: refused, naming the gap
    with pytest.raises(InvalidProof, match="lacks a hop"):
        light.verify_tx_bundle(genesis, dataclasses.replace(bundle, links=bundle.links[-1:]))


async def test_a_set_replaced_at_once_is_followed_one_height_at_a_time(chain: Chain) -> None:
    """Three of four validators replaced in one block: no skip can vouch for the new set, so the bundle
    carries the block before the change (signed by the old set, naming the new one) and the first block
    of the new set."""
    genesis = chain.node.genesis
    old = genesis.validator_set().validators
    raws = [chain.tx("testhook", "set_validator", {"department": f"R{i}", "public_key": chain.add_key().public_key,
                                                   "power": 100}) for i in range(3)]
    raws += [chain.tx("testhook", "set_validator", {"department": v.department, "public_key": v.public_key,
                                                    "power": 0}) for v in old[1:]]
    queued = await chain.block(*raws)
    for _ in range(4):
        await chain.block()
    raw = anchor_tx(chain.admin, CHAIN, "late")
    await chain.block(raw)
    bundle = chain.node.reader.tx_bundle(decode_transaction(raw).tx_id)
    heights = [link.header.height for link in bundle.links]
    assert heights[:2] == [queued + 1, queued + 2] and bundle.links[0].validators is None
    light.verify_tx_bundle(genesis, light.decode_bundle(reencode(bundle)))  # type: ignore[arg-type]


async def test_proof_size_stays_within_one_qr_code_after_100_set_changes(chain: Chain) -> None:
    """100 validator-set changes (four departments join, then powers change) and 50 actions on one
    certificate: its proof with the issuing officer's roster record, one skip from genesis and from a trust
    root saved halfway, fits one binary QR code (2,953 bytes)."""
    node = chain.node
    await chain.register_permit()
    issue = chain.tx("certificates", "issue", {"cert_type": "permit", "holder_ref": crypto.sha256(b"holder"),
                                               "content_hash": crypto.sha256(b"permit v1")})
    await chain.block(issue)
    cert_id = compute_cert_id(decode_transaction(issue).tx_id)

    joined = [chain.add_key() for _ in range(4)]
    changes, midway = 0, 0
    for i, key in enumerate(joined):
        await chain.set_validator(f"D{i}", key.public_key, 10)
        changes += 1
    members = [*chain.node.genesis.validator_set().validators]
    while changes < 100:
        target = members[changes % len(members)]
        await chain.set_validator(target.department, target.public_key, 5 + changes % 11)
        changes += 1
        if changes == 50:
            midway = node.head_height()
    for action in range(50):
        method = "suspend" if action % 2 == 0 else "reinstate"
        await chain.block(chain.tx("certificates", method, {"cert_id": cert_id, "reason": f"check {action}"}))
    await chain.block()

    genesis = node.genesis
    keys = [certificates.cert_key(cert_id), governance.member_key(chain.admin.public_key)]
    bundle = node.reader.state_values_bundle(keys)
    data = reencode(bundle)
    assert len(bundle.links) == 1 and len(data) <= MAX_QR_BYTES, len(data)
    verified = verify_certificate(genesis, cert_id, data)
    assert verified.verdict == "VALID" and verified.trust is not None

    # a verifier that saved its trust halfway gets a bundle from there
    from_midway = node.reader.state_values_bundle(keys, trusted_height=midway)
    trust = light.TrustRoot(chain_id=CHAIN, genesis_hash=genesis.hash, height=midway,
                            header=node.reader.get_header_commit(midway)[0], validators=node.validators_at(midway))
    data = reencode(from_midway)
    assert from_midway.from_height == midway and len(data) <= MAX_QR_BYTES
    assert verify_certificate(genesis, cert_id, data, trust=trust).ok
    with pytest.raises(InvalidProof, match="trust root at height"):
        verify_certificate(genesis, cert_id, data)  # a verifier holding genesis alone cannot start there


async def test_a_saved_trust_root_round_trips_and_is_checked(chain: Chain) -> None:
    raw = anchor_tx(chain.admin, CHAIN, "t")
    await chain.block(raw)
    genesis = chain.node.genesis
    proven = verify_state_values(genesis, chain.node.reader.state_bundle(b"consensus/test_hooks").encode())[0]
    assert proven.trust is not None
    document = proven.trust.to_json()
    assert light.load_trust(document, genesis) == proven.trust
    for field, value in (("genesis_hash", "00" * 32), ("height", document["height"] + 1), ("kind", "other"),
                         ("validators", genesis.validator_set().encode()[:-1].hex())):
        with pytest.raises(InvalidProof):
            light.load_trust({**document, field: value}, genesis)


def _links(data: bytes) -> list[Any]:
    value = codec.decode(data, max_size=light.MAX_BUNDLE_BYTES)
    assert isinstance(value, list)
    return value


async def test_each_proof_has_exactly_one_encoding(chain: Chain) -> None:
    """A genuine bundle rewritten in any other form that a lax verifier might accept is refused: an older
    version, a field added, a set carried that is already trusted, an extra signature, a hop that moves no
    trust, a leaf carried for a present key, a multiproof with a hash more or less."""
    genesis = chain.node.genesis
    raw = anchor_tx(chain.admin, CHAIN, "one")
    await chain.block(raw, anchor_tx(chain.admin, CHAIN, "two"))
    await chain.block()
    tx = chain.node.reader.tx_bundle(decode_transaction(raw).tx_id)
    state = chain.node.reader.state_bundle(b"consensus/test_hooks")
    full_commit = chain.node.reader.get_header_commit(tx.header.height)[1]
    link = tx.links[0]
    payload = link.payload
    assert isinstance(payload, light.TxPayload)
    proof = state.proof
    variants: dict[str, bytes] = {
        "tx as an older version": codec.encode([11, 2, *_links(tx.encode())[2:]]),
        "state as an older version": codec.encode([10, 3, *_links(state.encode())[2:]]),
        "a field added": codec.encode([*_links(tx.encode()), []]),
        "the trusted set carried": dataclasses.replace(
            tx, links=(dataclasses.replace(link, validators=genesis.validator_set()),)).encode(),
        "every signature": dataclasses.replace(
            tx, links=(dataclasses.replace(link, commit=dataclasses.replace(link.commit,
                                                                          signatures=full_commit.signatures)),)).encode(),
        "a hop that moves no trust": dataclasses.replace(
            tx, links=(dataclasses.replace(chain.node.reader.links_for([(1, None)])[0], payload=None), link)).encode(),
        "a multiproof with a hash more": dataclasses.replace(
            tx, links=(dataclasses.replace(link, payload=dataclasses.replace(
                payload, tx_proof=(*payload.tx_proof, bytes(32)))),)).encode(),
        "a multiproof with a hash less": dataclasses.replace(
            tx, links=(dataclasses.replace(link, payload=dataclasses.replace(
                payload, result_proof=payload.result_proof[:-1])),)).encode(),
    }
    leaf_fields = [proof.key, proof.value, proof.leaf, b"".join(proof.siblings)]
    state_fields = _links(state.encode())
    state_fields[3][0][4] = [leaf_fields]
    variants["a leaf carried for a present key"] = codec.encode(state_fields)
    for name, data in variants.items():
        with pytest.raises(InvalidProof):
            bundle = light.decode_bundle(data)
            if isinstance(bundle, light.TxBundle):
                light.verify_txs(genesis, bundle)
            else:
                light.verify_state_values(genesis, bundle)
            pytest.fail(f"{name} verifies")


async def test_an_altered_byte_or_another_chain_is_refused(chain: Chain, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    raw = anchor_tx(chain.admin, CHAIN, "x")
    await chain.block(raw)
    data = chain.node.reader.tx_bundle(decode_transaction(raw).tx_id).encode()
    genesis = chain.node.genesis
    for position in range(0, len(data), 7):
        altered = bytearray(data)
        altered[position] ^= 0x01
        with pytest.raises(InvalidProof):
            light.verify_txs(genesis, light.decode_bundle(bytes(altered)))  # type: ignore[arg-type]
    _, others = init_network([tmp_path / "other"], chain_id=CHAIN, departments=[DepartmentSpec(code="PSB", name="P")],
                             api_ports=[9], p2p_ports=[10])
    other = Node.from_home(others[0].home)
    try:
        with pytest.raises(InvalidProof, match=r"signature|validator set"):
            light.verify_txs(other.genesis, light.decode_bundle(data))  # type: ignore[arg-type]
    finally:
        other.close()


def _light_verdict(genesis: Any, data: bytes, trust: light.TrustRoot | None) -> bool:
    try:
        bundle = light.decode_bundle(data)
        if isinstance(bundle, light.TxBundle):
            light.verify_txs(genesis, bundle, trust)
        else:
            light.verify_state_values(genesis, bundle, trust)
    except InvalidProof:
        return False
    return True


def _independent_verdict(genesis: Any, data: bytes, trust: light.TrustRoot | None) -> bool:
    from tests import independent_verifier as iv

    root = None if trust is None else {
        "height": trust.height, "header": trust.header.fields() if trust.header else None,
        "validators": [v.fields() for v in trust.validators.validators]}
    try:
        iv.verify(genesis.document, data, root)
    except iv.Refused:
        return False
    return True


async def test_an_independent_verifier_agrees_on_every_genuine_and_altered_bundle(chain: Chain) -> None:
    """A verifier written from docs/proofs.md alone (tests/independent_verifier.py) gives the same verdict as
    chainnode.light on genuine bundles of every kind (one transaction, a page over several blocks, state
    values of one block, a skip to a new set, adjacent links after a set replaced at once, a bundle from a
    saved trust root) and on each of them with one byte altered, at every third position."""
    genesis, reader = chain.node.genesis, chain.node.reader
    await chain.register_permit()
    issue = chain.tx("certificates", "issue", {"cert_type": "permit", "holder_ref": crypto.sha256(b"h"),
                                               "content_hash": crypto.sha256(b"c")})
    await chain.block(issue)
    cert_keys = [certificates.cert_key(compute_cert_id(decode_transaction(issue).tx_id)),
                 governance.member_key(chain.admin.public_key)]
    first = [anchor_tx(chain.admin, CHAIN, f"a{i}") for i in range(5)]
    await chain.block(*first[:3])
    await chain.block(*first[3:])
    trust_height = chain.node.head_height()
    old = genesis.validator_set().validators
    await chain.block(*[chain.tx("testhook", "set_validator", {"department": f"R{i}", "power": 100,
                                                               "public_key": chain.add_key().public_key})
                        for i in range(3)],
                      *[chain.tx("testhook", "set_validator", {"department": v.department, "power": 0,
                                                               "public_key": v.public_key}) for v in old[1:]])
    for _ in range(3):
        await chain.block()
    late = anchor_tx(chain.admin, CHAIN, "late")
    await chain.block(late)
    ids = [decode_transaction(raw).tx_id for raw in (*first, late)]
    locations = [(reader.tx_status(i).height, reader.tx_status(i).index) for i in ids]
    trust = light.TrustRoot(chain_id=CHAIN, genesis_hash=genesis.hash, height=trust_height,
                            header=reader.get_header_commit(trust_height)[0],
                            validators=reader.validators_at(trust_height))
    genuine: list[tuple[bytes, light.TrustRoot | None]] = [
        (reader.tx_bundle(ids[0]).encode(), None),
        (reader.txs_bundle(locations[:5]).encode(), None),
        (reader.state_values_bundle([b"consensus/test_hooks", b"no such key"], 2).encode(), None),
        (reader.state_values_bundle(cert_keys, trust_height).encode(), None),  # shaped records
        (reader.tx_bundle(ids[-1]).encode(), None),
        (reader.txs_bundle(locations).encode(), None),
        (reader.tx_bundle(ids[-1], trusted_height=trust_height).encode(), trust),
    ]
    assert any(len(light.decode_bundle(d).links) > 1 for d, _ in genuine)
    for data, root in genuine:
        assert _light_verdict(genesis, data, root) and _independent_verdict(genesis, data, root)
        for position in range(0, len(data), 3):  # every third byte: ~2,000 altered bundles
            altered = bytes(data[:position]) + bytes([data[position] ^ (0x20 if position % 2 else 0x01)]) \
                + data[position + 1:]
            assert _light_verdict(genesis, altered, root) == _independent_verdict(genesis, altered, root), position


async def test_each_verdict_of_a_certificate_check(chain: Chain, tmp_path: Path) -> None:
    """VALID, SUSPENDED, REVOKED, EXPIRED, NOT YET VALID, SUPERSEDED VERSION, CONTENT DIFFERS, a proven
    absence, an altered byte and a proof from another chain, each from the bundle a node serves."""
    from chainnode.cert_verify import CertificateNotFound

    reader, genesis = chain.node.reader, chain.node.genesis
    certs = await chain.issue_every_verdict()
    valid, suspended, revoked, expiring, later, amended = (certs.valid, certs.suspended, certs.revoked,
                                                           certs.expiring, certs.later, certs.amended)

    def check(cert_id: str, content: bytes | None = None) -> str:
        file_hash = None if content is None else crypto.sha256(content)
        keys = records.certificate_proof_keys(records.view(reader), cert_id, file_hash)
        data = reader.state_values_bundle(keys).encode()
        return verify_certificate(genesis, cert_id, data, file_hash).verdict

    assert check(valid, b"valid") == "VALID"
    assert check(suspended) == "SUSPENDED"
    assert check(revoked) == "REVOKED"
    assert check(expiring) == "EXPIRED"
    assert check(later) == "NOT YET VALID"
    assert check(amended, b"v2") == "VALID"
    assert check(amended, b"v1") == "SUPERSEDED VERSION"
    assert check(valid, b"another file") == "CONTENT DIFFERS"
    with pytest.raises(CertificateNotFound, match="proof of absence"):
        check("0" * 32)
    data = reader.state_values_bundle([certificates.cert_key(valid),
                                       governance.member_key(chain.admin.public_key)]).encode()
    altered = data[:-40] + bytes([data[-40] ^ 1]) + data[-39:]
    with pytest.raises(InvalidProof):
        verify_certificate(genesis, valid, altered)
    _, others = init_network([tmp_path / "other"], chain_id=CHAIN, departments=[DepartmentSpec(code="PSB", name="P")],
                             api_ports=[9], p2p_ports=[10])
    other = Node.from_home(others[0].home)
    try:
        with pytest.raises(InvalidProof):
            verify_certificate(other.genesis, valid, data)
    finally:
        other.close()


async def test_a_run_of_consecutive_blocks_needs_one_commit_at_its_top(chain: Chain) -> None:
    """Events in consecutive blocks of one validator set: only the top block carries a commit, the others
    are proven by the prev_hash of the block above them. A block signed by another set keeps its own commit.
    Any other form is refused: a commit left on a chained link, a commit taken off one that is not chained,
    a chained block swapped for another block of the chain."""
    genesis, reader = chain.node.genesis, chain.node.reader
    raws = [anchor_tx(chain.admin, CHAIN, f"run{i}") for i in range(4)]
    heights = [await chain.block(raw) for raw in raws]
    assert heights == list(range(heights[0], heights[0] + 4))
    await chain.set_validator("NEW", chain.add_key().public_key, 10)  # a skip: the old set holds 40 of 50
    while chain.node.validators_at(chain.node.head_height() + 2) == genesis.validator_set():
        await chain.block()
    # the last block of the old set and the first of the new, both in the page
    before = await chain.block(anchor_tx(chain.admin, CHAIN, "last of the old set"))
    after = await chain.block(anchor_tx(chain.admin, CHAIN, "first of the new set"))
    assert reader.validators_at(after) != reader.validators_at(before) == genesis.validator_set()
    other = await chain.block(anchor_tx(chain.admin, CHAIN, "not in the page"))
    bundle = reader.txs_bundle([(h, 0) for h in (*heights, before, after)])
    assert [link.header.height for link in bundle.links] == [*heights, before, after]
    assert [len(link.commit.signatures) > 0 for link in bundle.links] == [False, False, False, True, True, True]
    assert bundle.links[-1].validators is not None
    data = reencode(bundle)
    proven, _ = light.verify_txs(genesis, light.decode_bundle(data))  # type: ignore[arg-type]
    assert [p.height for p in proven] == [*heights, before, after]
    assert _independent_verdict(genesis, data, None)

    run = reader.txs_bundle([(h, 0) for h in heights])
    assert [len(link.commit.signatures) > 0 for link in run.links] == [False, False, False, True]
    full = {h: reader.get_header_commit(h)[1] for h in heights}
    top = run.links[-1]
    swapped_header = reader.get_header_commit(other)[0]
    variants = {
        "a chained link with its commit": dataclasses.replace(run, links=(
            dataclasses.replace(run.links[0], commit=light.minimal_commit(full[heights[0]], genesis.validator_set(),
                                                                          None)), *run.links[1:])),
        "the top without its commit": dataclasses.replace(run, links=(
            *run.links[:-1], dataclasses.replace(top, commit=dataclasses.replace(top.commit, signatures=())))),
        "a chained block swapped": dataclasses.replace(run, links=(
            dataclasses.replace(run.links[0], header=dataclasses.replace(swapped_header, height=heights[0])),
            *run.links[1:])),
        "a gap in the run": dataclasses.replace(run, links=(run.links[0], *run.links[2:])),
    }
    for name, variant in variants.items():
        encoded = variant.encode()
        assert not _light_verdict(genesis, encoded, None), name
        assert not _independent_verdict(genesis, encoded, None), name


@pytest.mark.parametrize("count", [5, 300])
def test_a_transaction_whose_own_signature_fails_is_named(count: int) -> None:
    """A quorum could commit a transaction its signer never signed; the verifier checks each one's signature
    itself, serially for a few and on every core for a long page, and names the first that fails."""
    key = crypto.PrivateKey.generate()
    txs = [decode_transaction(anchor_tx(key, CHAIN, f"t{i}")) for i in range(count)]
    bad = dataclasses.replace(txs[count // 2], signature=bytes(64))
    proven = [light.VerifiedTx(height=i + 1, time_ms=0, block_hash=bytes(32), index=0, tx=tx, result=None)  # type: ignore[arg-type]
              for i, tx in enumerate([*txs[:count // 2], bad, *txs[count // 2 + 1:]])]
    with pytest.raises(InvalidProof, match=f"transaction {bad.tx_id.hex()} in block {count // 2 + 1} does not"):
        light._check_tx_signatures(proven)
    light._check_tx_signatures([dataclasses.replace(p, tx=tx) for p, tx in zip(proven, txs, strict=True)])


async def test_records_travel_shaped_and_only_shaped(chain: Chain) -> None:
    """A certificate record and a roster record have exactly the key sets of light.VALUE_SHAPES (so a
    contract that changes its record fields fails here and appends a shape); they travel without their key
    strings, and any other carried form of them is refused."""
    genesis, reader = chain.node.genesis, chain.node.reader
    await chain.register_permit()
    issue = chain.tx("certificates", "issue", {"cert_type": "permit", "holder_ref": crypto.sha256(b"h"),
                                               "content_hash": crypto.sha256(b"c")})
    await chain.block(issue)
    keys = [certificates.cert_key(compute_cert_id(decode_transaction(issue).tx_id)),
            governance.member_key(chain.admin.public_key)]
    bundle = reader.state_values_bundle(keys)
    records_ = [codec.decode(p.value or b"", max_size=1 << 20) for p in bundle.proofs]
    assert [tuple(sorted(r)) for r in records_ if isinstance(r, dict)] == list(light.VALUE_SHAPES)
    fields = _links(bundle.encode())
    carried = fields[3][-1][4]
    assert [type(item[1]) for item in carried] == [list, list]
    raw_size = sum(len(p.value or b"") for p in bundle.proofs)
    shaped_size = sum(len(codec.encode(item[1])) for item in carried)
    assert raw_size - shaped_size > 300
    assert light.verify_state_values(genesis, light.decode_bundle(bundle.encode()))[0].value == bundle.proofs[0].value  # type: ignore[arg-type]

    def variant(value: Value) -> bytes:
        altered = _links(bundle.encode())
        altered[3][-1][4][0][1] = value
        return codec.encode(altered)

    shape, packed = carried[0][1]
    variants = {
        "the record as plain bytes": variant(bundle.proofs[0].value),
        "an item more": variant([shape, packed + codec.encode(None)]),
        "an item less": variant([shape, packed[:-1]]),
        "another shape": variant([1, packed]),
        "no such shape": variant([len(light.VALUE_SHAPES), packed]),
        "three fields": variant([shape, packed, b""]),
    }
    for name, data in variants.items():
        assert not _light_verdict(genesis, data, None), name
        assert not _independent_verdict(genesis, data, None), name


async def test_a_long_bundle_checks_its_commit_signatures_in_a_batch_and_still_names_a_bad_one(chain: Chain) -> None:
    """Over PARALLEL_SIGNATURES commit signatures are checked at once before the walk; a signature altered in
    the middle of such a bundle is still refused, naming its block."""
    heights = []
    for i in range(light.PARALLEL_SIGNATURES // 3 + 2):
        heights.append(await chain.block(anchor_tx(chain.admin, CHAIN, f"spread{i}")))
        await chain.block()  # no two events adjacent: every block keeps its commit
    bundle = chain.node.reader.txs_bundle([(h, 0) for h in heights])
    assert sum(len(link.commit.signatures) for link in bundle.links) >= light.PARALLEL_SIGNATURES
    proven, _ = light.verify_txs(chain.node.genesis, light.decode_bundle(bundle.encode()))  # type: ignore[arg-type]
    assert [p.height for p in proven] == heights
    middle = len(bundle.links) // 2
    link = bundle.links[middle]
    bad = dataclasses.replace(link.commit.signatures[1], signature=bytes(64))
    altered = dataclasses.replace(bundle, links=(
        *bundle.links[:middle],
        dataclasses.replace(link, commit=dataclasses.replace(
            link.commit, signatures=(link.commit.signatures[0], bad, *link.commit.signatures[2:]))),
        *bundle.links[middle + 1:]))
    with pytest.raises(InvalidProof, match=f"block {link.header.height}.*does not verify"):
        light.verify_txs(chain.node.genesis, light.decode_bundle(altered.encode()))  # type: ignore[arg-type]
