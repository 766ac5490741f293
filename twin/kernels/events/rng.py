"""Counter-based random numbers: a SplitMix64 hash of ``(key, stream, counter)``.

A draw depends only on the run's key, the edge's stream and how many draws that stream made
before, never on event order or on how events are batched.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit

__all__ = [
    "S_CLOCK",
    "S_NOISE",
    "normal",
    "splitmix64",
    "stream_hash",
    "stream_id",
    "uniform",
    "uniform_at",
]

# random streams (high bits of the stream id)
S_NOISE, S_CLOCK = 1, 2

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)


@jit
def splitmix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective 64-bit hash."""
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit
def stream_hash(key: np.uint64, stream: int) -> np.uint64:
    """The ``(key, stream)`` part of every draw of a stream (computed once for many draws)."""
    return splitmix64(key ^ splitmix64(np.uint64(stream)))


@jit
def _hash3(key: np.uint64, stream: int, counter: int) -> np.uint64:
    return splitmix64(stream_hash(key, stream) ^ np.uint64(counter))


@jit
def uniform_at(h: np.uint64, counter: int) -> float:
    """Uniform draw in ``(0, 1)`` for stream hash ``h`` (:func:`stream_hash`) and ``counter``."""
    return ((splitmix64(h ^ np.uint64(counter)) >> _S11) + 0.5) * (1.0 / 9007199254740992.0)


@jit
def uniform(key: np.uint64, stream: int, counter: int) -> float:
    """Uniform draw in ``(0, 1)`` for ``(key, stream, counter)``."""
    return uniform_at(stream_hash(key, stream), counter)


@jit
def normal(key: np.uint64, stream: int, counter: int) -> float:
    """Standard normal draw (Box-Muller on two hashed uniforms)."""
    h = _hash3(key, stream, counter)
    u1 = ((h >> _S11) + 0.5) * (1.0 / 9007199254740992.0)
    u2 = ((splitmix64(h) >> _S11) + 0.5) * (1.0 / 9007199254740992.0)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@jit
def stream_id(kind: int, edge: int) -> int:
    return int(np.int64(kind) * np.int64(4294967296) + np.int64(edge))
