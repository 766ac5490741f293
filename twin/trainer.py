"""Synchronous (full-batch, discrete-step) trainer for many realizations at once.

Each step solves the free and clamped states of every realization for all training examples,
applies the local rule of :mod:`twin.rules`, clips to the bounds and, with dynamic control,
updates lambda. Readings are sampled on a log-spaced schedule of steps and emitted as ``sample``
documents; the energy dissipated between samples is emitted as ``energy`` documents.

Time: one learning step lasts ``step_s`` seconds (default 0.1 ms, the board's learning step, as in
the seed's Fig. 3 simulations). Conductances are held constant during a step, so the training
energy ``sum_steps P_F * step_s`` is the exact integral of the free power.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from .documents import Dispatcher, Subscriber, energy_doc, sample_doc, start_doc, stop_doc
from .errors import ConfigError
from .rules import LambdaControl, LearningRule, clip_conductance, coupled_update
from .solver import CircuitBatch, clamped_state, free_state, nudged_targets
from .task import Task

__all__ = ["TrainConfig", "TrainResult", "Trainer", "record_steps", "train"]

log = logging.getLogger("twin.trainer")

Progress = Callable[[int, int], None]


def _positive_int(_inst: object, attr: attrs.Attribute[Any], value: int) -> None:
    if value < 0:
        raise ConfigError(f"{attr.name}: must be an integer >= 0, got {value!r}")


def _optional_positive(_inst: object, attr: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (np.isfinite(value) and value > 0):
        raise ConfigError(f"{attr.name}: must be a finite number > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Settings of a synchronous training run.

    Parameters
    ----------
    rule
        Learning rule (alpha, eta, lambda).
    kappa
        Initial conductance of every edge, siemens (clipped to the bounds).
    k_min, k_max
        Conductance bounds, siemens; ``None`` takes each network's own bounds.
    steps
        Maximum number of learning steps.
    step_s
        Duration of one learning step, seconds.
    control
        Dynamic lambda control; ``None`` keeps lambda fixed at ``rule.lam``.
    stop_tol
        Early stopping: a realization stops learning once its training error is <= this (V^2).
    n_records
        Number of log-spaced sample points.
    """

    rule: LearningRule = attrs.field(factory=LearningRule)
    kappa: float = attrs.field(default=1.0, validator=_optional_positive)
    k_min: float | None = attrs.field(default=None, validator=_optional_positive)
    k_max: float | None = attrs.field(default=None, validator=_optional_positive)
    steps: int = attrs.field(default=10_000, converter=int, validator=_positive_int)
    step_s: float = attrs.field(default=1e-4, validator=_optional_positive)
    control: LambdaControl | None = None
    stop_tol: float | None = attrs.field(default=None, validator=_optional_positive)
    n_records: int = attrs.field(default=100, converter=int, validator=_positive_int)

    def __attrs_post_init__(self) -> None:
        if self.k_min is not None and self.k_max is not None and self.k_min >= self.k_max:
            raise ConfigError(f"kmin/kmax: need kmin < kmax, got {self.k_min} >= {self.k_max}")


@attrs.frozen(eq=False)
class TrainResult:
    """Outcome of :func:`train`; arrays have one entry per realization.

    Attributes
    ----------
    k : (R, E) final conductances (siemens; padding edges of smaller networks are meaningless).
    steps_done : (R,) steps each realization learned for.
    error_initial, error_final : (R,) training error, V^2 (mean over examples of the summed
        squared target error).
    free_power_initial_w, free_power_final_w : (R,) free power averaged over training examples, W.
    training_energy_j : (R,) integral of the free power over learning, J.
    clamped_energy_j : (R,) integral of the clamped-state power, J.
    lam_final : (R,) lambda at the end.
    history : log-spaced samples, each ``(n_samples, R)``; ``step``, ``t_s`` are ``(n_samples,)``.
    """

    k: np.ndarray
    steps_done: np.ndarray
    error_initial: np.ndarray
    error_final: np.ndarray
    free_power_initial_w: np.ndarray
    free_power_final_w: np.ndarray
    training_energy_j: np.ndarray
    clamped_energy_j: np.ndarray
    lam_final: np.ndarray
    history: dict[str, np.ndarray]
    run_uid: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: per-realization lists plus means (``*_mean``)."""
        out: dict[str, Any] = {}
        fields = {
            "error_initial": self.error_initial,
            "error_final": self.error_final,
            "free_power_initial_w": self.free_power_initial_w,
            "free_power_final_w": self.free_power_final_w,
            "training_energy_j": self.training_energy_j,
            "clamped_energy_j": self.clamped_energy_j,
            "lam_final": self.lam_final,
        }
        single = self.k.shape[0] == 1
        for name, arr in fields.items():
            out[name] = float(arr[0]) if single else [float(x) for x in arr]
            if not single:
                out[f"{name}_mean"] = float(np.mean(arr))
        out["steps"] = int(self.steps_done[0]) if single else [int(s) for s in self.steps_done]
        return out


def record_steps(steps: int, n_records: int) -> np.ndarray:
    """Log-spaced step numbers in ``[0, steps]``, always including 0 and ``steps``."""
    if steps == 0 or n_records <= 1:
        return np.unique([0, steps])
    pts = np.unique(np.round(np.logspace(0, np.log10(steps), n_records)).astype(np.int64))
    return np.unique(np.concatenate([[0], pts, [steps]]))


def _squared_error(outputs: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Mean over examples of the summed squared target error, ``(R,)`` in V^2."""
    return np.mean(np.sum((outputs - desired) ** 2, axis=-1), axis=-1)


