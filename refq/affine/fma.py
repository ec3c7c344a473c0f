"""AFF-3.7's fused multiply-add in compiled code: LLVM's ``llvm.fma.f32``.

On x86-64 with FMA (and on AArch64) it is one ``vfmadd`` instruction, which loops
vectorize; elsewhere LLVM calls the C library's correctly rounded ``fmaf``. Either way
it is $a \\cdot b + c$ rounded once to float32, what
:func:`refq.affine.steps.fused_multiply_add_float32` computes in float64 steps when
interpreted. Imported only when a kernel is compiled (after :mod:`refq._jit` has
configured Numba's cache), so ``import refq`` loads no Numba.
"""

from __future__ import annotations

import numba
from numba.core import cgutils, types
from numba.extending import intrinsic


@intrinsic
def llvm_fma_float32(typingctx, a, b, c):
    """``llvm.fma.f32(a, b, c)``, each operand converted to float32 first (exact for float32
    operands and for integers below 2^24, the only ones refq passes)."""

    def codegen(context, builder, signature, args):
        from llvmlite import ir  # Numba's own code generator, installed with it

        float32 = ir.FloatType()
        operands = [context.cast(builder, value, kind, types.float32) for value, kind in zip(args, signature.args)]
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(float32, [float32, float32, float32]), "llvm.fma.f32")
        return builder.call(function, operands)

    return types.float32(a, b, c), codegen


@numba.njit(cache=True, nogil=True)
def fused_multiply_add_float32(a, b, c):
    return llvm_fma_float32(a, b, c)
