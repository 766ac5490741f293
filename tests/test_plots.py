"""Plots: a PNG through the object-oriented Figure API, leaving matplotlib's global state alone."""

from __future__ import annotations

import sys

import matplotlib
import numpy as np

from twin.plots import plot_history


def test_plot_history_writes_a_png_without_pyplot_or_a_backend_switch(tmp_path) -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    backend = dict.__getitem__(matplotlib.rcParams, "backend")
    t = np.linspace(0.0, 1.0, 20)
    history = {
        "t_s": t,
        "error": np.exp(-t)[:, None] * [1, 2],
        "free_power_w": 1 + t[:, None] * [1, 3],
    }
    path = plot_history(history, tmp_path / "sub" / "h.png", title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000
    assert dict.__getitem__(matplotlib.rcParams, "backend") == backend
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
