"""INT-2: integer matrix multiplication (ONNX ``MatMulInteger``).

Both operands are first *centred*: each 8-bit value minus its zero point, which
needs 9 bits and is kept in int16. The product of two centred matrices is then a
plain sum of products, accumulated in int32 with two's-complement wraparound.
Convolution (INT-3) reduces to the same dot products, so the kernels here serve both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from refq._jit import kernel
from refq.errors import invalid
from refq.integer_ops.operands import integer_input, zero_point_values

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


@kernel
def centre_rows(values, zero_point, out):
    """INT-2.2: $\\hat a_{ik} = a_{ik} - z_i$ for a ``(rows, K)`` matrix and one zero point per row."""
    for i in range(values.shape[0]):
        for k in range(values.shape[1]):
            out[i, k] = np.int16(values[i, k]) - zero_point[i]


@kernel
def centre_columns_transposed(values, zero_point, out):
    """INT-2.2: $\\hat b_{jk} = b_{kj} - z_j$: a ``(K, N)`` matrix centred per column and stored
    transposed, ``(N, K)``, so that every dot product of INT-2.3 reads two contiguous rows."""
    for k in range(values.shape[0]):
        for j in range(values.shape[1]):
            out[j, k] = np.int16(values[k, j]) - zero_point[j]


@kernel
def wrapping_dot_products(rows, columns, out):
    """INT-2.3: $y_{ij} = \\operatorname{wrap}_{32}\\big(\\sum_k \\hat a_{ik} \\hat b_{jk}\\big)$.

    Every product of two centred 8-bit values fits in 17 bits ($255^2 = 65025$), so the
    products are exact. Their sum is accumulated in int32 with two's-complement
    wraparound; wraparound addition is associative and commutative, so the result is
    the exact sum reduced modulo $2^{32}$ into $[-2^{31}, 2^{31})$ (NUM-1.7) whatever
    the order of the additions. The loop sums in int64, which cannot overflow for
    $K < 2^{33}$, and wraps once at the end.
    """
    count = rows.shape[1]
    for i in range(rows.shape[0]):
        for j in range(columns.shape[0]):
            total = np.int64(0)
            for k in range(count):
                total += np.int64(rows[i, k]) * np.int64(columns[j, k])
            out[i, j] = np.int32(total)  # keeps the low 32 bits: NUM-1.7 wrap


def row_zero_points(zero_point, a: np.ndarray) -> np.ndarray:
    """INT-2.1: ``a_zero_point`` per tensor (one value) or per row, as int16 of shape ``a.shape[:-1]``.

    Per row, a 2-D ``a`` of shape ``(M, K)`` takes ``M`` values (shape ``(M,)`` or ``(M, 1)``);
    an N-D ``a`` takes the shape ``a.shape[:-1] + (1,)``.
    """
    values = zero_point_values(zero_point, a.dtype, "a_zero_point")
    if values.size == 1:
        return np.broadcast_to(values.reshape(()), a.shape[:-1])
    allowed = [a.shape[:-1] + (1,)] + ([a.shape[:-1]] if a.ndim == 2 else [])
    if values.shape not in allowed:
        raise invalid("a_zero_point", "one value or one per row of a, shaped " + " or ".join(map(str, allowed)),
                      values.shape)
    return values.reshape(a.shape[:-1])


def column_zero_points(zero_point, b: np.ndarray) -> np.ndarray:
    """INT-2.1: ``b_zero_point`` per tensor or per column, as int16 of shape ``b.shape[:-2] + (N,)``.

    Per column, ``b`` of shape ``(..., K, N)`` takes ``N`` values: shape ``b.shape[:-2] + (1, N)``
    (ONNX's form), or ``(N,)``, the same zero points for every matrix of the stack.
    """
    values = zero_point_values(zero_point, b.dtype, "b_zero_point")
    shape = b.shape[:-2] + b.shape[-1:]
    if values.size == 1:
        return np.broadcast_to(values.reshape(()), shape)
    allowed = [b.shape[:-2] + (1, b.shape[-1]), b.shape[-1:]]
    if values.shape not in allowed:
        raise invalid("b_zero_point", "one value or one per column of b, shaped " + " or ".join(map(str, allowed)),
                      values.shape)
    return np.broadcast_to(values.reshape(shape) if values.ndim == b.ndim else values, shape)


def centred_rows(a: np.ndarray, zero_points: np.ndarray) -> np.ndarray:
    """INT-2.2 on every matrix of a stack ``(..., M, K)``: int16, same shape."""
    out = np.empty(a.shape, dtype=np.int16)
    # Explicit row counts: reshape cannot infer -1 for an empty K.
    height, count = int(np.prod(a.shape[:-1])), a.shape[-1]
    centre_rows(np.ascontiguousarray(a).reshape(height, count), np.ascontiguousarray(zero_points).reshape(height),
                out.reshape(height, count))
    return out


def centred_columns(b: np.ndarray, zero_points: np.ndarray) -> np.ndarray:
    """INT-2.2 on every matrix of a stack ``(..., K, N)``: int16 of shape ``(..., N, K)``."""
    count, width = b.shape[-2:]
    out = np.empty(b.shape[:-2] + (width, count), dtype=np.int16)
    stack = int(np.prod(b.shape[:-2]))
    stacked_b = np.ascontiguousarray(b).reshape(stack, count, width)
    stacked_zero_points = np.ascontiguousarray(zero_points).reshape(stack, width)
    stacked_out = out.reshape(stack, width, count)
    for index in range(stacked_b.shape[0]):
        centre_columns_transposed(stacked_b[index], stacked_zero_points[index], stacked_out[index])
    return out


def batch_shape(a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    """INT-2.1: the leading dimensions broadcast as numpy's (and ONNX's) matmul broadcasts them."""
    try:
        return np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise invalid("b", f"batch dimensions that broadcast with a's {a.shape[:-2]}", b.shape[:-2]) from None


@dataclass(frozen=True)
class MatmulOperands:
    """INT-2.1: validated operands: the raw ``a_matrix`` ``(..., M, K)`` and ``b_matrix`` ``(..., K, N)``,
    their zero points (int16, one per row of ``a`` and one per column of ``b``), the broadcast
    ``batch`` shape, and whether a 1-D operand's dimension is dropped. The centred ``rows``
    ``(..., M, K)`` and ``columns`` ``(..., N, K)`` (int16, INT-2.2) are computed when first read:
    INT-2.7's route takes the raw codes instead."""

    a_matrix: np.ndarray
    b_matrix: np.ndarray
    a_zero_points: np.ndarray
    b_zero_points: np.ndarray
    batch: tuple[int, ...]
    a_is_vector: bool
    b_is_vector: bool

    @functools.cached_property
    def rows(self) -> np.ndarray:
        return centred_rows(self.a_matrix, self.a_zero_points)

    @functools.cached_property
    def columns(self) -> np.ndarray:
        return centred_columns(self.b_matrix, self.b_zero_points)

    @property
    def width(self) -> int:
        """$N$, the columns of ``b`` (the result's last dimension before a 1-D ``b`` drops it)."""
        return self.b_matrix.shape[-1]

    def shaped(self, result: np.ndarray) -> np.ndarray:
        """Drop the dimension a 1-D ``a`` (a row) or ``b`` (a column) was given."""
        if self.a_is_vector:
            result = result[..., 0, :]
        if self.b_is_vector:
            result = result[..., 0]
        return result


