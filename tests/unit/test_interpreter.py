"""The node process's collector settings: startup objects frozen, young collections rarer, cycles still
collected without anyone asking."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from chainnode import interpreter


@pytest.fixture
def restored_interpreter() -> Iterator[None]:
    thresholds = gc.get_threshold()
    switch = sys.getswitchinterval()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(switch)


class Node:
    """A stand-in container that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: object = None


def test_startup_objects_are_frozen_and_young_collections_are_rarer(restored_interpreter: None) -> None:
    alive_at_startup = Node()
    interpreter.tune_node_process()
    assert gc.get_freeze_count() > 0
    assert not any(o is alive_at_startup for o in gc.get_objects())  # frozen objects are never scanned
    assert gc.get_threshold() == (interpreter.YOUNG_THRESHOLD, *interpreter.OLDER_THRESHOLDS)
    assert sys.getswitchinterval() == pytest.approx(0.0005)


def test_cycles_made_after_tuning_are_still_collected_automatically(restored_interpreter: None) -> None:
    interpreter.tune_collector()
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    assert gone() is not None  # a cycle: reference counting alone never frees it
    keep = [[] for _ in range(interpreter.YOUNG_THRESHOLD * 2)]  # containers enough for a young collection
    assert gone() is None
    del keep
