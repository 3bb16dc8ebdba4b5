"""Evidence of equivocation: a validator that signed two different votes for one height, round and type.

Any node that sees two such votes submits them in an `evidence.report` transaction signed with its node
key. The contract checks both signatures against the offender's key and that the key belongs to a
registered department node, then records the evidence once per (offender, height, round, type), so
auditors can find it and later governance can act on it. The proof is self-contained: the two signed
votes, which only the offender's key could have produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chainnode import crypto
from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Vote
from chainnode.codec import Value
from chainnode.results import Event
from contracts import governance
from contracts.base import CallContext, ContractError, Outcome, StateOverlay, want_args_map

PREFIX: Final = b"evidence/"
FIELDS: Final = {
    "offender",
    "vote_type",
    "height",
    "round",
    "block_hash_a",
    "signature_a",
    "block_hash_b",
    "signature_b",
}


@dataclass(frozen=True, slots=True)
class ReportArgs:
    offender: bytes
    vote_type: int
    height: int
    round: int
    block_hash_a: bytes
    signature_a: bytes
    block_hash_b: bytes
    signature_b: bytes


def evidence_key(offender: bytes, vote_type: int, height: int, round_: int) -> bytes:
    return PREFIX + offender + b"/" + height.to_bytes(8, "big") + round_.to_bytes(4, "big") + bytes([vote_type])


def parse_report(args: Value) -> ReportArgs:
    fields = want_args_map(args, FIELDS, FIELDS)
    for name in ("offender",):
        if type(fields[name]) is not bytes or len(fields[name]) != 32:
            raise ContractError("invalid_arguments", f"{name} must be a 32-byte public key", field=name)
    for name in ("block_hash_a", "block_hash_b"):
        if type(fields[name]) is not bytes or len(fields[name]) not in (0, 32):
            raise ContractError("invalid_arguments", f"{name} must be 32 bytes, or empty for nil", field=name)
    for name in ("signature_a", "signature_b"):
        if type(fields[name]) is not bytes or len(fields[name]) != crypto.SIGNATURE_SIZE:
            raise ContractError("invalid_arguments", f"{name} must be a 64-byte signature", field=name)
    if fields["vote_type"] not in (VOTE_PREVOTE, VOTE_PRECOMMIT) or type(fields["vote_type"]) is not int:
        raise ContractError("invalid_arguments", "vote_type must be 1 (prevote) or 2 (precommit)", field="vote_type")
    for name in ("height", "round"):
        if type(fields[name]) is not int or not 0 <= fields[name] < 2**62:
            raise ContractError("invalid_arguments", f"{name} must be a non-negative integer", field=name)
    if fields["block_hash_a"] == fields["block_hash_b"]:
        raise ContractError("invalid_arguments", "the two votes are for the same value: no equivocation")
    return ReportArgs(**{name: fields[name] for name in ReportArgs.__slots__})


def report(overlay: StateOverlay, args: ReportArgs, ctx: CallContext) -> Outcome:
    # AUTHORISE: only department nodes report evidence.
    reporter = governance.member_at(overlay, ctx.signer, ctx.height)
    if reporter is None or "node" not in reporter.roles:
        raise ContractError("not_authorised", "evidence is reported by a department node key", field="signer")
    offender = governance.member_at(overlay, args.offender, args.height)  # the roster when it voted
    if offender is None or "node" not in offender.roles:
        raise ContractError(
            "unknown_validator", "the offender key is not a registered department node", field="offender"
        )
    # CHECK: both votes are really signed by the offender.
    for which, block_hash, signature in (
        ("a", args.block_hash_a, args.signature_a),
        ("b", args.block_hash_b, args.signature_b),
    ):
        vote = Vote(vote_type=args.vote_type, height=args.height, round=args.round, block_hash=block_hash)
        if not crypto.verify_signature(args.offender, vote.compute_signing_bytes(ctx.chain_id), signature):
            raise ContractError(
                "invalid_evidence", f"vote {which} is not signed by the offender", field=f"signature_{which}"
            )
    key = evidence_key(args.offender, args.vote_type, args.height, args.round)
    if overlay.get(key) is not None:
        raise ContractError("evidence_exists", "this equivocation is already recorded")
    # EFFECT
    overlay.put_value(
        key,
        {
            "offender": args.offender,
            "department": offender.department,
            "vote_type": args.vote_type,
            "height": args.height,
            "round": args.round,
            "votes": [[args.block_hash_a, args.signature_a], [args.block_hash_b, args.signature_b]],
            "reported_by": reporter.department,
            "recorded_height": ctx.height,
        },
    )
    event = Event(
        kind="evidence.equivocation",
        attributes={
            "offender": args.offender,
            "department": offender.department,
            "height": args.height,
            "round": args.round,
        },
    )
    return Outcome((event,), (f"department:{offender.department}", f"validator:{args.offender.hex()}"))


def compute_report_targets(args: ReportArgs) -> tuple[str, ...]:
    """The entity a report names: the offending validator."""
    return (f"validator:{args.offender.hex()}",)
