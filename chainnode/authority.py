"""The authority report (权限核查): every committed, successful decision, certificate action and document action
whose signer did not hold the role the method needs at that height, or whose department was not authorised
for it, found by re-reading the committed blocks and the state as of each height.

The contracts refuse such calls, so on a healthy chain the report is empty: it is the auditor's independent
check of that, with its own table of rules (`RULES`), not a re-run of the contracts. For a transaction of
block h, the roster is the one in force at h (`governance.member_at` over the state after block h-1, whose
role periods say what held at h) and the records it acted on (case, certificate, document, item,
certificate type) are read from the state after block h-1, or after block h for a record the same block
created. A request covers at most MAX_BLOCKS blocks, so one answer is bounded work on the read pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from chainnode import records
from chainnode.errors import InvalidField
from chainnode.results import decode_result
from chainnode.tx import Transaction, decode_transaction
from contracts import case_queries, certificates, document_queries, governance, items, proposals

if TYPE_CHECKING:
    from chainnode.reader import Reader

MAX_BLOCKS: Final = 10_000
ROLE_NOT_HELD: Final = "role_not_held"
NOT_A_MEMBER: Final = "not_a_member"
DEPARTMENT_NOT_AUTHORISED: Final = "department_not_authorised"


DepartmentRule = Callable[[records.View, records.View, dict[str, Any]], tuple[str, ...] | None]


@dataclass(frozen=True, slots=True)
class Rule:
    roles: tuple[str, ...]
    """The signer must hold one of these at the height (any role if empty)."""
    departments: DepartmentRule
    """The departments one of which the signer must belong to, from (state before, state after, args);
    None when the method puts no department rule or the record cannot be found."""
    authority: str = ""
    """What those departments are, for a finding's detail: a template over the call's arguments, e.g.
    "an issuer of certificate type {cert_type}"."""

    def describe_authority(self, args: dict[str, Any]) -> str:
        """`authority` filled in with the call's arguments (a missing one shows as `?`)."""
        return self.authority.format_map({k: str(args.get(k, "?")) for k in ("case_id", "cert_id", "cert_type",
                                                                             "doc_id", "item_code")})


def _departments_of(read: Callable[[records.View, str], Any], arg: str,
                    pick: Callable[[Any], Sequence[str]]) -> DepartmentRule:
    """A department rule: the departments `pick` names in the record `read` finds by the call's argument
    `arg`, in the state before the block, or after it for a record the same block created."""
    def departments(before: records.View, after: records.View, args: dict[str, Any]) -> tuple[str, ...] | None:
        found = read(before, str(args.get(arg)))
        if found is None:
            found = read(after, str(args.get(arg)))
        return None if found is None else tuple(pick(found))

    return departments


def _none(before: records.View, after: records.View, args: dict[str, Any]) -> tuple[str, ...] | None:
    return None


_case_department = _departments_of(case_queries.get_case, "case_id", lambda r: (r["department"],))
_parallel_departments = _departments_of(case_queries.get_case, "case_id", lambda r: r["parallel_departments"])
_item_department = _departments_of(items.get_item, "item_code", lambda i: (i.department,))
_cert_issuer = _departments_of(certificates.get_certificate, "cert_id", lambda r: (r["issuer"],))
_cert_type_issuers = _departments_of(proposals.get_cert_type, "cert_type", lambda r: r["issuers"])
_document_sender = _departments_of(document_queries.get_document, "doc_id", lambda r: (r["sender"],))
_document_recipients = _departments_of(document_queries.get_document, "doc_id", lambda r: r["recipients"])


ISSUER: Final = ("issuer",)
OFFICER: Final = ("document_officer",)
CASE_HOLDER: Final = "the department holding case {case_id}"
CERT_ISSUER: Final = "the department that issued certificate {cert_id}"
RECIPIENT: Final = "a recipient of document {doc_id}"
RULES: Final[dict[tuple[str, str], Rule]] = {
    ("cases", "file"): Rule(("clerk",), _item_department, "the implementing department of item {item_code}"),
    ("cases", "resubmit"): Rule(("clerk",), _case_department, CASE_HOLDER),
    ("cases", "request_correction"): Rule(("reviewer", "approver"), _case_department, CASE_HOLDER),
    ("cases", "review"): Rule(("reviewer",), _case_department, CASE_HOLDER),
    ("cases", "opinion"): Rule(("reviewer", "approver"), _parallel_departments,
                               "a parallel department of case {case_id}"),
    ("cases", "hand_over"): Rule((), _case_department, CASE_HOLDER),
    ("cases", "decide"): Rule(("approver",), _case_department, CASE_HOLDER),
    ("certificates", "issue"): Rule(ISSUER, _cert_type_issuers,
                                    "an issuer of certificate type {cert_type} (the competent authority for it)"),
    ("certificates", "amend"): Rule(ISSUER, _cert_issuer, CERT_ISSUER),
    ("certificates", "suspend"): Rule(ISSUER, _cert_issuer, CERT_ISSUER),
    ("certificates", "reinstate"): Rule(ISSUER, _cert_issuer, CERT_ISSUER),
    ("certificates", "renew"): Rule(ISSUER, _cert_issuer, CERT_ISSUER),
    ("certificates", "revoke"): Rule(ISSUER, _cert_issuer, CERT_ISSUER),
    ("documents", "send"): Rule(OFFICER, _none),
    ("documents", "receipt"): Rule(OFFICER, _document_recipients, RECIPIENT),
    ("documents", "return_document"): Rule(OFFICER, _document_recipients, RECIPIENT),
    ("documents", "withdraw"): Rule(OFFICER, _document_sender, "the sender of document {doc_id}"),
    ("documents", "forward"): Rule(OFFICER, _document_recipients, RECIPIENT),
    ("documents", "delivered"): Rule((governance.ROLE_NODE,), _document_recipients, RECIPIENT),
    ("documents", "access"): Rule((), _none),
}
"""What each checked method needs, as docs/contracts.md states it."""


