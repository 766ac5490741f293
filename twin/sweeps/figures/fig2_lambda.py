"""Fig. 2: the error / free-power trade-off over the power-minimisation weight lambda.

Regression on the authors' 50 N = 64 networks (``ref:64``), kappa = 1, alpha = 0.5, eta = 1e-3,
bounds [1e-3, 10] S, 1e5 steps. Error ``L`` grows ~lambda^2 and the free-power reduction
``dP = P(0) - P(lambda)`` ~lambda (seed Eq. 16). Our lambda axis carries the factor alpha/eta =
500 of the authors' code (PHYSICS.md section 3).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..spec import SweepSpec
from ._common import (
    FigureResult,
    band,
    crossing,
    done_rows,
    fit_loglog_slope,
    fmt,
    grouped,
    interp_loglog,
    lambda_sweep,
    log_grid,
    measured_table,
    new_figure,
    paired,
    save_figure,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FIT_MAX_LAMBDA", "NAME", "TITLE", "WIDE_MAX_LAMBDA", "render", "specs"]

NAME = "fig2"
TITLE = "Fig. 2: error and free-power reduction vs lambda (regression, N = 64)"
#: Largest lambda of the slope fits: the small-lambda regime where the paper's scalings hold,
#: lambda <~ 1e-8 on our axis (PHYSICS.md section 3; the scalings are linear response, and the
#: power reduction saturates at 1 - P/P(0) -> 1 beyond it).
FIT_MAX_LAMBDA = 1e-8
#: A wider window, reported beside it (our first choice, made before any full run: it includes
#: the onset of saturation, so its slopes read low).
WIDE_MAX_LAMBDA = 1e-6
#: A lambda-induced error counts once it is this many times the lambda = 0 error (median).
ERROR_ABOVE_FLOOR = 10.0
#: The paper's "five orders of magnitude" error reduction.
ERROR_RATIO_LEVEL = 1e-5
#: A task "learns" when its lambda = 0 error ratio L/L0 ends below this.
LEARNED_RATIO = 1e-5

BASE = {
    "task": "regression",
    "network": "ref:64",
    "kappa": 1.0,
    "alpha": 0.5,
    "eta": 1e-3,
    "kmin": 1e-3,
    "kmax": 10.0,
}


def specs(quick: bool) -> list[SweepSpec]:
    """The lambda sweep: {0} U logspace(-10, -2, 17) x 50 realizations x 1e5 steps (quick: less)."""
    if quick:
        # three points in the slope window (<= 1e-8), and around L/L0 = 1e-5 (~1e-6)
        lams = [0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5]
        steps, realizations = 100_000, 8
    else:
        lams = [0.0, *log_grid(-10, -2, 17)]
        steps, realizations = 100_000, 50
    mode = "quick" if quick else "full"
    return [
        lambda_sweep(
            f"fig2-lambda-{mode}",
            lams=lams,
            realizations=realizations,
            description=TITLE,
            base={**BASE, "steps": steps, "n_records": 20},
        )
    ]


def render(frames: dict[str, pd.DataFrame], out_dir: Path) -> FigureResult:
    """Panels: error ratio and power reduction vs lambda (with fits); P and E vs lambda."""
    (frame,) = frames.values()
    frame = done_rows(frame)
    frame["power_drop"] = 1.0 - paired(frame, "lam", "free_power_final_w", 0.0)
    frame["power_rel"] = paired(frame, "lam", "free_power_final_w", 0.0)
    frame["energy_rel"] = paired(frame, "lam", "training_energy_j", 0.0)
    # the error the power term adds: L/L0 minus its lambda = 0 value, paired per realization
    # (paired gives L/L(lambda = 0) per realization: L - L(0) = L (1 - 1 / that))
    frame["error_excess"] = frame["error_ratio"] * (
        1.0 - 1.0 / paired(frame, "lam", "error_ratio", 0.0)
    )
    err = grouped(frame, "lam", "error_ratio")
    drop = grouped(frame, "lam", "power_drop")
    power = grouped(frame, "lam", "power_rel")
    energy = grouped(frame, "lam", "energy_rel")
    at0 = frame[frame["lam"] == 0.0]
    floor = float(np.median(at0["error_ratio"])) if len(at0) else math.nan
    learned = float(np.mean(at0["error_ratio"] < LEARNED_RATIO)) if len(at0) else math.nan
    pos = err[err["x"] > 0]
    above = pos[pos["median"] > ERROR_ABOVE_FLOOR * floor] if math.isfinite(floor) else pos
    s_err = fit_loglog_slope(above["x"], above["median"], x_max=FIT_MAX_LAMBDA)
    excess = grouped(frame, "lam", "error_excess")
    excess = excess[excess["x"] > 0]
    s_exc = fit_loglog_slope(excess["x"], excess["median"], x_max=FIT_MAX_LAMBDA)
    w_err = fit_loglog_slope(above["x"], above["median"], x_max=WIDE_MAX_LAMBDA)
    dpos = drop[drop["x"] > 0]
    s_pow = fit_loglog_slope(dpos["x"], dpos["median"], x_max=FIT_MAX_LAMBDA)
    w_pow = fit_loglog_slope(dpos["x"], dpos["median"], x_max=WIDE_MAX_LAMBDA)
    lam_star = crossing(pos["x"].to_numpy(), pos["median"].to_numpy(), ERROR_RATIO_LEVEL)
    ppos, epos = power[power["x"] > 0], energy[energy["x"] > 0]
    p_star = interp_loglog(ppos["x"].to_numpy(), ppos["median"].to_numpy(), lam_star)
    e_star = interp_loglog(epos["x"].to_numpy(), epos["median"].to_numpy(), lam_star)

    fig, (ax1, ax2) = new_figure(2, title=TITLE)
    band(ax1, pos, label="error ratio $L/L_0$ (median, IQR)")
    band(ax1, dpos[dpos["median"] > 0], label="power reduction $1 - P/P(0)$")
    for s, stats in ((s_err, above), (s_pow, dpos)):
        if math.isfinite(s.slope):
            xs = np.array(s.x_range)
            ys = stats.set_index("x")["median"]
            anchor = float(ys.loc[ys.index <= s.x_range[1]].iloc[-1])
            ax1.plot(xs, anchor * (xs / s.x_range[1]) ** s.slope, "k--", lw=1)
            ax1.annotate(f"slope {s.slope:.2f}", (xs[0], anchor * (xs[0] / xs[1]) ** s.slope),
                         fontsize=8)  # fmt: skip
    if math.isfinite(floor) and floor > 0:
        ax1.axhline(floor, color="grey", ls=":", lw=1, label="error ratio at $\\lambda = 0$")
    ax1.set(xscale="log", yscale="log", ylabel="ratio",
            xlabel="$\\lambda$ (power term x alpha/eta, as the authors' code)")  # fmt: skip
    ax1.legend(fontsize=7)
    band(ax2, ppos, label="trained free power $P/P(0)$")
    band(ax2, epos, label="training energy $E/E(0)$")
    ax2.axhline(1.0, color="grey", ls=":", lw=1)
    if math.isfinite(lam_star):
        ax2.axvline(
            lam_star, color="k", ls="--", lw=1, label=f"$L/L_0 = 10^{{-5}}$ at {lam_star:.2g}"
        )
    ax2.set(xscale="log", yscale="log", xlabel="$\\lambda$", ylabel="relative to $\\lambda = 0$")
    ax2.legend(fontsize=7)
    png = save_figure(fig, out_dir / f"{NAME}.png")

    n_real = int(frame["realization"].nunique())
    measured = {
        "error_slope": s_err.slope,
        "error_slope_stderr": s_err.stderr,
        "power_reduction_slope": s_pow.slope,
        "power_reduction_slope_stderr": s_pow.stderr,
        "error_slope_wide": w_err.slope,
        "error_slope_floor_subtracted": s_exc.slope,
        "power_reduction_slope_wide": w_pow.slope,
        "lambda_at_error_ratio_1e-5": lam_star,
        "power_ratio_there": p_star,
        "energy_ratio_there": e_star,
        "error_ratio_at_lambda_0": floor,
        "fraction_learning_at_lambda_0": learned,
    }
    published = {
        "error_slope": "2 (L ~ lambda^2)",
        "power_reduction_slope": "1 (dP ~ lambda)",
        "lambda_at_error_ratio_1e-5": "1e-5 on the paper's axis; ~1e-6 on ours (authors' code)",
        "power_ratio_there": "~0.1",
        "energy_ratio_there": "~0.1",
    }
    rows = [
        ("error slope d log L / d log lambda", f"{fmt(s_err.slope)} +- {fmt(s_err.stderr, 2)} "
         f"({s_err.n_points} points, lambda {fmt(s_err.x_range[0], 2)}.."
         f"{fmt(s_err.x_range[1], 2)})",
         "2", f"{fmt(s_err.slope - 2, 2)}"),
        ("power-reduction slope", f"{fmt(s_pow.slope)} +- {fmt(s_pow.stderr, 2)} "
         f"({s_pow.n_points} points)", "1", f"{fmt(s_pow.slope - 1, 2)}"),
        ("error slope of L/L0 minus its lambda = 0 value (paired; floor subtracted)",
         f"{fmt(s_exc.slope)} +- {fmt(s_exc.stderr, 2)} ({s_exc.n_points} points)", "2",
         f"{fmt(s_exc.slope - 2, 2)}"),
        (f"both slopes, wider window lambda <= {WIDE_MAX_LAMBDA:g}",
         f"{fmt(w_err.slope)} ({w_err.n_points} pts), {fmt(w_pow.slope)} ({w_pow.n_points} pts)",
         "2, 1", f"{fmt(w_err.slope - 2, 2)}, {fmt(w_pow.slope - 1, 2)}"),
        ("lambda where median L/L0 = 1e-5", fmt(lam_star),
         "1e-5 (paper's axis); ~1e-6 on ours (authors' code: 1e-6 -> L/L0 7.5e-6)",
         f"x {fmt(lam_star / 1e-6, 2)} of 1e-6" if math.isfinite(lam_star) else "n/a"),
        ("trained free power P/P(0) there", fmt(p_star), "~0.1", ""),
        ("training energy E/E(0) there", fmt(e_star), "~0.1", ""),
    ]  # fmt: skip
    markdown = f"""## {TITLE}

