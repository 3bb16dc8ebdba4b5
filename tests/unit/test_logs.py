"""Log lines: text by default; with the JSON format one object per line carrying the consensus height of
the node whose task wrote it; the format is chosen in config.toml or on the command line."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import sys
from pathlib import Path

import pytest

from chainnode.config import HomeLayout, load_config
from chainnode.errors import ConfigError
from chainnode.home import init_home
from chainnode.logs import HEIGHT_SOURCE, LogFormatter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("chainnode.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_text_is_the_default_shape() -> None:
    line = LogFormatter(as_json=False).format(record("committed block %d", 3))
    assert line.endswith("Z INFO  chainnode.test: committed block 3")


def test_json_lines_carry_time_level_logger_message_and_no_height_outside_a_node() -> None:
    document = json.loads(LogFormatter(as_json=True).format(record("hello %s", "world")))
    assert document["level"] == "info" and document["logger"] == "chainnode.test"
    assert document["message"] == "hello world" and document["time"].endswith("Z")
    assert "height" not in document


def test_json_lines_carry_the_height_of_their_nodes_context_or_the_one_they_name() -> None:
    formatter = LogFormatter(as_json=True)

    def line(current: int, **extra: object) -> dict[str, object]:
        context = contextvars.copy_context()
        context.run(HEIGHT_SOURCE.set, lambda: current)
        return dict(json.loads(context.run(formatter.format, record("x", **extra))))

    assert line(7)["height"] == 7
    assert line(7, height=6)["height"] == 6  # log.info(..., extra={"height": 6})
    assert line(7, height="6")["height"] == 7  # only an int is taken


async def test_tasks_of_two_nodes_in_one_process_log_their_own_heights() -> None:
    formatter = LogFormatter(as_json=True)

    async def task_line() -> object:
        return json.loads(formatter.format(record("from a task")))["height"]

    async def node(height: int) -> tuple[object, object]:
        HEIGHT_SOURCE.set(lambda: height)
        in_task = await asyncio.create_task(task_line())  # a task started by the node inherits it
        in_thread = await asyncio.to_thread(formatter.format, record("from a worker"))
        return in_task, json.loads(in_thread)["height"]

    assert list(await asyncio.gather(node(3), node(40))) == [(3, 3), (40, 40)]
    assert HEIGHT_SOURCE.get() is None  # nothing leaks to the caller


def test_a_failing_height_source_never_breaks_a_log_line() -> None:
    def broken() -> int:
        raise RuntimeError("the store is closed")

    context = contextvars.copy_context()
    context.run(HEIGHT_SOURCE.set, broken)
    assert "height" not in json.loads(context.run(LogFormatter(as_json=True).format, record("x")))


def test_exceptions_are_one_field_of_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("failed")
        failed.exc_info = sys.exc_info()
    document = json.loads(LogFormatter(as_json=True).format(failed))
    assert "ValueError: boom" in document["exception"]


def test_log_format_is_read_from_config_and_checked(tmp_path: Path) -> None:
    _, created = init_home(tmp_path / "home", chain_id="c", department="PSB", name="Police")
    layout = HomeLayout(created.home)
    assert load_config(layout.config).log_format == "text"
    text = layout.config.read_text()
    layout.config.write_text(text.replace('log_format = "text"', 'log_format = "json"'))
    assert load_config(layout.config).log_format == "json"
    layout.config.write_text(text.replace('log_format = "text"', 'log_format = "xml"'))
    with pytest.raises(ConfigError) as caught:
        load_config(layout.config)
    assert caught.value.field == "node.log_format"
