"""The seed paper's figures, regenerated from sweeps (``twin figures``).

:func:`~twin.sweeps.figures.report.make_figures` runs (or finds in the ledger database: a cell
already done is reused, never recomputed) the sweeps each figure needs, renders the figures and
writes ``report.md`` beside their PNGs, each with the measured numbers beside the published ones.

The contract of a figure module (register it in :data:`FIGURES`)
-----------------------------------------------------------------
A module ``twin/sweeps/figures/figN_topic.py`` exposes:

``NAME: str``
    Its key in :data:`FIGURES` and ``twin figures --only`` (``fig2``).
``TITLE: str``
    One line: the paper's figure and what it shows.
``specs(quick: bool) -> list[SweepSpec]``
    The sweeps it needs (:func:`twin.sweeps.spec_from_dict`), with names unique across figures
    and modes (``fig2-lambda-full``). ``quick=True``: few realizations and short runs (all the
    figures together within a few minutes on 2 cores); ``quick=False``: the paper's realization
    counts. Parameters are explicit (bounds, kappa, alpha...) so the figure states what it used.
``render(frames: dict[str, pandas.DataFrame], out_dir: Path) -> FigureResult``
    ``frames`` maps each spec's name to :func:`twin.sweeps.results_frame` (one row per cell and
    realization; parameters and metrics as columns; metrics NaN where a cell is not done). It
    writes ``out_dir / f"{NAME}.png"`` with matplotlib's object-oriented API (``Figure`` +
    ``FigureCanvasAgg``, :func:`._common.new_figure`; never pyplot) and returns a
    :class:`FigureResult` (frozen attrs: ``png``, ``markdown``, ``measured``, ``published``).

A figure whose data are not sweep cells (one deterministic emulation per point) returns no
specs and exposes ``compute(quick: bool) -> dict[str, pandas.DataFrame]`` instead: its frames
go to ``render`` the same way.

Rules for ``render``: compute everything from the frames (never a hard-coded result); quote the
published value beside each measured one and state a departure with its size; state the
conventions that decide a comparison (lambda axis, time unit, error normalisation, conductance
bounds); report points in the sensitive regime (lambda ~ 1e-5..1e-4) as ensembles (median and
quantiles, :func:`._common.grouped`), never single runs; never tune a figure to match.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ._common import FigureResult

__all__ = ["FIGURES", "FigureResult", "figure_module"]

#: Figure name -> module (relative to this package), in report order.
FIGURES: dict[str, str] = {
    "fig1": ".fig1_kappa",
    "fig2": ".fig2_lambda",
    "fig3": ".fig3_board",
    "fig4": ".fig4_control",
    "fig5": ".fig5_iris",
    "fig6": ".fig6_desync",
    "fig8": ".fig8_springs",
    "imperfection": ".imperfection",
    "xy": ".xy_architectures",
}


def figure_module(name: str) -> ModuleType:
    """The module of figure ``name`` (KeyError listing the known names if unknown)."""
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; expected one of {', '.join(FIGURES)}")
    return importlib.import_module(FIGURES[name], __name__)
