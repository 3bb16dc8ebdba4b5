"""Consensus wire objects: encode/decode round trips, rejection of malformed input, signatures, evidence."""

from __future__ import annotations

from dataclasses import replace

import msgpack
import pytest

from chainnode import codec, crypto
from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Vote
from chainnode.consensus.errors import InvalidEvidence, InvalidProposal
from chainnode.consensus.messages import (
    MAX_SIGNED_VOTE_BYTES,
    NIL,
    TAG_DUPLICATE_VOTE_EVIDENCE,
    TAG_PROPOSAL,
    TAG_SIGNED_PROPOSAL,
    TAG_SIGNED_VOTE,
    DuplicateVoteEvidence,
    Proposal,
    SignedVote,
    compute_duplicate_vote_evidence,
    decode_evidence,
    decode_proposal,
    decode_proposal_signing_bytes,
    decode_signed_proposal,
    decode_signed_vote,
    decode_vote,
    decode_vote_signing_bytes,
    sign_proposal,
    sign_vote,
    validate_evidence,
    verify_signed_proposal,
    verify_signed_vote,
)
from chainnode.errors import (
    InputTooLarge,
    InvalidField,
    InvalidInput,
    MalformedEncoding,
    NonCanonicalEncoding,
    TrailingBytes,
    UnknownTag,
    UnsupportedVersion,
)
from chainnode.validators import Validator, ValidatorSet

CHAIN = "gov-test-1"
KEYS = sorted((crypto.PrivateKey(bytes([i]) * 32) for i in range(1, 5)), key=lambda k: k.public_key)
VALIDATORS = ValidatorSet(
    tuple(Validator(department=f"d{i}", public_key=k.public_key, power=1) for i, k in enumerate(KEYS))
)
HASH_A = bytes([0xA1]) * 32
HASH_B = bytes([0xB2]) * 32
PROPOSAL = Proposal(height=7, round=3, block_hash=HASH_A, pol_round=1, time_ms=1_700_000_000_000)


def prevote(block_hash: bytes = HASH_A, *, round_: int = 2, vote_type: int = VOTE_PREVOTE) -> Vote:
    return Vote(vote_type=vote_type, height=7, round=round_, block_hash=block_hash)


def raw(value: object) -> bytes:
    return codec.encode(value)


# --- round trips ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pol_round", [-1, 0, 2])
def test_proposal_round_trip(pol_round: int) -> None:
    proposal = replace(PROPOSAL, pol_round=pol_round)
    data = proposal.encode()
    assert codec.decode(data, max_size=1000)[:2] == [TAG_PROPOSAL, 1]
    assert decode_proposal(data) == proposal


def test_signed_proposal_round_trip_and_signature() -> None:
    signed = sign_proposal(KEYS[2], CHAIN, PROPOSAL, 2)
    again = decode_signed_proposal(signed.encode())
    assert again == signed and codec.decode(signed.encode(), max_size=1000)[0] == TAG_SIGNED_PROPOSAL
    assert verify_signed_proposal(CHAIN, again, VALIDATORS)
    assert not verify_signed_proposal("other-chain", again, VALIDATORS)
    assert not verify_signed_proposal(CHAIN, replace(again, validator_index=1), VALIDATORS)
    assert not verify_signed_proposal(CHAIN, replace(again, validator_index=9), VALIDATORS)
    assert not verify_signed_proposal(CHAIN, replace(again, proposal=replace(PROPOSAL, time_ms=1)), VALIDATORS)


@pytest.mark.parametrize("vote", [prevote(), prevote(NIL), prevote(HASH_B, vote_type=VOTE_PRECOMMIT, round_=0)])
def test_signed_vote_round_trip_and_signature(vote: Vote) -> None:
    signed = sign_vote(KEYS[1], CHAIN, vote, 1)
    data = signed.encode()
    assert len(data) <= MAX_SIGNED_VOTE_BYTES and codec.decode(data, max_size=1000)[0] == TAG_SIGNED_VOTE
    assert decode_signed_vote(data) == signed
    assert decode_vote(vote.encode()) == vote
    assert verify_signed_vote(CHAIN, signed, VALIDATORS)
    assert not verify_signed_vote(CHAIN, replace(signed, validator_index=0), VALIDATORS)
    assert not verify_signed_vote(CHAIN, replace(signed, vote=replace(vote, round=9)), VALIDATORS)


