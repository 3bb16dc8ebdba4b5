"""Progress lines: percentage and time left, in place on a terminal, plain and sparse in a log."""

from __future__ import annotations

import io
import os
import pty

from chainnode.progress import ProgressLine, compute_eta, format_duration, format_progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_eta_is_the_average_pace_so_far() -> None:
    assert compute_eta(0, 10, 5.0) is None
    assert compute_eta(25, 100, 10.0) == 30.0
    assert compute_eta(100, 100, 10.0) == 0.0


def test_durations_and_the_line() -> None:
    assert [format_duration(s) for s in (7, 750, 3723)] == ["0:07", "12:30", "1:02:03"]
    assert format_progress("checking blocks", 1200, 5000, 12.0) == \
        "checking blocks: 1,200 of 5,000 (24%), 0:12 spent, about 0:38 left"
    assert format_progress("checking blocks", 5000, 5000, 50.0) == "checking blocks: 5,000 of 5,000 (100%), 0:50 spent"


def test_in_a_log_it_writes_plain_lines_every_few_seconds_and_at_the_end() -> None:
    out, clock = io.StringIO(), FakeClock()
    line = ProgressLine(out, live=False, clock=clock)
    line.note("checking the store")
    for done in range(1, 101):
        clock.now += 0.5
        line.update("checking blocks", done, 100)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "checking the store" and lines[-1].startswith("checking blocks: 100 of 100 (100%)")
    assert 4 <= len(lines) <= 8  # 50 s of work: a line about every 10 s, not one per block


def test_on_a_terminal_it_rewrites_one_line_and_ends_it() -> None:
    out, clock = io.StringIO(), FakeClock()
    line = ProgressLine(out, live=True, clock=clock)
    for done in range(1, 11):
        clock.now += 1
        line.update("checking blocks", done, 10)
    line.note("comparing the current state")
    text = out.getvalue()
    assert text.count("\n") == 2 and text.count("\r") == 10
    last, after = text.split("\n")[0].split("\r")[-1], text.split("\n")[1]
    assert last.rstrip().endswith("(100%), 0:09 spent") and after == "comparing the current state"


def test_a_job_stopped_early_leaves_no_half_line() -> None:
    out, clock = io.StringIO(), FakeClock()
    line = ProgressLine(out, live=True, clock=clock)
    line.update("checking blocks", 3, 10)
    line.close()
    assert out.getvalue().endswith("\n")


def test_for_stream_is_live_on_a_terminal_only(tmp_path: object) -> None:
    controller, terminal = pty.openpty()
    try:
        with os.fdopen(terminal, "w", closefd=False) as stream:
            assert ProgressLine.for_stream(stream)._live
        assert not ProgressLine.for_stream(io.StringIO())._live
    finally:
        os.close(controller)
        os.close(terminal)
