"""Spring networks (seed App. D): time per update, time to a normalised error of 1e-3, and the
Fig. 8 scalings (error ~ lambda^2, free-energy reduction ~ lambda) over realizations.

Modes (``--mode``, default ``speed``):

``speed``
    Microseconds per realization-update of ``twin.learning.trainer`` on spring physics (numpy
    reference and compiled linear-response kernel) at N = 27 (R = 1 and 5) and, unless
    ``--no-large``, N = 1000 (R = 1), beside the compiled resistor trainer on the same N = 27
    graph (equal edge count). Medians of ``--repeat`` runs (wall and process CPU time: on a loaded
    machine the CPU time is the steadier), run setup subtracted, compilation excluded by a warm-up
    run; N = 1000 generation time printed.
``tol``
    Wall and CPU time and updates for each of ``--realizations`` N = 27 tasks to reach
    ``L / L0 <= 1e-3`` (early stopping at ``1e-3 L0``, at most 2e5 updates), compiled path,
    eta 1e-3, for each learning rate of ``--alpha`` (default 10): median and range over the
    tasks that reach it. The first call (numba compilation or cache load) is timed separately.
``fig8``
    Trains ``--realizations`` N = 27 tasks at lambda in {0} U logspace(--lam-min, --lam-max, 9)
    for ``--steps`` updates (compiled) and prints, per lambda, the median error ratio ``L / L0``
    and free-energy reduction ``1 - E_F(lambda) / E_F(0)`` (per realization, paired), with
    log-log slopes fitted over lambda <= --fit-max (seed Fig. 8: 2 and 1; error points only where
    the median is 10x above the lambda = 0 floor). Only tasks that learn at lambda = 0
    (``L / L0 < 1e-6``) enter the medians and slopes; their count is printed.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_springs.py --mode speed``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, Trainer, train
from twin.physics.network import Network
from twin.physics.springs.task_spec import build_spring_tasks
from twin.physics.task_generators import allostery_task
from twin.sweeps.figures.fig8_springs import FIT_MAX_LAMBDA

RULE = LearningRule(alpha=10.0, eta=1e-3)


def _times(fn: Callable[[], None], repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall and CPU (process) seconds of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return np.array(wall), np.array(cpu)


def _run(tasks: list, cfg: TrainConfig) -> None:
    Trainer(tasks, cfg).run()


def _per_update_us(
    tasks: list, backend: str, steps: int, repeat: int, rule: LearningRule = RULE
) -> tuple[float, float]:
    """Median wall and median CPU microseconds per realization-update (setup subtracted)."""
    cfg = TrainConfig(steps=steps, backend=backend, n_records=2, rule=rule)  # type: ignore[arg-type]
    cfg0 = TrainConfig(steps=0, backend=backend, n_records=2, rule=rule)  # type: ignore[arg-type]
    Trainer(tasks, cfg).run()  # warm-up: compilation / cache load
    full_w, full_c = _times(lambda: _run(tasks, cfg), repeat)
    setup_w, setup_c = _times(lambda: _run(tasks, cfg0), repeat)
    scale = 1e6 / steps / len(tasks)
    return (
        float(np.median(full_w) - np.median(setup_w)) * scale,
        float(np.median(full_c) - np.median(setup_c)) * scale,
    )


def speed(repeat: int, large: bool) -> None:
    for rr in (1, 5):
        tasks = build_spring_tasks("allostery-strain", None, seed=0, realizations=rr)
        for backend, steps in (("numpy", 300), ("compiled", 3000)):
            wall, cpu = _per_update_us(tasks, backend, steps, repeat)
            print(f"springs N=27 (E={tasks[0].network.n_edges}) R={rr} {backend}: {wall:.1f} us "
                  f"wall, {cpu:.1f} us CPU per realization-update")  # fmt: skip
    net = build_spring_tasks("allostery-strain", None, seed=0, realizations=1)[0].network
    res = _resistor_task(net)
    wall, cpu = _per_update_us(res, "compiled", 3000, repeat, rule=LearningRule(alpha=0.5))
    print(f"resistors, same N=27 graph (E={res[0].network.n_edges}) R=1 compiled: {wall:.1f} us "
          f"wall, {cpu:.1f} us CPU")  # fmt: skip
    if not large:
        return
    t0 = time.perf_counter()
    big = build_spring_tasks("allostery-strain", "jammed:1000", seed=0, realizations=1)
    print(f"N=1000: generated (rigid, E={big[0].network.n_edges}) in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    for backend, steps in (("numpy", 10), ("compiled", 100)):
        wall, cpu = _per_update_us(big, backend, steps, max(1, repeat // 2))
        print(f"springs N=1000 R=1 {backend}: {wall / 1e3:.2f} ms wall, {cpu / 1e3:.2f} ms CPU "
              "per update")  # fmt: skip


def _resistor_task(net: object) -> list:
    """The resistor allostery task on the spring network's graph (equal edge count)."""
    graph = Network(n_nodes=net.n_nodes, edges=net.edges, positions=net.positions, box=net.box)  # type: ignore[attr-defined]
    return [allostery_task(graph, rng=np.random.default_rng(0))]


