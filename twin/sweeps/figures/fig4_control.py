"""Fig. 4: dynamic lambda control vs early stopping (power gain and training-energy ratio).

Regression on the authors' N = 64 networks, every conductance starting at k_min = 1e-3 S,
alpha = 0.03, eta = 1e-3, bounds [1e-3, 10] S, 1e5 steps (seed Sec. IV). Early stopping:
lambda = 0, stop when L <= L~. Control: d lam/dt = rho lam ((L~/L)^p - 1), rho = 1, p = 0.02,
lambda starting at 1e-8 (PHYSICS.md section 4). Per realization (the same network and task in
both sweeps): G = (P_ES - P_ctrl) / (P_ES - P_min), P_min the free power with every conductance
at k_min (= the initial power here), and R_E = E_ctrl / E_ES.
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
    interp_loglog,
    measured_table,
    new_figure,
    save_figure,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NAME", "TITLE", "gain_frame", "render", "specs"]

NAME = "fig4"
TITLE = "Fig. 4: power gain of dynamic lambda control over early stopping"
#: Tolerance of the published headline number, V^2.
HEADLINE_TOL = 1e-3

BASE = {"task": "regression", "network": "ref:64", "kappa": 1e-3, "kmin": 1e-3, "kmax": 10.0,
        "alpha": 0.03, "eta": 1e-3}  # fmt: skip


def specs(quick: bool) -> list[SweepSpec]:
    """Early stopping and control over the tolerances L~ (zipped by position)."""
    tols = [1e-3, 1e-2] if quick else [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
    steps, realizations = (100_000, 8) if quick else (100_000, 50)
    mode = "quick" if quick else "full"
    base = {**BASE, "steps": steps, "n_records": 2}
    common = {"kind": "trainer", "realizations": realizations, "seed": 0, "description": TITLE}
    return [
        spec_from_dict({**common, "name": f"fig4-es-{mode}", "base": base,
                        "axes": {"stop_tol": tols}}),
        spec_from_dict({**common, "name": f"fig4-control-{mode}",
                        "base": {**base, "rho": 1.0, "p": 0.02}, "axes": {"control_tol": tols}}),
    ]  # fmt: skip


def gain_frame(es: pd.DataFrame, ctl: pd.DataFrame) -> pd.DataFrame:
    """One row per (tolerance, realization): gain ``G``, energy ratio ``R_E``, ES reached L~."""
    import pandas as pd

    a = done_rows(es).rename(columns={"stop_tol": "tol"})
    b = done_rows(ctl).rename(columns={"control_tol": "tol"})
    m = pd.merge(a, b, on=["tol", "realization"], suffixes=("_es", "_ctl"))
    p_es, p_ctl = m["free_power_final_w_es"], m["free_power_final_w_ctl"]
    p_min = m["free_power_initial_w_es"]  # every conductance at k_min at the start
    return pd.DataFrame(
        {
            "tol": m["tol"],
            "realization": m["realization"],
            "gain": (p_es - p_ctl) / (p_es - p_min),
            "energy_ratio": m["training_energy_j_ctl"] / m["training_energy_j_es"],
            "es_reached": m["error_final_es"] <= m["tol"],
            "ctl_error": m["error_final_ctl"],
        }
    )


def render(frames: dict[str, pd.DataFrame], out_dir: Path) -> FigureResult:
    """Panels: G vs L~ (with the ln L~ fit) and G vs R_E."""
    es = next(f for n, f in frames.items() if "-es-" in n)
    ctl = next(f for n, f in frames.items() if "-control-" in n)
    g = gain_frame(es, ctl)
    gain = grouped(g, "tol", "gain")
    ratio = grouped(g, "tol", "energy_ratio")
    reached = g.groupby("tol")["es_reached"].mean()
    ok = gain[np.isfinite(gain["median"])]
    slope = math.nan
    if len(ok) >= 2:
        slope = float(np.polyfit(np.log(ok["x"]), ok["median"], 1)[0])
    g_head = float(np.interp(np.log(HEADLINE_TOL), np.log(ok["x"]), ok["median"])) if len(
        ok) else math.nan  # fmt: skip
    r_head = interp_loglog(ratio["x"].to_numpy(), ratio["median"].to_numpy(), HEADLINE_TOL)

    fig, (ax1, ax2) = new_figure(2, title=TITLE)
    band(ax1, gain, label="gain G (median, IQR)")
    if math.isfinite(slope):
        xs = np.array([ok["x"].min(), ok["x"].max()])
        y0 = float(np.interp(np.log(xs[0]), np.log(ok["x"]), ok["median"]))
        ax1.plot(xs, y0 + slope * np.log(xs / xs[0]), "k--", lw=1,
                 label=f"G = a + {slope:.3f} ln L~")  # fmt: skip
    ax1.axhline(0.5, color="grey", ls=":", lw=1, label="published: 0.5 at L~ = 1e-3")
    ax1.set(xscale="log", xlabel="tolerance L~ (V$^2$)", ylabel="power gain G")
    ax1.legend(fontsize=7)
    ax2.scatter(ratio["median"], gain["median"], c=np.log10(gain["x"]), cmap="viridis")
    for x, rx, gy in zip(gain["x"], ratio["median"], gain["median"], strict=True):
        ax2.annotate(f"{x:.0e}", (rx, gy), fontsize=7)
    ax2.set(xscale="log", xlabel="training-energy ratio $R_E = E_{ctrl}/E_{ES}$",
            ylabel="power gain G (median)")  # fmt: skip
    png = save_figure(fig, out_dir / f"{NAME}.png")

    reach_text = ", ".join(f"{t:.0e}: {100 * v:.0f} %" for t, v in reached.items())
    measured = {"gain_at_1e-3": g_head, "gain_per_ln_tol": slope, "energy_ratio_at_1e-3": r_head}
    published = {
        "gain_at_1e-3": "~0.5",
        "gain_per_ln_tol": "G grows as ln L~ (positive slope)",
        "energy_ratio_at_1e-3": "5-10 for most of the benefit",
    }
    rows = [
        ("gain G at L~ = 1e-3 (median)", fmt(g_head), "~0.5", fmt(g_head - 0.5, 2)),
        ("dG / d ln L~ (fit of the medians)", fmt(slope), "> 0 (G ~ ln L~)", ""),
        ("R_E at L~ = 1e-3 (median)", fmt(r_head), "5-10 for most of the gain", ""),
    ]
    markdown = f"""## {TITLE}

![{NAME}]({png.name})

Settings: `ref:64`, regression, kappa = k_min = 1e-3 S, bounds [1e-3, 10] S, alpha = 0.03,
eta = 1e-3, {fmt(es["steps"].max(), 7)} steps, {g["realization"].nunique()} realizations; control
rho = 1 per 1/alpha epoch (one step = alpha = 0.03 time units), p = 0.02, lambda from 1e-8;
lambda on our axis (power term x alpha/eta, PHYSICS.md section 3). G and R_E are per realization
(medians, 25-75 % band). G is measured at the end of the run ({fmt(es["steps"].max(), 7)} steps;
the seed: 1e5); a realization whose early stopping never reached L~ is compared at the end of
its run. Fraction of early-stopping runs that reached L~: {reach_text}.

{measured_table(rows)}
"""
    return FigureResult(png=png, markdown=markdown, measured=measured, published=published)
