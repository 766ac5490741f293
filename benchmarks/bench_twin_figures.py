"""Wall and CPU time of figures 3 and 6 (quick or full): their sweeps through ``twin.sweeps``.

Each figure's sweeps run with :func:`twin.sweeps.run_sweep` on a :class:`LocalExecutor` of
``--workers`` processes into a fresh SQLite ledger under ``--out``, then the figure is built from
:func:`twin.sweeps.results_frame`. Reported: wall time, CPU time of this process and of the worker
processes (``RUSAGE_CHILDREN``, which a busy machine does not inflate), the load average, and
the figure's measured values. A ledger that already holds cells resumes (only missing cells run).

Run: ``.venv/bin/python benchmarks/bench_twin_figures.py [--full] [--workers 2] [--out DIR]
[fig3_board fig6_desync]``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import time
from pathlib import Path


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    from twin.sweeps import LocalExecutor, results_frame, run_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", nargs="*", default=["fig3_board", "fig6_desync"])
    parser.add_argument("--full", action="store_true", help="paper counts (default: --quick)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("out/bench_twin_figures"))
    args = parser.parse_args()
    for name in args.figures:
        module = importlib.import_module(f"twin.sweeps.figures.{name}")
        out = args.out / ("full" if args.full else "quick") / name
        out.mkdir(parents=True, exist_ok=True)
        db = str(out / "ledger.sqlite")
        load0 = os.getloadavg()
        wall0, cpu0, child0 = time.perf_counter(), time.process_time(), _children_cpu_s()
        frames = {}
        executor = LocalExecutor(workers=args.workers)
        try:
            for spec in module.specs(not args.full):
                outcome = run_sweep(spec, db_url=db, executor=executor)
                print(f"{spec.name}: {outcome.computed} computed, {outcome.already_done} done "
                      f"before, {outcome.failed} failed", flush=True)  # fmt: skip
                frames[spec.name] = results_frame(spec, db_url=db)
        finally:
            executor.close()
        _png, markdown, measured = module.build(frames, out)
        (out / f"{name}.md").write_text(markdown)
        wall = time.perf_counter() - wall0
        print(
            f"{name} ({'full' if args.full else 'quick'}, {args.workers} workers): "
            f"{wall:.1f} s wall, CPU {time.process_time() - cpu0:.1f} s here + "
            f"{_children_cpu_s() - child0:.1f} s in workers; load average "
            f"{load0[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end"
        )
        for key, value in measured.items():
            print(f"  {key} = {value:.4g}")


if __name__ == "__main__":
    main()
