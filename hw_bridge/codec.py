"""Wire codec: messages <-> ZeroMQ multipart frames ``[topic, msgpack header, raw buffers...]``.

The header is a msgpack map checked against the field table generated from
``schemas/messages.schema.json`` (:mod:`hw_bridge._messages`); arrays travel as raw little-endian
buffers described in the header's ``arrays`` list. Never pickle. Decoding is bounded by
:class:`Limits` and every failure raises :class:`~twin.board.errors.DecodeError` (a wrong protocol
version raises its subclass :class:`~twin.board.errors.ProtocolVersionError` naming both versions).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import msgpack
import numpy as np
import zmq

from hw_bridge._messages import (
    DTYPES,
    FIELDS,
    LIMITS,
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    STATE_ARRAYS,
)
from twin.board.errors import DecodeError, EncodeError, ProtocolVersionError

__all__ = [
    "DEFAULT_LIMITS",
    "PROTOCOL_VERSION",
    "Limits",
    "Message",
    "decode",
    "encode",
    "recv_frames",
    "send_frames",
]

_TOPICS = {name.encode("ascii"): name for name in MESSAGE_TYPES}
_F8 = np.dtype("<f8")
_ITEMSIZE = {dtype: np.dtype(dtype).itemsize for dtype in DTYPES}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
    "any": (object,),
}


@attrs.frozen(kw_only=True)
class Limits:
    """Bounds on what the decoder accepts (defaults from ``messages.schema.json`` x-limits).

    Attributes
    ----------
    max_header_bytes : int
        Largest msgpack header, bytes.
    max_frame_bytes : int
        Largest message (all parts together), bytes.
    max_array_elements : int
        Most elements in one array.
    max_arrays : int
        Most arrays in one message.
    max_parts : int
        Most ZeroMQ parts in one message (topic + header + buffers).
    """

    max_header_bytes: int = LIMITS["max_header_bytes"]
    max_frame_bytes: int = LIMITS["max_frame_bytes"]
    max_array_elements: int = LIMITS["max_array_elements"]
    max_arrays: int = LIMITS["max_arrays"]
    max_parts: int = LIMITS["max_parts"]


DEFAULT_LIMITS = Limits()


@attrs.frozen(kw_only=True, eq=False)
class Message:
    """A decoded message: its type, header (a plain dict) and arrays (read-only views)."""

    type: str
    header: Mapping[str, Any]
    arrays: Mapping[str, np.ndarray] = attrs.field(factory=dict)


# --------------------------------------------------------------------------- encode


def _buffer(name: str, value: Any) -> tuple[dict[str, Any], bytes]:
    arr = np.asarray(value)
    if arr.dtype == _F8 and arr.ndim <= 4:  # the common case, kept short (runs per frame)
        return {"name": name, "dtype": "<f8", "shape": list(arr.shape)}, arr.tobytes()
    if arr.dtype.kind == "f" and arr.dtype.itemsize == 4:
        dtype = "<f4"
    elif arr.dtype.kind == "f" or arr.dtype.kind == "b":
        dtype = "<f8"
    else:
        dtype = arr.dtype.newbyteorder("<").str
        if dtype not in _ITEMSIZE:
            raise EncodeError(f"array {name}: dtype {arr.dtype} not one of {', '.join(DTYPES)}")
    if arr.ndim > 4:
        raise EncodeError(f"array {name}: {arr.ndim} dimensions, at most 4")
    data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
    return {"name": name, "dtype": dtype, "shape": list(arr.shape)}, data


def _plain(value: Any) -> Any:
    """numpy scalars and arrays in a header (e.g. a handler's result) as plain msgpack values."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def encode(
    msg_type: str,
    fields: Mapping[str, Any],
    arrays: Mapping[str, Any] | None = None,
    *,
    version: int = PROTOCOL_VERSION,
) -> list[bytes]:
    """Frames of one message.

    Parameters
    ----------
    msg_type : str
        One of the message types of ``messages.schema.json``.
    fields : mapping
        Header fields besides ``type``, ``version`` and ``arrays``.
    arrays : mapping of str to array_like, optional
        Arrays sent as raw little-endian buffers, in this order.
    version : int
        Protocol version written in the header (only tests write another).

    Returns
    -------
    list of bytes
        ``[topic, header, buffer...]``, ready for ``socket.send_multipart``.
    """
    if msg_type not in FIELDS:
        raise EncodeError(f"unknown message type {msg_type!r}; expected one of {MESSAGE_TYPES}")
    header: dict[str, Any] = {"type": msg_type, "version": version, **fields}
    buffers: list[bytes] = []
    if arrays is not None:
        descriptors = []
        for name, value in arrays.items():
            descriptor, data = _buffer(name, value)
            descriptors.append(descriptor)
            buffers.append(data)
        header["arrays"] = descriptors
    try:
        packed = msgpack.packb(header, use_bin_type=True, default=_plain)
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"{msg_type} header cannot be packed: {exc}") from exc
    return [msg_type.encode("ascii"), packed, *buffers]


