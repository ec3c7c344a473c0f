"""INT-2.6 and INT-3.6: uint8 x int8 products summed in int16-saturating pairs (variant ``u8s8_products``).

x86 CPUs without VNNI multiply unsigned by signed bytes with ``VPMADDUBSW``: it adds each
two adjacent products into one int16 lane *with saturation*, and only then do the lanes
reach an int32 sum. MLAS (ONNX Runtime) and FBGEMM (PyTorch) feed it the raw codes and
remove the zero points afterwards, exactly, as INT-3.5 does. Their result is therefore
INT-2.3's exact sum plus what the saturated pairs lost, reduced modulo $2^{32}$; this
module computes that loss and adds it. It is zero unless two adjacent products together
pass $32767$ or $-32768$, which needs codes near both ends of their ranges.
"""

from __future__ import annotations

import numpy as np

from refq._jit import kernel
from refq.registry.variants import variant_code

INT16_MIN = np.int64(-(2**15))
INT16_MAX = np.int64(2**15 - 1)

#: The kernel code of ``u8s8_products = int16_pairs`` (the registry variant).
INT16_PAIRS = variant_code("u8s8_products", "int16_pairs", "u8s8_products")


@kernel
def pair_losses(rows, columns, out):
    """INT-2.6: ``out[i, j]`` $= \\sum_p \\big(\\operatorname{sat}_{16}(s_p) - s_p\\big)$ with
    $s_p = r_{i,2p} c_{j,2p} + r_{i,2p+1} c_{j,2p+1}$, for raw uint8 ``rows`` ``(M, K)`` and raw
    int8 ``columns`` ``(N, K)`` (or uint8 columns and int8 rows: the products are the same); an odd $K$'s last product is a pair with 0. int64."""
    count = rows.shape[1]
    for i in range(rows.shape[0]):
        for j in range(columns.shape[0]):
            loss = np.int64(0)
            for k in range(0, count, 2):
                pair = np.int64(rows[i, k]) * np.int64(columns[j, k])
                if k + 1 < count:
                    pair += np.int64(rows[i, k + 1]) * np.int64(columns[j, k + 1])
                if pair > INT16_MAX:
                    loss += INT16_MAX - pair
                elif pair < INT16_MIN:
                    loss += INT16_MIN - pair
            out[i, j] = loss


def saturates(u8s8_products: str, first: np.ndarray, second: np.ndarray) -> bool:
    """INT-2.6: the variant applies to a uint8 first operand times an int8 second one; every
    other pairing of types is summed exactly (the kernels widen such bytes to int16 first)."""
    return (variant_code("u8s8_products", u8s8_products, "u8s8_products") == INT16_PAIRS
            and first.dtype == np.uint8 and second.dtype == np.int8)


def wrap_loss(result: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """The int32 ``result`` plus ``loss``, reduced modulo $2^{32}$ (NUM-1.7) as the int32 sum is."""
    return (result.astype(np.int64) + loss).astype(np.int32)


def matmul_pair_losses(a: np.ndarray, b: np.ndarray, batch: tuple[int, ...]) -> np.ndarray:
    """INT-2.6 for raw ``a`` ``(..., M, K)`` uint8 and ``b`` ``(..., K, N)`` int8 (2-D or more, the
    leading dimensions broadcasting to ``batch``): the pairs run along $K$. int64 ``batch + (M, N)``."""
    all_a = np.broadcast_to(a, batch + a.shape[-2:])
    all_b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + (a.shape[-2], b.shape[-1]), dtype=np.int64)
    for index in np.ndindex(*batch):
        pair_losses(np.ascontiguousarray(all_a[index]), np.ascontiguousarray(all_b[index].T), out[index])
    return out


#: The kernel code of ``u8s8_conv_pairs = weights_channels_first``.
WEIGHTS_FIRST = variant_code("u8s8_conv_pairs", "weights_channels_first", "u8s8_conv_pairs")


def is_depthwise(geometry) -> bool:
    """INT-3.6: one input and one output channel per group, which MLAS's QLinearConv and FBGEMM convolve
    with kernels of their own that widen the bytes to int16 and sum exactly."""
    return geometry.group_channels == 1 and geometry.group_out_channels == 1


def conv_saturates(u8s8_products: str, u8s8_conv_pairs: str, x: np.ndarray, w: np.ndarray) -> bool:
    """INT-3.6: ``input_channels_last`` pairs a uint8 input with int8 weights, ``weights_channels_first``
    uint8 weights with an int8 input."""
    if variant_code("u8s8_conv_pairs", u8s8_conv_pairs, "u8s8_conv_pairs") == WEIGHTS_FIRST:
        return saturates(u8s8_products, w, x)
    return saturates(u8s8_products, x, w)


def conv_pair_losses(x: np.ndarray, w: np.ndarray, x_zero_point: int, geometry, u8s8_conv_pairs: str) -> np.ndarray:
    """INT-3.6: the pair losses of a convolution of raw codes, int64 (N, M, H_out, W_out), the input padded
    with $z_x$. ``input_channels_last``: the pairs run along the windows of the uint8 input laid out
    channels-last — kernel row, kernel column, channel, INT-3.5's windows — times the int8 weights in the
    same order, and a depthwise convolution loses nothing. ``weights_channels_first``: they run along the
    uint8 weight rows in ONNX's order — channel, kernel row, kernel column — times INT-3.3's windows of
    the raw int8 input, depthwise convolutions included."""
    from refq.integer_ops.conv import gather_patches
    from refq.integer_ops.vnni import gather_byte_patches, padded_image

    weights_first = variant_code("u8s8_conv_pairs", u8s8_conv_pairs, "u8s8_conv_pairs") == WEIGHTS_FIRST
    pixels = geometry.out_height * geometry.out_width
    out = np.zeros((geometry.batch, geometry.out_channels, pixels), dtype=np.int64)
    if is_depthwise(geometry) and not weights_first:
        return out.reshape(geometry.batch, geometry.out_channels, geometry.out_height, geometry.out_width)
    rows = geometry.group_out_channels
    windows = np.empty((1, pixels, geometry.patch_length), dtype=x.dtype)
    if weights_first:
        top, left, bottom, right = geometry.pads
        # Padded with z_x beforehand, INT-3.3's gather (which pads with 0) reads raw codes only.
        image = np.pad(np.ascontiguousarray(x), ((0, 0), (0, 0), (top, bottom), (left, right)),
                       constant_values=x.dtype.type(x_zero_point))
        weights = np.ascontiguousarray(w).reshape(geometry.out_channels, geometry.patch_length)
    else:
        image = padded_image(np.ascontiguousarray(x), int(x_zero_point), geometry)
        weights = np.ascontiguousarray(w).transpose(0, 2, 3, 1).reshape(geometry.out_channels, geometry.patch_length)
    for n in range(geometry.batch):
        for g in range(geometry.group):
            if weights_first:
                gather_patches(image[n], g * geometry.group_channels, geometry.group_channels, *geometry.kernel,
                               *geometry.strides, *geometry.dilations, 0, 0, geometry.out_width, windows[0])
            else:
                gather_byte_patches(image[n:n + 1], g, geometry, windows)
            block = np.empty((rows, pixels), dtype=np.int64)
            pair_losses(np.ascontiguousarray(weights[g * rows:(g + 1) * rows]), windows[0], block)
            out[n, g * rows:(g + 1) * rows] = block
    return out.reshape(geometry.batch, geometry.out_channels, geometry.out_height, geometry.out_width)
