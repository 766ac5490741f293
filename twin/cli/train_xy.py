"""``twin train --physics xy``: XY oscillator networks trained by equilibrium propagation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ._common import FiniteRange, emit_json, print_summary, progress_bar
from ._ledger import check_finite, recorded_dispatch
from ._view import maybe_live_view

__all__ = ["RESISTOR_ONLY", "XY_ONLY", "run_xy", "xy_options"]

F = TypeVar("F", bound=Callable[..., Any])

#: ``twin train`` options that only the resistor and spring trainer reads, and those only XY reads.
RESISTOR_ONLY = ("lam", "label_noise", "control_tol", "rho", "p_exp", "lam0", "stop_tol", "eta",
                 "alpha", "kappa", "kmin", "kmax", "steps", "step_s", "realizations", "solver",
                 "solver_tol", "spring_solver", "prune")  # fmt: skip
#: (twin.learning.xy_options.XY_OPTIONS, written out so that the CLI imports no numpy at start-up;
#: a test keeps the two equal)
XY_ONLY = ("beta", "symmetric", "lr", "optimizer", "epochs", "starts", "batch_size", "dt",
           "max_steps", "relax_tol", "eval_starts")  # fmt: skip


def xy_options(func: F) -> F:
    """The options of ``--physics xy`` (parameters named as :data:`XY_ONLY`)."""
    options = [
        click.option("--beta", type=FiniteRange(0, 10, min_open=True, max_open=True),
                     default=0.1, show_default=True,
                     help="xy: nudging strength (dimensionless)."),
        click.option("--symmetric", is_flag=True,
                     help="xy: symmetric nudging (+beta and -beta; gradient bias O(beta^2))."),
        click.option("--lr", type=FiniteRange(0, 10, min_open=True), default=0.1,
                     show_default=True, help="xy: learning rate."),
        click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam",
                     show_default=True, help="xy: parameter update."),
        click.option("--epochs", type=click.IntRange(0, 10**7), default=1000, show_default=True,
                     help="xy: training epochs (one EP step each)."),
        click.option("--starts", type=click.IntRange(1, 10_000), default=1, show_default=True,
                     help="xy: random starts of hidden and output phases per example and epoch."),
        click.option("--batch-size", type=click.IntRange(1, 10**6), default=None,
                     help="xy: examples per epoch (default: the whole training set)."),
        click.option("--dt", type=FiniteRange(0, 1, min_open=True), default=0.1,
                     show_default=True, help="xy: Euler step of the relaxation (model time)."),
        click.option("--max-steps", type=click.IntRange(1, 10**7), default=1000,
                     show_default=True, help="xy: most relaxation steps per phase."),
        click.option("--relax-tol", type=FiniteRange(0, 1, min_open=True), default=1e-6,
                     show_default=True,
                     help="xy: a state is relaxed when its largest free force is below this."),
        click.option("--eval-starts", type=click.IntRange(1, 10_000), default=8,
                     show_default=True, help="xy: random starts per example when evaluating."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def refuse_foreign(ctx: click.Context, physics: str) -> None:
    """One-line usage error for an option the chosen ``--physics`` does not read."""
    foreign = RESISTOR_ONLY if physics == "xy" else XY_ONLY
    for name in foreign:
        source = ctx.get_parameter_source(name)
        if source is not None and source != click.core.ParameterSource.DEFAULT:
            opt = next(p for p in ctx.command.params if p.name == name)
            raise click.UsageError(f"{opt.opts[0]} does not apply to --physics {physics}")


def _save(path: Path, network: str, task: str, result: Any) -> None:
    p = result.params
    doc = {"physics": "xy", "network": network, "task": task,
           "w": p.w.tolist(), "h": p.h.tolist(), "psi": p.psi.tolist()}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) + "\n")


def _plot(path: Path, history: dict[str, list[float]], title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(history["loss"], lw=1)
    ax1.set(xlabel="epoch", ylabel="loss (1 - cos) / 2", title="free-phase loss")
    ax2.plot(history["accuracy"], lw=1)
    ax2.set(xlabel="epoch", ylabel="accuracy", title="batch accuracy", ylim=(-0.05, 1.05))
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def run_xy(
    *, network: str | None, task: str, seed: int, force: bool, out: Path | None,
    plot: Path | None, save: Path | None, as_json: bool, db: str | None, no_db: bool,
    view: bool = False, port: int = 0, **xy: Any,
) -> None:  # fmt: skip
    """Parse nothing more: build the graph and task, train, record, print (``view``: a live
    page of the phases, couplings and loss while it trains)."""
    import numpy as np

    from ..learning.ep_train import train_xy
    from ..learning.xy_options import MAX_XY_WORK, xy_config, xy_setup, xy_work

    if network is None:
        raise click.UsageError("--network is required with --physics xy "
                               "(e.g. all:6, layered:2,4,1, lattice:5x5:io=sides)")  # fmt: skip
    rng = np.random.default_rng(seed)
    graph, xy_task = xy_setup(network, task, rng)
    work = xy_work(graph, xy_task, xy)
    if work > MAX_XY_WORK and not force:
        raise click.UsageError(f"train: {work:.2g} node-steps exceed the limit {MAX_XY_WORK:.0e} "
                               "(fewer --epochs, --starts or --max-steps, or --force)")  # fmt: skip
    config = xy_config(xy)
    params = {"physics": "xy", "network": network, "task": task, "seed": seed, **xy}
    with (
        maybe_live_view(view, port, mode="xy") as live,
        recorded_dispatch(out, db, no_db, params=params) as dispatch,
    ):
        watch = None
        if live is not None:
            from ..view import XYFeed

            dispatch.subscribe(live.state)
            watch = XYFeed(live.state, graph, epochs=xy["epochs"])
        t0 = time.perf_counter()
        with progress_bar("training", xy["epochs"], enabled=not as_json) as update:
            done = [0]

            def tick(n: int) -> None:
                done[0] += n
                update(done[0], xy["epochs"])

            result = train_xy(graph, xy_task, config, rng, emit=dispatch or None, progress=tick,
                              run_params=params, watch=watch)  # fmt: skip
    wall_s = time.perf_counter() - t0
    summary = result.summary() | {"network": network, "task": task, "wall_s": wall_s,
                                  "run": result.run_uid}  # fmt: skip
    check_finite(summary, "summary", params)
    if save is not None:
        _save(save, network, task, result)
    if plot is not None:
        _plot(plot, result.history, f"twin train --physics xy --network {network} --task {task}")
    if as_json:
        emit_json(summary)
    else:
        print_summary("twin train --physics xy", summary)
