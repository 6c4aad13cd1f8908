"""scripts/bench_fed.py runs and ends with its ratio lines (tiny federation, seconds)."""

import re
import subprocess
import sys
from pathlib import Path


def test_the_bench_runs_and_prints_its_ratios():
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, str(root / "scripts" / "bench_fed.py"), "--rounds", "1", "--clients",
         "2", "--per-client", "40"],
        cwd=root, capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    ratios = dict(re.findall(r"ratio (upload_bytes \S+) = ([\d.]+)", out))
    assert set(ratios) == {f"upload_bytes {m}/fedavg" for m in (
        "redgrape", "redgrape_local_pass", "redgrape_local_pass_fp16", "creff")}
    # same model: only the method's arrays differ; fp16 prototypes cost half the float32 ones
    extra, extra16 = (float(ratios[f"upload_bytes {m}/fedavg"]) - 1 for m in (
        "redgrape_local_pass", "redgrape_local_pass_fp16"))
    assert 0 < extra16 < extra
    assert re.search(r"ratio round_time redgrape_local_pass/fedavg = [\d.]+", out)