_SNDMORE = int(zmq.SNDMORE)


_RCVMORE = int(zmq.RCVMORE)


def recv_frames(sock: zmq.Socket, flags: int = 0) -> list[bytes]:
    """``sock.recv_multipart(flags)`` without its per-part overhead (runs per received frame)."""
    parts = [sock.recv(flags)]
    while sock.get(_RCVMORE):
        parts.append(sock.recv())
    return parts


def send_frames(sock: zmq.Socket, frames: Sequence[bytes], flags: int = 0) -> None:
    """``sock.send_multipart(frames)`` without its per-part overhead (runs per published frame)."""
    last = len(frames) - 1
    for i, part in enumerate(frames):
        sock.send(part, flags | _SNDMORE if i < last else flags)


# --------------------------------------------------------------------------- decode


def _unpack(data: bytes, limits: Limits) -> Any:
    if len(data) > limits.max_header_bytes:
        raise DecodeError(f"header of {len(data)} bytes over the {limits.max_header_bytes} limit")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    # msgpack raises ValueError subclasses, TypeError (unhashable keys) and others on bad input;
    # this is the one place untrusted bytes meet it, so every failure becomes a DecodeError.
    except Exception as exc:
        raise DecodeError(f"header is not valid msgpack: {type(exc).__name__}: {exc}") from exc


def _compile(spec: tuple[Any, ...]) -> tuple[Any, ...]:
    """A field spec with its Python types resolved once (the decoder runs per frame): (types,
    bools allowed, nothing else to check, the spec for :func:`_check_value`)."""
    kinds, required, allowed, minimum, maximum, max_len = spec
    types = tuple(t for k in kinds for t in _PY_TYPES[k])
    allow_bool = "boolean" in kinds or "any" in kinds
    simple = allowed is None and minimum is None and maximum is None and max_len is None
    full = ("/".join(kinds), types, allow_bool, required, allowed, minimum, maximum, max_len)
    return types, allow_bool, simple, full


_FIELDS = {name: {k: _compile(v) for k, v in spec.items()} for name, spec in FIELDS.items()}
_REQUIRED = {name: frozenset(k for k, v in spec.items() if v[1]) for name, spec in FIELDS.items()}
_N_REQUIRED = {name: len(keys) for name, keys in _REQUIRED.items()}


