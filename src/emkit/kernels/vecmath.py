"""Vectorisable elementary functions for numba kernels.

LLVM turns ``math.exp`` into a call to the C library, one element at a time, which caps a
mixture E-step at a few hundred million exponentials per second. :func:`exp_nonpos` is written
with arithmetic and a bit cast only, so the loop vectoriser packs 8 (float64) or 16 (float32)
of them into one AVX-512 register. It covers what log-sum-exp needs: arguments ``x <= 0``
(``-inf`` gives 0, NaN stays NaN), accurate to about 2 units in the last place, subnormal
results included.

Calling :func:`exp_nonpos` from Python runs the NumPy equivalent; inside a numba function it
compiles to the float32 or float64 version according to the argument's type.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload


@intrinsic
def _f64_from_bits(typingctx, bits):
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _f32_from_bits(typingctx, bits):
    # Takes an int64 whose low 32 bits are the pattern (numba widens int32 shifts).
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32))
        return builder.bitcast(low, ir.FloatType())

    return types.float32(types.int64), codegen


def exp_nonpos(x):
    """``exp(x)`` for ``x <= 0``; the numba version vectorises.

    Parameters
    ----------
    x : float or ndarray
        Non-positive values (``-inf`` allowed).

    Returns
    -------
    float or ndarray, same type as ``x``.
    """
    return np.exp(x)


def _exp_nonpos_f64(x):
    # exp(x) = 2**n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2 (Cody-Waite reduction).
    # Below -745.2 the result is 0; x is clamped there so that 2**(n + 54) stays normal,
    # and the final multiply by 2**-54 rounds subnormal results once, correctly.
    xc = max(x, -746.0)
    n = np.floor(xc * 1.4426950408889634 + 0.5)
    r = xc - n * 0.6931471803691238
    r = r - n * 1.9082149292705877e-10
    p = 1.6059043836821613e-10
    p = p * r + 2.08767569878681e-09
    p = p * r + 2.505210838544172e-08
    p = p * r + 2.755731922398589e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.48015873015873e-05
    p = p * r + 0.0001984126984126984
    p = p * r + 0.001388888888888889
    p = p * r + 0.008333333333333333
    p = p * r + 0.041666666666666664
    p = p * r + 0.16666666666666666
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = _f64_from_bits((np.int64(n) + np.int64(1077)) << np.int64(52))
    out = p * scale * 5.551115123125783e-17
    if x < -745.5:
        out = 0.0
    if x != x:
        out = x
    return out


def _exp_nonpos_f32(x):
    xc = max(x, np.float32(-104.0))
    n = np.floor(xc * np.float32(1.442695) + np.float32(0.5))
    r = xc - n * np.float32(0.693359375)
    r = r - n * np.float32(-2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * r * r + r + np.float32(1.0)
    scale = _f32_from_bits((np.int64(n) + np.int64(151)) << np.int64(23))
    out = p * scale * np.float32(5.9604645e-08)
    if x < np.float32(-103.98):
        out = np.float32(0.0)
    if x != x:
        out = x
    return out


@overload(exp_nonpos, jit_options={"fastmath": {"contract"}})
def _exp_nonpos_overload(x):
    if x == types.float64:
        return _exp_nonpos_f64
    if x == types.float32:
        return _exp_nonpos_f32
    return None


def like(value, array):
    """``value`` rounded to the dtype of ``array`` (a no-op when that is float64)."""
    return np.asarray(value, dtype=np.asarray(array).dtype)[()]


@overload(like, jit_options={"fastmath": {"contract"}})
def _like_overload(value, array):
    if getattr(array, "dtype", None) == types.float32:
        return lambda value, array: np.float32(value)
    return lambda value, array: value
