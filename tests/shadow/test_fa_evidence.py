"""Pooled false-alarm evidence (``benchmarks/fa_evidence.py``): records kept per seed with the
fingerprint of the code that ran them, pooled only under the same fingerprint and settings, each
seed once; the fingerprint follows every number the detector computes."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import numpy as np
import pytest

from benchmarks.fa_evidence import (
    ALIASES_FILE,
    EvidenceWriter,
    code_identity,
    environment,
    fingerprint,
    pooled_records,
    read_aliases,
    read_evidence,
)

SETTINGS = {"variation": "typical", "idle_s": 0.0, "drive_margin": "fit", "node_check": True}


def _record(seed: int, crossings: int = 0) -> dict[str, Any]:
    return {"seed": seed, "board_s": 120.0, "sampled_s": 119.0, "shadow_alarms": 0,
            "level": 33.95, "crossings_at_level": crossings, "crossings": [crossings]}  # fmt: skip


def test_evidence_pools_only_its_fingerprint_and_settings_and_each_seed_once(
    tmp_path: Path,
) -> None:
    a = EvidenceWriter("aaaa", SETTINGS, 100, directory=tmp_path)
    for seed in (100, 101):
        a.add(_record(seed))
    lab = EvidenceWriter("aaaa", SETTINGS | {"variation": "lab"}, 100, directory=tmp_path)
    lab.add(_record(102))
    other = EvidenceWriter("bbbb", SETTINGS, 103, directory=tmp_path)
    other.add(_record(103, crossings=1))
    again = EvidenceWriter("aaaa", SETTINGS, 101, directory=tmp_path / "later")
    again.add(_record(101, crossings=5))  # the same seed checked again: counted once
    again.add(_record(104))
    rows = [*read_evidence(tmp_path), *read_evidence(tmp_path / "later")]
    pooled = pooled_records("aaaa", SETTINGS, rows)
    assert [r["seed"] for r in pooled] == [100, 101, 104]
    assert all(r["crossings_at_level"] == 0 for r in pooled)  # the first record of 101 wins
    assert {r["fingerprint"] for r in pooled} == {"aaaa"}
    assert [r["seed"] for r in pooled_records("aaaa", SETTINGS | {"variation": "lab"}, rows)] == [
        102
    ]
    assert [r["seed"] for r in pooled_records("bbbb", SETTINGS, rows)] == [103]


def test_evidence_of_the_same_code_on_another_machine_pools_by_its_code_identity(
    tmp_path: Path,
) -> None:
    """Another machine's fingerprint pools where the record's code identity, its own or named
    for its fingerprint by an alias, is this code's; another code's never does."""
    here = EvidenceWriter("aaaa", SETTINGS, 100, directory=tmp_path, code="C1", env={"cpu": "x"})
    here.add(_record(100))
    there = EvidenceWriter("bbbb", SETTINGS, 101, directory=tmp_path, code="C1")
    there.add(_record(101))
    old = EvidenceWriter("dddd", SETTINGS, 102, directory=tmp_path)  # kept before code identity
    old.add(_record(102))
    other = EvidenceWriter("eeee", SETTINGS, 103, directory=tmp_path, code="C2")
    other.add(_record(103))
    lab = EvidenceWriter(
        "ffff", SETTINGS | {"variation": "lab"}, 104, directory=tmp_path, code="C1"
    )
    lab.add(_record(104))
    rows = list(read_evidence(tmp_path))
    assert rows[0]["code"] == "C1"
    assert rows[0]["env"] == {"cpu": "x"}
    assert [r["seed"] for r in pooled_records("aaaa", SETTINGS, rows)] == [100]
    seeds = [r["seed"] for r in pooled_records("aaaa", SETTINGS, rows, code="C1")]
    assert seeds == [100, 101]
    aliases = {"dddd": "C1"}  # dddd's records ran C1
    seeds = [r["seed"] for r in pooled_records("zzzz", SETTINGS, rows, code="C1", aliases=aliases)]
    assert seeds == [100, 101, 102]
    # New code (C3) that computes every number of the reference run as C1 did on this machine
    # (fingerprint aaaa) pools C1's evidence from any machine; C2's stays out.
    seeds = [r["seed"] for r in pooled_records("aaaa", SETTINGS, rows, code="C3", aliases=aliases)]
    assert seeds == [100, 101, 102]
    assert [r["seed"] for r in pooled_records("zzzz", SETTINGS, rows, code="C3")] == []


def test_the_class_of_a_code_is_joined_through_every_record() -> None:
    """C1 ran on machine A (seed 1) and B (seed 3); C3, a speed-up of it, ran on A with A's
    numbers (seed 2): a third machine running C3 pools all three, and nothing of C9."""
    rows = [
        _record(1) | SETTINGS | {"fingerprint": "A", "code": "C1"},
        _record(2) | SETTINGS | {"fingerprint": "A", "code": "C3"},
        _record(3) | SETTINGS | {"fingerprint": "B", "code": "C1"},
        _record(4) | SETTINGS | {"fingerprint": "D", "code": "C9"},
        _record(5) | SETTINGS | {"variation": "lab", "fingerprint": "D", "code": "C3"},
    ]
    assert [r["seed"] for r in pooled_records("Z", SETTINGS, rows, code="C3")] == [1, 2, 3]
    assert [r["seed"] for r in pooled_records("Z", SETTINGS, rows, code="C9")] == [4]
    assert [r["seed"] for r in pooled_records("B", SETTINGS, rows)] == [3]  # no code: no class


def test_the_kept_aliases_read_and_the_code_identity_follows_the_curve_numbers_only() -> None:
    from twin.shadow.alarm_curve import default_false_alarm_curve

    curve = default_false_alarm_curve()
    aliases = read_aliases()
    assert ALIASES_FILE.is_file()
    assert aliases
    first = code_identity(curve)
    assert code_identity(curve) == first
    relabelled = attrs.evolve(curve, provenance="another history")
    assert code_identity(relabelled) == first  # provenance is not code
    assert code_identity(attrs.evolve(curve, k=curve.k * 1.01)) != first
    from twin.shadow.node_tail import default_node_tail

    tail = default_node_tail()
    assert code_identity(curve, tail=attrs.evolve(tail, provenance="another")) == first
    assert code_identity(curve, tail=attrs.evolve(tail, scale_z=tail.scale_z * 1.01)) != first
    env = environment()
    assert {"python", "numpy", "scipy", "numba", "cpu"} <= set(env)


def test_each_record_is_on_disk_once_added(tmp_path: Path) -> None:
    """A killed check keeps the seeds it finished: each is a complete line when ``add`` returns."""
    w = EvidenceWriter("cccc", SETTINGS, 7, directory=tmp_path)
    w.add(_record(7))
    lines = w.path.read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["seed"] == 7
    assert w.path.name.startswith("cccc-s7-")


class _FakeShadow:
    """Calls the detector's ``update`` and the recent-travel ``add`` as the shadow does."""

    def __init__(self, residual_v: float, samples: int = 3) -> None:
        self.residual_v, self.samples = residual_v, samples
        self.watch = SimpleNamespace(
            detector=SimpleNamespace(update=self._update), recent=SimpleNamespace(add=self._add)
        )
        self.added: list[np.ndarray] = []

    def _update(self, t_s, tau_s, travel_v, residual_v, watched=None, extra_var_v2=None):  # type: ignore[no-untyped-def]
        return np.zeros(3)  # scores that do not show the residual: it must be hashed itself

    def _add(self, tau_s, board_v, pred_v, gate_v, margin_v):  # type: ignore[no-untyped-def]
        self.added.append(margin_v)

    def run(self, duration_s: float) -> dict[str, Any]:
        d, r = self.watch.detector, self.watch.recent
        for i in range(self.samples):
            x, same = np.full(3, self.residual_v), np.full(3, 0.1)
            d.update(0.01 * i, 0.01 * i, same, x, np.ones(3, bool), None)
            r.add(0.01 * i, same, same, same, 0.005)
        return {"alarms": [], "board_time_s": duration_s}

    def close(self) -> None:
        pass


