"""Steering: the twin in the loop of a board's training (``twin steer``).

Above the shadow (it uses the shadow's calibration and alarm logic, the Board contract, the
twin and the documents); nothing below imports it. :mod:`~twin.steer.client` (commands with
acknowledgements, idempotency keys, retries, range checks and a rate limit),
:mod:`~twin.steer.limits`, :mod:`~twin.steer.meter` (the board's error and energy from its
frames), :mod:`~twin.steer.planner` (lambda schedules simulated on the twin),
:mod:`~twin.steer.policies` (fixed, Eq. 18 control, predictive), :mod:`~twin.steer.actions`
(joining the board and the commands steering sends), :mod:`~twin.steer.steerer` (the decision
loop), :mod:`~twin.steer.report` (the summary) and :mod:`~twin.steer.session` (composition).
"""

from .actions import SAFE_MODE
from .client import CommandClient, CommandCounters
from .config import SteerConfig
from .errors import CommandUnanswered, SteerConfigError, SteerError
from .limits import CommandLimits
from .planner import Phase, Plan, Planner, PlannerConfig, Prediction
from .policies import ControlPolicy, FixedPolicy, PredictivePolicy
from .report import SteerResult
from .session import PolicySpec, SteerTwin, calibrated_twin, nominal_twin, steer_board
from .steerer import Steerer

__all__ = [
    "SAFE_MODE",
    "CommandClient",
    "CommandCounters",
    "CommandLimits",
    "CommandUnanswered",
    "ControlPolicy",
    "FixedPolicy",
    "Phase",
    "Plan",
    "Planner",
    "PlannerConfig",
    "PolicySpec",
    "Prediction",
    "PredictivePolicy",
    "SteerConfig",
    "SteerConfigError",
    "SteerError",
    "SteerResult",
    "SteerTwin",
    "Steerer",
    "calibrated_twin",
    "nominal_twin",
    "steer_board",
]
