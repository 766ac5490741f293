"""Fig. 1: the initial conductance scale kappa at lambda = 0: trained power, training time, energy.

Regression on the authors' N = 64 networks, bounds [1e-3, 10] S, kappa in [1e-3, 10]. The
learning rate is scaled with kappa, ``alpha = ALPHA_PER_KAPPA * kappa`` (0.1 at kappa = 1, the
seed's), so the dynamics are the same at every kappa far from the bounds and time is counted in
units of ``1/(alpha/kappa)`` steps (the seed's ``tau = 1/alpha`` epochs at kappa = 1): one step
is ``alpha/kappa = 0.1`` time units. Two sweeps: one runs every realization to the end (trained
power), one stops each at the tolerance (training time and training energy to it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..spec import SweepSpec, spec_from_dict
from ._common import (
    FigureResult,
    band,
    done_rows,
    fmt,
    grouped,
    measured_table,
    new_figure,
    save_figure,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ALPHA_PER_KAPPA", "NAME", "TITLE", "TOLERANCE_V2", "render", "specs"]

NAME = "fig1"
TITLE = "Fig. 1: trained power, training time and energy vs initial conductance kappa (lambda = 0)"
#: alpha / kappa: the learning rate per unit of initial conductance (seed: alpha 0.1 at kappa 1).
ALPHA_PER_KAPPA = 0.1
#: Error tolerance of the training time and energy, V^2 (seed Fig. 1c: 1e-4).
TOLERANCE_V2 = 1e-4
#: Fraction of realizations that must reach the tolerance for a kappa to enter the minimum.
MOST_REACHED = 0.5

BASE = {"task": "regression", "network": "ref:64", "eta": 1e-3, "kmin": 1e-3, "kmax": 10.0,
        "lam": 0.0}  # fmt: skip


def _kappas(quick: bool) -> list[float]:
    if quick:  # around the seed's minimum (~2e-2) and both ends
        return [1e-3, 1e-2, 3.1622776601683794e-2, 1e-1, 1.0]
    return np.logspace(-3, 1, 9).tolist()


def specs(quick: bool) -> list[SweepSpec]:
    """Two zipped (kappa, alpha = 0.1 kappa) sweeps: to the end, and stopped at 1e-4 V^2."""
    kappas = _kappas(quick)
    alphas = [min(ALPHA_PER_KAPPA * k, 1.0) for k in kappas]
    steps, realizations = (100_000, 8) if quick else (100_000, 50)
    mode = "quick" if quick else "full"
    common = {"kind": "trainer", "realizations": realizations, "seed": 0, "combine": "zip",
              "axes": {"kappa": kappas, "alpha": alphas}, "description": TITLE}  # fmt: skip
    return [
        spec_from_dict({**common, "name": f"fig1-kappa-{mode}",
                        "base": {**BASE, "steps": steps, "n_records": 20}}),
        spec_from_dict({**common, "name": f"fig1-kappa-tol-{mode}",
                        "base": {**BASE, "steps": steps, "stop_tol": TOLERANCE_V2,
                                 "n_records": 2}}),
    ]  # fmt: skip


def render(frames: dict[str, pd.DataFrame], out_dir: Path) -> FigureResult:
    """Panels: trained free power, training time to 1e-4 V^2 and training energy vs kappa."""
    run = next(f for n, f in frames.items() if "-tol-" not in n)
    tol = next(f for n, f in frames.items() if "-tol-" in n)
    run, tol = done_rows(run), done_rows(tol)
    # paper time units: steps x (alpha/kappa); energy: sum over steps of P_F x (alpha/kappa)
    unit = tol["alpha"] / tol["kappa"] / tol["step_s"]
    tol["time_units"] = tol["time_to_tol_s"] * unit
    tol["energy_units"] = np.where(np.isfinite(tol["time_to_tol_s"]),
                                   tol["training_energy_j"] * unit, np.nan)  # fmt: skip
    power = grouped(run, "kappa", "free_power_final_w")
    time_ = grouped(tol, "kappa", "time_units")
    energy = grouped(tol, "kappa", "energy_units")
    reached = tol.groupby("kappa")["time_to_tol_s"].apply(lambda s: float(np.isfinite(s).mean()))
    # the minimum over the kappas where most realizations reached the tolerance (~15 % of the
    # regression tasks never learn at all, so "all" would exclude every kappa); an argmin at
    # either end of that range is no minimum
    most = energy[energy["x"].map(reached) >= MOST_REACHED].reset_index(drop=True)
    kappa_min_e = math.nan
    if len(most) >= 3:
        i = int(most["median"].idxmin())
        kappa_min_e = float(most.loc[i, "x"]) if 0 < i < len(most) - 1 else math.nan
    eligible = (float(most["x"].min()), float(most["x"].max())) if len(most) else (math.nan,) * 2
    p_hi, p_lo = (power["median"].iloc[-1], power["median"].iloc[0]) if len(power) else (
        math.nan, math.nan)  # fmt: skip
    power_falls = bool(np.all(np.diff(power["median"].to_numpy()) > 0)) if len(power) > 1 else False

    fig, (ax1, ax2, ax3) = new_figure(3, title=TITLE)
    band(ax1, power, label="trained free power")
    ax1.set(xscale="log", yscale="log", xlabel="$\\kappa$ (S)", ylabel="$P_F$ at the end (W)")
    band(ax2, time_, label=f"time to L = {TOLERANCE_V2:g}")
    ax2.set(xscale="log", yscale="log", xlabel="$\\kappa$ (S)",
            ylabel="training time (1 unit = $\\kappa/\\alpha$ steps)")  # fmt: skip
    band(ax3, energy, label="training energy")
    if math.isfinite(kappa_min_e):
        ax3.axvline(kappa_min_e, color="k", ls="--", lw=1, label=f"minimum at {kappa_min_e:.2g}")
    ax3.set(xscale="log", yscale="log", xlabel="$\\kappa$ (S)",
            ylabel="energy to tolerance ($P_F$ x time units)")  # fmt: skip
    for ax in (ax1, ax2, ax3):
        ax.legend(fontsize=7)
    png = save_figure(fig, out_dir / f"{NAME}.png")

    reach_text = ", ".join(f"{k:.2g}: {100 * v:.0f} %" for k, v in reached.items())
    measured = {
        "kappa_at_energy_minimum": kappa_min_e,
        "trained_power_ratio_high_to_low_kappa": float(p_hi / p_lo) if p_lo > 0 else math.nan,
        "trained_power_increases_with_kappa": float(power_falls),
    }
    published = {
        "kappa_at_energy_minimum": "~2e-2",
        "trained_power_increases_with_kappa": "yes (power falls as kappa falls)",
        "training_time": "flat at high kappa, growing ~1/kappa near k_min",
    }
    rows = [
        ("trained power falls as kappa falls (medians monotonic)", "yes" if power_falls else "no",
         "yes", ""),
        ("trained power, largest / smallest kappa", fmt(measured[
            "trained_power_ratio_high_to_low_kappa"]), "(shape only)", ""),
        (f"kappa of the training-energy minimum (interior; kappas where >= {MOST_REACHED:.0%} "
         f"reached 1e-4: {fmt(eligible[0], 2)}..{fmt(eligible[1], 2)})",
         fmt(kappa_min_e, 2), "~2e-2",
         f"x {fmt(kappa_min_e / 2e-2, 2)}" if math.isfinite(kappa_min_e) else "n/a"),
    ]  # fmt: skip
    markdown = f"""## {TITLE}

