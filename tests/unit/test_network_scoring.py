"""Scores fall with offences, recover with time, and a low score bans for exponentially longer."""

from __future__ import annotations

from network.scoring import Offence, PeerScores, ScoringRules

KEY = b"k" * 32
RULES = ScoringRules(reject_penalty=10, violation_penalty=40, ban_threshold=-100, recovery_ms=1_000,
                     ban_base_ms=60_000, ban_max_ms=200_000)


def test_penalties_and_recovery() -> None:
    scores = PeerScores(RULES)
    assert scores.get_score(KEY, 0) == 0
    assert scores.apply_penalty(KEY, Offence.REJECTED_MESSAGE, 0).score == -10
    assert scores.apply_penalty(KEY, Offence.PROTOCOL_VIOLATION, 0).ban is None
    assert scores.get_score(KEY, 0) == -50
    assert scores.get_score(KEY, 10_999) == -40  # one point per second
    assert scores.get_score(KEY, 10**9) == 0  # never above 0
    assert scores.get_score(b"other", 0) == 0


def test_ban_at_the_threshold_then_exponential() -> None:
    scores = PeerScores(RULES)
    for _ in range(9):
        assert scores.apply_penalty(KEY, Offence.REJECTED_MESSAGE, 0).ban is None
    penalty = scores.apply_penalty(KEY, Offence.REJECTED_MESSAGE, 0)
    ban = penalty.ban
    assert penalty.score == -100 and ban is not None and ban.until_ms == 60_000 and ban.count == 1
    assert scores.get_ban(KEY, 59_999) == ban and scores.get_ban(KEY, 60_000) is None
    assert scores.get_score(KEY, 0) == 0  # a ban resets the score

    assert scores.apply_penalty(KEY, Offence.PROTOCOL_VIOLATION, 1_000).ban is None  # no second ban while banned
    durations = []
    now = 100_000
    for _ in range(3):
        while (ban := scores.apply_penalty(KEY, Offence.PROTOCOL_VIOLATION, now).ban) is None:
            pass
        durations.append(ban.until_ms - now)
        now = ban.until_ms
    assert durations == [120_000, 200_000, 200_000]  # doubling, capped at ban_max_ms


def test_bans_are_per_key() -> None:
    scores = PeerScores(ScoringRules(violation_penalty=100, ban_threshold=-100))
    assert scores.apply_penalty(KEY, Offence.PROTOCOL_VIOLATION, 0).ban is not None
    assert scores.get_ban(b"other", 0) is None


def test_each_offence_costs_its_rule() -> None:
    assert [RULES.get_penalty(offence) for offence in Offence] == [10, 40, 40, 40, 10]
    assert [offence.value for offence in Offence] == [
        "rejected_message", "protocol_violation", "handler_failure", "invalid_sync_data", "false_status"
    ]
