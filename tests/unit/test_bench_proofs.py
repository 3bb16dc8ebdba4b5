"""scripts/bench/proofs.py runs end to end at tiny sizes and prints each figure beside its floor (no timing is
asserted: the figures are for docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "proofs.py"


def test_the_proofs_benchmark_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--changes", "5", "--state", "300", "--big-state", "600", "--budget", "0",
         "--events", "12", "--runs", "1", "--cli-runs", "1"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "floor: Ed25519" in out and "floor: SHA-256" in out
    assert "certificate proof, S=300, K=5" in out and "verify" in out
    assert "certificate proof, S=600" in out and "(computed)" in out  # a zero budget: the size from the siblings
    assert out.count("end to end") == 3 and out.count("offline verify") == 3
    assert "12 events over 4 blocks" in out and "12 events over 12 blocks" in out
    assert "chainnode cert verify (whole command" in out and "python -c pass" in out
