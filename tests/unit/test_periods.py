"""Dates to heights: the binary search agrees with a scan on every boundary."""

from __future__ import annotations

import pytest

from chainnode.errors import InvalidField
from chainnode.periods import compute_first_height_at, compute_period, parse_date_param
from contracts.calendar import DAY_MS, end_of_day_ms, parse_date

OFFSET = 480
START = end_of_day_ms(parse_date("2026-03-01"), OFFSET)  # local midnight starting 2026-03-02


def scan(times: list[int], time_ms: int) -> int:
    return next((h for h in range(1, len(times)) if times[h] >= time_ms), len(times))


@pytest.mark.parametrize("head", [0, 1, 2, 7, 64])
def test_the_search_finds_the_first_block_at_or_after_a_time(head: int) -> None:
    times = [START - DAY_MS] + [START + h * DAY_MS // 3 for h in range(head)]  # three blocks a day
    for probe in range(START - DAY_MS, START + (head + 3) * DAY_MS // 3, DAY_MS // 6):
        assert compute_first_height_at(times.__getitem__, head, probe) == scan(times, probe)


def test_a_period_of_dates_is_the_blocks_made_on_those_days() -> None:
    times = [START - DAY_MS] + [START + h * DAY_MS // 3 for h in range(9)]  # heights 1-3 on 03-02, 4-6 on 03-03
    period = compute_period(times.__getitem__, 9, OFFSET, parse_date("2026-03-03"), parse_date("2026-03-03"))
    assert (period.from_height, period.to_height) == (4, 6)
    assert (period.from_date, period.to_date) == ("2026-03-03", "2026-03-03")
    whole = compute_period(times.__getitem__, 9, OFFSET, None, None)
    assert (whole.from_height, whole.to_height) == (1, 9)
    empty = compute_period(times.__getitem__, 9, OFFSET, parse_date("2026-04-01"), None)
    assert (empty.from_height, empty.to_height) == (10, 9)
    with pytest.raises(InvalidField) as refused:
        compute_period(times.__getitem__, 9, OFFSET, parse_date("2026-03-03"), parse_date("2026-03-02"))
    assert refused.value.field == "to_date"


def test_date_parameters_are_checked() -> None:
    assert parse_date_param(None, "from_date") is None and parse_date_param("", "from_date") is None
    assert parse_date_param("2026-03-02", "from_date") == parse_date("2026-03-02")
    for text in ("2026-3-2", "2026-02-30", "tomorrow", "2026-03-02\n"):
        with pytest.raises(InvalidField) as refused:
            parse_date_param(text, "to_date")
        assert refused.value.field == "to_date"
