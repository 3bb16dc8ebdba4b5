"""Consensus wire objects: proposals, signed votes and duplicate-vote evidence, with their encodings.

Each object is a canonical tagged array (see docs/wire-format.md and docs/consensus.md, "The Tendermint
core"): proposal 12, signed proposal 13, signed vote 14, duplicate-vote evidence 15, all version 1. A vote
is the tag-5 array of `chainnode.block`; nil is the empty block hash. A proposal is signed over
`compute_signing_bytes(SIGN_PROPOSAL, chain_id, proposal.encode())`, a vote over
`compute_signing_bytes(SIGN_VOTE, chain_id, vote.encode())`, the same bytes a commit signature covers.
Decoders check the size first and every field, and raise InvalidInput subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chainnode import codec, crypto
from chainnode.block import TAG_VOTE, VOTE_PRECOMMIT, VOTE_PREVOTE, Vote
from chainnode.codec import Value
from chainnode.consensus.errors import InvalidEvidence, InvalidProposal
from chainnode.errors import InvalidField
from chainnode.validators import MAX_VALIDATORS, ValidatorSet

TAG_PROPOSAL: Final = 12
TAG_SIGNED_PROPOSAL: Final = 13
TAG_SIGNED_VOTE: Final = 14
TAG_DUPLICATE_VOTE_EVIDENCE: Final = 15
VERSION: Final = 1

NIL: Final = b""
"""The block hash of a nil vote."""
MAX_HEIGHT: Final = 2**63 - 1
MAX_ROUND: Final = 2**31
MAX_TIME_MS: Final = 2**63 - 1
VOTE_TYPES: Final = frozenset({VOTE_PREVOTE, VOTE_PRECOMMIT})

MAX_PROPOSAL_BYTES: Final = 128
MAX_SIGNED_PROPOSAL_BYTES: Final = 256
MAX_SIGNED_VOTE_BYTES: Final = 256
MAX_EVIDENCE_BYTES: Final = 512


# --- votes (tag 5, defined in chainnode.block) -----------------------------------------------------------


def vote_from_fields(value: Value) -> Vote:
    """Check a decoded tag-5 array and return the vote. Raises InvalidInput."""
    f = codec.check_object(value, tag=TAG_VOTE, version=VERSION, n_fields=4, what="vote")
    vote_type = codec.want_int(f[0], "vote_type", lo=VOTE_PREVOTE, hi=VOTE_PRECOMMIT)
    height = codec.want_int(f[1], "height", lo=1, hi=MAX_HEIGHT)
    round_ = codec.want_int(f[2], "round", hi=MAX_ROUND)
    block_hash = codec.want_bytes(f[3], "block_hash", max_size=crypto.HASH_SIZE)
    if len(block_hash) not in (0, crypto.HASH_SIZE):
        raise InvalidField("block_hash is 32 bytes, or empty for nil", field="block_hash")
    return Vote(vote_type=vote_type, height=height, round=round_, block_hash=block_hash)


def decode_vote(data: bytes) -> Vote:
    return vote_from_fields(codec.decode(data, max_size=MAX_SIGNED_VOTE_BYTES))


def _vote_array(vote: Vote) -> list[Value]:
    return [TAG_VOTE, VERSION, vote.vote_type, vote.height, vote.round, vote.block_hash]


# --- proposals ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """The proposer of (height, round) proposes the block `block_hash`.

    `pol_round` is the proposer's validRound: -1 for a fresh block, else the earlier round in which the
    block got prevotes from more than 2/3 of the voting power (Algorithm 1, line 19).
    """

    height: int
    round: int
    block_hash: bytes
    pol_round: int
    time_ms: int
    """The proposer's clock when it proposed (the block carries its own, checked, time)."""

    def fields(self) -> list[Value]:
        return [self.height, self.round, self.block_hash, self.pol_round, self.time_ms]

    def encode(self) -> bytes:
        return codec.encode_object(TAG_PROPOSAL, VERSION, self.fields())

    def compute_signing_bytes(self, chain_id: str) -> bytes:
        return crypto.compute_signing_bytes(crypto.SIGN_PROPOSAL, chain_id, self.encode())


def proposal_from_fields(value: Value) -> Proposal:
    """Check a decoded tag-12 array and return the proposal. Raises InvalidInput."""
    f = codec.check_object(value, tag=TAG_PROPOSAL, version=VERSION, n_fields=5, what="proposal")
    proposal = Proposal(
        height=codec.want_int(f[0], "height", lo=1, hi=MAX_HEIGHT),
        round=codec.want_int(f[1], "round", hi=MAX_ROUND),
        block_hash=codec.want_bytes(f[2], "block_hash", size=crypto.HASH_SIZE),
        pol_round=codec.want_int(f[3], "pol_round", lo=-1, hi=MAX_ROUND),
        time_ms=codec.want_int(f[4], "time_ms", hi=MAX_TIME_MS),
    )
    validate_proposal(proposal)
    return proposal


