"""Property tests of the working-day calendar against a plain reference over random calendars.

The reference lists every day of a window with its working-day verdict (make-up workday, else holiday,
else Monday to Friday; unpublished years are Monday to Friday) and answers each question by counting in
that list. Civil dates and midnights are checked against `datetime` with a fixed-offset time zone.
"""

from __future__ import annotations

import bisect
import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import calendar, proposals
from contracts.base import StateOverlay
from contracts.calendar import DAY_MS, Calendar, YearCalendar
from tests.contract_kit import DictState

FAST = settings(max_examples=60, deadline=None)

YEARS = (2025, 2026)
FIRST = datetime.date(YEARS[0], 1, 1).toordinal()
LAST = datetime.date(YEARS[-1], 12, 31).toordinal()
WINDOW_START = FIRST - 60
WINDOW_END = LAST + 500
"""The reference covers a window a little wider than the published years (beyond: Monday to Friday)."""
MAX_DAYS = 80
OFFSETS = st.integers(min_value=-720, max_value=840)
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class Reference:
    """Every working day of the window, listed straight from the definition."""

    def __init__(self, published: dict[int, tuple[frozenset[int], frozenset[int]]]) -> None:
        self.published = published
        self.days = [d for d in range(WINDOW_START, WINDOW_END + 1) if self.is_working_day(d)]

    def is_working_day(self, ordinal: int) -> bool:
        day = datetime.date.fromordinal(ordinal)
        if day.year in self.published:
            holidays, workdays = self.published[day.year]
            if ordinal in workdays:
                return True
            if ordinal in holidays:
                return False
        return day.weekday() < 5

    def add(self, start: int, days: int) -> int:
        if days == 0:
            return start
        later = self.days[bisect.bisect_right(self.days, start):]
        assert later[days - 1] < WINDOW_END, "the reference window is too small"
        return later[days - 1]

    def between(self, start: int, end: int) -> int:
        assert start >= WINDOW_START and end < WINDOW_END, "the reference window is too small"
        return bisect.bisect_right(self.days, end) - bisect.bisect_right(self.days, start)


def _year(year: int) -> st.SearchStrategy[tuple[frozenset[int], frozenset[int]]]:
    days = st.integers(min_value=datetime.date(year, 1, 1).toordinal(),
                       max_value=datetime.date(year, 12, 31).toordinal())
    return st.tuples(st.frozensets(days, max_size=40), st.frozensets(days, max_size=15)).map(
        lambda pair: (pair[0] - pair[1], pair[1])  # a date is never both
    )


@st.composite
def calendars(draw: st.DrawFn) -> dict[int, tuple[frozenset[int], frozenset[int]]]:
    published = {}
    for year in YEARS:
        if draw(st.booleans()):
            published[year] = draw(_year(year))
    return published


def build(published: dict[int, tuple[frozenset[int], frozenset[int]]], utc_offset_minutes: int = 0) -> Calendar:
    return Calendar.of({y: YearCalendar(y, h, w) for y, (h, w) in published.items()}, utc_offset_minutes)


def from_state(published: dict[int, tuple[frozenset[int], frozenset[int]]]) -> Calendar:
    """The same calendars published through the proposal payload path and read back from state."""
    overlay = StateOverlay(DictState())
    for year, (holidays, workdays) in sorted(published.items()):
        payload = proposals.PAYLOADS["publish_calendar"]({
            "year": year,
            "holidays": [calendar.format_date(d) for d in sorted(holidays)],
            "workdays": [calendar.format_date(d) for d in sorted(workdays)],
        })
        proposals.apply_payload(overlay, "publish_calendar", payload, 1)
    return Calendar(overlay, 0)


STARTS = st.integers(min_value=FIRST - 40, max_value=LAST + 30)
DAYS = st.integers(min_value=0, max_value=MAX_DAYS)


def ref_date_of(time_ms: int, offset: int) -> int:
    local = (EPOCH + datetime.timedelta(milliseconds=time_ms)).astimezone(
        datetime.timezone(datetime.timedelta(minutes=offset)))
    return local.date().toordinal()


def ref_end_of_day_ms(ordinal: int, offset: int) -> int:
    zone = datetime.timezone(datetime.timedelta(minutes=offset))
    midnight = datetime.datetime.combine(datetime.date.fromordinal(ordinal + 1), datetime.time(0), tzinfo=zone)
    return (midnight - EPOCH) // datetime.timedelta(milliseconds=1)


