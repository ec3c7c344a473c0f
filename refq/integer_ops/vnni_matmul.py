"""INT-2.7: the INT-2.3 matrix product computed with x86's VNNI byte dot products.

This module changes no result: it computes the same int32 values as
:func:`refq.integer_ops.matmul.dot_products` by another route, which the tests check
element for element (and against a Python-integer oracle). Like INT-3.5's convolution it
feeds ``VPDPBUSD`` the raw codes (int8 ``a`` moved up by 128, uint8 ``b`` down by 128, with
:func:`refq.integer_ops.vnni.unsigned_codes` and :func:`~refq.integer_ops.vnni.signed_codes`)
and removes the zero points afterwards, every term modulo $2^{32}$.

The layout differs from the convolution's, because a matrix product reuses every row of
``b`` across all rows of ``a``: ``b`` is packed into panels of 64 columns in which each
group of four consecutive $k$ of one column is one int32 lane, so one 512-bit ``VPDPBUSD``
adds four products to each of 16 columns, with four bytes of a row of ``a`` broadcast to
every lane. A tile of ``TILE_ROWS`` rows by one panel keeps its 24 accumulators in
registers for the whole of $K$ and needs no sums across lanes; the zero-point terms are
added to the accumulators before they are stored.

The route runs where :func:`refq.integer_ops.vnni.use_vnni` says (compiled kernels, a CPU
with AVX512-VNNI) and AVX512F's 512-bit registers are there; otherwise
:func:`available` is False and INT-2.3's portable kernel runs.
"""

from __future__ import annotations

import functools

import numpy as np

from refq._jit import kernel
from refq.integer_ops import vnni

#: int32 lanes of one 512-bit register: one lane per column, four bytes of $k$ each.
LANES = 16
#: Registers of columns per tile: a panel of ``b`` is ``PANEL_COLUMNS`` columns wide.
PANEL_VECTORS = 4
PANEL_COLUMNS = LANES * PANEL_VECTORS
#: Rows of ``a`` per tile: TILE_ROWS x PANEL_VECTORS = 24 accumulators, 4 registers of ``b``
#: and one broadcast fit in the 32 registers.
TILE_ROWS = 6
#: Bytes of $k$ per int32 lane.
LANE_DEPTH = 4
#: Longer rows take INT-2.3's route: :func:`refq.integer_ops.vnni.patch_sums` sums a row in int32.
MAX_DEPTH = vnni.MAX_PATCH_LENGTH


@functools.cache
def available() -> bool:
    """Whether this CPU runs ``VPDPBUSD`` on 512-bit registers (AVX512-VNNI with AVX512F)."""
    try:
        from llvmlite import binding
    except ImportError:  # pragma: no cover - numba brings llvmlite
        return False
    features = binding.get_host_cpu_features()
    return bool(features.get("avx512vnni")) and bool(features.get("avx512f"))


def use_byte_route(depth: int) -> bool:
    """INT-2.7 runs when kernels are compiled, the CPU has the instructions, and a row of
    ``depth`` bytes sums in int32."""
    return vnni.use_vnni() and available() and depth <= MAX_DEPTH