def validate_proposal(proposal: Proposal) -> None:
    """Raise InvalidProposal unless -1 <= pol_round < round (a proof of lock is from an earlier round)."""
    if not -1 <= proposal.pol_round < proposal.round:
        raise InvalidProposal(
            f"pol_round {proposal.pol_round} must be -1 or an earlier round than {proposal.round}", field="pol_round"
        )


def decode_proposal(data: bytes) -> Proposal:
    return proposal_from_fields(codec.decode(data, max_size=MAX_PROPOSAL_BYTES))


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedProposal:
    proposal: Proposal
    validator_index: int
    signature: bytes

    def encode(self) -> bytes:
        return codec.encode_object(
            TAG_SIGNED_PROPOSAL,
            VERSION,
            [[TAG_PROPOSAL, VERSION, *self.proposal.fields()], self.validator_index, self.signature],
        )


def decode_signed_proposal(data: bytes) -> SignedProposal:
    """Decode a tag-13 signed proposal (shape only; see verify_signed_proposal). Raises InvalidInput."""
    proposal, index, signature = codec.decode_object(
        data, tag=TAG_SIGNED_PROPOSAL, version=VERSION, n_fields=3, max_size=MAX_SIGNED_PROPOSAL_BYTES,
        what="signed proposal",
    )
    return SignedProposal(
        proposal=proposal_from_fields(proposal),
        validator_index=codec.want_int(index, "validator_index", hi=MAX_VALIDATORS - 1),
        signature=codec.want_bytes(signature, "signature", size=crypto.SIGNATURE_SIZE),
    )


def sign_proposal(key: crypto.PrivateKey, chain_id: str, proposal: Proposal, index: int) -> SignedProposal:
    return SignedProposal(
        proposal=proposal, validator_index=index, signature=key.sign(proposal.compute_signing_bytes(chain_id))
    )


def verify_signed_proposal(chain_id: str, signed: SignedProposal, validators: ValidatorSet) -> bool:
    """Whether the signature is the named validator's over the proposal. Does not check who proposes."""
    if not 0 <= signed.validator_index < len(validators):
        return False
    public_key = validators.validators[signed.validator_index].public_key
    return crypto.verify_signature(public_key, signed.proposal.compute_signing_bytes(chain_id), signed.signature)


# --- signed votes ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedVote:
    vote: Vote
    validator_index: int
    signature: bytes

    def fields(self) -> list[Value]:
        return [_vote_array(self.vote), self.validator_index, self.signature]

    def encode(self) -> bytes:
        return codec.encode_object(TAG_SIGNED_VOTE, VERSION, self.fields())


def signed_vote_from_fields(value: Value) -> SignedVote:
    vote, index, signature = codec.check_object(
        value, tag=TAG_SIGNED_VOTE, version=VERSION, n_fields=3, what="signed vote"
    )
    return SignedVote(
        vote=vote_from_fields(vote),
        validator_index=codec.want_int(index, "validator_index", hi=MAX_VALIDATORS - 1),
        signature=codec.want_bytes(signature, "signature", size=crypto.SIGNATURE_SIZE),
    )


def decode_signed_vote(data: bytes) -> SignedVote:
    """Decode a tag-14 signed vote (shape only; see verify_signed_vote). Raises InvalidInput."""
    return signed_vote_from_fields(codec.decode(data, max_size=MAX_SIGNED_VOTE_BYTES))


def is_well_formed_vote(vote: Vote) -> bool:
    """Known type, height >= 1, round >= 0, and a 32-byte or nil block hash."""
    return (
        vote.vote_type in VOTE_TYPES
        and 1 <= vote.height <= MAX_HEIGHT
        and 0 <= vote.round <= MAX_ROUND
        and len(vote.block_hash) in (0, crypto.HASH_SIZE)
    )


def sign_vote(key: crypto.PrivateKey, chain_id: str, vote: Vote, index: int) -> SignedVote:
    return SignedVote(vote=vote, validator_index=index, signature=key.sign(vote.compute_signing_bytes(chain_id)))


def verify_signed_vote(chain_id: str, signed: SignedVote, validators: ValidatorSet, *,
                       verify: crypto.Verifier = crypto.verify_signature) -> bool:
    """Whether the vote is well formed and signed by the validator it names. `verify` checks the signature
    (public key, message, signature): the node passes its cache of verified consensus signatures."""
    if not 0 <= signed.validator_index < len(validators) or not is_well_formed_vote(signed.vote):
        return False
    public_key = validators.validators[signed.validator_index].public_key
    return verify(public_key, signed.vote.compute_signing_bytes(chain_id), signed.signature)