def matmul_operands(a, b, a_zero_point=None, b_zero_point=None) -> MatmulOperands:
    """INT-2.1: check the operands of ``MatMulInteger`` (INT-2.2 centres them on first use)."""
    a = integer_input(a, "a")
    b = integer_input(b, "b")
    a_matrix = a.reshape(1, -1) if a.ndim == 1 else a
    b_matrix = b.reshape(-1, 1) if b.ndim == 1 else b
    if a_matrix.shape[-1] != b_matrix.shape[-2]:
        raise invalid("b", f"{a_matrix.shape[-1]} rows (the columns of a {a.shape})", f"shape {b.shape}")
    batch = batch_shape(a_matrix, b_matrix)
    return MatmulOperands(a_matrix, b_matrix, row_zero_points(a_zero_point, a_matrix),
                          column_zero_points(b_zero_point, b_matrix), batch, a.ndim == 1, b.ndim == 1)


def matmul_integer(a, b, a_zero_point=None, b_zero_point=None, *, u8s8_products: str = "exact") -> np.ndarray:
    """INT-2.4: $Y = (A - z_A)(B - z_B)$ in int32, ONNX ``MatMulInteger``.

    ``a`` and ``b`` are int8 or uint8 arrays (each its own type) multiplied as
    ``numpy.matmul`` multiplies: the last two dimensions are the matrices, the
    leading ones broadcast, and a 1-D operand is a row (``a``) or a column (``b``)
    whose dimension is dropped from the result. ``a_zero_point`` is one value or one
    per row of ``a``; ``b_zero_point`` one value or one per column of ``b``; each has
    its input's type (None means 0). Each element is the exact sum of products
    wrapped to int32 (INT-2.3); whether a backend wraps is a per-profile question (INT-2.5).
    ``u8s8_products`` is the registry variant of INT-2.6: ``"int16_pairs"`` sums a uint8 ``a``
    times an int8 ``b`` in int16-saturating pairs.
    """
    operands = matmul_operands(a, b, a_zero_point, b_zero_point)
    return operands.shaped(accumulate(a, b, operands, u8s8_products))


