"""Issue 23: the learning-bias calibration's error per edge against the emulator's hidden truth.

The calibration measures the bias as the lab does (:func:`twin.board.bias.measure_bias`: train one
task at its own solution, read the gates' drift, minus the idle drift, at a few input scales, the
drift's line against the squared drop extrapolated to no drop). Per lab board
(``HiddenVariation.lab()``: bias 1.5 +- 1.5 V/s, equal free/clamped gains at half gain, leaks,
offsets, 10-bit ADCs with noise), the fitted bias of every edge is compared with the hidden one.

Prints per hold time: the pooled per-edge |error| (median, p90, p99, max, V/s), the per-board rms
error (median and range), the hidden bias's rms (the scale), and the stated uncertainty's honesty:
the rms of error / stated standard error (1 when honest) and the fraction of edges within 2 and 3
stated standard errors (0.954 and 0.997 for a Gaussian).

Run: ``nice -n 10 python benchmarks/bench_bias_calibration.py [--seeds 0 ... 11] [--holds 0.05
0.1]``.

``--method shadow [--idle-s 0 0.2]``: the shadow's own calibration instead
(:func:`twin.shadow.session.calibrate_emulator`: 6 training episodes of 1 s from random gates,
the last 2 held out, each after ``idle_s`` held idle; its ``bias_v_per_s`` per edge). Without
idle frames the fit cannot tell the bias from the leak's pull off the nominal rest voltage, so
its bias also holds each edge's comparator offset over RC (``o / (R C)``, which the board applies
idle or not): the errors are printed against the hidden bias and against bias + offset drift.
The held-out gate prediction error of the calibrated twin is printed beside them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twin.board.bias import measure_bias
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.variation import HiddenVariation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(12)))
    parser.add_argument("--holds", type=float, nargs="+", default=[0.05, 0.1], help="hold_s")
    parser.add_argument("--method", choices=("lab", "shadow"), default="lab")
    parser.add_argument("--idle-s", type=float, nargs="+", default=[0.0, 0.2],
                        help="--method shadow: idle hold before each episode, s")  # fmt: skip
    args = parser.parse_args()
    print(
        f"boards: HiddenVariation.lab(), seeds {args.seeds} ({len(args.seeds)} boards x 32 edges)"
    )
    if args.method == "shadow":
        for idle_s in args.idle_s:
            _shadow(args.seeds, idle_s)
        return
    for hold in args.holds:
        t0 = time.perf_counter()
        errors, stderrs, truths = [], [], []
        for seed in args.seeds:
            config = EmulatorConfig(variation=HiddenVariation.lab(), autostart=False)
            emu = BoardEmulator(config, rng=np.random.default_rng(seed))
            est, _points = measure_bias(emu, hold_s=hold)
            truth = emu.hidden["bias_v_per_s"]
            errors.append(est.bias_v_per_s - truth)
            stderrs.append(est.stderr_v_per_s)
            truths.append(truth)
        err, se, truth = np.array(errors), np.array(stderrs), np.array(truths)
        a = np.abs(err).ravel()
        rms = np.sqrt(np.mean(err**2, axis=1))
        z = (err / se).ravel()
        print(
            f"hold {hold:g} s: |error| per edge median {np.median(a):.4f}, p90 "
            f"{np.quantile(a, 0.9):.4f}, p99 {np.quantile(a, 0.99):.4f}, max {a.max():.4f} V/s; "
            f"per-board rms median {np.median(rms):.4f} [{rms.min():.4f}, {rms.max():.4f}] V/s; "
            f"mean error {np.mean(err):+.4f} V/s; hidden bias rms {np.sqrt(np.mean(truth**2)):.3f}"
            f" V/s; stated stderr median {np.median(se):.4f} V/s; error/stderr rms "
            f"{np.sqrt(np.mean(z**2)):.2f}, within 2 sigma {np.mean(np.abs(z) < 2):.3f}, within "
            f"3 sigma {np.mean(np.abs(z) < 3):.3f} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


def _summary(err: np.ndarray, se: np.ndarray) -> str:
    a = np.abs(err).ravel()
    rms = np.sqrt(np.mean(err**2, axis=1))
    z = (err / se).ravel()
    return (
        f"|error| per edge median {np.median(a):.4f}, p90 {np.quantile(a, 0.9):.4f}, max "
        f"{a.max():.4f} V/s; per-board rms median {np.median(rms):.4f} [{rms.min():.4f}, "
        f"{rms.max():.4f}]; mean {np.mean(err):+.4f}; error/stderr rms "
        f"{np.sqrt(np.mean(z**2)):.2f}, within 3 sigma {np.mean(np.abs(z) < 3):.3f}"
    )


def _shadow(seeds: list[int], idle_s: float) -> None:
    from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator

    t0 = time.process_time()
    err_b, err_bo, ses, truths, gate, hidden_gate, from_idle = [], [], [], [], [], [], []
    for seed in seeds:
        emu = make_emulator(EmulationSpec(seed=seed, variation="lab"))
        result, report = calibrate_emulator(emu, seed=seed, idle_s=idle_s)
        cols = emu.edges.columns(emu.task.network.n_edges)
        truth = emu.hidden["bias_v_per_s"]
        offset_drift = cols["v_rest_v"] / cols["tau_leak_s"]  # o / (R C), v_rest nominal 0
        fit = result.fitted
        err_b.append(fit["bias_v_per_s"] - truth)
        err_bo.append(fit["bias_v_per_s"] - truth - offset_drift)
        ses.append(fit["bias_se_v_per_s"])
        truths.append(truth)
        gate.append(report["prediction"]["calibrated"]["gate_rms_v"])
        hidden_gate.append(report["prediction"]["hidden"]["gate_rms_v"])
        from_idle.append(int(np.sum(fit["bias_from_idle"])))
    eb, ebo, se = np.array(err_b), np.array(err_bo), np.array(ses)
    truth = np.array(truths)
    print(
        f"shadow fit, idle_s {idle_s:g} ({len(seeds)} boards, edges with the bias from idle "
        f"frames {sum(from_idle)} of {eb.size}; hidden bias rms {np.sqrt(np.mean(truth**2)):.3f}"
        f" V/s; stated stderr median {np.median(se):.4f} V/s):\n  vs bias: {_summary(eb, se)}"
        f"\n  vs bias + o/RC: {_summary(ebo, se)}\n  held-out gate rms: calibrated median "
        f"{np.median(gate) * 1e3:.2f} mV [{min(gate) * 1e3:.2f}, {max(gate) * 1e3:.2f}], hidden "
        f"twin {np.median(hidden_gate) * 1e3:.2f} mV ({time.process_time() - t0:.0f} s CPU)",
        flush=True,
    )


if __name__ == "__main__":
    main()
