"""Oracle for INT-2.6 and INT-3.6: what ``VPMADDUBSW`` kernels compute, simulated with Python integers.

The kernels' own route, not refq's: raw-code products, each adjacent pair clamped to int16,
the pairs summed, then the zero-point terms removed (``- z_b sum(a) - z_a sum(b) + K z_a z_b``),
reduced modulo 2^32 at the end. No numpy, no refq.
"""

from __future__ import annotations

from tests.oracle.integer_ops import wrap_int32


def saturated_dot(first: list[int], second: list[int]) -> int:
    total = 0
    for k in range(0, len(first), 2):
        pair = first[k] * second[k] + (first[k + 1] * second[k + 1] if k + 1 < len(first) else 0)
        total += min(32767, max(-32768, pair))
    return total


def centred_dot(first: list[int], second: list[int], first_zero: int, second_zero: int) -> int:
    """sum (f - z_f)(s - z_s) from the saturated raw sum and the zero-point identity."""
    return (saturated_dot(first, second) - second_zero * sum(first) - first_zero * sum(second)
            + len(first) * first_zero * second_zero)


def matmul(a, b, a_zero_point: int, b_zero_points: list[int]):
    """uint8 ``a`` (M x K) times int8 ``b`` (K x N), the pairs along K."""
    columns = [[row[j] for row in b] for j in range(len(b[0]))]
    return [[wrap_int32(centred_dot(row, column, a_zero_point, b_zero_points[j])) for j, column in enumerate(columns)]
            for row in a]


def windows(x, n: int, channels: range, kernel: tuple[int, int], pads, strides, x_zero_point: int, channels_last: bool):
    """The windows of image ``n`` over ``channels``, the padding holding the zero point, one list per pixel."""
    height, width = len(x[0][0]), len(x[0][0][0])
    top, left, bottom, right = pads
    out_height = (height + top + bottom - kernel[0]) // strides[0] + 1
    out_width = (width + left + right - kernel[1]) // strides[1] + 1

    def value(c, y, column):
        return x[n][c][y][column] if 0 <= y < height and 0 <= column < width else x_zero_point

    result = []
    for oy in range(out_height):
        for ox in range(out_width):
            positions = [(oy * strides[0] - top + r, ox * strides[1] - left + s)
                         for r in range(kernel[0]) for s in range(kernel[1])]
            if channels_last:
                result.append([value(c, y, column) for y, column in positions for c in channels])
            else:
                result.append([value(c, y, column) for c in channels for y, column in positions])
    return result, out_height, out_width


def conv2d(x, w, x_zero_point: int, w_zero_points: list[int], *, pads=(0, 0, 0, 0), strides=(1, 1), group=1,
           channels_last: bool):
    """NCHW ``x``, ``w`` (M, C/group, kH, kW) as nested lists; ``channels_last``: INT-3.6's
    ``input_channels_last`` (depthwise exact), else ``weights_channels_first``."""
    out_channels, group_channels = len(w), len(w[0])
    kernel = (len(w[0][0]), len(w[0][0][0]))
    per_group = out_channels // group
    depthwise = group_channels == 1 and per_group == 1
    result = []
    for n in range(len(x)):
        planes = []
        for m in range(out_channels):
            g = m // per_group
            rows, out_height, out_width = windows(x, n, range(g * group_channels, (g + 1) * group_channels), kernel,
                                                  pads, strides, x_zero_point, channels_last)
            if channels_last:
                weights = [w[m][c][r][s] for r in range(kernel[0]) for s in range(kernel[1]) for c in range(group_channels)]
            else:
                weights = [w[m][c][r][s] for c in range(group_channels) for r in range(kernel[0]) for s in range(kernel[1])]
            values = []
            for row in rows:
                if channels_last and depthwise:
                    total = sum((v - x_zero_point) * (u - w_zero_points[m]) for v, u in zip(row, weights))
                elif channels_last:
                    total = centred_dot(row, weights, x_zero_point, w_zero_points[m])
                else:
                    total = centred_dot(weights, row, w_zero_points[m], x_zero_point)
                values.append(wrap_int32(total))
            planes.append([values[i * out_width:(i + 1) * out_width] for i in range(out_height)])
        result.append(planes)
    return result
