"""bench/import.py runs end to end on a tiny export (SQLite): both arms write the same number of requests and the
figures are reported. Nothing is timed here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_bench__tiny_export__both_arms_store_the_same_rows_and_report_ratio(
    shared_data_dir: Path, tmp_path: Path
) -> None:
    shared_data_dir.joinpath("nyc", "requests", "nyc311_2023-02-28_5k.csv.gz")
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "import.py"), "--rows", "600", "--batch", "250", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    sqlite = result["sqlite"]
    assert sqlite["import"]["rows"] == sqlite["raw"]["rows"] > 550
    assert sqlite["import"]["rows"] + sqlite["import"]["quarantined"] == 600
    assert sqlite["ratio"] > 0
