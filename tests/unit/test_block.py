"""Unit tests of headers, votes, commits and blocks: encodings, commit quorums and block shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from chainnode import block, codec, crypto, merkle
from chainnode.block import Block, BlockHeader, Commit, CommitSignature, Vote
from chainnode.errors import (
    InputTooLarge,
    InvalidBlock,
    InvalidCommit,
    InvalidField,
    InvalidInput,
    MalformedEncoding,
    TrailingBytes,
    UnknownTag,
    UnsupportedVersion,
)
from chainnode.validators import Validator, ValidatorSet

CHAIN = "gov-test-1"
DEPARTMENTS = ("finance", "health", "interior", "justice")
KEYS = tuple(crypto.PrivateKey(bytes([i]) * 32) for i in range(1, 5))


def make_validators(keys: Sequence[crypto.PrivateKey], powers: Sequence[int]) -> ValidatorSet:
    return ValidatorSet.of(
        Validator(department=DEPARTMENTS[i], public_key=key.public_key, power=power)
        for i, (key, power) in enumerate(zip(keys, powers, strict=True))
    )


VALIDATORS = make_validators(KEYS, (1, 1, 1, 1))


def key_at(validators: ValidatorSet, index: int) -> crypto.PrivateKey:
    """The key of the validator at `index` of the (sorted) set; KEYS[0] past its end."""
    if index >= len(validators):
        return KEYS[0]
    public_key = validators.validators[index].public_key
    return next(key for key in KEYS if key.public_key == public_key)


def make_header(**changes: Any) -> BlockHeader:
    header = BlockHeader(
        chain_id=CHAIN,
        height=1,
        time_ms=1_700_000_000_000,
        prev_hash=bytes([0xAA]) * 32,
        tx_count=0,
        tx_root=merkle.EMPTY_ROOT,
        results_root=merkle.EMPTY_ROOT,
        state_root=bytes([0xBB]) * 32,
        last_commit_hash=block.ZERO_HASH,
        validators_hash=VALIDATORS.compute_hash(),
        next_validators_hash=VALIDATORS.compute_hash(),
        proposer=VALIDATORS.validators[0].public_key,
    )
    return replace(header, **changes)


HEADER = make_header()
BLOCK_HASH = HEADER.compute_hash()


def make_commit(
    indices: Sequence[int],
    *,
    validators: ValidatorSet = VALIDATORS,
    height: int = 1,
    round_: int = 0,
    block_hash: bytes = BLOCK_HASH,
    chain_id: str = CHAIN,
    vote_type: int = block.VOTE_PRECOMMIT,
) -> Commit:
    """A commit whose signatures come from the validators at `indices`, in the order given."""
    vote = Vote(vote_type=vote_type, height=height, round=round_, block_hash=block_hash)
    signatures = tuple(
        CommitSignature(validator_index=i, signature=block.sign_commit_vote(key_at(validators, i), chain_id, vote))
        for i in indices
    )
    return Commit(height=height, round=round_, block_hash=block_hash, signatures=signatures)


def validate(commit: Commit, *, validators: ValidatorSet = VALIDATORS, height: int = 1) -> None:
    block.validate_commit(commit, chain_id=CHAIN, height=height, block_hash=BLOCK_HASH, validators=validators)


# --- headers -----------------------------------------------------------------------------------------


def test_header_round_trip() -> None:
    data = HEADER.encode()
    assert block.decode_header(data) == HEADER
    assert block.decode_header(data).encode() == data
    assert codec.decode(data, max_size=4096)[:2] == [block.TAG_HEADER, block.VERSION]


def test_block_hash_is_the_domain_hash_of_the_header() -> None:
    assert crypto.compute_hash(crypto.DOMAIN_BLOCK, HEADER.encode()) == BLOCK_HASH
    assert make_header(height=2).compute_hash() != BLOCK_HASH
    assert make_header(state_root=bytes(32)).compute_hash() != BLOCK_HASH


def test_header_to_json_uses_hex() -> None:
    document = HEADER.to_json()
    assert document["prev_hash"] == "aa" * 32
    assert document["height"] == 1
    assert set(document) == {
        "chain_id",
        "height",
        "time_ms",
        "prev_hash",
        "tx_count",
        "tx_root",
        "results_root",
        "state_root",
        "last_commit_hash",
        "validators_hash",
        "next_validators_hash",
        "proposer",
    }


HEADER_FIELD_ERRORS = [
    ("chain_id", ""),
    ("height", 0),
    ("height", 2**63),
    ("time_ms", -1),
    ("prev_hash", bytes(31)),
    ("tx_count", block.MAX_BLOCK_TXS_HARD + 1),
    ("tx_root", bytes(33)),
    ("results_root", "00" * 32),
    ("state_root", None),
    ("last_commit_hash", b""),
    ("validators_hash", bytes(31)),
    ("next_validators_hash", bytes(31)),
    ("proposer", bytes(31)),
]


@pytest.mark.parametrize(
    ("name", "value"), HEADER_FIELD_ERRORS, ids=[f"{n}={v!r}"[:40] for n, v in HEADER_FIELD_ERRORS]
)
def test_decode_header_names_the_bad_field(name: str, value: object) -> None:
    data = make_header(**{name: value}).encode()
    with pytest.raises(InvalidField) as caught:
        block.decode_header(data)
    assert caught.value.field == name
    assert name in caught.value.message


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        pytest.param(make_commit([0, 1, 2]).encode(), UnknownTag, "block header: expected tag 2, got 4", id="a commit"),
        pytest.param(
            codec.encode_object(block.TAG_HEADER, 2, HEADER.fields()),
            UnsupportedVersion,
            "version 2",
            id="version 2",
        ),
        pytest.param(
            codec.encode_object(block.TAG_HEADER, block.VERSION, HEADER.fields()[:-1]),
            MalformedEncoding,
            "expected 12 fields, got 11",
            id="11 fields",
        ),
        pytest.param(HEADER.encode() + b"\x00", TrailingBytes, "trailing", id="trailing byte"),
        pytest.param(HEADER.encode()[:-1], MalformedEncoding, "incomplete", id="truncated"),
        pytest.param(
            make_header(chain_id="c" * 4000).encode(),
            InputTooLarge,
            "exceed the limit of 4096",
            id="over 4 KiB",
        ),
    ],
)
def test_decode_header_rejects(data: bytes, error: type[InvalidInput], words: str) -> None:
    with pytest.raises(error) as caught:
        block.decode_header(data)
    assert type(caught.value) is error
    assert words in caught.value.message


# --- votes and commits -------------------------------------------------------------------------------


def test_vote_signing_bytes_separate_type_round_and_chain() -> None:
    vote = Vote(vote_type=block.VOTE_PRECOMMIT, height=1, round=0, block_hash=BLOCK_HASH)
    assert vote.compute_signing_bytes(CHAIN) == crypto.compute_signing_bytes(crypto.SIGN_VOTE, CHAIN, vote.encode())
    variants = {
        vote.compute_signing_bytes(CHAIN),
        vote.compute_signing_bytes("gov-test-2"),
        replace(vote, vote_type=block.VOTE_PREVOTE).compute_signing_bytes(CHAIN),
        replace(vote, round=1).compute_signing_bytes(CHAIN),
        replace(vote, height=2).compute_signing_bytes(CHAIN),
        replace(vote, block_hash=b"").compute_signing_bytes(CHAIN),
    }
    assert len(variants) == 6


def test_commit_round_trip_and_hash() -> None:
    commit = make_commit([0, 2, 3], round_=5)
    data = commit.encode()
    assert block.decode_commit(data) == commit
    assert block.decode_commit(data).encode() == data
    assert commit.compute_hash() == crypto.compute_hash(crypto.DOMAIN_COMMIT, data)
    assert commit.precommit() == Vote(vote_type=block.VOTE_PRECOMMIT, height=1, round=5, block_hash=BLOCK_HASH)
    assert commit.to_json()["signatures"][0] == {
        "validator_index": 0,
        "signature": commit.signatures[0].signature.hex(),
    }


def test_commit_with_no_signatures_round_trips() -> None:
    commit = make_commit([])
    assert block.decode_commit(commit.encode()) == commit


def commit_with(signatures: object, *, fields: Sequence[object] | None = None) -> bytes:
    base = [1, 0, BLOCK_HASH, signatures] if fields is None else list(fields)
    return codec.encode_object(block.TAG_COMMIT, block.VERSION, base)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        pytest.param(commit_with([[0]]), "signatures", "[validator_index, signature]", id="pair of 1"),
        pytest.param(commit_with([[0, bytes(64), 1]]), "signature", "at most 2 items", id="pair of 3"),
        pytest.param(commit_with([b"x"]), "signature", "must be an array", id="pair not an array"),
        pytest.param(commit_with({"0": bytes(64)}), "signatures", "must be an array", id="signatures a map"),
        pytest.param(commit_with([[1024, bytes(64)]]), "validator_index", "[0, 1023]", id="index 1024"),
        pytest.param(commit_with([[-1, bytes(64)]]), "validator_index", "[0, 1023]", id="index -1"),
        pytest.param(commit_with([[0, bytes(63)]]), "signature", "64 bytes, got 63", id="signature of 63 bytes"),
        pytest.param(commit_with([[0]] * 1025), "signatures", "at most 1024 items", id="1025 signatures"),
        pytest.param(commit_with([], fields=[0, 0, BLOCK_HASH, []]), "height", "height", id="height 0"),
        pytest.param(commit_with([], fields=[1, 2**31 + 1, BLOCK_HASH, []]), "round", "round", id="round 2**31+1"),
        pytest.param(commit_with([], fields=[1, 0, bytes(31), []]), "block_hash", "32 bytes", id="short block hash"),
    ],
)
def test_decode_commit_names_the_bad_field(data: bytes, field: str, words: str) -> None:
    with pytest.raises(InvalidField) as caught:
        block.decode_commit(data)
    assert caught.value.field == field
    assert words in caught.value.message


def test_decode_commit_rejects_other_objects_and_oversize() -> None:
    with pytest.raises(UnknownTag, match="commit: expected tag 4, got 2"):
        block.decode_commit(HEADER.encode())
    with pytest.raises(InputTooLarge):
        block.decode_commit(commit_with([[0, bytes(64)]] * 1000))


def test_validate_commit_accepts_a_quorum() -> None:
    validate(make_commit([0, 1, 2]))
    validate(make_commit([1, 2, 3]))
    validate(make_commit([0, 1, 2, 3]))
    validate(make_commit([0, 1, 3], round_=7))  # any round


def test_validate_commit_accepts_a_single_validator() -> None:
    solo = make_validators(KEYS[:1], (1,))
    validate(make_commit([0], validators=solo), validators=solo)


@pytest.mark.parametrize(
    ("commit", "field", "words"),
    [
        pytest.param(make_commit([0, 1, 2], height=2), "height", "commit is for height 2, expected 1", id="height"),
        pytest.param(
            make_commit([0, 1, 2], block_hash=bytes(32)),
            "block_hash",
            "is for another block",
            id="block hash",
        ),
        pytest.param(make_commit([0, 2, 1]), "signatures", "not sorted or repeated", id="unsorted"),
        pytest.param(make_commit([0, 1, 1, 2]), "signatures", "not sorted or repeated", id="repeated"),
        pytest.param(make_commit([0, 1, 2, 4]), "signatures", "no validator #4", id="unknown index"),
        pytest.param(make_commit([0, 1]), "signatures", "has 2 of 4 voting power", id="2 of 4"),
        pytest.param(make_commit([3]), "signatures", "has 1 of 4 voting power; more than 2/3", id="1 of 4"),
        pytest.param(make_commit([]), "signatures", "has 0 of 4 voting power", id="no signatures"),
        pytest.param(
            make_commit([0, 1, 2], chain_id="gov-test-2"), "signatures", "does not verify", id="another chain"
        ),
        pytest.param(
            make_commit([0, 1, 2], vote_type=block.VOTE_PREVOTE),
            "signatures",
            "does not verify",
            id="prevotes",
        ),
    ],
)
def test_validate_commit_rejects(commit: Commit, field: str, words: str) -> None:
    before = commit.encode()
    with pytest.raises(InvalidCommit) as caught:
        validate(commit)
    assert caught.value.field == field
    assert words in caught.value.message
    assert commit.encode() == before


def test_validate_commit_rejects_a_signature_that_does_not_verify() -> None:
    good = make_commit([0, 1, 2])
    flipped = bytearray(good.signatures[1].signature)
    flipped[0] ^= 0x01
    bad_signature = replace(good.signatures[1], signature=bytes(flipped))
    bad = replace(good, signatures=(good.signatures[0], bad_signature, good.signatures[2]))
    department = VALIDATORS.validators[1].department
    with pytest.raises(InvalidCommit, match=rf"signature of validator #1 \({department}\) does not verify"):
        validate(bad)


def test_validate_commit_rejects_a_signature_under_another_index() -> None:
    good = make_commit([0, 1, 2])
    moved = (*good.signatures[:2], replace(good.signatures[2], validator_index=3))  # #2's signature as #3's
    with pytest.raises(InvalidCommit, match=r"signature of validator #3 .* does not verify"):
        validate(replace(good, signatures=moved))


def test_validate_commit_rejects_exactly_two_thirds() -> None:
    three = make_validators(KEYS[:3], (1, 1, 1))  # 2 of 3: power * 3 == total * 2
    with pytest.raises(InvalidCommit, match="has 2 of 3 voting power; more than 2/3 needed"):
        validate(make_commit([0, 1], validators=three), validators=three)
    validate(make_commit([0, 1, 2], validators=three), validators=three)


def test_validate_commit_counts_power_not_heads() -> None:
    # powers 2, 1 (in key order of KEYS[:2]): total 3
    weighted = make_validators(KEYS[:2], (2, 1))
    heavy = next(i for i, v in enumerate(weighted.validators) if v.power == 2)
    light = 1 - heavy
    with pytest.raises(InvalidCommit, match="has 2 of 3 voting power"):  # exactly 2/3 again
        validate(make_commit([heavy], validators=weighted), validators=weighted)
    with pytest.raises(InvalidCommit, match="has 1 of 3 voting power"):
        validate(make_commit([light], validators=weighted), validators=weighted)
    validate(make_commit([0, 1], validators=weighted), validators=weighted)

    # powers 1, 1, 1, 4 (total 7): the heavy validator plus one other is 5 of 7 > 2/3
    skewed = make_validators(KEYS, (1, 1, 1, 4))
    big = next(i for i, v in enumerate(skewed.validators) if v.power == 4)
    others = [i for i in range(4) if i != big]
    with pytest.raises(InvalidCommit, match="has 3 of 7 voting power"):
        validate(make_commit(others, validators=skewed), validators=skewed)
    validate(make_commit(sorted([big, others[0]]), validators=skewed), validators=skewed)


def test_is_quorum_boundaries() -> None:
    assert not VALIDATORS.is_quorum(2)
    assert VALIDATORS.is_quorum(3)
    three = make_validators(KEYS[:3], (1, 1, 1))
    assert not three.is_quorum(2)
    assert three.is_quorum(3)


# --- blocks ------------------------------------------------------------------------------------------


def make_tx_bytes(count: int) -> tuple[bytes, ...]:
    return tuple(codec.encode([f"tx {i}", bytes([i]) * 8]) for i in range(count))


TWO_TXS = make_tx_bytes(2)


def make_block(height: int = 2, txs: tuple[bytes, ...] = TWO_TXS, last: Commit | None = None) -> Block:
    """A well-shaped block; at a height above 1 it carries a quorum commit unless `last` is given."""
    if last is None and height > 1:
        last = make_commit([0, 1, 2])
    header = make_header(
        height=height,
        tx_count=len(txs),
        tx_root=block.compute_tx_root(txs),
        last_commit_hash=block.ZERO_HASH if last is None else last.compute_hash(),
    )
    return Block(header=header, txs=txs, last_commit=last)


def test_block_round_trip() -> None:
    for candidate in (make_block(), make_block(height=1), make_block(txs=())):
        data = candidate.encode()
        assert block.decode_block(data) == candidate
        assert block.decode_block(data).encode() == data
        assert candidate.compute_hash() == candidate.header.compute_hash()
        assert candidate.height == candidate.header.height
        block.validate_block_shape(candidate)


def test_block_encoding_nests_header_and_commit_as_tagged_arrays() -> None:
    candidate = make_block()
    assert candidate.last_commit is not None
    expected = codec.encode(
        [
            block.TAG_BLOCK,
            block.VERSION,
            codec.decode(candidate.header.encode(), max_size=4096),
            list(candidate.txs),
            codec.decode(candidate.last_commit.encode(), max_size=4096),
        ]
    )
    assert candidate.encode() == expected


def test_tx_root_is_the_rfc9162_root_of_the_tx_bytes() -> None:
    txs = make_tx_bytes(3)
    assert block.compute_tx_root(txs) == merkle.compute_root(txs)
    assert block.compute_tx_root(()) == merkle.EMPTY_ROOT
    assert block.compute_results_root(txs) == merkle.compute_root(txs)


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        pytest.param(
            codec.encode_object(block.TAG_BLOCK, block.VERSION, [HEADER.fields(), [], None]),
            UnknownTag,
            "block header: expected tag 2, got 'gov-test-1'",
            id="header without tag",
        ),
        pytest.param(
            codec.encode_object(block.TAG_BLOCK, block.VERSION, [HEADER.encode(), [], None]),
            MalformedEncoding,
            "block header: expected an array",
            id="header as bytes",
        ),
        pytest.param(
            codec.encode_object(block.TAG_BLOCK, block.VERSION, [[2, 1, *HEADER.fields()], ["tx"], None]),
            InvalidField,
            "each transaction in a block is its canonical bytes",
            id="tx as str",
        ),
        pytest.param(
            codec.encode_object(block.TAG_BLOCK, block.VERSION, [[2, 1, *HEADER.fields()], b"", None]),
            InvalidField,
            "txs must be an array",
            id="txs not an array",
        ),
        pytest.param(
            codec.encode_object(block.TAG_BLOCK, block.VERSION, [[2, 1, *HEADER.fields()], [], [4, 1]]),
            MalformedEncoding,
            "commit: expected 4 fields, got 0",
            id="empty commit",
        ),
        pytest.param(
            codec.encode_object(block.TAG_BLOCK, block.VERSION, [[2, 1, *HEADER.fields()], []]),
            MalformedEncoding,
            "block: expected 3 fields, got 2",
            id="2 fields",
        ),
        pytest.param(HEADER.encode(), UnknownTag, "block: expected tag 3, got 2", id="a header"),
    ],
)
def test_decode_block_rejects(data: bytes, error: type[InvalidInput], words: str) -> None:
    with pytest.raises(error) as caught:
        block.decode_block(data)
    assert type(caught.value) is error
    assert words in caught.value.message


def test_decode_block_enforces_max_size() -> None:
    data = make_block().encode()
    assert block.decode_block(data, max_size=len(data)).encode() == data
    with pytest.raises(InputTooLarge):
        block.decode_block(data, max_size=len(data) - 1)


SHAPE_ERRORS = [
    pytest.param(
        replace(make_block(), header=replace(make_block().header, tx_count=3)),
        "tx_count",
        "header counts 3 txs, block has 2",
        id="tx count",
    ),
    pytest.param(
        replace(make_block(), txs=make_tx_bytes(3)[1:]),
        "tx_root",
        "transactions do not match tx_root",
        id="other txs",
    ),
    pytest.param(
        replace(make_block(), txs=tuple(reversed(make_tx_bytes(2)))),
        "tx_root",
        "do not match tx_root",
        id="reordered txs",
    ),
    pytest.param(
        replace(make_block(), last_commit=make_commit([0, 1, 3])),
        "last_commit",
        "last commit does not match last_commit_hash",
        id="other commit",
    ),
    pytest.param(
        replace(make_block(), last_commit=None),
        "last_commit",
        "last commit does not match",
        id="commit dropped",
    ),
    pytest.param(
        replace(make_block(height=1), last_commit=make_commit([0, 1, 2])),
        "last_commit",
        "last commit does not match",
        id="height 1 with a commit, zero hash",
    ),
    pytest.param(
        make_block(height=1, last=make_commit([0, 1, 2])),
        "last_commit",
        "block 1 carries no last commit",
        id="height 1 with a commit",
    ),
    pytest.param(
        Block(header=make_header(height=5), txs=(), last_commit=None),
        "last_commit",
        "block 5 lacks the commit of block 4",
        id="height 5 without a commit",
    ),
]


@pytest.mark.parametrize(("candidate", "field", "words"), SHAPE_ERRORS)
def test_validate_block_shape_rejects(candidate: Block, field: str | None, words: str) -> None:
    with pytest.raises(InvalidBlock) as caught:
        block.validate_block_shape(candidate)
    assert type(caught.value) is InvalidBlock
    assert caught.value.field == field
    assert words in caught.value.message