def compute_findings(tx: Transaction, rule: Rule, before: records.View, after: records.View,
                     height: int) -> tuple[governance.MemberRecord | None, list[tuple[str, str]]]:
    """The signer's roster entry at `height` and (problem, detail) for each rule `tx`, committed at
    `height`, broke; the list is empty if it broke none."""
    member = governance.member_at(before, tx.signer, height)
    if member is None:
        return None, [(NOT_A_MEMBER, f"the signer held no role at height {height}")]
    found = []
    if rule.roles and not set(rule.roles) & set(member.roles):
        found.append((ROLE_NOT_HELD, f"{tx.body.contract}.{tx.body.method} needs {' or '.join(rule.roles)}; "
                                     f"{member.name} ({member.department}) held {', '.join(member.roles)}"))
    args = tx.body.args if isinstance(tx.body.args, dict) else {}
    allowed = rule.departments(before, after, args)
    if allowed is not None and member.department not in allowed:
        found.append((DEPARTMENT_NOT_AUTHORISED,
                      f"{tx.body.contract}.{tx.body.method} by {member.name} of {member.department}, which is not "
                      f"{rule.describe_authority(args)}; only {', '.join(allowed) or 'no department'} may do this"))
    return member, found


def compute_range(head: int, from_height: int | None, to_height: int | None) -> tuple[int, int]:
    """The requested range with its defaults: up to MAX_BLOCKS blocks from `from_height`, or ending at
    `to_height` (default: the head). Raises InvalidField (field to_height) for a range that is reversed or
    longer than MAX_BLOCKS."""
    if from_height is None:
        last = head if to_height is None else to_height
        return max(1, last - MAX_BLOCKS + 1), last
    last = min(head, from_height + MAX_BLOCKS - 1) if to_height is None else to_height
    if last < from_height:
        raise InvalidField(f"to_height {last} is below from_height {from_height}", field="to_height")
    if last - from_height + 1 > MAX_BLOCKS:
        raise InvalidField(f"a request covers at most {MAX_BLOCKS} blocks; {from_height} to {last} is "
                           f"{last - from_height + 1}: ask for the range in parts", field="to_height")
    return from_height, last


def get_authority_report(reader: Reader, from_height: int | None = None, to_height: int | None = None
                         ) -> dict[str, Any]:
    """Every successful checked call in blocks [from_height, to_height] (`compute_range`; heights above the
    head are not made yet) that broke a rule of RULES. `next_from_height` says where to continue when the
    range stops below the head. Raises InvalidField for a reversed range or one longer than MAX_BLOCKS."""
    head = reader.head_height()
    first, last = compute_range(head, from_height, to_height)
    top = min(last, head)
    findings: list[dict[str, Any]] = []
    checked = 0
    for height in range(max(first, 1), top + 1):
        block = reader.store.get_block(height)
        if block is None:
            continue
        results = reader.get_results(height)
        before, after = records.view(reader, height - 1), records.view(reader, height)
        for index, raw in enumerate(block.txs):
            tx = decode_transaction(raw)
            rule = RULES.get((tx.body.contract, tx.body.method))
            if rule is None or index >= len(results) or decode_result(results[index]).code != "ok":
                continue
            checked += 1
            member, problems = compute_findings(tx, rule, before, after, height)
            for problem, detail in problems:
                findings.append({
                    "height": height, "index": index, "time_ms": block.header.time_ms, "tx_id": tx.tx_id.hex(),
                    "contract": tx.body.contract, "method": tx.body.method, "signer": tx.signer.hex(),
                    "signer_name": None if member is None else member.name,
                    "signer_department": None if member is None else member.department,
                    "signer_roles": [] if member is None else list(member.roles),
                    "problem": problem, "detail": detail,
                })
    return {"head": head, "from_height": first, "to_height": top, "max_blocks": MAX_BLOCKS,
            "next_from_height": top + 1 if top < head else None, "checked": checked, "findings": findings}