def accumulate(a, b, operands: MatmulOperands, u8s8_products: str) -> np.ndarray:
    """INT-2.6: INT-2.3's int32 sums, plus the pairs' losses where the variant applies, of the raw ``a`` and ``b``
    whose validated forms are ``operands``, before the dimensions of 1-D operands are dropped. The sums come
    from INT-2.7's VNNI route where it runs, else from INT-2.3's kernel: the same values."""
    from refq.integer_ops import pairs, vnni_matmul

    if vnni_matmul.use_byte_route(operands.a_matrix.shape[-1]):
        result = byte_dot_products(operands)
    else:
        result = dot_products(operands.rows, operands.columns, operands.batch)
    a, b = np.asarray(a), np.asarray(b)
    if not pairs.saturates(u8s8_products, a, b):
        return result
    a_matrix = a.reshape(1, -1) if a.ndim == 1 else a
    b_matrix = b.reshape(-1, 1) if b.ndim == 1 else b
    return pairs.wrap_loss(result, pairs.matmul_pair_losses(a_matrix, b_matrix, operands.batch))


def dot_products(rows: np.ndarray, columns: np.ndarray, batch: tuple[int, ...]) -> np.ndarray:
    """INT-2.3 for every matrix pair of the broadcast ``batch``: rows ``(..., M, K)``, columns ``(..., N, K)``."""
    height, width = rows.shape[-2], columns.shape[-2]
    result = np.empty(batch + (height, width), dtype=np.int32)
    all_rows = np.broadcast_to(rows, batch + rows.shape[-2:])
    all_columns = np.broadcast_to(columns, batch + columns.shape[-2:])
    for index in np.ndindex(*batch):
        wrapping_dot_products(np.ascontiguousarray(all_rows[index]), np.ascontiguousarray(all_columns[index]),
                              result[index])
    return result


def byte_dot_products(operands: MatmulOperands) -> np.ndarray:
    """INT-2.7: INT-2.3's sums for every matrix pair of the broadcast batch, by the VNNI route."""
    from refq.integer_ops import vnni_matmul

    a, b = operands.a_matrix, operands.b_matrix
    batch = operands.batch
    result = np.empty(batch + (a.shape[-2], b.shape[-1]), dtype=np.int32)
    all_a = np.broadcast_to(a, batch + a.shape[-2:])
    all_b = np.broadcast_to(b, batch + b.shape[-2:])
    a_zero_points = np.broadcast_to(operands.a_zero_points, batch + a.shape[-2:-1])
    b_zero_points = np.broadcast_to(operands.b_zero_points, batch + b.shape[-1:])
    for index in np.ndindex(*batch):
        vnni_matmul.byte_product(all_a[index], all_b[index], a_zero_points[index], b_zero_points[index],
                                 result[index])
    return result


def accumulation_may_overflow(rows: np.ndarray, columns: np.ndarray) -> np.ndarray | None:
    """INT-2.5: where some order of the int32 additions leaves $[-2^{31}, 2^{31})$.

    A running sum of the products of one output element, in any order (sequential or
    as a tree), lies between the sum of its negative products and the sum of its
    positive products. The element is overflow-free exactly when both sums stay in
    int32. Returns a boolean mask over the output of :func:`dot_products` for 2-D
    ``rows`` and ``columns``, or None when no element can overflow: every product has
    magnitude at most $255^2$, so $K \\cdot 255^2 < 2^{31}$ rules overflow out.
    """
    count = rows.shape[-1]
    bound = count * int(np.abs(rows).max(initial=0)) * int(np.abs(columns).max(initial=0))
    if bound <= INT32_MAX:
        return None
    rows64, columns64 = rows.astype(np.int64), columns.astype(np.int64)
    rows_positive, rows_negative = np.maximum(rows64, 0), np.minimum(rows64, 0)
    columns_positive, columns_negative = np.maximum(columns64, 0).swapaxes(-1, -2), np.minimum(columns64, 0).swapaxes(-1, -2)
    positive = rows_positive @ columns_positive + rows_negative @ columns_negative
    negative = rows_positive @ columns_negative + rows_negative @ columns_positive
    return (positive > INT32_MAX) | (negative < INT32_MIN)


def matmul_overflow_mask(a, b, a_zero_point=None, b_zero_point=None) -> np.ndarray | None:
    """INT-2.5: :func:`accumulation_may_overflow` for the operands of :func:`matmul_integer`,
    shaped like its result; None when no element can overflow."""
    operands = matmul_operands(a, b, a_zero_point, b_zero_point)
    rows = np.broadcast_to(operands.rows, operands.batch + operands.rows.shape[-2:])
    columns = np.broadcast_to(operands.columns, operands.batch + operands.columns.shape[-2:])
    mask = accumulation_may_overflow(rows, columns)
    return None if mask is None else operands.shaped(mask)
