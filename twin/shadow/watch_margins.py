"""The shadow watch's stated accuracy: the margins and spreads by which board and twin agree.

Constants of :class:`twin.shadow.watch.Watch` (re-exported there): the twin's stated accuracy
on a gate's rate and position, the near-cutoff band and its spread, the caps on the board's
travel in that spread, and the warm-up before an edge is scored.
"""

from __future__ import annotations

__all__ = [
    "CUTOFF_BAND_V",
    "CUTOFF_CAP_FACTOR",
    "CUTOFF_CAP_V",
    "CUTOFF_REL",
    "MODEL_ABS_V",
    "MODEL_REL",
    "NEIGHBOUR_CAP_FACTOR",
    "SWITCH_TRAVEL_V",
    "WARMUP_INTERVALS",
]

#: Gates within this of the low rail are near cutoff, V: the edge's overdrive
#: ``V_G - V_t - (V_a + V_b)/2`` is then at most a few tenths of a volt (``V_t`` about 0.62-0.7 V,
#: node voltages up to 0.44 V, a 1.0 V low rail), so its conductance, and with it the gate's
#: rate, hangs on the threshold and the subthreshold tail, which no calibration pins down.
#: Measured (fault-free calibrated boards, seeds 0-20 x 30-60 s, residual over the larger of board
#: and twin travel since the resync, 0.1-0.25 s after it): a relative rate error p90 of 0.36-1.4
#: (p99 1.1-1.8) for gates 1.05-1.25 V, against p90 0.04-0.11 (p99 0.07-0.3) from 1.25 V up; one
#: 0.05 V bin of margin on top.
CUTOFF_BAND_V = 0.3
#: Relative error of a near-cutoff gate's travel (its rate is known to its order of magnitude):
#: the spread of such an edge's residual gains ``CUTOFF_REL x`` the larger of the board's and the
#: prediction's travel since the resync.
CUTOFF_REL = 1.0
#: The travel that sets that spread is the larger of the board's and the prediction's, but at
#: most this many times the prediction's plus :data:`CUTOFF_CAP_V`: "known to its order of
#: magnitude" covers a board gate ten times as fast as the twin's, not any speed. Without the
#: cap a fault that drives a gate hard widened its own tolerance as fast as its residual grew
#: (measured, ``bench_detection.py --effect``, seeds 200-207: a free gain x3 that moved edge 22
#: of board 203 by 1.0 V within 0.1 s scored z = 0.66 and was missed).
CUTOFF_CAP_FACTOR = 10.0
#: See :data:`CUTOFF_CAP_FACTOR`, V.
CUTOFF_CAP_V = 0.05
#: An edge that is not near cutoff itself but shares a node with a switching near-cutoff gate
#: gets the same spread term, from a travel capped at this many times the prediction's plus
#: :data:`CUTOFF_CAP_V` (not :data:`CUTOFF_CAP_FACTOR`): its own rate is known well (it is out
#: of cutoff), only the network around it changed. With the near-cutoff cap a fault on such an
#: edge widened its own tolerance to 10x the twin's travel (measured, ``bench_detection.py
#: --effect``, seeds 200-215: five of the six misses that moved their gate >= 200 mV within
#: 0.2 s, e.g. board 205's edge 23, free gain x1.5: residual +1.02 V against a spread of 0.46 V).
NEIGHBOUR_CAP_FACTOR = 2.0
#: The calibrated twin's stated accuracy on a gate's rate: board and twin agree while the gate
#: residual is within this fraction of the larger of the board's and the prediction's travel
#: since the resync, and the detector scores only the excess. Measured (fault-free calibrated
#: boards 104, 107 and 113, the three of 30 held-out boards that raised false alarms, 120 s
#: each; gates off the rails, travel > 30 mV, 0.1-0.25 s after a resync): |relative rate error|
#: p90 0.04-0.19, p99 0.08-0.35, p99.9 0.11-0.37, largest below 2.5 V of gate, where the
#: overdrive is small; whole-interval episodes of 20-30 % after a regime change (a fast fall
#: through 1.4-2.0 V, a neighbour reaching cutoff, the twin's own fixed point 10 mV from the
#: board's). A fault the shadow is for is larger: a free-gain x1.5 fault changes the rate
#: several-fold (the drive is a small difference of two squared drops), both gains x0.5 or x2
#: by 50 % or 100 %. Rate errors within the margin (threshold shifts of a few tens of mV among
#: them) are not detectable passively; the coverage benchmark says so per fault class.
#: The board's travel counts only up to the prediction's over ``1 - MODEL_REL`` (what this
#: accuracy allows beside it): a faulty gate's own travel must not set its tolerance (board
#: 205's edge 23, leak tau 1 s: 0.54 V of board travel against the twin's 0.04 V gave 0.17 V of
#: margin and hid a -0.50 V residual until 0.23 s).
MODEL_REL = 0.3
#: The twin's stated accuracy on a gate's position, V, on top of :data:`MODEL_REL`: near a stable
#: fixed point of the learning rule the twin relaxes within tens of ms to its own fixed point,
#: which is not the board's (board 113's edge 29 at 1.52 V: 10 mV apart for 12 s, the board's
#: gate still while the twin's moved 10 mV after every resync), and the resync's estimate of the
#: board's gate is itself good to a few LSB of the 12-bit gate ADC (1.3 mV). An offset this
#: small cannot tell a gate held at a fixed point from a stuck one.
MODEL_ABS_V = 5e-3
#: Resync intervals the tracker must have learned an edge from before it is scored. Measured
#: (fault-free calibrated boards, seeds 1, 2, 5, 13, 14, 206, scored samples): |z| > 3 in 0.27 %
#: of samples 0.25-0.5 s after start, against 0-0.02 % over 0-0.25 s and 0.5-5 s; seed 206's
#: edge 21 rose twice as fast on the twin as on the board over 0.28-0.53 s (a CUSUM of 151,
#: after one learned interval), and the demo's edge 8 alarmed at 0.40 s. The warm-up starts
#: again whenever the edge was at a rail or near cutoff during an interval (board 113's edge 29
#: left the low rail at 1.8 s and rose 25 % slower than the twin until 2.3 s).
WARMUP_INTERVALS = 2
#: A near-cutoff gate that moved more than this since the resync (board or prediction) is
#: switching, V (a gate held at a rail moves by the ADC's noise, about 1 mV).
SWITCH_TRAVEL_V = 0.01