def test_the_fingerprint_follows_every_number_and_refuses_an_empty_run() -> None:
    fake: list[_FakeShadow] = []

    def make(residual_v: float, samples: int, seed: int) -> _FakeShadow:
        fake.append(_FakeShadow(residual_v, samples))
        return fake[-1]

    first = fingerprint(partial(make, 1e-3, 3), seed=0, duration_s=1.0)
    assert fingerprint(partial(make, 1e-3, 3), seed=0, duration_s=1.0) == first
    assert fingerprint(partial(make, 1e-3 + 1e-15, 3), seed=0, duration_s=1.0) != first
    assert fingerprint(partial(make, 1e-3, 4), seed=0, duration_s=1.0) != first
    assert fingerprint(partial(make, 1e-3, 3), seed=0, duration_s=2.0) != first
    assert len(fake[0].added) == 3  # the wrapped calls still reach the shadow's own
    with pytest.raises(RuntimeError, match="no detector sample"):
        fingerprint(partial(make, 1e-3, 0), seed=0, duration_s=1.0)


def test_the_fingerprint_follows_a_setting_the_reference_run_never_exercises() -> None:
    """Two shadows that compute the same numbers on the reference board but are set otherwise
    (the pinned-gate hold on and off, which holds no gate there) have two fingerprints."""
    from twin.shadow.shadow import ShadowConfig

    def make(config: ShadowConfig, seed: int) -> _FakeShadow:
        fake = _FakeShadow(1e-3)
        fake.config = config  # type: ignore[attr-defined]
        return fake

    off = fingerprint(partial(make, ShadowConfig()), seed=0, duration_s=1.0)
    assert fingerprint(partial(make, ShadowConfig()), seed=0, duration_s=1.0) == off
    held = fingerprint(partial(make, ShadowConfig(hold_pinned=True)), seed=0, duration_s=1.0)
    assert held != off