def test_a_vote_signature_is_a_commit_signature() -> None:
    """A precommit's signature covers the same bytes as a commit signature for that block."""
    vote = prevote(HASH_A, vote_type=VOTE_PRECOMMIT)
    signed = sign_vote(KEYS[0], CHAIN, vote, 0)
    assert crypto.verify_signature(KEYS[0].public_key, vote.compute_signing_bytes(CHAIN), signed.signature)


def test_signing_bytes_decode_back() -> None:
    vote = prevote()
    assert decode_vote_signing_bytes(CHAIN, vote.compute_signing_bytes(CHAIN)) == vote
    assert decode_proposal_signing_bytes(CHAIN, PROPOSAL.compute_signing_bytes(CHAIN)) == PROPOSAL
    with pytest.raises(InvalidField):
        decode_vote_signing_bytes("other", vote.compute_signing_bytes(CHAIN))
    with pytest.raises(InvalidField):
        decode_vote_signing_bytes(CHAIN, PROPOSAL.compute_signing_bytes(CHAIN))  # proposal domain
    with pytest.raises(InvalidField):
        decode_proposal_signing_bytes(CHAIN, raw([crypto.SIGN_PROPOSAL, CHAIN]))


# --- malformed input ------------------------------------------------------------------------------------


def proposal_array(**changes: object) -> list[object]:
    fields = {"height": 7, "round": 3, "block_hash": HASH_A, "pol_round": 1, "time_ms": 5, **changes}
    return [TAG_PROPOSAL, 1, *fields.values()]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (proposal_array(height=0), InvalidField),
        (proposal_array(round=-1), InvalidField),
        (proposal_array(round=2**31 + 1), InvalidField),
        (proposal_array(block_hash=b"\x00" * 31), InvalidField),
        (proposal_array(block_hash=NIL), InvalidField),
        (proposal_array(block_hash="a" * 32), InvalidField),
        (proposal_array(pol_round=-2), InvalidField),
        (proposal_array(pol_round=3), InvalidProposal),
        (proposal_array(time_ms=-1), InvalidField),
        (proposal_array()[:-1], MalformedEncoding),
        ([*proposal_array(), 0], MalformedEncoding),
        ([TAG_SIGNED_VOTE, *proposal_array()[1:]], UnknownTag),
        ([TAG_PROPOSAL, 2, *proposal_array()[2:]], UnsupportedVersion),
        ({"tag": TAG_PROPOSAL}, MalformedEncoding),
    ],
)
def test_malformed_proposals_are_rejected(value: object, error: type[InvalidInput]) -> None:
    with pytest.raises(error):
        decode_proposal(raw(value))


def signed_vote_array(**changes: object) -> list[object]:
    vote = changes.pop("vote", [5, 1, VOTE_PREVOTE, 7, 2, HASH_A])
    fields = {"vote": vote, "validator_index": 1, "signature": b"\x01" * 64, **changes}
    return [TAG_SIGNED_VOTE, 1, *fields.values()]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (signed_vote_array(vote=[5, 1, 3, 7, 2, HASH_A]), InvalidField),
        (signed_vote_array(vote=[5, 1, 0, 7, 2, HASH_A]), InvalidField),
        (signed_vote_array(vote=[5, 1, VOTE_PREVOTE, 0, 2, HASH_A]), InvalidField),
        (signed_vote_array(vote=[5, 1, VOTE_PREVOTE, 7, -1, HASH_A]), InvalidField),
        (signed_vote_array(vote=[5, 1, VOTE_PREVOTE, 7, 2, b"\x00" * 5]), InvalidField),
        (signed_vote_array(vote=[5, 1, VOTE_PREVOTE, 7, 2, None]), InvalidField),
        (signed_vote_array(vote=[4, 1, VOTE_PREVOTE, 7, 2, HASH_A]), UnknownTag),
        (signed_vote_array(vote=[5, 1, VOTE_PREVOTE, 7, 2]), MalformedEncoding),
        (signed_vote_array(validator_index=256), InvalidField),
        (signed_vote_array(validator_index=-1), InvalidField),
        (signed_vote_array(signature=b"\x01" * 63), InvalidField),
        (signed_vote_array()[:-1], MalformedEncoding),
    ],
)
def test_malformed_votes_are_rejected(value: object, error: type[InvalidInput]) -> None:
    with pytest.raises(error):
        decode_signed_vote(raw(value))


