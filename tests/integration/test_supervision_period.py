"""Deadline supervision for a period of dates, per step and per officer, through the API and `chainnode case
overdue`, on an in-process chain whose clock the test moves by days."""

from __future__ import annotations

from pathlib import Path

from chainnode import crypto
from tests.report_chain import DAY_MS, Chain, open_chain


def first_height_on(chain: Chain, date: str) -> int:
    """The first block made on `date`, by a plain scan (the node uses a binary search)."""
    store = chain.node.reader.store
    for height in range(1, chain.node.head_height() + 1):
        header = store.get_header(height)
        assert header is not None
        if chain.date(header.time_ms) >= date:
            return height
    return chain.node.head_height() + 1


async def build(chain: Chain) -> tuple[str, str, list[str], crypto.PrivateKey]:
    """Case A filed on day 0, reviewed by Reviewer Li and approved on day 1; case B filed on day 3, overdue
    by day 23. Returns (A, B, the dates of days 0, 1, 3, 23, the reviewer's key)."""
    await chain.setup_item()
    reviewer = await chain.register("Reviewer Li", ["reviewer"])
    day0 = chain.date()
    case_a = await chain.file_case()
    chain.clock.now += DAY_MS
    day1 = chain.date()
    await chain.call("cases", "review", {"case_id": case_a, "opinion": "agree", "comment": "complete"}, key=reviewer)
    await chain.call("cases", "decide", {"case_id": case_a, "decision": "approve", "reason": "complete",
                                         "certificate": {"content_hash": crypto.sha256(b"permit A")}})
    chain.clock.now += 2 * DAY_MS
    day3 = chain.date()
    case_b = await chain.file_case()
    chain.clock.now += 20 * DAY_MS
    await chain.block()
    return case_a, case_b, [day0, day1, day3, chain.date()], reviewer


async def test_a_period_of_dates_reports_its_cases_steps_and_officers(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        case_a, case_b, (day0, day1, day3, _), reviewer = await build(chain)
        first = await chain.get(f"/v1/supervision/PSB?from_date={day0}&to_date={day1}&per_officer=1")
        assert (first["from_date"], first["to_date"]) == (day0, day1)
        assert first["from_height"] == first_height_on(chain, day0)
        assert first["to_height"] == first["height"] == first_height_on(chain, day3) - 1  # day 1's last block
        assert (first["decided"], first["decided_on_time"], first["open"]) == (1, 1, 0)
        assert first["on_time_rate"] == "100.0" and first["overdue"] == []
        steps = {s["kind"]: s for s in first["time_per_step"]}
        assert list(steps) == ["file", "review", "decide"]
        assert steps["file"]["count"] == 1 and steps["file"]["median_ms"] is None
        assert steps["review"]["median_ms"] >= DAY_MS  # the review came a day after the filing
        officers = {o["name"]: o for o in first["officers"]}
        assert officers["Reviewer Li"]["signer"] == reviewer.public_key.hex()
        assert (officers["Reviewer Li"]["cases"], officers["Reviewer Li"]["on_time"],
                officers["Reviewer Li"]["overdue"]) == (1, 1, 0)
        assert officers["PSB officer"]["steps"] == 2  # filed and decided

        later = await chain.get(f"/v1/supervision/PSB?from_date={day3}&per_officer=1")
        assert later["from_height"] == first_height_on(chain, day3) and later["height"] == chain.node.head_height()
        assert [c["case_id"] for c in later["overdue"]] == [case_b] and later["decided"] == 0
        assert later["on_time_rate"] is None
        assert [(o["name"], o["cases"], o["overdue"]) for o in later["officers"]] == [("PSB officer", 1, 1)]
        every = await chain.get("/v1/supervision/PSB?per_officer=1")
        assert {o["name"]: o["cases"] for o in every["officers"]} == {"PSB officer": 2, "Reviewer Li": 1}
        assert [c["case_id"] for c in every["overdue"]] == [case_b] and case_a not in str(every["overdue"])
        plain = await chain.get(f"/v1/supervision/PSB?from_date={day0}")
        assert "officers" not in plain and plain["open"] == 1 and plain["decided"] == 1


async def test_bad_periods_and_departments_are_named(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        await chain.setup_item()
        today = chain.date()
        backwards = await chain.get("/v1/supervision/PSB?from_date=2026-03-02&to_date=2026-03-01", expect=400)
        assert backwards["code"] == "invalid_field" and backwards["field"] == "to_date"
        assert "ends before it starts" in backwards["detail"]
        missing = await chain.get(f"/v1/supervision/PSX?from_date={today}", expect=404)
        assert missing["code"] == "not_found" and missing["field"] == "department" and "PSX" in missing["detail"]
        assert (await chain.get("/v1/supervision/PSX", expect=404))["code"] == "not_found"
        bad = await chain.get("/v1/supervision/PSB?from_date=2026-13-01", expect=400)
        assert bad["field"] == "from_date"
        mixed = await chain.get(f"/v1/supervision/PSB?from_date={today}&from_height=1", expect=400)
        assert mixed["field"] == "from_height"
        assert (await chain.get("/v1/supervision/PSB?to_date=2000-01-01&height=1", expect=400))["field"] == "height"
        before = await chain.get("/v1/supervision/PSB?to_date=2000-01-01")  # no block then: an empty period
        assert before["height"] == 0 and before["to_height"] == 0 and before["open"] == 0
        after = await chain.get("/v1/supervision/PSB?from_date=2999-01-01")
        assert after["from_height"] == chain.node.head_height() + 1 and after["open"] == after["decided"] == 0


async def test_case_overdue_command(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        _, case_b, (day0, day1, day3, _), _ = await build(chain)
        result = await chain.cli("case", "overdue", "PSB", "--from-date", day0, "--to-date", day1, "--per-officer")
        assert result.code == 0, result.err
        assert f"cases filed {day0} to {day1}" in result.out and "100.0% on time" in result.out
        assert "Reviewer Li (PSB" in result.out and "1 case(s), 1 decided on time, 0 overdue" in result.out
        assert "review" in result.out and "starts the clock" in result.out
        overdue = await chain.cli("case", "overdue", "PSB", "--from-date", day3, "--json")
        assert overdue.code == 0 and [c["case_id"] for c in overdue.json()["overdue"]] == [case_b]
        legacy = await chain.cli("case", "overdue", "--department", "PSB", "--from-height", 1)
        assert legacy.code == 0 and case_b in legacy.out
        unknown = await chain.cli("case", "overdue", "PSX")
        assert unknown.code == 1 and unknown.err.startswith("error: not_found: ") and "PSX" in unknown.err
        backwards = await chain.cli("case", "overdue", "PSB", "--from-date", day1, "--to-date", day0)
        assert backwards.code == 2 and "before --from-date" in backwards.err
        mixed = await chain.cli("case", "overdue", "PSB", "--from-date", day1, "--from-height", 2)
        assert mixed.code == 2