![{NAME}]({png.name})

Settings: `ref:64`, regression, lambda = 0, eta = 1e-3, bounds [1e-3, 10] S, kappa in
{fmt(run["kappa"].min(), 2)}..{fmt(run["kappa"].max(), 2)} S with
**alpha = {ALPHA_PER_KAPPA:g} kappa** (the learning rate scaled with kappa),
{fmt(run["steps"].max(), 7)} steps, {run["realization"].nunique()} realizations.
**Time unit:** kappa/alpha = {1 / ALPHA_PER_KAPPA:g} steps (the seed's 1/alpha epochs at
kappa = 1); training energy = sum over steps of P_F x (alpha/kappa), in P_F x time
units, to the first step with L <= {TOLERANCE_V2:g} V^2 (early-stopping sweep). With a fixed
alpha instead, time and energy scale differently with kappa and the minimum moves (issue 9).
Medians with the 25-75 % band; a kappa where some realizations never reached the tolerance in
the run has a median over those that did (biased low where few did). Fraction reaching it:
{reach_text}. The seed ran 1e6 steps; where few realizations reach the tolerance within this
run's steps, the low-kappa rise of the training time and energy is cut off.

{measured_table(rows)}
"""
    return FigureResult(png=png, markdown=markdown, measured=measured, published=published)