![{NAME}]({png.name})

Settings: `ref:64` (the authors' 50 N = 64 networks, realization r on network r), regression
(seed App. B, node-disjoint edges), kappa = 1 S, alpha = 0.5, eta = 1e-3, bounds [1e-3, 10] S
(the seed text's; the authors' code uses [1e-4, 1e6]), {fmt(frame["steps"].max(), 7)} steps,
{n_real} realizations. Error: training error ratio L/L0 (L0 = at t = 0). Power and energy are
paired per realization with lambda = 0. Medians with the 25-75 % band.

**Lambda axis:** the rule here is dk = -(alpha/eta) [(dV^C)^2 - (1 - lambda)(dV^F)^2], as in the
authors' code: the power term carries the factor alpha/eta = 500 (PHYSICS.md section 3). On this
axis the authors' code puts the paper's "1e5 error reduction at ~10x less power" (its lambda =
1e-5) near lambda ~ 1e-6 (their N = 64 task: lambda 1e-6 -> L/L0 7.5e-6, P(0)/P = 8); that is the
value compared below.

**Learnability:** at lambda = 0, {fmt(100 * learned, 3)} % of the realizations reach
L/L0 < 1e-5 (median L/L0 = {fmt(floor)}); the others did not within this run (with 1e5 steps,
most of those stay in a local minimum from an initial transfer of the wrong sign: see the
regression-task commit), so every curve is a median over all realizations. The error
slope is fitted where the median error is > {ERROR_ABOVE_FLOOR:g} x its lambda = 0 value and
lambda <= {FIT_MAX_LAMBDA:g}; the power-reduction slope for lambda <= {FIT_MAX_LAMBDA:g}
(the small-lambda regime of PHYSICS.md section 3). The wider window (lambda <= {WIDE_MAX_LAMBDA:g})
was our first choice; it takes in the saturation of the power reduction (1 - P/P(0) cannot
exceed 1) and reads low; both are shown. The floor-subtracted slope fits the error the power
term adds (L/L0 minus its lambda = 0 value, per realization): where the lambda = 0 error is not
negligible against it, the plain slope reads low. `benchmarks/fig2_slope_study.py` gives the
slope under each choice (bounds [1e-3, 10] vs [1e-4, 1e6] S, steps, window, floor).

{measured_table(rows)}
"""
    return FigureResult(png=png, markdown=markdown, measured=measured, published=published)
