"""Issue 23: standard clamping against overclamping on lab-biased boards, beside the lab's table.

8 points on a circle of diameter epsilon (:func:`twin.board.overclamp.circle_task`, 4 inputs, 2
outputs read as a difference), trained in rounds on ``HiddenVariation.lab()`` boards with a
25 us learning step: standard clamping at eta 128/129 (hinge targets, every point inside the
margin), overclamping at eta 32/129 (rail targets, misclassified points only), both stopping
after a perfect round or ``--rounds`` rounds. Prints per epsilon the mean final training error
and the median learning time over the boards. The lab (arXiv 2505.22887): standard 12.5 % for
417-167 mV and 50 % at 83 mV; overclamping 0 % down to 167 mV and 25 % at 83 mV, in 0.4-6.8 s
of learning instead of 61 s.

Run: ``nice -n 10 python benchmarks/overclamp_table.py [--seeds 0 1 2 3 4 5] [--rounds 40]
[--epsilons 0.417 0.167 0.083] [--round-s 0.01] [--task push-pull | lab] [--standard rounds |
hinge [--hinge-s 10]]``.

``--task lab``: the lab's own circle (:func:`twin.board.overclamp.lab_circle_task`: two
single-ended inputs and two fixed sources at the lab's nodes, half the push-pull drive).
``--standard hinge``: standard clamping as the lab ran it (its run files): continuous hinge
training (:mod:`twin.board.hinge`, 18 mV buffer and label, targets off beyond it, so the bias
acts throughout) at eta 128/129 for ``--hinge-s`` s (the lab: 60 s), never stopped.

Measured 2026-12-06 (branch h23, ``lab()`` unchanged). The lab decides per 25 us step which points
to learn (its overclamping runs: 2.2 ms of learning in the first 25 ms of steps with 4 points
wrong); 10 ms per point per round overshoots at small epsilon (rail targets, 25x the hinge): the
rounds flip-flop between the two halves. ``--task lab --round-s 0.001 --rounds 100 --modes
overclamp``, 6 boards: 0.0 % at 417 mV (6/6 perfect, 0.07 s), 2.1 % at 167 mV (5/6, 0.24 s),
29 % at 83 mV (0.40 s; boards 25, 25, 50, 25, 50, 0 %); lab 0 / 0 / 25 % in 0.4-6.8 s. With
10 ms per point at 83 mV: 50 % (2 boards, best round 12.5 %). ``--standard hinge`` on the lab's
task (10 s of the lab's 60): 83 mV 50, 0, 50, 25, 62.5, 12.5 % (6 boards, mean 33 %; lab 50 %),
167 mV 12.5, 0 % and 417 mV 12.5, 0 % (2 boards each; lab 12.5, 12.5 %). So at 83 mV the
emulator shows standard 33 % -> overclamping 29 % where the lab shows 50 % -> 25 %: the
overclamping side is reproduced once rounds are short, the standard side learns more often on
the emulated boards than on the lab's (not explained; ``lab()`` has no per-step learning noise
at these few-mV output differences, a candidate, not tested). On the push-pull task the hinge
learns 83 mV to 25 % by 3 s (one board).

``--decide step`` (the lab's control loop, :mod:`twin.board.stepwise`: one point per 25 us step,
decided at that step; standard as the lab's hinge for ``--standard-s`` s, overclamping with the
lab's normalisation and stop rule; ``--adc``: decisions from the node ADC's readings;
``--bias-scale``: the ``lab()`` bias times this). Prints per epsilon and mode the true error at
the end (settled outputs: mean, median, range, per board), the error the board decided in its
last pass, the boards that stopped on a perfect pass and the learning time. Measured 2026-12-06
(branch h23), ``--task lab``, against the lab (standard 12.5 / 12.5 / 50 %, overclamping 0 / 0
/ 25 % in 0.4-6.8 s of learning, at 417 / 167 / 83 mV):

- overclamping, 8 boards (seeds 0-7): 0 % at 417 mV (8/8 perfect, learning 0.063-0.072 s), at
  167 mV 8/8 perfect (learning 0.089-0.28 s; true error 0 % on 7 boards, 12.5 % on one: the last
  point learnt sits microvolts past the line and the leak takes it back), at 83 mV 7/8 perfect,
  true error 0 % on 7 boards and 12.5 % on one (learning median 0.31 s, 0.22-7.9 s). The
  emulated boards do better than the lab's at 83 mV (25 %), and at 417-167 mV learn in less
  time than the lab's 0.4 s and more;
- overclamping deciding by the ADC (``--adc``, 0.2 mV noise, 0.44 mV codes): every board stops on
  a pass it reads perfect, but the true error is 12.5 % at 417 mV on all 8 boards, 14 % at 167 and
  83 mV: a point microvolts on the wrong side reads right. The lab's 0 % at 417 mV says its final
  error was not read that way; which reading the lab's 25 % at 83 mV is, its files do not say;
- standard (hinge, 18 mV), 6 boards (seeds 0-5): 10 s: 417 mV 12.5, 0, 0, 12.5, 25, 0 % (mean
  8.3 %), 167 mV 12.5, 0, 25, 12.5, 50, 0 % (16.7 %), 83 mV 50, 0, 50, 25, 50, 12.5 % (31 %);
  60 s (the lab's): 417 mV 25, 0, 0, 25, 50, 0 % (mean 16.7 %, median 12.5 %), 167 mV 25, 0,
  25, 25, 25, 0 % (16.7 %, median 25 %), 83 mV 50, 0, 50, 25, 62.5, 0 % (31 %, median 37.5 %):
  at 417 mV the error grows from 10 s to 60 s (the bias drives the gates while the hinge is
  off), as the lab's standard never settles at 0 %;
- why 83 mV gives 31 % and not the lab's 50 %: the outcome is a property of the board, set by its
  bias. The three boards that end at 50-62.5 % end at 0, 12.5 and 25 % with the bias removed
  (``--bias-scale 0``, 10 s; the other components unchanged); boards 1 and 5 learn it with
  their bias. Half the emulated boards (3/6) end at >= 50 %, so the lab's one board at 50 % is
  the emulator's most common outcome, not a discrepancy; the mean over boards is not what the
  lab measured.
"""

