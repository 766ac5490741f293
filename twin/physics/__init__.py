"""Physics: resistor networks (:mod:`.network`), the jammed-packing generator (:mod:`.jammed`),
spec strings and file formats (:mod:`.network_io`), learning tasks (:mod:`.task`, built from
spec strings by :mod:`.task_spec`) and the linear circuit solver (:mod:`.solver`); XY oscillator
networks in :mod:`.xy` (seed 003).

Imports only :mod:`twin.kernels` and the modules beside every layer. Nothing is imported here, so
importing one module loads only what it needs.
"""

__all__: list[str] = []
