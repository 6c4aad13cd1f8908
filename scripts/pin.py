"""Record an experiment's final metrics as its regression pin (tests/pins/<paper>__<name>.json).

    python scripts/pin.py madgap/smoke [renode/demo ...]

Only for an intended change of results: say in the commit why the numbers moved.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import compose  # noqa: E402
from test_regression_pins import PINS, cpu_signature, is_pinned  # noqa: E402

from common.run import execute  # noqa: E402


def pin(experiment: str) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        results = execute(compose(experiment), Path(tmp) / "run")
    metrics = {k: v for k, v in results["metrics"].items() if is_pinned(k)}
    path = PINS / f"{experiment.replace('/', '__')}.json"
    path.write_text(json.dumps({"experiment": experiment, "cpu": cpu_signature(),
                                "metrics": metrics}, indent=1, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(pin(name))
