"""The arguments of the cases contract's methods: their shapes and the stateless parsers run at admission and
again at execution (each raises ContractError("invalid_arguments") naming the field)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from chainnode.codec import Value
from contracts import args as A
from contracts.base import want_args_map
from contracts.case_queries import Problem

MAX_CITED: Final = 32
"""Materials one call may cite."""
MAX_CASE_MATERIALS: Final = 64
MAX_STEPS: Final = 256
MAX_PROBLEMS: Final = 32
MAX_REASON: Final = 256
OFFICER_ROLES: Final = ("clerk", "reviewer", "approver")
REVIEW_OPINIONS: Final = ("agree", "disagree", "note")
PARALLEL_OPINIONS: Final = ("agree", "disagree")
DECISIONS: Final = ("approve", "deny")

@dataclass(frozen=True, slots=True)
class FileArgs:
    item_code: str
    holder_ref: bytes
    materials: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class ResubmitArgs:
    case_id: str
    materials: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class CorrectionArgs:
    case_id: str
    problems: tuple[Problem, ...]
    note: str


@dataclass(frozen=True, slots=True)
class OpinionArgs:
    """The arguments of `review` and `opinion`."""

    case_id: str
    opinion: str
    comment: str


@dataclass(frozen=True, slots=True)
class HandOverArgs:
    case_id: str
    to: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class CertificateArgs:
    content_hash: bytes
    valid_from_ms: int | None
    valid_until_ms: int | None
    metadata: dict[str, str]
    issuer_officer: bytes | None = None
    """The key recorded as the certificate's issuing officer, when the approver holds no `issuer` role."""


@dataclass(frozen=True, slots=True)
class DecideArgs:
    case_id: str
    decision: str
    reason: str
    certificate: CertificateArgs | None


def _cited(value: Value, field: str, *, min_items: int) -> tuple[str, ...]:
    cited = A.items_of(value, field, A.record_id, max_items=MAX_CITED, min_items=min_items, unique=False)
    twice = sorted({m for m in cited if cited.count(m) > 1})
    if twice:
        raise A.bad(field, f"{field} cites material {', '.join(twice)} more than once")
    return cited


def _note(fields: dict[str, Value]) -> str:
    return A.optional(fields, "note", lambda v, n: A.text(v, n, min_len=0), "")


def parse_file(args: Value) -> FileArgs:
    """Raises ContractError (invalid_arguments) naming the argument at fault."""
    f = want_args_map(args, {"item_code", "holder_ref", "materials", "note"}, {"item_code", "holder_ref", "materials"})
    return FileArgs(item_code=A.code(f["item_code"], "item_code"), holder_ref=A.bytes32(f["holder_ref"], "holder_ref"),
                    materials=_cited(f["materials"], "materials", min_items=0), note=_note(f))


def parse_resubmit(args: Value) -> ResubmitArgs:
    f = want_args_map(args, {"case_id", "materials", "note"}, {"case_id", "materials"})
    return ResubmitArgs(case_id=A.record_id(f["case_id"], "case_id"),
                        materials=_cited(f["materials"], "materials", min_items=1), note=_note(f))


def _problem(value: Value, field: str) -> Problem:
    f = want_args_map(value, {"material_type", "reason"}, {"material_type", "reason"})
    return Problem(A.code(f["material_type"], f"{field}.material_type"),
                   A.text(f["reason"], f"{field}.reason", max_len=MAX_REASON))


def parse_request_correction(args: Value) -> CorrectionArgs:
    """`problems` name a material type and a reason each (free text, or one of missing, issuer_not_accepted,
    form_not_accepted); `note` says what the applicant must do."""
    f = want_args_map(args, {"case_id", "problems", "note"}, {"case_id", "problems", "note"})
    return CorrectionArgs(case_id=A.record_id(f["case_id"], "case_id"),
                          problems=A.items_of(f["problems"], "problems", _problem, max_items=MAX_PROBLEMS,
                                              min_items=1),
                          note=A.text(f["note"], "note"))


def _opinion_parser(choices: tuple[str, ...]) -> Callable[[Value], OpinionArgs]:
    def parse(args: Value) -> OpinionArgs:
        f = want_args_map(args, {"case_id", "opinion", "comment"}, {"case_id", "opinion", "comment"})
        return OpinionArgs(case_id=A.record_id(f["case_id"], "case_id"),
                           opinion=A.choice(f["opinion"], "opinion", choices), comment=A.text(f["comment"], "comment"))

    return parse


parse_review = _opinion_parser(REVIEW_OPINIONS)
parse_opinion = _opinion_parser(PARALLEL_OPINIONS)


def parse_hand_over(args: Value) -> HandOverArgs:
    f = want_args_map(args, {"case_id", "to", "reason"}, {"case_id", "to", "reason"})
    return HandOverArgs(case_id=A.record_id(f["case_id"], "case_id"), to=A.bytes32(f["to"], "to"),
                        reason=A.text(f["reason"], "reason"))






def _certificate(value: Value, field: str) -> CertificateArgs:
    f = want_args_map(value, {"content_hash", "valid_from_ms", "valid_until_ms", "metadata", "issuer_officer"},
                      {"content_hash"})
    parsed = CertificateArgs(
        content_hash=A.bytes32(f["content_hash"], f"{field}.content_hash"),
        valid_from_ms=A.optional(f, "valid_from_ms", lambda v, n: A.time_ms(v, f"{field}.valid_from_ms"), None),
        valid_until_ms=A.optional(f, "valid_until_ms", lambda v, n: A.time_ms(v, f"{field}.valid_until_ms"), None),
        metadata=A.optional(f, "metadata", lambda v, n: A.metadata(v, f"{field}.metadata"), {}),
        issuer_officer=A.optional(f, "issuer_officer", lambda v, n: A.bytes32(v, f"{field}.issuer_officer"), None),
    )
    start, end = parsed.valid_from_ms, parsed.valid_until_ms
    if start is not None and end is not None and end <= start:
        raise A.bad(f"{field}.valid_until_ms", f"{field}.valid_until_ms ({end}) must be after valid_from_ms ({start})")
    return parsed


def parse_decide(args: Value) -> DecideArgs:
    f = want_args_map(args, {"case_id", "decision", "reason", "certificate"}, {"case_id", "decision", "reason"})
    parsed = DecideArgs(case_id=A.record_id(f["case_id"], "case_id"),
                        decision=A.choice(f["decision"], "decision", DECISIONS), reason=A.text(f["reason"], "reason"),
                        certificate=A.optional(f, "certificate", _certificate, None))
    if parsed.certificate is not None and parsed.decision != "approve":
        raise A.bad("certificate", "a certificate is issued only with decision approve")
    return parsed


def compute_file_targets(args: FileArgs) -> tuple[str, ...]:
    """The entities a filing names: the item, the holder and the cited materials."""
    return (f"item:{args.item_code}", f"holder:{args.holder_ref.hex()}", *(f"material:{m}" for m in args.materials))


def compute_case_targets(args: ResubmitArgs | CorrectionArgs | OpinionArgs | HandOverArgs | DecideArgs
                         ) -> tuple[str, ...]:
    """The entities a call on a case names: the case, and the materials a resubmission cites."""
    cited = args.materials if isinstance(args, ResubmitArgs) else ()
    return (f"case:{args.case_id}", *(f"material:{m}" for m in cited))
