"""Learning: local rules and lambda control (:mod:`.rules`), the synchronous trainer
(:mod:`.trainer`) and inference energy on a trained network (:mod:`.inference`); equilibrium
propagation on XY oscillator networks (:mod:`.ep`: free and nudged phases, the local rule; its
trainer :mod:`.ep_train`).

Imports only :mod:`twin.physics`, :mod:`twin.kernels` and the modules beside every layer. Nothing is
imported here, so importing one module loads only what it needs.
"""

__all__: list[str] = []