class Trainer:
    """Holds the compiled circuits and example arrays of ``R`` realizations.

    Use :func:`train` for the common case; the class is for callers that evaluate or step by hand
    (the event-driven twin's tests, sweeps).
    """

    def __init__(self, tasks: Sequence[Task], config: TrainConfig) -> None:
        self.tasks = list(tasks)
        self.config = config
        self.batch = CircuitBatch.from_tasks(self.tasks)
        self.inputs = np.stack([t.train.inputs for t in self.tasks])
        self.desired = np.stack([t.train.outputs for t in self.tasks])
        rr, e = self.batch.realizations, self.batch.n_edges
        kmin = [config.k_min or t.network.k_min for t in self.tasks]
        kmax = [config.k_max or t.network.k_max for t in self.tasks]
        self.k_min = np.array(kmin)[:, None] * np.ones((1, e))
        self.k_max = np.array(kmax)[:, None] * np.ones((1, e))
        if np.any(self.k_min >= self.k_max):
            raise ConfigError("kmin/kmax: need kmin < kmax for every network")
        self.mask = self.batch.edge_mask
        self.k0 = np.where(self.mask, np.clip(config.kappa, self.k_min, self.k_max), 1.0)
        self.shape = (rr, e)

    def evaluate(self, k: np.ndarray, examples: str = "train") -> dict[str, np.ndarray]:
        """Free-state error (V^2) and mean free power (W) of conductances ``k`` on a set."""
        sets = [t.sets()[examples] for t in self.tasks]
        inputs = np.stack([s.inputs for s in sets])
        desired = np.stack([s.outputs for s in sets])
        basis = self.batch.basis(k)
        free = free_state(self.batch, basis, inputs)
        power = np.sum(k[:, :, None] * free.drops**2, axis=1).mean(axis=-1)
        out = {
            "error": _squared_error(free.outputs, desired),
            "free_power_w": power,
            "outputs": free.outputs,
        }
        labels = [s.labels for s in sets]
        if all(lab is not None for lab in labels):
            pred = np.argmax(free.outputs, axis=-1)
            out["accuracy"] = np.mean(pred == np.stack(labels), axis=-1)  # type: ignore[arg-type]
        return out

    def step_quantities(self, k: np.ndarray, lam: np.ndarray) -> dict[str, np.ndarray]:
        """Everything one learning step needs and reports, for conductances ``k`` (siemens)."""
        cfg = self.config
        basis = self.batch.basis(k)
        free = free_state(self.batch, basis, self.inputs)
        clamp = nudged_targets(free.outputs, self.desired, cfg.rule.eta)
        clamped = clamped_state(self.batch, basis, self.inputs, clamp)
        sq_free = np.mean(free.drops**2, axis=-1)
        sq_clamped = np.mean(clamped.drops**2, axis=-1)
        return {
            "error": _squared_error(free.outputs, self.desired),
            "free_power_w": np.sum(k * sq_free, axis=1),
            "clamped_power_w": np.sum(k * sq_clamped, axis=1),
            "dk": coupled_update(cfg.rule, sq_clamped, sq_free, lam[:, None]),
        }

    def run(
        self,
        *,
        emit: Subscriber | None = None,
        progress: Progress | None = None,
        params: dict[str, Any] | None = None,
        k0: np.ndarray | None = None,
    ) -> TrainResult:
        """Train; see :func:`train`."""
        cfg = self.config
        rr, _ = self.shape
        dispatch = Dispatcher([emit] if emit is not None else [])
        start = start_doc(source="twin", kind="train", params=params or {}, realizations=rr)
        uid = start["uid"]
        if dispatch:
            dispatch(start)
        k = self.k0.copy() if k0 is None else np.where(self.mask, np.asarray(k0, float), 1.0)
        lam = np.full(rr, cfg.control.lam0 if cfg.control and cfg.rule.lam == 0 else cfg.rule.lam)
        active = np.ones(rr, dtype=bool)
        steps_done = np.zeros(rr, dtype=np.int64)
        e_free = np.zeros(rr)
        e_clamped = np.zeros(rr)
        pending = np.zeros((2, rr))  # energy since the last sample: free, clamped
        records = set(record_steps(cfg.steps, cfg.n_records).tolist())
        hist: dict[str, list[Any]] = {
            key: []
            for key in (
                "step",
                "t_s",
                "error",
                "free_power_w",
                "clamped_power_w",
                "lam",
                "energy_j",
            )
        }
        seq = {"sample": 0, "energy": 0}
        q = self.step_quantities(k, lam)
        err0, p0 = q["error"].copy(), q["free_power_w"].copy()
        last_t = 0.0
        try:
            for step in range(cfg.steps + 1):
                if cfg.stop_tol is not None:
                    active &= q["error"] > cfg.stop_tol
                if step in records or not active.any():
                    t_s = step * cfg.step_s
                    self._record(hist, step, t_s, q, lam, e_free)
                    if dispatch:
                        self._emit(dispatch, uid, seq, step, last_t, t_s, hist, pending, err0)
                    pending[:] = 0.0
                    last_t = t_s
                if step == cfg.steps or not active.any():
                    break
                de_free = q["free_power_w"] * cfg.step_s * active
                de_clamped = q["clamped_power_w"] * cfg.step_s * active
                e_free += de_free
                e_clamped += de_clamped
                pending += (de_free, de_clamped)
                k_new = clip_conductance(k + q["dk"], self.k_min, self.k_max)
                k = np.where(active[:, None] & self.mask, k_new, k)
                if cfg.control is not None:
                    lam = np.where(active, cfg.control.step(lam, q["error"], cfg.rule.alpha), lam)
                steps_done += active
                q = self.step_quantities(k, lam)
                if progress is not None:
                    progress(step + 1, cfg.steps)
        except BaseException as exc:
            if dispatch:
                dispatch(stop_doc(uid, status="aborted", reason=f"{type(exc).__name__}: {exc}"))
            raise
        result = TrainResult(
            k=k,
            steps_done=steps_done,
            error_initial=err0,
            error_final=q["error"],
            free_power_initial_w=p0,
            free_power_final_w=q["free_power_w"],
            training_energy_j=e_free,
            clamped_energy_j=e_clamped,
            lam_final=lam,
            history={key: np.array(v) for key, v in hist.items()},
            run_uid=uid,
        )
        if dispatch:
            dispatch(stop_doc(uid, status="complete", summary=result.summary()))
        return result

    @staticmethod
    def _record(
        hist: dict[str, list[Any]],
        step: int,
        t_s: float,
        q: dict[str, np.ndarray],
        lam: np.ndarray,
        energy: np.ndarray,
    ) -> None:
        hist["step"].append(step)
        hist["t_s"].append(t_s)
        for key in ("error", "free_power_w", "clamped_power_w"):
            hist[key].append(q[key].copy())
        hist["lam"].append(lam.copy())
        hist["energy_j"].append(energy.copy())

    @staticmethod
    def _emit(
        dispatch: Dispatcher,
        uid: str,
        seq: dict[str, int],
        step: int,
        t0: float,
        t1: float,
        hist: dict[str, list[Any]],
        pending: np.ndarray,
        err0: np.ndarray,
    ) -> None:
        data = {
            key: hist[key][-1]
            for key in ("error", "free_power_w", "clamped_power_w", "lam", "energy_j")
        }
        data["error_normalized"] = hist["error"][-1] / np.where(err0 > 0, err0, 1.0)
        dispatch(sample_doc(uid, seq["sample"], t1, data, step=step))
        seq["sample"] += 1
        if t1 <= t0:
            return
        for r in range(pending.shape[1]):
            for comp, e_j in zip(("free_network", "clamped_network"), pending[:, r], strict=True):
                dispatch(energy_doc(uid, seq["energy"], t0, t1, e_j, component=comp, realization=r))
                seq["energy"] += 1


def train(
    tasks: Task | Sequence[Task],
    config: TrainConfig,
    *,
    emit: Subscriber | None = None,
    progress: Progress | None = None,
    params: dict[str, Any] | None = None,
    k0: np.ndarray | None = None,
) -> TrainResult:
    """Train one or many realizations synchronously.

    Parameters
    ----------
    tasks
        One task or one per realization (same numbers of sources, targets and examples).
    config
        Run settings.
    emit
        Subscriber receiving the run's documents (start, samples, energy entries, stop).
    progress
        Called as ``progress(step, steps)`` after each step.
    params
        Provenance recorded in the start document.
    k0
        Initial conductances ``(R, E)`` (siemens) instead of the uniform ``kappa``.
    """
    task_list = [tasks] if isinstance(tasks, Task) else list(tasks)
    t0 = time.perf_counter()
    result = Trainer(task_list, config).run(emit=emit, progress=progress, params=params, k0=k0)
    log.info("trained %d realization(s) in %.3f s", len(task_list), time.perf_counter() - t0)
    return result