def _tile_intrinsic():
    """The LLVM code of one tile: ``TILE_ROWS`` x ``PANEL_VECTORS`` accumulators of 16 int32
    lanes, one ``VPDPBUSD`` per (row, register of the panel) and four bytes of $k$; then
    $S + p_i z_j + q_i t_j$ per lane (wrapping int32 multiplies and adds), stored."""
    from numba import types
    from numba.core.extending import intrinsic

    @intrinsic
    def byte_dot_panel(typingctx, rows, row_offset, panels, panel_offset, steps, row_terms, row_term_offset,
                       column_terms, column_term_offset, out, out_offset, out_stride):
        signature = types.void(rows, row_offset, panels, panel_offset, steps, row_terms, row_term_offset,
                               column_terms, column_term_offset, out, out_offset, out_stride)

        def codegen(context, builder, sig, args):
            (row_array, row_start, panel_array, panel_start, step_count, row_term_array, row_term_start,
             column_term_array, column_term_start, out_array, out_start, stride) = args
            row_data = context.make_array(sig.args[0])(context, builder, row_array).data
            panel_data = context.make_array(sig.args[2])(context, builder, panel_array).data
            row_term_data = context.make_array(sig.args[5])(context, builder, row_term_array).data
            column_term_data = context.make_array(sig.args[7])(context, builder, column_term_array).data
            out_data = context.make_array(sig.args[9])(context, builder, out_array).data
            code = vnni.VectorCode(builder)
            index = code.index
            depth = builder.mul(step_count, index(LANE_DEPTH))

            def panel_step(step, sums):
                # The panel's 64 columns x 4 bytes of this step are 256 consecutive bytes.
                start = builder.add(panel_start, builder.mul(step, index(PANEL_COLUMNS * LANE_DEPTH)))
                columns = [code.load_lanes(panel_data, builder.add(start, index(c * LANES * LANE_DEPTH)))
                           for c in range(PANEL_VECTORS)]
                updated = []
                for r in range(TILE_ROWS):
                    offset = builder.add(builder.add(row_start, builder.mul(depth, index(r))),
                                         builder.mul(step, index(LANE_DEPTH)))
                    row = code.broadcast(code.load_word(row_data, offset))
                    updated.extend(builder.call(code.dot, [sums[r * PANEL_VECTORS + c], row, columns[c]])
                                   for c in range(PANEL_VECTORS))
                return updated

            updated = code.step_loop("panel", step_count, TILE_ROWS * PANEL_VECTORS, panel_step)
            # column_terms holds z'_j for the panel's 64 columns, then t_j for the same columns.
            zero_points = [code.load_lanes(column_term_data, builder.add(column_term_start, index(c * LANES)))
                           for c in range(PANEL_VECTORS)]
            constants = [code.load_lanes(column_term_data,
                                         builder.add(column_term_start, index(PANEL_COLUMNS + c * LANES)))
                         for c in range(PANEL_VECTORS)]
            for r in range(TILE_ROWS):
                # row_terms holds p_i then q_i for each of the tile's rows.
                term = builder.add(row_term_start, index(2 * r))
                p = code.broadcast(builder.load(builder.gep(row_term_data, [term])))
                q = code.broadcast(builder.load(builder.gep(row_term_data, [builder.add(term, index(1))])))
                for c in range(PANEL_VECTORS):
                    value = builder.add(updated[r * PANEL_VECTORS + c],
                                        builder.add(builder.mul(p, zero_points[c]), builder.mul(q, constants[c])))
                    target = builder.add(builder.add(out_start, builder.mul(stride, index(r))), index(c * LANES))
                    code.store_lanes(value, out_data, target)
            return context.get_dummy_value()

        return signature, codegen

    return byte_dot_panel


#: Created on first use, so that importing this module imports neither Numba nor llvmlite.
byte_dot_panel = None


