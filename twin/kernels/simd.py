"""Operations on rows of :data:`WIDTH` doubles as single vector instructions (numba intrinsics).

The lane kernels (:mod:`.lanes`, :mod:`.train_lanes`) store :data:`WIDTH` realizations side by
side: value ``p`` of lane ``w`` is element ``p * WIDTH + w`` of a flat array, so "row" ``p`` holds
one value of every lane. numba leaves loops of a fixed short length unvectorised (it fully
unrolls them and does not run LLVM's SLP vectorizer), so each operation here is an intrinsic
that emits the LLVM vector instructions itself: one load per operand row, the arithmetic on
``<WIDTH x double>`` values, one store.

Vector ``fadd``/``fsub``/``fmul``/``fdiv`` and ``llvm.sqrt`` round each lane exactly as the
scalar instruction does (IEEE 754, no fused multiply-add, no reassociation: no fast-math flags
are set), so a lane computes bit for bit what the one-realization kernels compute when the
expression is written in the same order.

Each intrinsic is ``f(out, o, a1, r1, a2, r2, ...)`` on 1-D C-contiguous float64 arrays and row
indices (int64): operand ``i`` is the row ``r_i`` of ``a_i`` (or several consecutive rows), the
result is stored into row ``o`` of ``out``, whose old value is the body's first argument. The
caller keeps every row inside its array (no bounds are checked).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

__all__ = ["WIDTH", "add_mul", "add_row", "add_to", "copy_row", "div_to", "lane_rate", "lanewise",
           "mul_by", "mul_to", "pivot", "rank4", "sub_mul", "sub_row", "sub_to"]  # fmt: skip

#: Doubles per row (lanes); 8 doubles are one 512-bit or two 256-bit vectors.
WIDTH = 8

_VEC = ir.VectorType(ir.DoubleType(), WIDTH)


class VectorOps:
    """The arithmetic available to a body: IEEE operations lane by lane."""

    def __init__(self, builder: ir.IRBuilder) -> None:
        self._b = builder

    def add(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self._b.fadd(x, y)

    def sub(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self._b.fsub(x, y)

    def mul(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self._b.fmul(x, y)

    def div(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self._b.fdiv(x, y)


def _row_pointer(builder: ir.IRBuilder, data: ir.Value, row: ir.Value, extra: int) -> ir.Value:
    index = builder.add(builder.mul(row, ir.Constant(row.type, WIDTH)),
                        ir.Constant(row.type, extra * WIDTH))  # fmt: skip
    return builder.bitcast(builder.gep(data, [index]), _VEC.as_pointer())


def _signature(counts: Sequence[int], body: Callable[..., ir.Value], args: tuple[Any, ...]) -> Any:
    """The signature and code generator of ``out[o] = body(ops, out[o], *rows)``."""
    sig = types.void(*args)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, values: Any) -> Any:
        ptrs = []
        for i in range(len(counts) + 1):
            arr = context.make_array(signature.args[2 * i])(context, builder, values[2 * i])
            ptrs.append((arr.data, values[2 * i + 1]))
        out = _row_pointer(builder, ptrs[0][0], ptrs[0][1], 0)
        rows = [builder.load(out, align=8)]
        for (data, row), count in zip(ptrs[1:], counts, strict=True):
            for extra in range(count):
                rows.append(builder.load(_row_pointer(builder, data, row, extra), align=8))
        builder.store(body(VectorOps(builder), *rows), out, align=8)
        return context.get_dummy_value()

    return sig, codegen


def lanewise(counts: Sequence[int], body: Callable[..., ir.Value]) -> Any:
    """An intrinsic ``f(out, o, a1, r1, ...)``: ``out[o] = body(ops, out[o], *rows)``.

    ``counts[i]`` consecutive rows ``a_i[r_i], a_i[r_i + 1], ...`` are passed for operand ``i``
    (1, 2, 3 or 8 operands: numba's intrinsics take no ``*args``, so each typer names them).
    """

    def make(*args: Any) -> Any:
        return _signature(counts, body, args)

    def typer1(ctx: Any, out: Any, o: Any, a0: Any, r0: Any) -> Any:
        return make(out, o, a0, r0)

    def typer2(ctx: Any, out: Any, o: Any, a0: Any, r0: Any, a1: Any, r1: Any) -> Any:
        return make(out, o, a0, r0, a1, r1)

    def typer3(ctx: Any, out: Any, o: Any, a0: Any, r0: Any, a1: Any, r1: Any, a2: Any,
               r2: Any) -> Any:  # fmt: skip
        return make(out, o, a0, r0, a1, r1, a2, r2)

    def typer8(ctx: Any, out: Any, o: Any, a0: Any, r0: Any, a1: Any, r1: Any, a2: Any, r2: Any,
               a3: Any, r3: Any, a4: Any, r4: Any, a5: Any, r5: Any, a6: Any, r6: Any, a7: Any,
               r7: Any) -> Any:  # fmt: skip
        return make(out, o, a0, r0, a1, r1, a2, r2, a3, r3, a4, r4, a5, r5, a6, r6, a7, r7)

    typer = {1: typer1, 2: typer2, 3: typer3, 8: typer8}[len(counts)]
    typer.__name__ = body.__name__.lstrip("_")
    return intrinsic(typer)


def _pivot_typer(typingctx: Any, v: Any, d: Any, inv: Any, flags: Any) -> Any:
    """``pivot(v, d, inv, flags)``: the pivot row ``v[d]`` replaced by its square root, whose
    reciprocal goes into row 0 of ``inv``; a lane whose pivot is not positive (or not a number)
    takes 1 in its place and its entry of row 0 of ``flags`` is set to 0."""
    sig = types.void(v, d, inv, flags)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, values: Any) -> Any:
        data = [context.make_array(signature.args[i])(context, builder, values[i]).data
                for i in (0, 2, 3)]  # fmt: skip
        zero = ir.Constant(values[1].type, 0)
        pv = _row_pointer(builder, data[0], values[1], 0)
        pi = _row_pointer(builder, data[1], zero, 0)
        pf = _row_pointer(builder, data[2], zero, 0)
        d = builder.load(pv, align=8)
        good = builder.fcmp_ordered(">", d, ir.Constant(_VEC, [0.0] * WIDTH))
        d = builder.select(good, d, ir.Constant(_VEC, [1.0] * WIDTH))
        sqrt = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC]),
                                              f"llvm.sqrt.v{WIDTH}f64")  # fmt: skip
        root = builder.call(sqrt, [d])
        builder.store(root, pv, align=8)
        builder.store(builder.fdiv(ir.Constant(_VEC, [1.0] * WIDTH), root), pi, align=8)
        flag = builder.load(pf, align=8)
        builder.store(builder.select(good, flag, ir.Constant(_VEC, [0.0] * WIDTH)), pf, align=8)
        return context.get_dummy_value()

    return sig, codegen


#: ``pivot(v, d, inv, flags)``: see :func:`_pivot_typer`.
pivot: Any = intrinsic(_pivot_typer)


def _sub_mul(o: VectorOps, t: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
    return o.sub(t, o.mul(a, b))


def _add_mul(o: VectorOps, t: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
    return o.add(t, o.mul(a, b))


def _add_row(o: VectorOps, t: ir.Value, a: ir.Value) -> ir.Value:
    return o.add(t, a)


def _sub_row(o: VectorOps, t: ir.Value, a: ir.Value) -> ir.Value:
    return o.sub(t, a)


def _mul_by(o: VectorOps, t: ir.Value, a: ir.Value) -> ir.Value:
    return o.mul(t, a)


def _copy_row(o: VectorOps, _t: ir.Value, a: ir.Value) -> ir.Value:
    return a


def _add_to(o: VectorOps, _t: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
    return o.add(a, b)


def _sub_to(o: VectorOps, _t: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
    return o.sub(a, b)


def _mul_to(o: VectorOps, _t: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
    return o.mul(a, b)


def _div_to(o: VectorOps, _t: ir.Value, a: ir.Value, d: ir.Value) -> ir.Value:
    return o.div(a, d)


def _rank4(o: VectorOps, t: ir.Value, *fr: ir.Value) -> ir.Value:
    f0, r0, f1, r1, f2, r2, f3, r3 = fr
    return o.sub(t, o.add(o.add(o.mul(f0, r0), o.mul(f1, r1)),
                          o.add(o.mul(f2, r2), o.mul(f3, r3))))  # fmt: skip


def _lane_rate(o: VectorOps, _t: ir.Value, *rows: ir.Value) -> ir.Value:
    """:func:`.train_step.edge_rates4`'s expression, in its order of operations."""
    a0, a1, a2, a3, b0, b1, b2, b3 = rows[:8]
    q00, q01, q02, q03, q11, q12, q13, q22, q23, q33, scale = rows[8:]
    g0, g1, g2, g3 = o.sub(a0, b0), o.sub(a1, b1), o.sub(a2, b2), o.sub(a3, b3)
    s0 = o.add(o.add(o.add(o.mul(q00, g0), o.mul(q01, g1)), o.mul(q02, g2)), o.mul(q03, g3))
    quad = o.mul(g0, s0)
    s1 = o.add(o.add(o.mul(q11, g1), o.mul(q12, g2)), o.mul(q13, g3))
    quad = o.add(quad, o.mul(g1, s1))
    s2 = o.mul(g2, o.add(o.mul(q22, g2), o.mul(q23, g3)))
    return o.mul(scale, o.add(o.add(quad, s2), o.mul(o.mul(q33, g3), g3)))


#: ``sub_mul(t, i, a, j, b, k)``: ``t[i] -= a[j] * b[k]``.
sub_mul = lanewise([1, 1], _sub_mul)
#: ``add_mul(t, i, a, j, b, k)``: ``t[i] += a[j] * b[k]``.
add_mul = lanewise([1, 1], _add_mul)
#: ``add_row(t, i, a, j)``: ``t[i] += a[j]``.
add_row = lanewise([1], _add_row)
#: ``sub_row(t, i, a, j)``: ``t[i] -= a[j]``.
sub_row = lanewise([1], _sub_row)
#: ``mul_by(t, i, a, j)``: ``t[i] *= a[j]``.
mul_by = lanewise([1], _mul_by)
#: ``copy_row(t, i, a, j)``: ``t[i] = a[j]``.
copy_row = lanewise([1], _copy_row)
#: ``add_to(t, i, a, j, b, k)``: ``t[i] = a[j] + b[k]``.
add_to = lanewise([1, 1], _add_to)
#: ``sub_to(t, i, a, j, b, k)``: ``t[i] = a[j] - b[k]``.
sub_to = lanewise([1, 1], _sub_to)
#: ``mul_to(t, i, a, j, b, k)``: ``t[i] = a[j] * b[k]``.
mul_to = lanewise([1, 1], _mul_to)
#: ``div_to(t, i, a, j, d, k)``: ``t[i] = a[j] / d[k]``.
div_to = lanewise([1, 1], _div_to)
#: ``rank4(u, i, u, f0, u, r0, ..., u, f3, u, r3)``:
#: ``u[i] -= (u[f0] u[r0] + u[f1] u[r1]) + (u[f2] u[r2] + u[f3] u[r3])``.
rank4 = lanewise([1] * 8, _rank4)
#: ``lane_rate(out, i, x, a, x, b, q, 0)``: the rate of an edge whose ends have basis rows
#: ``x[a..a+3]`` and ``x[b..b+3]``, with the form's coefficients and the scale in ``q[0..10]``.
lane_rate = lanewise([4, 4, 11], _lane_rate)