def time_to_tol(realizations: int, alphas: list[float]) -> None:
    tasks = build_spring_tasks("allostery-strain", None, seed=0, realizations=realizations)
    first = True
    for alpha in alphas:
        rule = LearningRule(alpha=alpha, eta=1e-3)
        times, cpus, steps = [], [], []
        for task in tasks:
            err0 = Trainer([task], TrainConfig(rule=rule)).evaluate(
                Trainer([task], TrainConfig(rule=rule)).k0
            )["error"][0]
            cfg = TrainConfig(steps=200_000, stop_tol=1e-3 * err0, n_records=2, rule=rule)
            if first:  # compilation or cache load, timed apart
                t0 = time.perf_counter()
                train([task], cfg)
                print(f"first call (compilation or cache load included): "
                      f"{time.perf_counter() - t0:.3f} s")  # fmt: skip
                first = False
            t0, c0 = time.perf_counter(), time.process_time()
            res = train([task], cfg)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            reached = res.error_final[0] <= 1e-3 * err0
            times.append(dt if reached else np.nan)
            cpus.append(dc if reached else np.nan)
            steps.append(int(res.steps_done[0]) if reached else np.nan)
        t, c, n = np.array(times), np.array(cpus), np.array(steps, dtype=float)
        if not np.any(np.isfinite(t)):
            print(f"N=27 alpha {alpha:g}: reached 1e-3 in 0/{t.size}")
            continue
        print(f"N=27 alpha {alpha:g}, {realizations} tasks: reached 1e-3 in "
              f"{np.sum(np.isfinite(t))}/{t.size}; wall s median {np.nanmedian(t):.4f} (range "
              f"{np.nanmin(t):.4f}-{np.nanmax(t):.4f}), CPU s median {np.nanmedian(c):.4f}; "
              f"updates median {np.nanmedian(n):.0f} (range {np.nanmin(n):.0f}-"
              f"{np.nanmax(n):.0f}) of those reached", flush=True)  # fmt: skip


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    ok = (x > 0) & (y > 0) & np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def fig8(realizations: int, steps: int, lam_min: float, lam_max: float, fit_max: float) -> None:
    tasks = build_spring_tasks("allostery-strain", None, seed=0, realizations=realizations)
    lams = np.concatenate([[0.0], np.logspace(lam_min, lam_max, 9)])
    err, energy = [], []
    for lam in lams:
        t0 = time.perf_counter()
        cfg = TrainConfig(steps=steps, n_records=2, rule=LearningRule(alpha=10.0, lam=lam))
        res = train(tasks, cfg)
        err.append(res.error_final / res.error_initial)
        energy.append(res.free_power_final_w)  # the substrate's cost: elastic energy, J
        print(f"lambda {lam:.2e}: median L/L0 {np.median(err[-1]):.3e}, "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)  # fmt: skip
    err_a, en_a = np.array(err), np.array(energy)
    drop = 1.0 - en_a / en_a[0]  # paired per realization
    learned = err_a[0] < 1e-6
    print(f"lambda = 0: {learned.sum()}/{realizations} tasks below L/L0 = 1e-6; median error "
          f"floor {np.median(err_a[0]):.2e}")  # fmt: skip
    for i, lam in enumerate(lams):
        print(f"  lambda {lam:.2e}  L/L0 median {np.median(err_a[i, learned]):.3e}  "
              f"IQR {np.percentile(err_a[i, learned], 25):.2e}-"
              f"{np.percentile(err_a[i, learned], 75):.2e}  energy drop median "
              f"{np.median(drop[i, learned]):.3e}")  # fmt: skip
    fit = (lams > 0) & (lams <= fit_max)
    # error points count once the median is 10x above the lambda = 0 floor (as Fig. 2's fit)
    fit_e = fit & (np.median(err_a[:, learned], axis=1) > 10 * np.median(err_a[0, learned]))
    slopes_e = [_slope(lams[fit_e], err_a[fit_e, r]) for r in np.flatnonzero(learned)]
    slopes_d = [_slope(lams[fit], drop[fit, r]) for r in np.flatnonzero(learned)]
    med_e = _slope(lams[fit_e], np.median(err_a[fit_e][:, learned], axis=1))
    med_d = _slope(lams[fit], np.median(drop[fit][:, learned], axis=1))
    print(f"slope of the median error: {med_e:.2f} (published 2); per realization median "
          f"{np.nanmedian(slopes_e):.2f}, IQR {np.nanpercentile(slopes_e, 25):.2f}-"
          f"{np.nanpercentile(slopes_e, 75):.2f}")  # fmt: skip
    print(f"slope of the median energy drop: {med_d:.2f} (published 1); per realization median "
          f"{np.nanmedian(slopes_d):.2f}, IQR {np.nanpercentile(slopes_d, 25):.2f}-"
          f"{np.nanpercentile(slopes_d, 75):.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["speed", "tol", "fig8"], default="speed")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-large", action="store_true", help="speed: skip N = 1000")
    parser.add_argument("--realizations", type=int, default=5)
    parser.add_argument("--alpha", type=float, nargs="+", default=[10.0], help="tol: rates")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--lam-min", type=float, default=-10.0, help="log10 of the smallest")
    parser.add_argument("--lam-max", type=float, default=-4.0, help="log10 of the largest")
    parser.add_argument(
        "--fit-max", type=float, default=FIT_MAX_LAMBDA, help="the figure's window by default"
    )
    args = parser.parse_args()
    if args.mode == "speed":
        speed(args.repeat, not args.no_large)
    elif args.mode == "tol":
        time_to_tol(args.realizations, args.alpha)
    else:
        fig8(args.realizations, args.steps, args.lam_min, args.lam_max, args.fit_max)


if __name__ == "__main__":
    main()