@kernel
def pack_panels(codes, out, column_sums):
    """INT-2.7: ``out[n, s, c, d]`` $= b'_{4s+d,\\,64n+c}$ for int8 ``codes`` ``(K, N)`` (zero past
    $K$ and $N$), and ``column_sums[j]`` $= \\sum_k b'_{kj}$ (int64)."""
    depth, width = codes.shape
    out[:] = 0
    column_sums[:] = 0
    full_steps = depth // LANE_DEPTH
    # Four rows of codes at a time: each column's four bytes land side by side in its lane.
    for s in range(full_steps):
        k = s * LANE_DEPTH
        for n in range(out.shape[0]):
            first = n * PANEL_COLUMNS
            for c in range(min(PANEL_COLUMNS, width - first)):
                j = first + c
                v0, v1, v2, v3 = codes[k, j], codes[k + 1, j], codes[k + 2, j], codes[k + 3, j]
                out[n, s, c, 0] = v0
                out[n, s, c, 1] = v1
                out[n, s, c, 2] = v2
                out[n, s, c, 3] = v3
                column_sums[j] += np.int64(v0) + np.int64(v1) + np.int64(v2) + np.int64(v3)
    for k in range(full_steps * LANE_DEPTH, depth):
        for j in range(width):
            value = codes[k, j]
            out[j // PANEL_COLUMNS, full_steps, j % PANEL_COLUMNS, k - full_steps * LANE_DEPTH] = value
            column_sums[j] += np.int64(value)


@kernel
def byte_matrix_product(rows, panels, row_terms, column_terms, out, scratch):
    """INT-2.7: $y_{ij} = \\operatorname{wrap}_{32}(S_{ij} + p_i z'_j + q_i t_j)$ with
    $S_{ij} = \\sum_k a'_{ik} b'_{kj}$ from one ``VPDPBUSD`` tile per ``TILE_ROWS`` x 64 outputs.
    ``rows`` is ``(M', K')`` uint8 with $M'$ and $K'$ padded (zeros) to multiples of ``TILE_ROWS``
    and 4; ``panels`` comes from :func:`pack_panels`; ``row_terms`` is ``(M', 2)`` ($p_i$, $q_i$)
    and ``column_terms`` ``(panels, 2, 64)`` ($z'_j$, $t_j$), int32. Tiles that pass ``out``'s
    edge go through ``scratch`` (``TILE_ROWS`` x 64 int32)."""
    height, width = out.shape
    depth = rows.shape[1]
    steps = depth // LANE_DEPTH
    flat_rows = rows.reshape(-1)
    flat_panels = panels.reshape(-1)
    flat_out = out.reshape(-1)
    flat_scratch = scratch.reshape(-1)
    flat_row_terms = row_terms.reshape(-1)
    flat_column_terms = column_terms.reshape(-1)
    for first_row in range(0, rows.shape[0], TILE_ROWS):
        for n in range(panels.shape[0]):
            first_column = n * PANEL_COLUMNS
            columns = n * 2 * PANEL_COLUMNS
            panel_offset = n * steps * PANEL_COLUMNS * LANE_DEPTH
            if first_row + TILE_ROWS <= height and first_column + PANEL_COLUMNS <= width:
                byte_dot_panel(flat_rows, first_row * depth, flat_panels, panel_offset, steps, flat_row_terms,
                               first_row * 2, flat_column_terms, columns, flat_out, first_row * width + first_column,
                               width)
                continue
            byte_dot_panel(flat_rows, first_row * depth, flat_panels, panel_offset, steps, flat_row_terms,
                           first_row * 2, flat_column_terms, columns, flat_scratch, 0, PANEL_COLUMNS)
            for r in range(min(TILE_ROWS, height - first_row)):
                for c in range(min(PANEL_COLUMNS, width - first_column)):
                    out[first_row + r, first_column + c] = scratch[r, c]


def wrapped(values: np.ndarray) -> np.ndarray:
    """int64 values reduced modulo $2^{32}$ into int32 (NUM-1.7): numpy's cast keeps the low 32 bits."""
    return values.astype(np.int64).astype(np.int32)


def byte_product(a: np.ndarray, b: np.ndarray, a_zero_points: np.ndarray, b_zero_points: np.ndarray,
                 out: np.ndarray) -> None:
    """INT-2.7 for one matrix pair: raw ``a`` ``(M, K)`` and ``b`` ``(K, N)`` (int8 or uint8 each),
    ``a_zero_points`` one per row and ``b_zero_points`` one per column; writes INT-2.3's int32
    $y_{ij} = \\operatorname{wrap}_{32}\\big(\\sum_k (a_{ik} - z_{a,i})(b_{kj} - z_{b,j})\\big)$ into ``out``
    ``(M, N)`` (C-contiguous)."""
    global byte_dot_panel
    height, depth = a.shape
    width = b.shape[1]
    if out.size == 0:
        return
    if depth == 0:
        out[...] = 0
        return
    if byte_dot_panel is None:
        byte_dot_panel = _tile_intrinsic()
    codes, a_offset = vnni.unsigned_codes(np.ascontiguousarray(a))
    b_codes, b_offset = vnni.signed_codes(np.ascontiguousarray(b))
    padded_depth = vnni.padded(depth, LANE_DEPTH)
    padded_height = vnni.padded(height, TILE_ROWS)
    rows = np.zeros((padded_height, padded_depth), dtype=np.uint8)
    rows[:height, :depth] = codes
    row_sums = np.zeros(padded_height, dtype=np.int64)
    vnni.patch_sums(rows, row_sums)
    panel_count = vnni.padded(width, PANEL_COLUMNS) // PANEL_COLUMNS
    panels = np.empty((panel_count, padded_depth // LANE_DEPTH, PANEL_COLUMNS, LANE_DEPTH), dtype=np.int8)
    column_sums = np.empty(width, dtype=np.int64)
    pack_panels(np.ascontiguousarray(b_codes), panels, column_sums)
    a_zero = np.asarray(a_zero_points, dtype=np.int64).reshape(-1) + a_offset
    b_zero = np.asarray(b_zero_points, dtype=np.int64).reshape(-1) + b_offset
    # sum (a' - z'_a)(b' - z'_b) = S - z'_b,j A_i - z'_a,i B_j + K z'_a,i z'_b,j = S + p_i z'_b,j + q_i t_j
    # with p_i = -A_i, q_i = z'_a,i and t_j = K z'_b,j - B_j, all modulo 2^32.
    row_terms = np.zeros((padded_height, 2), dtype=np.int32)
    row_terms[:, 0] = wrapped(-row_sums)
    row_terms[:height, 1] = wrapped(np.broadcast_to(a_zero, (height,)))
    column_terms = np.zeros((2, panel_count * PANEL_COLUMNS), dtype=np.int32)
    column_terms[0, :width] = wrapped(np.broadcast_to(b_zero, (width,)))
    column_terms[1, :width] = wrapped(depth * b_zero - column_sums)
    column_terms = np.ascontiguousarray(column_terms.reshape(2, panel_count, PANEL_COLUMNS).transpose(1, 0, 2))
    scratch = np.empty((TILE_ROWS, PANEL_COLUMNS), dtype=np.int32)
    byte_matrix_product(rows, panels, row_terms, column_terms, out, scratch)
