"""Jammed-packing contact networks (PHYSICS.md section 7).

A jammed network is the contact network of a 2-D packing of soft frictionless disks in a periodic
square box, compressed until it is mechanically stable at a small, fixed pressure, with the
rattlers removed.

Model and units
---------------
* Length unit: the mean disk diameter ``d`` (so the mean diameter is 1). Energy unit: the
  contact stiffness ``eps``. Masses are 1 (they do not affect the minima).
* Pair potential (harmonic repulsion, O'Hern et al. 2003): for disks ``i, j`` with contact
  distance ``s_ij = r_i + r_j`` at minimum-image distance ``r < s_ij``,
  ``V = (eps / 2) * (1 - r / s_ij)**2``; zero otherwise.
* Pressure: the 2-D virial ``P = (1 / (2 A)) * sum_contacts f_ij * r_ij`` with
  ``f_ij = -dV/dr = (eps / s_ij) * (1 - r / s_ij)`` and ``A = L**2``, in units of ``eps / d**2``.

Protocol (:func:`_jam`)
-----------------------
1. Draw the diameters (bidisperse by default: 50/50 mix of diameter ratio 1.4) and place the
   disks uniformly at random in a box whose side gives ``initial_packing_fraction``.
2. Minimise the energy with FIRE (Bitzek et al. 2006, with the FIRE 2.0 velocity correction of
   Guénolé et al. 2020) until the largest net force on any disk is below ``force_tolerance``.
3. Measure the pressure. Rescale the box affinely (radii fixed) to change the packing fraction
   and minimise again, by secant steps on ``P(phi)`` safeguarded by bisection, until
   ``|P - target_pressure| <= pressure_rtol * target_pressure``.

**Jamming criterion:** the packing is "jammed" when it is in force balance (step 2) at the
target pressure (step 3). The default ``target_pressure = 0.01`` is read off the ``Lp0.0100``
in the authors' reference file names (their pressure units are not stated); with our units it
reproduces their mean coordination (z = 4.43-4.52 for N = 64-256).

Network (:func:`jammed_network`)
--------------------------------
Contacts are the pairs that overlap (minimum-image distance strictly below ``r_i + r_j``).
Rattlers are removed iteratively (nodes with fewer than 3 contacts, degrees recomputed, until none
remain): what is left is the 3-core of the contact graph, which does not depend on the removal
order. Survivors are relabelled ``0..N-1`` in their original order.

The requested ``n_nodes`` is the node count *after* rattler removal. Each attempt jams a fresh
random packing of ``n_nodes + R`` disks, where ``R`` is the most likely rattler count: the mode
(floor of the mean) of a Poisson law whose mean is estimated from ``rattler_guess * n_nodes``
(weight of two observations) and the rattler counts of the previous attempts. An attempt whose
rattler-free network does not have exactly ``n_nodes`` nodes (or is disconnected) is discarded;
after ``max_attempts`` attempts :class:`~twin.errors.NetworkError` is raised. Attempts start
from fresh random states (no reuse of rejected packings), so this is plain rejection sampling
conditioned on the rattler-free node count.

Modules
-------
* :mod:`.config`: :class:`JammingConfig` and its validators.
* :mod:`.packing`: packing state, disk sizes, neighbour pairs, forces, energy and pressure.
* :mod:`.compress`: FIRE minimisation and the compression to the target pressure (:func:`_jam`).
* :mod:`.contacts`: the rattler-free contact network and :func:`jammed_network`.
"""

from .config import JammingConfig
from .contacts import jammed_network

__all__ = ["JammingConfig", "jammed_network"]
