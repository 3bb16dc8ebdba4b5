"""The official-documents part of the demo story (公文): sent, delivered, opened, signed for, returned,
withdrawn and forwarded, then traced by an auditor with every opening.

SAMR sends a notice to TAX and PSB; each recipient's node fetches the ciphertext from SAMR's node and
reports the delivery; TAX opens it and signs for it; PSB opens it and returns it with a reason; SAMR sends
a second document and withdraws it before anyone signs for it; TAX forwards the notice to CAB, which opens
it; an auditor lists the notice's whole history.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chainnode import doc_client
from chainnode.errors import ChainError

DELIVERY_WAIT_S: Final = 60.0


@dataclass
class DocumentsResult:
    notice_id: str = ""
    withdrawn_id: str = ""
    forward_id: str = ""
    states: dict[str, str] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    openings: int = 0


class DocumentStory:
    def __init__(self, offices: Mapping[str, Any], say: Callable[[str], None], suffix: str, year: int) -> None:
        missing = [d for d in ("SAMR", "TAX", "PSB", "CAB") if d not in offices]
        if missing:
            raise ChainError(f"the documents story needs the nodes of {', '.join(missing)}")
        self.offices = offices
        self.say = say
        self.suffix = suffix
        self.year = year
        self.result = DocumentsResult()

    def _record(self, department: str, doc_id: str) -> dict[str, Any]:
        office = self.offices[department]
        return doc_client.record(office.client, office.key, doc_id)

    def wait_delivered(self, doc_id: str, departments: list[str]) -> None:
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while True:
            status = self._record("SAMR", doc_id)["document"]["recipient_status"]
            pending = [d for d in departments if status[d]["delivered_height"] is None]
            if not pending:
                heights = ", ".join(f"{d} at height {status[d]['delivered_height']}" for d in departments)
                self.say(f"  the recipients' nodes fetched the ciphertext from SAMR's node and reported it: {heights}")
                return
            if time.monotonic() > deadline:
                raise ChainError(f"the nodes of {', '.join(pending)} did not report the delivery of {doc_id} "
                                 f"within {DELIVERY_WAIT_S:g} s")
            time.sleep(0.2)

    def open(self, department: str, doc_id: str, work: Path, purpose: str | None) -> Path:
        office = self.offices[department]
        out = work / f"{department}-{doc_id[:8]}.txt"
        opened = doc_client.open_to(office.client, office.key, doc_id, out, purpose=purpose)
        self.say(f"  {department} opened it through its own node (recorded at height {opened.height}"
                 + (f", purpose: {purpose}" if purpose else "") + f"): {out.read_text()[:60]!r}…")
        return out

    def run(self) -> DocumentsResult:
        samr = self.offices["SAMR"]
        with tempfile.TemporaryDirectory(prefix="chainnode-demo-") as tmp:
            work = Path(tmp)
            self.say("")
            self.say("== 9. SAMR sends a notice to TAX and PSB (encrypted to them; the nodes see ciphertext only)")
            notice = work / "notice.txt"
            notice.write_text(f"Notice {self.suffix}: the enterprise registered in this story has been granted a "
                              "business licence; please update your records.\n" * 20)
            sent = doc_client.send(samr.client, samr.key, notice, recipients=["TAX", "PSB"],
                                   number=f"SAMR[{self.year}]{self.suffix}-1", title="Notice of a new registration",
                                   classification="internal", max_bytes=64 << 20, reply_days=5)
            self.result.notice_id = sent.doc_id
            self.say(f"  document {sent.doc_id} ({sent.digest.ciphertext_size} bytes of ciphertext) at height "
                     f"{sent.height}; reply due in 5 working days")
            self.wait_delivered(sent.doc_id, ["TAX", "PSB"])

            self.say("")
            self.say("== 10. TAX opens the notice and signs for it (签收); PSB returns it (退回)")
            opened = self.open("TAX", sent.doc_id, work, "update the taxpayer register")
            tax = self.offices["TAX"]
            _, height = doc_client.receipt(tax.client, tax.key, sent.doc_id, opened)
            self.say(f"  TAX signed for it at height {height}, naming the content's SHA-256 (the contract checks it)")
            self.open("PSB", sent.doc_id, work, None)
            psb = self.offices["PSB"]
            _, height = doc_client.return_document(psb.client, psb.key, sent.doc_id, "not within PSB's remit")
            self.say(f"  PSB returned it at height {height}: not within PSB's remit")

            self.say("")
            self.say("== 11. SAMR sends a second document to TAX and withdraws it (撤回) before any receipt")
            draft = work / "draft.txt"
            draft.write_text("A draft sent by mistake.\n")
            second = doc_client.send(samr.client, samr.key, draft, recipients=["TAX"],
                                     number=f"SAMR[{self.year}]{self.suffix}-2", title="Draft (sent by mistake)",
                                     classification="internal", max_bytes=64 << 20)
            _, height = doc_client.withdraw(samr.client, samr.key, second.doc_id, "sent by mistake")
            self.result.withdrawn_id = second.doc_id
            self.say(f"  document {second.doc_id} sent at height {second.height}, withdrawn at height {height}")

            self.say("")
            self.say("== 12. TAX forwards the notice to CAB (转发), which opens it")
            forwarded = doc_client.forward(tax.client, tax.key, sent.doc_id, ["CAB"], "for the civil registry")
            self.result.forward_id = forwarded.doc_id
            self.say(f"  forward {forwarded.doc_id} at height {forwarded.height} (same number and content, new "
                     "sealed keys for CAB)")
            self.wait_delivered_by("TAX", forwarded.doc_id, ["CAB"])
            self.open("CAB", forwarded.doc_id, work, "civil registry update")

        self.say("")
        self.say(f"== 13. An auditor traces the notice {sent.doc_id} and its forward")
        events: list[tuple[int, str, str, str, str]] = []
        for doc_id, label in ((sent.doc_id, ""), (forwarded.doc_id, " [forward]")):
            answer = self._record("CAB", doc_id)
            document = answer["document"]
            if doc_id == sent.doc_id:
                self.result.states = {code: s["state"] for code, s in document["recipient_status"].items()}
            events += [(h["height"], h["action"] + label, h["department"], h.get("signer_name"), h.get("detail") or "")
                       for h in document["history"]]
            events += [(a["height"], "opened" + label + (" (FLAGGED)" if a["flagged"] else ""), a["department"],
                        a["signer_name"], a.get("purpose") or "") for a in answer["access"]]
            self.result.openings += len(answer["access"])
        for height, action, department, signer, detail in sorted(events, key=lambda e: e[0]):
            line = f"  height {height}: {action} by {signer} ({department})" + (f": {detail}" if detail else "")
            self.result.history.append(line.strip())
            self.say(line)
        return self.result

    def wait_delivered_by(self, reader: str, doc_id: str, departments: list[str]) -> None:
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while True:
            status = self._record(reader, doc_id)["document"]["recipient_status"]
            if all(status[d]["delivered_height"] is not None for d in departments):
                return
            if time.monotonic() > deadline:
                raise ChainError(f"{', '.join(departments)} did not report the delivery of {doc_id} in time")
            time.sleep(0.2)