from __future__ import annotations

import argparse
import sys
import time

import attrs
import numpy as np

from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.hinge import HingePolicy, check_classifier, free_outputs_at_v
from twin.board.overclamp import ClampPolicy, circle_task, lab_circle_task, train_rounds
from twin.board.stepwise import StepPolicy
from twin.board.stepwise_board import train_stepwise
from twin.board.variation import HiddenVariation
from twin.physics.network_io import network_from_spec
from twin.physics.task import Task
from twin.simulation.schedule import EtaRamp, Schedule

#: The lab's table: epsilon (V) -> (standard error, overclamping error), fractions.
LAB = {0.417: (0.125, 0.0), 0.167: (0.125, 0.0), 0.083: (0.5, 0.25)}


def hinge_standard(emu: BoardEmulator, task: Task, duration_s: float) -> float:
    """Train ``task`` with the lab's continuous hinge for ``duration_s``; misclassified fraction."""
    policy = HingePolicy(margin_v=0.018, check_s=1e-3)
    emu.follow_schedule(Schedule(tasks=[task], eta=EtaRamp.constant(128 / 129),
                                 duration_s=duration_s), hinge=policy)  # fmt: skip
    emu.advance(duration_s)
    out = free_outputs_at_v(emu.edges.device, emu.track.gates(), task)
    return float(np.mean(check_classifier(task) * (out[:, 0] - out[:, 1]) <= 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--epsilons", type=float, nargs="+", default=list(LAB))
    parser.add_argument("--round-s", type=float, default=0.01, help="learning s per point")
    parser.add_argument("--modes", nargs="+", default=["standard", "overclamp"])
    parser.add_argument("--task", choices=["push-pull", "lab"], default="push-pull")
    parser.add_argument("--standard", choices=["rounds", "hinge"], default="rounds")
    parser.add_argument("--hinge-s", type=float, default=10.0, help="--standard hinge: s")
    parser.add_argument(
        "--decide",
        choices=["round", "step"],
        default="round",
        help="step: the lab's per-step decisions (twin.board.stepwise)",
    )
    parser.add_argument(
        "--soft-wall", type=float, default=0.0, help="--decide step: soft-wall width, V (0: hard)"
    )
    parser.add_argument("--standard-s", type=float, default=60.0, help="--decide step: s")
    parser.add_argument("--adc", action="store_true", help="--decide step: decide by the ADC")
    parser.add_argument(
        "--bias-scale", type=float, default=1.0, help="--decide step: lab() bias x this"
    )
    args = parser.parse_args()
    if args.decide == "step":
        per_step(args)
        return
    net = network_from_spec("lattice:4x4:periodic")
    policies = {
        "standard": ClampPolicy(
            overclamp=False, eta=128 / 129, max_rounds=args.rounds, round_s_per_point=args.round_s
        ),
        "overclamp": ClampPolicy(max_rounds=args.rounds, round_s_per_point=args.round_s),
    }
    print(f"variation: {HiddenVariation.lab()}\nseeds: {args.seeds}, rounds <= {args.rounds}")
    print("epsilon_v   standard: mean error, median learning s   "
          "overclamp: mean error, median learning s   lab (standard -> overclamp)")  # fmt: skip
    t0 = time.perf_counter()
    for eps in args.epsilons:
        task = lab_circle_task(net, eps) if args.task == "lab" else circle_task(net, eps)
        cols = []
        for name, policy in policies.items():
            if name not in args.modes:
                cols.append("(not run)")
                continue
            errors, times = [], []
            for seed in args.seeds:
                config = EmulatorConfig(variation=HiddenVariation.lab(), autostart=False,
                                        step_s=25e-6)  # fmt: skip
                emu = BoardEmulator(config, rng=np.random.default_rng(seed), task=task)
                if name == "standard" and args.standard == "hinge":
                    errors.append(hinge_standard(emu, task, args.hinge_s))
                    times.append(args.hinge_s)
                    sys.stderr.write(f"  {eps:g} V hinge seed {seed}: {errors[-1]:.3f}\n")
                    continue
                result = train_rounds(emu, task, policy)
                errors.append(result.error_fraction[-1])
                times.append(result.learning_s)
                sys.stderr.write(f"  {eps:g} V {name} seed {seed}: {errors[-1]:.3f}, "
                                 f"{times[-1]:.2f} s, {result.rounds} rounds\n")  # fmt: skip
            cols.append(f"{100 * np.mean(errors):5.1f} %, {np.median(times):.2f} s")
        lab = LAB.get(eps)
        lab_text = "n/a" if lab is None else f"{100 * lab[0]:.1f} % -> {100 * lab[1]:.1f} %"
        print(f"{eps:7.3f}     {cols[0]}                 {cols[1]}                 {lab_text}",
              flush=True)  # fmt: skip
    print(f"{time.perf_counter() - t0:.0f} s")


def per_step(args: argparse.Namespace) -> None:
    """The table with the lab's per-step decisions: per board, then mean, median and range."""
    net = network_from_spec("lattice:4x4:periodic")
    policies = {
        "standard": StepPolicy.lab_standard(max_s=args.standard_s),
        "overclamp": StepPolicy.lab_overclamp(),
    }
    print(f"per-step decisions (25 us steps), task {args.task}, seeds {args.seeds}, "
          f"decided by the ADC: {args.adc}")  # fmt: skip
    lab = HiddenVariation.lab()
    variation = attrs.evolve(
        lab,
        bias_mean_v_per_s=args.bias_scale * lab.bias_mean_v_per_s,
        bias_sigma_v_per_s=args.bias_scale * lab.bias_sigma_v_per_s,
        soft_wall_v=args.soft_wall,
    )
    print(f"policies: {policies}\nvariation: {variation}")
    t0 = time.perf_counter()
    for eps in args.epsilons:
        task = lab_circle_task(net, eps) if args.task == "lab" else circle_task(net, eps)
        for name in args.modes:
            errors, decided, times, perfect = [], [], [], 0
            for seed in args.seeds:
                config = EmulatorConfig(variation=variation, autostart=False, step_s=25e-6)
                emu = BoardEmulator(config, rng=np.random.default_rng(seed), task=task)
                policy = attrs.evolve(policies[name], decide_by_adc=args.adc)
                r = train_stepwise(emu, task, policy, rng=np.random.default_rng([seed, 1]))
                errors.append(r.error_fraction)
                decided.append(r.decided_error)
                times.append(r.learning_s)
                perfect += r.perfect
                sys.stderr.write(f"  {eps:g} V {name} seed {seed}: {r.error_fraction:.3f} "
                                 f"(decided {r.decided_error:.3f}), "
                                 f"{r.learning_s:.3f} s learning, {r.epochs} epochs\n")  # fmt: skip
            e = 100 * np.array(errors)
            measured = LAB.get(eps)
            col = 0 if name == "standard" else 1
            lab_text = "n/a" if measured is None else f"{100 * measured[col]:.1f} %"
            print(f"{eps:6.3f} V {name:9s}: mean {e.mean():5.1f} %, median {np.median(e):5.1f} %, "
                  f"[{e.min():.1f}, {e.max():.1f}] %, per board {np.round(e, 1).tolist()}, "
                  f"decided mean {100 * np.mean(decided):.1f} %, "
                  f"perfect {perfect}/{len(errors)}, learning s median {np.median(times):.3f} "
                  f"[{min(times):.3f}, {max(times):.3f}]   lab {lab_text}", flush=True)  # fmt: skip
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