@pytest.mark.slow
def test_the_fingerprint_of_a_real_shadow_is_reproducible_and_sees_a_margin_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import twin.shadow.watch as watch
    from benchmarks.fa_runs import make_shadow
    from twin.shadow.alarm_curve import default_false_alarm_curve

    make = partial(make_shadow, curve=default_false_alarm_curve(), hours=10.0)
    first = fingerprint(make, duration_s=1.0)
    assert fingerprint(make, duration_s=1.0) == first
    monkeypatch.setattr(watch, "MODEL_REL", watch.MODEL_REL * 1.01)
    assert fingerprint(make, duration_s=1.0) != first


def test_the_check_counts_the_shadows_false_alarms_at_the_cusums_share() -> None:
    """The CUSUM's level is the curve's for a third of its share of the budget (six times the
    shadow's target with the node check on), and the node check's alarms count with its
    crossings."""
    from benchmarks.fa_runs import LEVELS, CheckSettings, check, cusum_hours
    from twin.shadow.detector import default_false_alarm_curve

    curve = default_false_alarm_curve()
    share = curve.level(60.0)
    below = int(np.flatnonzero(share >= LEVELS)[-1])
    crossings = [0] * len(LEVELS)
    crossings[below] = 1  # one crossing of the share's level
    recs = [
        {"seed": 1, "board_s": 120.0, "sampled_s": 3600.0, "shadow_alarms": 1, "node_alarms": 0,
         "level": share, "crossings_at_level": 1, "crossings": crossings},
        {"seed": 2, "board_s": 120.0, "sampled_s": 3600.0, "shadow_alarms": 1, "node_alarms": 1,
         "level": share, "crossings_at_level": 0, "crossings": [0] * len(LEVELS)},
    ]  # fmt: skip
    assert cusum_hours(10.0) == 60.0
    assert cusum_hours(10.0, CheckSettings(node_check=False)) == 30.0
    out = check(recs, curve, 10.0)
    assert out["level"] == pytest.approx(share)
    assert (out["false_alarms_at_level"], out["node_alarms"], out["false_alarms"]) == (1, 1, 2)
    assert out["rate_per_hour"] == pytest.approx(1.0)  # 2 in 2 sampled hours
    alone = check(recs, curve, 10.0, CheckSettings(node_check=False))
    assert alone["level"] == pytest.approx(curve.level(30.0))


def test_validation_needs_the_rates_upper_bound_at_the_target_whatever_was_seen() -> None:
    """Validated when the Poisson 95 % upper bound of the shadow's false alarms reaches the
    target: ~30 board-hours with none for one per 10 h, ~47.4 with one, ~63 with two; a false
    alarm delays validation and does not bar it, and the larger of the two counts is used."""
    from benchmarks.bench_false_alarms import validated

    assert not validated(0, 0, 29.0, 10.0)
    assert validated(0, 0, 30.0, 10.0)
    assert not validated(1, 1, 30.0, 10.0)
    assert not validated(1, 1, 47.0, 10.0)
    assert validated(1, 1, 48.0, 10.0)
    assert not validated(2, 0, 62.0, 10.0)
    assert validated(2, 0, 64.0, 10.0)
    assert not validated(0, 2, 62.0, 10.0)  # the shadow's own alarms count too
    assert validated(1, 1, 4.8, 1.0)
    assert not validated(1, 1, 4.7, 1.0)