def test_size_trailing_bytes_and_non_canonical_forms_are_rejected() -> None:
    data = sign_vote(KEYS[1], CHAIN, prevote(), 1).encode()
    with pytest.raises(TrailingBytes):
        decode_signed_vote(data + b"\x00")
    with pytest.raises(InputTooLarge):
        decode_signed_vote(raw(signed_vote_array(signature=b"\x01" * 300)))
    # the validator index 1 as a 2-byte uint (0xcd 0x0001) instead of a positive fixint
    parts = [TAG_SIGNED_VOTE, 1, [5, 1, VOTE_PREVOTE, 7, 2, HASH_A]]
    wide = b"\x95" + b"".join(msgpack.packb(p, use_bin_type=True) for p in parts) + b"\xcd\x00\x01"
    wide += msgpack.packb(b"\x01" * 64, use_bin_type=True)
    assert decode_signed_vote(wide.replace(b"\xcd\x00\x01", b"\x01")).validator_index == 1
    with pytest.raises(NonCanonicalEncoding):
        decode_signed_vote(wide)
    with pytest.raises(MalformedEncoding):
        decode_signed_proposal(b"")


# --- evidence -------------------------------------------------------------------------------------------


def double_vote(index: int = 1, *, a: bytes = HASH_A, b: bytes = HASH_B) -> DuplicateVoteEvidence:
    return compute_duplicate_vote_evidence(
        sign_vote(KEYS[index], CHAIN, prevote(a), index), sign_vote(KEYS[index], CHAIN, prevote(b), index)
    )


def test_evidence_is_canonical_whatever_the_order_of_arrival() -> None:
    one = sign_vote(KEYS[1], CHAIN, prevote(HASH_A), 1)
    two = sign_vote(KEYS[1], CHAIN, prevote(NIL), 1)
    evidence = compute_duplicate_vote_evidence(one, two)
    assert evidence == compute_duplicate_vote_evidence(two, one)
    assert evidence.vote_a.encode() < evidence.vote_b.encode()
    data = evidence.encode()
    assert codec.decode(data, max_size=1000)[0] == TAG_DUPLICATE_VOTE_EVIDENCE
    assert decode_evidence(data) == evidence
    validate_evidence(CHAIN, evidence, VALIDATORS)
    assert evidence.validator_index == 1


def test_evidence_in_the_wrong_order_does_not_decode() -> None:
    evidence = double_vote()
    swapped = DuplicateVoteEvidence(vote_a=evidence.vote_b, vote_b=evidence.vote_a)
    with pytest.raises(InvalidEvidence):
        decode_evidence(swapped.encode())
    with pytest.raises(InvalidEvidence):
        validate_evidence(CHAIN, swapped, VALIDATORS)


def forged(signed: SignedVote, **vote_changes: object) -> SignedVote:
    """The vote changed and re-signed by its own validator."""
    vote = replace(signed.vote, **vote_changes)  # type: ignore[arg-type]
    return sign_vote(KEYS[signed.validator_index], CHAIN, vote, signed.validator_index)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda e: (e.vote_a, sign_vote(KEYS[2], CHAIN, e.vote_b.vote, 2)), id="two-validators"),
        pytest.param(lambda e: (e.vote_a, forged(e.vote_b, round=5)), id="two-rounds"),
        pytest.param(lambda e: (e.vote_a, forged(e.vote_b, height=8)), id="two-heights"),
        pytest.param(lambda e: (e.vote_a, forged(e.vote_b, vote_type=VOTE_PRECOMMIT)), id="two-types"),
        pytest.param(lambda e: (e.vote_a, replace(e.vote_b, signature=bytes(64))), id="bad-signature"),
        pytest.param(lambda e: (e.vote_a, e.vote_a), id="same-vote"),
    ],
)
def test_evidence_that_proves_nothing_is_invalid(make: object) -> None:
    first, second = make(double_vote())  # type: ignore[operator]
    if first.encode() == second.encode():
        evidence = DuplicateVoteEvidence(vote_a=first, vote_b=second)
    else:
        evidence = compute_duplicate_vote_evidence(first, second)
    with pytest.raises(InvalidEvidence):
        validate_evidence(CHAIN, evidence, VALIDATORS)


def test_evidence_against_an_unknown_validator_is_invalid() -> None:
    evidence = double_vote(3)
    small = ValidatorSet(VALIDATORS.validators[:2])
    with pytest.raises(InvalidEvidence) as caught:
        validate_evidence(CHAIN, evidence, small)
    assert caught.value.field == "validator_index" and caught.value.code == "invalid_evidence"
