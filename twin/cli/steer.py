"""``twin steer``: the twin steers a board's training to an error tolerance at the least energy."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from . import cli
from ._common import board_options, emit_json, print_summary
from ._ledger import ledger_options, recorded_dispatch
from ._types import DURATION_S, FiniteRange, OutputFile, idle_s_option
from ._view import check_view, maybe_live_view, view_options

__all__ = ["steer_cmd"]

#: Exit code of a run the operator interrupted (the board is left in the stated safe mode).
EXIT_INTERRUPTED = 130


@cli.command("steer")
@board_options("Steer")
@click.option(
    "--tolerance",
    type=FiniteRange(0, 1e6, min_open=True),
    default=None,
    help="Error to reach, V^2.",
)
@click.option(
    "--tolerance-rel",
    type=FiniteRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Error to reach as a fraction of the board's initial error, in (0, 1).",
)
@click.option(
    "--policy",
    type=click.Choice(["control", "predictive", "fixed", "overclamp"]),
    default="control",
    show_default=True,
    help="control: seed Eq. 18 on the board's error; predictive: the twin's least-energy "
    "schedule; fixed: hold --lam; overclamp: a classifier board trained by overclamping "
    "(arXiv 2505.22887) to a perfect pass, verified by inference (no tolerance).",
)
@click.option(
    "--lam",
    type=FiniteRange(0, 1),
    default=0.0,
    show_default=True,
    help="Lambda of --policy fixed.",
)
@click.option(
    "--budget-j",
    type=FiniteRange(0, 1e9, min_open=True),
    default=None,
    help="Stop when the board's training energy reaches this, J.",
)
@click.option(
    "--max-time-s",
    type=DURATION_S,
    default=30.0,
    show_default=True,
    help="Stop after this much board time, s, the board's holds while the twin plans included "
    "(checked during a plan too).",
)
@click.option(
    "--reset-gates",
    is_flag=True,
    help="Reset the board's gates before steering: steer its training from the start (a board "
    "that trains from boot may already sit at its error floor).",
)
@click.option(
    "--no-eta",
    "fixed_eta",
    is_flag=True,
    help="predictive: never change the board's nudge eta (by default, where the twin predicts "
    "that no lambda schedule reaches the tolerance at the board's eta, it raises eta, up to 1, "
    "and sets it back at the end).",
)
@click.option(
    "--plan-budget-sim-s",
    type=FiniteRange(0, 1e6, min_open=True),
    default=None,
    help="predictive: twin time one plan may simulate, s summed over its candidates (default "
    "300; the board is held while the twin plans); when it runs out the best schedule "
    "simulated by then is followed. Counted in simulated work: a plan does not depend on the "
    "machine's load.",
)
@click.option(
    "--plan-budget-s",
    type=FiniteRange(0, 3600, min_open=True),
    default=None,
    help="predictive: also a wall time one plan may take, s (default: none; load-dependent).",
)
@click.option(
    "--plan-budget-hold-s",
    type=FiniteRange(0, 3600, min_open=True),
    default=None,
    help="predictive: board time one plan may hold the board, s, read from the board's clock "
    "(default 30). While the twin plans the board is held idle (training stopped, gates held); "
    "past this it follows the best schedule simulated by then, or Eq. 18 control if none "
    "reached. A board whose clock stops while held is not cut by it.",
)
@click.option(
    "--no-restore-gates",
    is_flag=True,
    help="predictive: when training resumes after a plan, follow the plan from wherever the "
    "held board's gates drifted (the schedule simulated again) instead of writing the plan's "
    "start gates back to the board (reset_gates with one value per edge).",
)
@click.option(
    "--no-plan",
    type=click.Choice(["control", "lowest"]),
    default=None,
    help="predictive: where no schedule is predicted to reach the tolerance, lowest: follow the "
    "schedule the twin predicts lowest, at its eta, stopping on the tolerance (verified by "
    "inference; the default); control: Eq. 18 control on the board's error.",
)
@click.option(
    "--reach-margin",
    type=FiniteRange(0, 1, min_open=True),
    default=None,
    help="predictive: plan to this fraction of the tolerance where a schedule is predicted to "
    "get there, else to the tolerance itself (default 0.5: a schedule predicted only to touch "
    "the tolerance often misses it on the board; 1: plan to the tolerance). The board is "
    "stopped at the tolerance either way.",
)
@click.option("--dry-run", is_flag=True, help="Show the commands that would be sent; send none.")
@idle_s_option("With --calibrate only: the twin then predicts a held board's drift.")
@click.option(
    "--join-timeout-s",
    type=FiniteRange(0, 3600, min_open=True),
    default=10.0,
    show_default=True,
    help="Wait for the board's snapshot and frames, s.",
)
@click.option(
    "--out",
    type=OutputFile(),
    default=None,
    help="Write the run documents (samples, commands, energies) as JSON lines.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@ledger_options
@view_options
def steer_cmd(
    emulate: bool,
    connect: str | None,
    tolerance: float | None,
    tolerance_rel: float | None,
    policy: str,
    lam: float,
    budget_j: float | None,
    max_time_s: float,
    reset_gates: bool,
    fixed_eta: bool,
    plan_budget_sim_s: float | None,
    plan_budget_s: float | None,
    plan_budget_hold_s: float | None,
    no_plan: str | None,
    reach_margin: float | None,
    dry_run: bool,
    no_restore_gates: bool,
    idle_s: float,
    seed: int,
    variation: str,
    calibrate_first: bool,
    calibration: Path | None,
    join_timeout_s: float,
    out: Path | None,
    as_json: bool,
    db: str | None,
    no_db: bool,
    view: bool,
    port: int,
) -> None:
    """Steer a board's training to --tolerance, stopping it there (verified by inference).

    The run (commands and acknowledgements, board energy per phase, the twin's plans and its
    lambda = 0 baseline) is recorded in the energy ledger: ``twin energy steer`` shows what
    steering saved. ``--view`` serves a live page: the board's error against the twin's plan,
    and the commands sent.
    """
    import attrs

    from twin.shadow.calibration_file import load_calibration
    from twin.shadow.calibration_runs import calibrate_live
    from twin.shadow.session import EmulationSpec, open_board

    check_view(view, port)  # before a calibration's or a plan's seconds
    from twin.steer import (
        PlannerConfig,
        PolicySpec,
        SteerConfig,
        calibrated_twin,
        nominal_twin,
        steer_board,
    )
    from twin.steer.limits import CommandLimits
    from twin.steer.session import saved_twin, twin_of_calibration

    if emulate == (connect is not None):
        raise click.UsageError("give exactly one of --emulate or --connect")
    if calibrate_first and calibration is not None:
        raise click.UsageError("give at most one of --calibrate or --calibration FILE")
    if calibrate_first and dry_run and not emulate:
        raise click.UsageError(
            "--calibrate trains the board, which --dry-run must not: use --calibration FILE"
        )
    if idle_s and not calibrate_first:
        raise click.UsageError("--idle-s needs --calibrate (it holds the calibration's board idle)")
    saved = load_calibration(calibration) if calibration is not None else None
    limits = CommandLimits()
    if policy == "fixed" and not (0 <= lam <= limits.lam_max):
        raise click.BadParameter(
            f"must be in [0, {limits.lam_max:g}], got {lam}", param_hint="--lam"
        )
    config = SteerConfig(
        tolerance_v2=tolerance,
        tolerance_rel=tolerance_rel,
        budget_j=budget_j,
        max_time_s=max_time_s,
        join_timeout_s=join_timeout_s,
        reset_gates=reset_gates,
        restore_gates=not no_restore_gates,
        limits=limits,
        perfect=policy == "overclamp",
    )
    spec = EmulationSpec(seed=seed, variation=variation)
    twin = nominal_twin()
    if calibrate_first and emulate:
        twin = calibrated_twin(spec, seed=seed, idle_s=idle_s)
    board = open_board(emulate=spec) if emulate else open_board(connect=connect)
    try:
        if saved is not None:
            saved.check_snapshot(board)
            twin = saved_twin(saved)
        elif calibrate_first and not emulate:
            twin = twin_of_calibration(*calibrate_live(board, seed=seed, idle_s=idle_s))
        # the planner's defaults where an option is not given (--no-eta: no raised eta)
        planner_changes: dict[str, Any] = {"budget_s": plan_budget_s}
        if fixed_eta:
            planner_changes["eta_factors"] = ()
        if plan_budget_hold_s is not None:
            planner_changes["budget_hold_s"] = plan_budget_hold_s
        if plan_budget_sim_s is not None:
            planner_changes["budget_sim_s"] = plan_budget_sim_s
        if no_plan is not None:
            planner_changes["no_plan"] = no_plan
        if reach_margin is not None:
            planner_changes["reach_margin"] = reach_margin
        with (
            maybe_live_view(view, port, mode="steer") as live,
            recorded_dispatch(out, db, no_db) as dispatch,
        ):
            if live is not None:
                dispatch.subscribe(live.state)
            result = steer_board(
                board,
                policy=PolicySpec(
                    name=policy,
                    lam=lam,
                    planner=attrs.evolve(PlannerConfig(), **planner_changes),
                ),
                config=config,
                twin=twin,
                emit=dispatch,
                dry_run=dry_run,
                seed=seed,
            )
    finally:
        board.close()
    summary = result.summary
    if as_json:
        emit_json(summary)
    else:
        print_summary("twin steer", {k: v for k, v in summary.items() if not isinstance(v, dict)})
    if summary["reason"].startswith("interrupted"):
        click.echo(f"twin steer: interrupted; board left {summary['safe_mode']}", err=True)
        sys.exit(EXIT_INTERRUPTED)
