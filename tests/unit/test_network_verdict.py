"""Handler errors map to verdicts in one place; the network's error codes are stable and distinct."""

from __future__ import annotations

import inspect

from chainnode.errors import ChainError, InvalidInput, InvalidSignature, NotFound
from network import errors
from network.verdict import Verdict, compute_verdict


def test_invalid_input_is_rejected_anything_else_ignored() -> None:
    assert compute_verdict(InvalidSignature("bad")) is Verdict.REJECT
    assert compute_verdict(InvalidInput("bad")) is Verdict.REJECT
    assert compute_verdict(NotFound("later")) is Verdict.IGNORE
    assert compute_verdict(ChainError("busy")) is Verdict.IGNORE


def test_network_error_codes_are_unique_and_peer_faults_are_invalid_input() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, ChainError)]
    ours = [c for c in classes if c.__module__ == errors.__name__]
    assert len({c.code for c in ours}) == len(ours)
    assert issubclass(errors.ProtocolViolation, InvalidInput) and issubclass(errors.HandshakeRefused, InvalidInput)
    assert not issubclass(errors.NetworkError, InvalidInput)