def _check_value(msg_type: str, key: str, value: Any, spec: tuple[Any, ...]) -> None:
    kinds, types, allow_bool, _required, allowed, minimum, maximum, max_len = spec
    if not isinstance(value, types) or (isinstance(value, bool) and not allow_bool):
        raise DecodeError(f"{msg_type}.{key}: expected {kinds}, got {type(value).__name__}")
    if allowed is not None and value not in allowed:
        raise DecodeError(f"{msg_type}.{key}: {value!r} is not one of {list(allowed)}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if minimum is not None and value < minimum:
            raise DecodeError(f"{msg_type}.{key}: {value!r} below the minimum {minimum}")
        if maximum is not None and value > maximum:
            raise DecodeError(f"{msg_type}.{key}: {value!r} above the maximum {maximum}")
    if max_len is not None and isinstance(value, str) and len(value) > max_len:
        raise DecodeError(f"{msg_type}.{key}: longer than {max_len} characters")


def _check_header(header: Any, topic_type: str) -> dict[str, Any]:
    if not isinstance(header, dict):
        raise DecodeError(f"header is a msgpack {type(header).__name__}, expected a map")
    version = header.get("version")
    if version != PROTOCOL_VERSION:
        raise ProtocolVersionError(
            f"{topic_type} message speaks protocol version {version!r}; this side speaks "
            f"version {PROTOCOL_VERSION} (upgrade the older side)"
        )
    if header.get("type") != topic_type:
        raise DecodeError(f"header type {header.get('type')!r} differs from topic {topic_type!r}")
    fields = _FIELDS[topic_type]
    for key, value in header.items():
        spec = fields.get(key)
        if spec is None:
            raise DecodeError(f"{topic_type}: unknown field {key!r}")
        types, allow_bool, simple, full = spec
        # fast path: a plain field of the right type (bool is an int, so it is checked apart)
        plain = isinstance(value, types) and (allow_bool or value.__class__ is not bool)
        if not (simple and plain):
            _check_value(topic_type, key, value, full)
    if len(header) != _N_REQUIRED[topic_type] or not _REQUIRED[topic_type] <= header.keys():
        for key in _REQUIRED[topic_type]:
            if key not in header:
                raise DecodeError(f"{topic_type}: required field {key!r} missing")
    return header


@functools.lru_cache(maxsize=256)
def _layout(name: Any, dtype: Any, shape: tuple[Any, ...], max_elements: int) -> tuple[Any, ...]:
    """(dtype, shape, bytes) of a valid array descriptor; cached, as a board repeats its own."""
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise DecodeError("arrays: name must be a string of 1-64 characters")
    if dtype not in _ITEMSIZE:
        raise DecodeError(f"arrays.{name}: dtype {dtype!r} not one of {list(DTYPES)}")
    if len(shape) > 4 or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise DecodeError(f"arrays.{name}: shape must be up to 4 non-negative ints")
    count = math.prod(shape)
    if count > max_elements:
        raise DecodeError(f"arrays.{name}: {count} elements over the {max_elements} limit")
    return np.dtype(dtype), shape, count * _ITEMSIZE[dtype]


def _array(msg_type: str, descriptor: Any, buf: bytes, limits: Limits) -> tuple[str, np.ndarray]:
    if not isinstance(descriptor, dict) or set(descriptor) != {"name", "dtype", "shape"}:
        raise DecodeError(f"{msg_type}.arrays: each descriptor needs exactly name, dtype, shape")
    name, shape = descriptor["name"], descriptor["shape"]
    if not isinstance(shape, list):
        raise DecodeError(f"{msg_type}.arrays: shape must be a list")
    try:
        dtype, dims, nbytes = _layout(
            name, descriptor["dtype"], tuple(shape), limits.max_array_elements
        )
    except TypeError as exc:  # an unhashable name, dtype or dimension
        raise DecodeError(f"{msg_type}.arrays: malformed descriptor ({exc})") from exc
    except DecodeError as exc:
        raise DecodeError(f"{msg_type}.{exc}") from None
    if len(buf) != nbytes:
        raise DecodeError(
            f"{msg_type}.arrays.{name}: buffer of {len(buf)} bytes, expected {nbytes} "
            f"for {descriptor['dtype']} {shape}"
        )
    arr = np.frombuffer(buf, dtype=dtype)
    return name, arr if len(dims) == 1 else arr.reshape(dims)


def _arrays(msg_type: str, header: dict[str, Any], bufs: Sequence[bytes], limits: Limits) -> dict:
    descriptors = header.get("arrays", [])
    if len(descriptors) > limits.max_arrays:
        raise DecodeError(f"{msg_type}: {len(descriptors)} arrays, limit {limits.max_arrays}")
    if len(descriptors) != len(bufs):
        raise DecodeError(
            f"{msg_type}: header describes {len(descriptors)} arrays, frame has {len(bufs)} buffers"
        )
    out: dict[str, np.ndarray] = {}
    for descriptor, buf in zip(descriptors, bufs, strict=True):
        name, arr = _array(msg_type, descriptor, buf, limits)
        if name in out:
            raise DecodeError(f"{msg_type}.arrays: {name!r} appears twice")
        out[name] = arr
    if msg_type in ("update", "snapshot"):
        missing = [name for name in STATE_ARRAYS if name not in out]
        if missing:
            raise DecodeError(f"{msg_type}: arrays {missing} missing")
    return out


def decode(frames: Sequence[bytes], limits: Limits = DEFAULT_LIMITS) -> Message:
    """Decode one multipart message.

    Parameters
    ----------
    frames : sequence of bytes
        The ZeroMQ parts ``[topic, header, buffer...]``.
    limits : Limits
        Bounds; a message over any of them is refused.

    Raises
    ------
    DecodeError
        The frames are not a valid message (ProtocolVersionError: another protocol version).
    """
    if not 2 <= len(frames) <= limits.max_parts:
        raise DecodeError(f"message of {len(frames)} parts, expected 2 to {limits.max_parts}")
    try:
        parts = [bytes(part) for part in frames]
    except (TypeError, ValueError, BufferError) as exc:
        raise DecodeError(f"message parts are not bytes: {exc}") from exc
    size = sum(len(part) for part in parts)
    if size > limits.max_frame_bytes:
        raise DecodeError(f"message of {size} bytes over the {limits.max_frame_bytes} limit")
    msg_type = _TOPICS.get(parts[0])
    if msg_type is None:
        raise DecodeError(f"unknown topic {parts[0][:32]!r}; expected one of {MESSAGE_TYPES}")
    header = _check_header(_unpack(parts[1], limits), msg_type)
    arrays = _arrays(msg_type, header, parts[2:], limits)
    return Message(type=msg_type, header=header, arrays=arrays)
