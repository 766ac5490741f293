"""Hardware bridge: wire protocol, ZeroMQ transport, board emulator, recorder and replay.

Filled in by the bridge issue; the package exists so the layout and packaging are fixed early.
"""

__all__: list[str] = []