# --- evidence -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DuplicateVoteEvidence:
    """Two signed votes of one validator for one height, round and type, for different block hashes.

    Canonical order: `vote_a` has the smaller encoding, so one double vote has one evidence encoding.
    """

    vote_a: SignedVote
    vote_b: SignedVote

    def encode(self) -> bytes:
        return codec.encode_object(
            TAG_DUPLICATE_VOTE_EVIDENCE,
            VERSION,
            [[TAG_SIGNED_VOTE, VERSION, *self.vote_a.fields()], [TAG_SIGNED_VOTE, VERSION, *self.vote_b.fields()]],
        )

    @property
    def validator_index(self) -> int:
        return self.vote_a.validator_index


def compute_duplicate_vote_evidence(first: SignedVote, second: SignedVote) -> DuplicateVoteEvidence:
    """The evidence of two conflicting votes, in canonical order (not validated: see validate_evidence)."""
    if second.encode() < first.encode():
        first, second = second, first
    return DuplicateVoteEvidence(vote_a=first, vote_b=second)


def decode_evidence(data: bytes) -> DuplicateVoteEvidence:
    """Decode tag-15 evidence and check its canonical order. Raises InvalidInput (InvalidEvidence)."""
    vote_a, vote_b = codec.decode_object(
        data, tag=TAG_DUPLICATE_VOTE_EVIDENCE, version=VERSION, n_fields=2, max_size=MAX_EVIDENCE_BYTES,
        what="duplicate vote evidence",
    )
    evidence = DuplicateVoteEvidence(vote_a=signed_vote_from_fields(vote_a), vote_b=signed_vote_from_fields(vote_b))
    if not evidence.vote_a.encode() < evidence.vote_b.encode():
        raise InvalidEvidence("evidence votes are not in canonical order (smaller encoding first)", field="vote_b")
    return evidence


def validate_evidence(chain_id: str, evidence: DuplicateVoteEvidence, validators: ValidatorSet) -> None:
    """Check that `evidence` proves a double vote by a validator of `validators` (the set of its height).

    Raises InvalidEvidence if the votes are not in canonical order, are from different validators, differ
    in type, height or round, are for the same block hash, name an unknown validator, or a signature does
    not verify.
    """
    a, b = evidence.vote_a, evidence.vote_b
    if not a.encode() < b.encode():
        raise InvalidEvidence("evidence votes are not in canonical order (smaller encoding first)", field="vote_b")
    if a.validator_index != b.validator_index:
        raise InvalidEvidence("evidence votes are from different validators", field="validator_index")
    if (a.vote.vote_type, a.vote.height, a.vote.round) != (b.vote.vote_type, b.vote.height, b.vote.round):
        raise InvalidEvidence("evidence votes differ in type, height or round", field="vote_b")
    if a.vote.block_hash == b.vote.block_hash:
        raise InvalidEvidence("evidence votes are for the same block hash", field="block_hash")
    if not 0 <= a.validator_index < len(validators):
        raise InvalidEvidence(f"no validator #{a.validator_index}", field="validator_index")
    for name, signed in (("vote_a", a), ("vote_b", b)):
        if not verify_signed_vote(chain_id, signed, validators):
            raise InvalidEvidence(f"evidence {name}: signature does not verify", field=name)


# --- what a WAL record holds ------------------------------------------------------------------------------


def _signed_payload(chain_id: str, data: bytes, domain: bytes, what: str) -> bytes:
    value = codec.decode(data, max_size=MAX_SIGNED_PROPOSAL_BYTES)
    if type(value) is not list or len(value) != 3:
        raise InvalidField(f"{what} signing bytes are [domain, chain_id, payload]", field="signing_bytes")
    if value[0] != domain or value[1] != chain_id or type(value[2]) is not bytes:
        raise InvalidField(f"{what} signing bytes are for another domain or chain", field="signing_bytes")
    return bytes(value[2])


def decode_vote_signing_bytes(chain_id: str, data: bytes) -> Vote:
    """Return the vote whose signing bytes on `chain_id` are `data`. Raises InvalidInput."""
    return decode_vote(_signed_payload(chain_id, data, crypto.SIGN_VOTE, "vote"))


def decode_proposal_signing_bytes(chain_id: str, data: bytes) -> Proposal:
    """Return the proposal whose signing bytes on `chain_id` are `data`. Raises InvalidInput."""
    return decode_proposal(_signed_payload(chain_id, data, crypto.SIGN_PROPOSAL, "proposal"))
