"""Oracle for chapter INT: integer matmul and convolution with plain Python integers.

Each output element is the exact sum of (value - zero point) products over nested
lists, reduced modulo 2^32 into [-2^31, 2^31) at the end. No numpy, no refq.
"""

from __future__ import annotations


def wrap_int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def matmul(a: list[list[int]], b: list[list[int]], a_zero_points: list[int], b_zero_points: list[int]) -> list[list[int]]:
    """``a`` is M x K with one zero point per row, ``b`` K x N with one per column."""
    rows, inner, columns = len(a), len(b), len(b[0]) if b else 0
    return [[wrap_int32(sum((a[i][k] - a_zero_points[i]) * (b[k][j] - b_zero_points[j]) for k in range(inner)))
             for j in range(columns)] for i in range(rows)]


def conv2d(x, w, x_zero_point: int, w_zero_points: list[int], *, pads=(0, 0, 0, 0), strides=(1, 1),
           dilations=(1, 1), group: int = 1, bias=None):
    """NCHW ``x`` (nested lists), ``w`` (M, C/group, kH, kW); positions outside the input add nothing."""
    batch, channels, height, width = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    out_channels, group_channels, kernel_height, kernel_width = len(w), len(w[0]), len(w[0][0]), len(w[0][0][0])
    top, left, bottom, right = pads
    out_height = (height + top + bottom - dilations[0] * (kernel_height - 1) - 1) // strides[0] + 1
    out_width = (width + left + right - dilations[1] * (kernel_width - 1) - 1) // strides[1] + 1
    per_group = out_channels // group
    result = []
    for n in range(batch):
        planes = []
        for m in range(out_channels):
            first = (m // per_group) * group_channels
            plane = []
            for oy in range(out_height):
                row = []
                for ox in range(out_width):
                    total = 0 if bias is None else bias[m]
                    for c in range(group_channels):
                        for r in range(kernel_height):
                            y = oy * strides[0] - top + r * dilations[0]
                            for s in range(kernel_width):
                                column = ox * strides[1] - left + s * dilations[1]
                                if 0 <= y < height and 0 <= column < width:
                                    total += ((x[n][first + c][y][column] - x_zero_point)
                                              * (w[m][c][r][s] - w_zero_points[m]))
                    row.append(wrap_int32(total))
                plane.append(row)
            planes.append(plane)
        result.append(planes)
    return result
