"""Periods of civil dates as ranges of heights, for reports over "the cases of March" rather than "blocks 1200
to 3400".

The rule: a date is a day in the network's time zone (genesis `utc_offset_minutes`, the zone the cases
contract computes working days and deadlines in). A period from date A to date B (inclusive) is every block
whose block time falls in [local midnight starting A, local midnight ending B): it starts at the first
block at or after A's midnight and ends at the last block before the midnight after B. Each block's time
is after its parent's (chainnode/validation.py), so both ends are found by a binary search over the headers,
about log2(head) header reads each. A period in which no block was made maps to an empty range
(`from_height == to_height + 1`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainnode.errors import InvalidField
from contracts import calendar

if TYPE_CHECKING:
    from chainnode.reader import Reader


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    from_height: int
    to_height: int
    """Inclusive; below `from_height` when no block falls in the period."""
    from_date: str | None = None
    to_date: str | None = None


def compute_first_height_at(time_of: Callable[[int], int], head: int, time_ms: int) -> int:
    """The lowest height in [1, head] whose block time is at or after `time_ms`, or head + 1 if none is.

    `time_of(h)` is block h's time; block times must not decrease with height."""
    low, high = 1, head + 1
    while low < high:
        middle = (low + high) // 2
        if time_of(middle) >= time_ms:
            high = middle
        else:
            low = middle + 1
    return low


def parse_date_param(text: str | None, name: str) -> int | None:
    """A YYYY-MM-DD parameter as a date ordinal, or None if absent or empty. Raises InvalidField naming it."""
    if not text:
        return None
    try:
        return calendar.parse_date(text)
    except ValueError:
        raise InvalidField(f"{name} {text!r} is not a date of the form YYYY-MM-DD", field=name) from None


def validate_dates(from_date: int | None, to_date: int | None) -> None:
    """Raises InvalidField(field="to_date") for a period that ends before it starts."""
    if from_date is not None and to_date is not None and to_date < from_date:
        raise InvalidField(f"to_date {calendar.format_date(to_date)} is before from_date "
                           f"{calendar.format_date(from_date)}: the period ends before it starts", field="to_date")


def compute_period(time_of: Callable[[int], int], head: int, utc_offset_minutes: int, from_date: int | None,
                   to_date: int | None) -> Period:
    """The heights of the blocks made from `from_date` (default: height 1) to `to_date` (default: the head),
    dates as ordinals in the zone `utc_offset_minutes`. Raises InvalidField for a period that ends before
    it starts."""
    validate_dates(from_date, to_date)
    first = 1 if from_date is None else compute_first_height_at(
        time_of, head, calendar.end_of_day_ms(from_date - 1, utc_offset_minutes))
    last = head if to_date is None else compute_first_height_at(
        time_of, head, calendar.end_of_day_ms(to_date, utc_offset_minutes)) - 1
    return Period(from_height=first, to_height=last,
                  from_date=None if from_date is None else calendar.format_date(from_date),
                  to_date=None if to_date is None else calendar.format_date(to_date))


def get_period(reader: Reader, utc_offset_minutes: int, from_date: int | None, to_date: int | None) -> Period:
    """`compute_period` over the reader's committed headers, up to its published head."""
    head = reader.head_height()

    def time_of(height: int) -> int:
        header = reader.store.get_header(height)
        return reader.genesis.genesis_time_ms if header is None else header.time_ms

    return compute_period(time_of, head, utc_offset_minutes, from_date, to_date)
