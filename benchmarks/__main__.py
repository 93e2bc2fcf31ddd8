"""``python -m benchmarks``: run every ``benchmarks/bench_*.py`` and print its ratios.

Each module has ``run(workdir: Path) -> list[Result]``. Name modules on the
command line to run only those: ``python -m benchmarks import merge``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import sys
import tempfile
from pathlib import Path

from benchmarks.common import machine


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    print(f"# audit benchmarks, {dt.date.today()} on {machine()}")
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        with tempfile.TemporaryDirectory(prefix=f"audit-{name}-") as tmp:
            print(f"\n## {name}")
            for result in module.run(Path(tmp)):
                print(result.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