TIMES = st.integers(min_value=(FIRST - 40 - calendar.EPOCH_ORDINAL) * DAY_MS,
                    max_value=(LAST + 30 - calendar.EPOCH_ORDINAL) * DAY_MS)


# --- properties ----------------------------------------------------------------------------------------


@FAST
@given(calendars(), STARTS, DAYS)
def test_add_working_days_matches_the_reference(published: dict[int, tuple[frozenset[int], frozenset[int]]],
                                                start: int, days: int) -> None:
    reference, cal = Reference(published), build(published)
    end = cal.add_working_days(start, days)
    assert end == reference.add(start, days)
    assert cal.working_days_between(start, end) == days
    if days > 0:
        assert cal.is_working_day(end)
        assert cal.working_days_between(start, end - 1) == days - 1
        assert cal.add_working_days(start, days - 1) < end


@FAST
@given(calendars(), STARTS, st.integers(min_value=-30, max_value=400))
def test_working_days_between_matches_the_reference(
        published: dict[int, tuple[frozenset[int], frozenset[int]]], start: int, span: int) -> None:
    reference, cal = Reference(published), build(published)
    end = start + span
    assert cal.working_days_between(start, end) == (reference.between(start, end) if span > 0 else 0)
    for ordinal in (start, end):
        assert cal.is_working_day(ordinal) == reference.is_working_day(ordinal)


@settings(max_examples=20, deadline=None)
@given(calendars(), STARTS, DAYS)
def test_calendars_read_from_state_agree(published: dict[int, tuple[frozenset[int], frozenset[int]]],
                                         start: int, days: int) -> None:
    explicit, stored = build(published), from_state(published)
    assert stored.add_working_days(start, days) == explicit.add_working_days(start, days)
    assert stored.working_days_between(start, start + days * 2) == explicit.working_days_between(start,
                                                                                               start + days * 2)


@FAST
@given(TIMES, OFFSETS)
def test_date_of_and_end_of_day_match_datetime(time_ms: int, offset: int) -> None:
    day = calendar.date_of(time_ms, offset)
    assert day == ref_date_of(time_ms, offset)
    end = calendar.end_of_day_ms(day, offset)
    assert end == ref_end_of_day_ms(day, offset)
    assert time_ms < end <= time_ms + DAY_MS
    assert calendar.date_of(end - 1, offset) == day
    assert calendar.date_of(end, offset) == day + 1
    assert calendar.date_of(end - DAY_MS, offset) == day
    assert calendar.parse_date(calendar.format_date(day)) == day


@FAST
@given(calendars(), TIMES, DAYS, OFFSETS)
def test_deadline_and_days_left_agree(published: dict[int, tuple[frozenset[int], frozenset[int]]],
                                      start_ms: int, days: int, offset: int) -> None:
    reference, cal = Reference(published), build(published, offset)
    deadline = cal.deadline_ms(start_ms, days)
    start_day = ref_date_of(start_ms, offset)
    due_day = reference.add(start_day, days)
    assert deadline == ref_end_of_day_ms(due_day, offset)
    assert calendar.date_of(deadline - 1, offset) == due_day
    assert cal.working_days_left(start_ms, deadline) == days
    # On the due date itself nothing is left; the next working day after it is one day overdue.
    assert cal.working_days_left(deadline - 1, deadline) == 0
    overdue = reference.add(due_day, 1)
    assert cal.working_days_left(ref_end_of_day_ms(overdue, offset) - 1, deadline) == -1


@FAST
@given(calendars(), TIMES, TIMES, OFFSETS)
def test_working_days_left_matches_the_reference(published: dict[int, tuple[frozenset[int], frozenset[int]]],
                                                 now_ms: int, deadline_ms: int, offset: int) -> None:
    reference, cal = Reference(published), build(published, offset)
    now, due = ref_date_of(now_ms, offset), ref_date_of(deadline_ms - 1, offset)
    expected = reference.between(now, due) if due >= now else -reference.between(due, now)
    assert cal.working_days_left(now_ms, deadline_ms) == expected


@FAST
@given(calendars(), STARTS, DAYS, DAYS)
def test_adding_is_monotone_and_composes(published: dict[int, tuple[frozenset[int], frozenset[int]]],
                                         start: int, first: int, second: int) -> None:
    cal = build(published)
    middle = cal.add_working_days(start, first)
    assert cal.add_working_days(middle, second) == cal.add_working_days(start, first + second)
    if first < second:
        assert middle < cal.add_working_days(start, second)
