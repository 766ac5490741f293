"""The circuit trainer's options of ``twin train`` (network, task, substrate, learning rule,
bounds, steps, solver), and the limits they are checked against.

:func:`train_options` adds them to the command in the order ``twin train --help`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..learning.rules import CONTROL_RANGES
from ..physics.estimate import PCG_MIN_EDGES
from ._common import SEED, FiniteRange

__all__ = ["CONDUCTANCE_S", "ERROR_V2", "MAX_REALIZATIONS", "MAX_STEPS", "train_options"]

F = TypeVar("F", bound=Callable[..., Any])

#: Largest --steps and --realizations.
MAX_STEPS = 10**9
MAX_REALIZATIONS = 10**9  # the memory and time estimate refuses far below
#: Conductances (kappa, bounds) in siemens, as in schemas/network.schema.json.
CONDUCTANCE_S = FiniteRange(0, 1e6, min_open=True)
#: Error tolerances in V^2 (target voltages are at most 1000 V: schemas/task.schema.json).
ERROR_V2 = FiniteRange(0, 1e6, min_open=True)

#: The options, in the order of the help (applied last to first, as decorators are).
_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option(
        "--network",
        "network",
        default=None,
        help="lattice:WxH[:periodic], jammed:N[:seed=S], ref:N[:i=K] or file:PATH. ref:N gives "
        "realization r the paper authors' N-disk network number r (mod 50; folder "
        "shipped with the package; $TWIN_REFERENCE_DIR overrides the folder). xy: all:N, "
        "layered:A,B,..., lattice:RxC[:tri][:skip=L][:io=corner|sides][:w0=STD], "
        "stack:LxRxC[:reach=K][:w0=STD] (L stacked R x C lattices) or file:PATH (JSON graph).",
    ),
    click.option(
        "--task",
        "task",
        default=None,
        help="regression, allostery, iris or file:PATH; allostery-strain with --physics springs "
        "(default: allostery, or allostery-strain for springs); xy: xor, iris or digits (default "
        "xor).",
    ),
    click.option(
        "--physics",
        type=click.Choice(["resistors", "springs", "xy"]),
        default="resistors",
        show_default=True,
        help="Substrate: resistor networks, harmonic spring networks (seed App. D: stiffnesses "
        "in N/m, strains, elastic energy in J; network default jammed:27, rigid), or XY oscillator "
        "networks trained by equilibrium propagation (seed 003; options marked xy).",
    ),
    click.option(
        "--spring-solver",
        type=click.Choice(["linear", "nonlinear"]),
        default="linear",
        show_default=True,
        help="Springs: linear response about the unstrained network (fast), or the exact "
        "nonlinear equilibrium by Newton's method (the reference).",
    ),
    click.option(
        "--prune",
        type=FiniteRange(0, 6, min_open=True),
        default=None,
        help="Springs: remove random redundant bonds down to this mean coordination (rigidity "
        "kept; "
        "must be above isostatic, ~4).",
    ),
    click.option(
        "--lam",
        type=FiniteRange(0, 1),
        default=0.0,
        show_default=True,
        help="Power-minimisation weight lambda (the rule weighs the free state by 1 - lambda).",
    ),
    click.option(
        "--label-noise",
        type=FiniteRange(0, 1),
        default=0.0,
        show_default=True,
        help="Gaussian noise (std, V) on the desired training outputs of a generated regression or "
        "iris task (seed App. C: 1e-3).",
    ),
    click.option(
        "--control-tol",
        type=ERROR_V2,
        default=None,
        help="Dynamic lambda control to this error tolerance, V^2.",
    ),
    click.option(
        "--rho",
        type=FiniteRange(*CONTROL_RANGES["rho"], min_open=True),
        default=None,
        help="Lambda control rate, per 1/alpha epoch (default 1, the seed's; needs --control-tol).",
    ),
    click.option(
        "--p",
        "p_exp",
        type=FiniteRange(*CONTROL_RANGES["p"], min_open=True),
        default=None,
        help="Lambda control exponent: d lam/dt = rho lam ((tol/L)^p - 1) (default 0.02, the "
        "seed's; "
        "needs --control-tol).",
    ),
    click.option(
        "--lam0",
        type=FiniteRange(*CONTROL_RANGES["lam0"], min_open=True),
        default=None,
        help="Lambda the control starts from (default --lam if > 0, else 1e-8; needs "
        "--control-tol).",
    ),
    click.option(
        "--stop-tol",
        type=ERROR_V2,
        default=None,
        help="Early stopping: stop at this training error, V^2.",
    ),
    click.option(
        "--eta",
        type=FiniteRange(0, 1, min_open=True),
        default=1e-3,
        show_default=True,
        help="Nudge amplitude: fraction of the way the clamped targets move toward the desired "
        "values.",
    ),
    click.option(
        "--alpha",
        type=FiniteRange(0, 1e3, min_open=True),
        default=None,
        help="Learning rate per step (default 0.5; 10 for springs, whose extensions, ~0.05 m, are "
        "smaller than the resistors' volts). At most 1 for resistors.",
    ),
    click.option(
        "--kappa",
        type=CONDUCTANCE_S,
        default=1.0,
        show_default=True,
        help="Initial conductance, S (stiffness, N/m, for springs).",
    ),
    click.option(
        "--kmin",
        type=CONDUCTANCE_S,
        default=None,
        help="Lower conductance bound, S (stiffness, N/m, for springs; default: the network's; "
        "1e-3 "
        "for springs and for generated, ref: and "
        "file: networks without bounds, as in the seed text; the authors' code uses 1e-4).",
    ),
    click.option(
        "--kmax",
        type=CONDUCTANCE_S,
        default=None,
        help="Upper conductance bound, S (N/m for springs; default: the network's; 10 for springs "
        "and "
        "for generated, ref: and "
        "file: networks without bounds, as in the seed text; the authors' code uses 1e6). The "
        "summary reports the bounds used (k_min_siemens, k_max_siemens).",
    ),
    click.option(
        "--steps",
        type=click.IntRange(0, MAX_STEPS),
        default=10_000,
        show_default=True,
        help="Learning steps (steps x realizations x edges at most 1e10 without --force).",
    ),
    click.option(
        "--step-s",
        type=FiniteRange(0, 3600, min_open=True),
        default=1e-4,
        show_default=True,
        help="Duration of one step, s (the board's: 1e-4).",
    ),
    click.option(
        "--seed", type=SEED, default=0, show_default=True, help="Seed of networks and tasks."
    ),
    click.option(
        "--realizations", type=click.IntRange(1, MAX_REALIZATIONS), default=1, show_default=True
    ),
    click.option(
        "--solver",
        type=click.Choice(["auto", "direct", "pcg"]),
        default="auto",
        show_default=True,
        help="Circuit solver per update: direct (one sparse Cholesky factorization, exact to "
        "rounding: the reference), pcg (conjugate gradients warm-started from the last updates and "
        f"preconditioned by a recent factorization, to --solver-tol), auto: pcg for networks of >= "
        f"{PCG_MIN_EDGES} edges, direct below.",
    ),
    click.option(
        "--solver-tol",
        type=FiniteRange(0, 1, min_open=True, max_open=True),
        default=1e-6,
        show_default=True,
        help="pcg: bound on the relative energy-norm error of each update's node voltages.",
    ),
    click.option(
        "--force",
        is_flag=True,
        help="Run even when the estimated memory, time or work exceeds its limit.",
    ),
)


def train_options(func: F) -> F:
    """Add the trainer's options (:data:`_OPTIONS`) to a click command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func
