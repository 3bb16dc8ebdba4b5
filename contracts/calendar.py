"""The working-day calendar: which civil dates are working days, and deadline arithmetic over them.

Governance publishes one calendar per year (holidays, and make-up working days that fall on weekends) under
`gov/calendar/<year>`. A date is a working day if it is a make-up working day, else if it is not a holiday
and falls Monday to Friday. A year with no published calendar counts Monday to Friday only.

Dates are civil dates in the network's time zone (`utc_offset_minutes` in genesis, stored under
`gov/config`), derived from block time with integer arithmetic only, so every node computes the same
deadline. A time limit of N working days counts from the day after the start date: the deadline is the
end (local midnight) of the Nth working day after it.
"""

from __future__ import annotations

import bisect
import datetime
import functools
from dataclasses import dataclass
from typing import Final

from contracts.base import ContractError, StateReader, decode_state

PREFIX_CALENDAR: Final = b"gov/calendar/"
DAY_MS: Final = 86_400_000
EPOCH_ORDINAL: Final = datetime.date(1970, 1, 1).toordinal()
MAX_SCAN_DAYS: Final = 20 * 366
"""No time limit may reach further than this many calendar days (a calendar of nothing but holidays)."""
MIN_YEAR: Final = 1971
MAX_YEAR: Final = 9998


def calendar_key(year: int) -> bytes:
    return PREFIX_CALENDAR + str(year).encode()


def date_of(time_ms: int, utc_offset_minutes: int) -> int:
    """The civil date (as a proleptic Gregorian ordinal) of a block time in the network's time zone."""
    return EPOCH_ORDINAL + (time_ms + utc_offset_minutes * 60_000) // DAY_MS


def year_of(time_ms: int, utc_offset_minutes: int) -> int:
    """The civil year of a block time in the network's time zone."""
    return datetime.date.fromordinal(date_of(time_ms, utc_offset_minutes)).year


def end_of_day_ms(ordinal: int, utc_offset_minutes: int) -> int:
    """The block time at which the civil date `ordinal` ends (local midnight that follows it)."""
    return (ordinal + 1 - EPOCH_ORDINAL) * DAY_MS - utc_offset_minutes * 60_000


def parse_date(text: str) -> int:
    """'YYYY-MM-DD' -> ordinal. Raises ValueError."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"{text!r} is not a YYYY-MM-DD date")
    return datetime.date.fromisoformat(text).toordinal()


def format_date(ordinal: int) -> str:
    return datetime.date.fromordinal(ordinal).isoformat()


@dataclass(frozen=True, slots=True)
class YearCalendar:
    year: int
    holidays: frozenset[int]
    workdays: frozenset[int]


@functools.lru_cache(maxsize=64)
def _parse_year(year: int, raw: bytes) -> YearCalendar:
    """A published year, parsed once per distinct stored value (cases compute deadlines on every call)."""
    value = decode_state(raw)
    return YearCalendar(
        year,
        frozenset(parse_date(d) for d in value["holidays"]),
        frozenset(parse_date(d) for d in value["workdays"]),
    )


@functools.lru_cache(maxsize=1 << 16)
def _year_and_weekday(ordinal: int) -> tuple[int, int]:
    day = datetime.date.fromordinal(ordinal)
    return day.year, day.weekday()


@functools.lru_cache(maxsize=256)
def _working_days_in(year: int, published: YearCalendar | None) -> tuple[int, ...]:
    """Every working day of `year`, ascending, under its published calendar (or Monday to Friday)."""
    first, last = datetime.date(year, 1, 1).toordinal(), datetime.date(year, 12, 31).toordinal()
    return tuple(ordinal for ordinal in range(first, last + 1) if _is_working(ordinal, published))


def _is_working(ordinal: int, published: YearCalendar | None) -> bool:
    if published is not None:
        if ordinal in published.workdays:
            return True
        if ordinal in published.holidays:
            return False
    return _year_and_weekday(ordinal)[1] < 5


class Calendar:
    """Working days, reading each year's published calendar from state once."""

    def __init__(self, reader: StateReader | None, utc_offset_minutes: int) -> None:
        self._reader = reader
        self.utc_offset_minutes = utc_offset_minutes
        self._years: dict[int, YearCalendar | None] = {}

    @classmethod
    def of(cls, years: dict[int, YearCalendar], utc_offset_minutes: int = 0) -> Calendar:
        """A calendar from explicit years (for tests and tools); other years are Monday to Friday."""
        calendar = cls(None, utc_offset_minutes)
        calendar._years.update(years)
        return calendar

    def year(self, year: int) -> YearCalendar | None:
        if year not in self._years:
            raw = self._reader.get(calendar_key(year)) if self._reader is not None else None
            self._years[year] = None if raw is None else _parse_year(year, raw)
        return self._years[year]

    def is_working_day(self, ordinal: int) -> bool:
        return _is_working(ordinal, self.year(_year_and_weekday(ordinal)[0]))

    def _working_days_of(self, year: int) -> tuple[int, ...]:
        return _working_days_in(year, self.year(year))

    def add_working_days(self, start: int, days: int) -> int:
        """The date of the `days`-th working day after `start` (start itself not counted); `start` if 0.

        Walks whole years through each year's sorted list of working days (cached per calendar), so a
        deadline costs a few bisections, not a call per day.
        """
        if days <= 0:
            return start
        ordinal, remaining = start, days
        while True:
            year = _year_and_weekday(ordinal + 1)[0]
            working = self._working_days_of(year)
            first = bisect.bisect_right(working, ordinal)
            available = len(working) - first
            if remaining <= available:
                found = working[first + remaining - 1]
                break
            remaining -= available
            ordinal = datetime.date(year, 12, 31).toordinal()
            if ordinal - start > MAX_SCAN_DAYS:
                raise ContractError(
                    "calendar_exhausted", f"{days} working days after {format_date(start)} is beyond 20 years"
                )
        if found - start > MAX_SCAN_DAYS:
            raise ContractError(
                "calendar_exhausted", f"{days} working days after {format_date(start)} is beyond 20 years"
            )
        return found

    def working_days_between(self, start: int, end: int) -> int:
        """Working days in the dates after `start` up to and including `end` (0 if end <= start)."""
        if end - start > MAX_SCAN_DAYS:
            raise ContractError("calendar_exhausted", "a span of more than 20 years cannot be counted")
        if end <= start:
            return 0
        count = 0
        first_year, last_year = _year_and_weekday(start + 1)[0], _year_and_weekday(end)[0]
        for year in range(first_year, last_year + 1):
            working = self._working_days_of(year)
            count += bisect.bisect_right(working, end) - bisect.bisect_right(working, start)
        return count

    def deadline_ms(self, start_ms: int, working_days: int) -> int:
        """The block time by which something started at `start_ms` with a limit of N working days is due."""
        start = date_of(start_ms, self.utc_offset_minutes)
        return end_of_day_ms(self.add_working_days(start, working_days), self.utc_offset_minutes)

    def working_days_left(self, now_ms: int, deadline_ms: int) -> int:
        """Working days from the date of `now_ms` to the deadline's date; negative when past due."""
        now = date_of(now_ms, self.utc_offset_minutes)
        due = date_of(deadline_ms - 1, self.utc_offset_minutes)
        if due >= now:
            return self.working_days_between(now, due)
        return -self.working_days_between(due, now)
