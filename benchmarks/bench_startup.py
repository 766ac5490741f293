"""Start-up time of the command line: median of 5 runs per command, kernels already cached.

Issue 8 asks for ``twin --help`` and argument errors in <= 0.2 s and a cached
``twin train --steps 10`` in <= 0.5 s. The floor is shown too: the bare interpreter, and numba
itself (import plus the first call of a cached one-line kernel), which every compiled run pays.
Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeat 5] [--tree DIR]`` (``--tree``: the
checkout whose ``twin`` is timed, put first on ``PYTHONPATH``; default: this one). The ledger is
off (``TWIN_DB_URL=off``) so that only start-up is timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "twin --help": ["--help"],
    "twin train --steps bad": ["train", "--steps", "bad"],
    "twin train --steps 10": ["train", "--steps", "10"],
}
KERNEL = "import numba\n\n@numba.njit(cache=True)\ndef f(x):\n    return x + 1.0\n"


def _median_s(argv: list[str], repeat: int, **kwargs: object) -> tuple[float, float]:
    subprocess.run(argv, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(args.tree.resolve()), TWIN_DB_URL="off")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cmd in COMMANDS.items():
            med, best = _median_s(
                [sys.executable, "-m", "twin", *cmd], args.repeat, env=env, cwd=tmp
            )
            print(f"{name:28s} median {med:.3f} s  (best {best:.3f} s)")
        med, _ = _median_s([sys.executable, "-c", "pass"], args.repeat)
        print(f"{'floor: python -c pass':28s} median {med:.3f} s")
        Path(tmp, "kern.py").write_text(KERNEL)
        med, _ = _median_s([sys.executable, "-c", "import kern; kern.f(1.0)"], args.repeat, cwd=tmp)
        print(f"{'floor: numba cached kernel':28s} median {med:.3f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
