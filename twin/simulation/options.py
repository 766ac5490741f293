"""A twin's settings from the options of ``twin simulate`` (shared by the CLI and sweeps)."""

from __future__ import annotations

from .clocks import parse_clock
from .edge import board_edge_params
from .errors import ModelError
from .noise import NoiseConfig
from .twin import TwinConfig

__all__ = ["MODELS", "twin_config_from_options"]

#: Conductance curves of the board's edges.
MODELS = ("linear", "transistor")


def twin_config_from_options(
    *,
    model: str,
    clock: str,
    lam: float,
    eta: float,
    tau_feedback: float,
    noise: float,
    meas_noise: float,
    offsets: float,
    leak: float | None,
    sample_s: float,
    batch_s: float,
    engine: str,
    window_s: float = 0.0,
    bias_v_per_s: float = 0.0,
) -> TwinConfig:
    """The twin's settings (board edges of ``model``) from ``twin simulate``'s options.

    Parameters are the options' values: ``tau_feedback`` and ``leak`` in seconds (``leak`` None:
    no gate leak), ``noise`` the learning-rule noise delta (V^2 per 0.1 ms), ``meas_noise`` in V,
    ``offsets`` in V^2, ``sample_s``, ``batch_s`` and ``window_s`` (commit window of per-edge
    clocks, 0 = exact per-event) in seconds, ``bias_v_per_s`` the learning bias of every edge
    (V/s of gate while learning).

    Raises
    ------
    ModelError
        Unknown model, clock spec or out-of-range value (one line naming the field).
    """
    if model not in MODELS:
        raise ModelError(f"model: unknown model {model!r}; expected linear or transistor")
    edges = board_edge_params(model)
    if leak is not None:
        edges = edges.evolve(tau_leak_s=leak)
    if bias_v_per_s:
        edges = edges.evolve(bias_v_per_s=bias_v_per_s)
    return TwinConfig(
        clock=parse_clock(clock),
        edges=edges,
        lam=lam,
        eta=eta,
        tau_feedback_s=tau_feedback,
        noise=NoiseConfig(delta_v2=noise, meas_sigma_v=meas_noise, offset_sigma_v2=offsets),
        sample_interval_s=sample_s,
        batch_s=batch_s,
        engine=engine,  # type: ignore[arg-type]
        window_s=window_s,
    )
