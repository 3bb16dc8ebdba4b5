"""The fault drill runs as a user would run it: `scripts/drill --only kill-one` with short windows exits 0,
prints the kill-one row with writes acknowledged and none lost, and writes the same row as JSON."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_drill_runs_kill_one_and_passes(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    done = subprocess.run(
        [str(ROOT / "scripts" / "drill"), "--only", "kill-one", "--fault", "8", "--recovery", "30",
         "--settle", "2", "--after", "2", "--json", str(rows), "--keep", str(tmp_path / "net")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("kill-one"))
    name, acked, lost, duplicated, forked, *_, verdict = line.split()
    assert (name, lost, duplicated, forked, verdict) == ("kill-one", "0", "0", "0", "ok")
    assert int(acked) > 0
    document = json.loads(rows.read_text())
    assert [r["name"] for r in document["rows"]] == ["kill-one"]
    assert document["rows"][0]["acked"] == int(acked) and document["problems"] == []
    assert "chainnode check --home node3: ok" in done.stderr
