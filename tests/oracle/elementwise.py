"""Oracle for chapter ELT, element by element with integers and Fractions.

Every float32 operation ONNX Runtime performs is the exact rational result rounded to the
nearest float32, ties to even (:func:`to_float32`); a fused multiply-add is the exact
``a * b + c`` rounded once. Constants are read from their decimal text, as a C compiler
reads ``1.5e-3f``. Arrays are nested Python lists (``ndarray.tolist()``); broadcasting,
windows and concatenation are done here with plain index arithmetic. No numpy, no refq.

An overflow to infinity is ``None``. In ``QLinearAdd``, ``QLinearMul`` and the window
average an infinity can only stay infinite or become NaN, and x86's conversion turns both
into INT32_MIN, so ``None`` anywhere gives ``qmin``.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

INT32_MIN = -(2**31)
FLOAT32_SIGNIFICAND_BITS = 24
FLOAT32_SMALLEST_EXPONENT = -149  # the quantum of the subnormals
FLOAT32_LARGEST = (2 - Fraction(1, 2**23)) * 2**127


# --- float32 arithmetic -------------------------------------------------------------------------------------


def round_half_to_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    remainder = value - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def binary_exponent(magnitude: Fraction) -> int:
    """The e with 2^e <= magnitude < 2^(e+1)."""
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    return exponent


def to_float32(value: Fraction | None) -> Fraction | None:
    """``value`` rounded to float32 (ties to even); None for an overflow to infinity (or a None input)."""
    if value is None:
        return None
    if value == 0:
        return Fraction(0)
    magnitude = abs(value)
    quantum = Fraction(2) ** max(binary_exponent(magnitude) - (FLOAT32_SIGNIFICAND_BITS - 1),
                                 FLOAT32_SMALLEST_EXPONENT)
    rounded = round_half_to_even(magnitude / quantum) * quantum
    if rounded > FLOAT32_LARGEST:
        return None
    return rounded if value > 0 else -rounded


def constant(text: str) -> Fraction:
    """A C ``float`` literal: the decimal text rounded once to float32."""
    return to_float32(Fraction(text))


def multiply(a, b):
    return None if a is None or b is None else to_float32(a * b)


def divide(a, b):
    return None if a is None or b is None else to_float32(a / b)


def add(a, b):
    return None if a is None or b is None else to_float32(a + b)


def fma(a, b, c):
    """fl(a * b + c) with one rounding."""
    return None if a is None or b is None or c is None else to_float32(a * b + c)


def output_code(result: Fraction | None, qmin: int, qmax: int) -> int:
    """ELT-2.1: round half to even; infinity and values outside int32 give INT32_MIN; saturate."""
    integer = INT32_MIN if result is None else round_half_to_even(result)
    if not INT32_MIN <= integer < 2**31:
        integer = INT32_MIN
    return min(max(integer, qmin), qmax)


def quantize_linear(value: Fraction, scale: Fraction, zero_point: int, qmin: int, qmax: int) -> int:
    """ONNX Runtime's QuantizeLinear of one finite float32: fl(value / scale) clamped to
    [qmin - z, qmax - z] in float, rounded half to even, z added."""
    scaled = divide(value, scale)
    if scaled is None:  # an infinity: its sign is the value's
        return qmax if value > 0 else qmin
    low, high = qmin - zero_point, qmax - zero_point
    return min(max(round_half_to_even(scaled), low), high) + zero_point


def integer_range(signed: bool) -> tuple[int, int]:
    return (-128, 127) if signed else (0, 255)


def code_of_pattern(pattern: int, signed: bool) -> int:
    """The 8-bit code with bit pattern ``pattern`` (two's complement when signed)."""
    return pattern - 256 if signed and pattern >= 128 else pattern


# --- nested lists ---------------------------------------------------------------------------------------------


def shape_of(values) -> tuple[int, ...]:
    shape = []
    while isinstance(values, list):
        shape.append(len(values))
        values = values[0] if values else None
    return tuple(shape)


def element(values, index: tuple[int, ...]):
    for i in index:
        values = values[i]
    return values


def build(shape: tuple[int, ...], function):
    """The nested list of ``shape`` whose element at ``index`` is ``function(index)``."""
    def level(prefix):
        if len(prefix) == len(shape):
            return function(prefix)
        return [level(prefix + (i,)) for i in range(shape[len(prefix)])]
    return level(())


def flatten(values) -> list:
    return [element(values, index) for index in itertools.product(*(range(n) for n in shape_of(values)))]


# --- ELT-2: QLinearAdd and QLinearMul --------------------------------------------------------------------------


def broadcast(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    rank = max(len(first), len(second))
    a = (1,) * (rank - len(first)) + first
    b = (1,) * (rank - len(second)) + second
    for x, y in zip(a, b):
        assert x == y or 1 in (x, y), (first, second)
    return tuple(x if y == 1 else y for x, y in zip(a, b))


def source_index(index: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The element of an input of ``shape`` that broadcasts to output ``index``."""
    tail = index[len(index) - len(shape):]
    return tuple(0 if n == 1 else i for i, n in zip(tail, shape))


def first_is_span_scalar(first: tuple[int, ...], second: tuple[int, ...]) -> bool:
    """ELT-1.3: whether ONNX Runtime's broadcaster treats A as the per-span scalar (and so
    QLinearAdd swaps its operands). Only the length-1 test at the deciding axis matters."""
    if not first or not second:
        # A rank-0 input: compare at the other's last axis; a rank-0 input counts as length 1.
        return (first[-1] if first else 1) == 1
    for offset in range(1, min(len(first), len(second)) + 1):
        a, b = first[-offset], second[-offset]
        if a != 1 or b != 1 or offset == min(len(first), len(second)):
            return a == 1
    raise AssertionError("unreachable")


def add_constants(x_scale, x_zero_point, y_scale, y_zero_point, c_scale, c_zero_point):
    """ELT-2.2, ELT-2.3: (r_x, r_y, f)."""
    x_ratio, y_ratio = divide(x_scale, c_scale), divide(y_scale, c_scale)
    both = fma(x_ratio, Fraction(x_zero_point), multiply(y_ratio, Fraction(y_zero_point)))
    fixed = None if both is None else add(Fraction(c_zero_point), -both)
    return x_ratio, y_ratio, fixed


def add_element(x: int, y: int, x_ratio, y_ratio, fixed, qmin: int, qmax: int) -> int:
    """ELT-2.4: fma(x, r_x, fma(y, r_y, f)), then ELT-2.1."""
    return output_code(fma(Fraction(x), x_ratio, fma(Fraction(y), y_ratio, fixed)), qmin, qmax)


def qlinear_add(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, signed: bool):
    """ELT-2.5 on nested lists (scales as Fractions, zero points as ints)."""
    qmin, qmax = integer_range(signed)
    a_shape, b_shape = shape_of(a), shape_of(b)
    x, x_shape, x_scale, x_zero = a, a_shape, a_scale, a_zero_point
    y, y_shape, y_scale, y_zero = b, b_shape, b_scale, b_zero_point
    if first_is_span_scalar(a_shape, b_shape):
        x, x_shape, x_scale, x_zero, y, y_shape, y_scale, y_zero = y, y_shape, y_scale, y_zero, x, x_shape, x_scale, \
            x_zero
    x_ratio, y_ratio, fixed = add_constants(x_scale, x_zero, y_scale, y_zero, c_scale, c_zero_point)
    cache = {}

    def value(index):
        key = (element(x, source_index(index, x_shape)), element(y, source_index(index, y_shape)))
        if key not in cache:
            cache[key] = add_element(key[0], key[1], x_ratio, y_ratio, fixed, qmin, qmax)
        return cache[key]

    return build(broadcast(a_shape, b_shape), value)


def multiplier(a_scale: Fraction, b_scale: Fraction, c_scale: Fraction) -> Fraction | None:
    """ELT-2.6: fl(fl(s_A s_B) / s_C); the scales are float32 values given exactly."""
    return divide(multiply(a_scale, b_scale), c_scale)


def qlinear_mul_element(a: int, a_zero_point: int, b: int, b_zero_point: int, ratio: Fraction | None,
                        c_zero_point: int, qmin: int, qmax: int) -> int:
    product = (a - a_zero_point) * (b - b_zero_point)
    return output_code(add(multiply(Fraction(product), ratio), Fraction(c_zero_point)), qmin, qmax)


def qlinear_mul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, signed: bool):
    """ELT-2.7 on nested lists."""
    qmin, qmax = integer_range(signed)
    a_shape, b_shape = shape_of(a), shape_of(b)
    ratio = multiplier(a_scale, b_scale, c_scale)
    return build(broadcast(a_shape, b_shape), lambda index: qlinear_mul_element(
        element(a, source_index(index, a_shape)), a_zero_point, element(b, source_index(index, b_shape)),
        b_zero_point, ratio, c_zero_point, qmin, qmax))


# --- ELT-3: tables -----------------------------------------------------------------------------------------------

# MLAS's (Eigen's) logistic coefficients, alpha_9 ... alpha_1 and beta_10 ... beta_0, as in the C source.
LOGISTIC_NUMERATOR = tuple(constant(text) for text in (
    "4.37031012579801e-11", "1.15627324459942e-07", "6.08574864600143e-05", "8.51377133304701e-03",
    "2.48287947061529e-01"))
LOGISTIC_DENOMINATOR = tuple(constant(text) for text in (
    "6.10247389755681e-13", "5.76102136993427e-09", "6.29106785017040e-06", "1.70198817374094e-03",
    "1.16817656904453e-01", "9.93151921023180e-01"))
# MLAS's (Eigen's) tanh coefficients, alpha_13 ... alpha_1 and beta_6 ... beta_0.
TANH_NUMERATOR = tuple(constant(text) for text in (
    "-2.76076847742355e-16", "2.00018790482477e-13", "-8.60467152213735e-11", "5.12229709037114e-08",
    "1.48572235717979e-05", "6.37261928875436e-04", "4.89352455891786e-03"))
TANH_DENOMINATOR = tuple(constant(text) for text in (
    "1.19825839466702e-06", "1.18534705686654e-04", "2.26843463243900e-03", "4.89352518554385e-03"))


def horner(square: Fraction, coefficients: tuple[Fraction, ...]) -> Fraction:
    """c_0 u^k + ... + c_k, one fused multiply-add per step."""
    total = coefficients[0]
    for coefficient in coefficients[1:]:
        total = fma(square, total, coefficient)
    return total


def rational(x: Fraction, bound: int, numerator: tuple, denominator: tuple) -> Fraction:
    """fl(fl(v P(v^2)) / Q(v^2)) with v = x clamped to [-bound, bound]."""
    value = min(max(x, Fraction(-bound)), Fraction(bound))
    square = multiply(value, value)
    return divide(multiply(value, horner(square, numerator)), horner(square, denominator))


def logistic(x: Fraction) -> Fraction:
    """ELT-3.3: max(fl(p / q + 1/2), 0) of the degree 9 / 10 rational function on [-18, 18]."""
    return max(add(rational(x, 18, LOGISTIC_NUMERATOR, LOGISTIC_DENOMINATOR), Fraction(1, 2)), Fraction(0))


def tanh(x: Fraction) -> Fraction:
    """ELT-3.7: fl(p / q) of the degree 13 / 6 rational function on [-9, 9], no clamp after."""
    return rational(x, 9, TANH_NUMERATOR, TANH_DENOMINATOR)


def leaky_relu(alpha: Fraction):
    """ELT-3.4: x for x >= 0, fl(alpha x) otherwise (alpha a float32)."""
    return lambda x: x if x >= 0 else multiply(alpha, x)


def identity(x: Fraction) -> Fraction:
    return x


def table(function, x_scale: Fraction, x_zero_point: int, y_scale: Fraction, y_zero_point: int,
          signed: bool) -> list[int]:
    """ELT-3.1, ELT-3.2: entry p is Q_Y(g(fl(s_X (q_p - z_X)))) for the code q_p of bit pattern p."""
    qmin, qmax = integer_range(signed)
    entries = []
    for pattern in range(256):
        dequantized = multiply(x_scale, Fraction(code_of_pattern(pattern, signed) - x_zero_point))
        entries.append(quantize_linear(function(dequantized), y_scale, y_zero_point, qmin, qmax))
    return entries


def look_up(values, entries: list[int], signed: bool):
    """ELT-3.5 on a nested list of codes."""
    shape = shape_of(values)
    return build(shape, lambda index: entries[element(values, index) % 256])


# --- ELT-4 and ELT-6: pooling ------------------------------------------------------------------------------------


def channels_first(values, channels_last: bool):
    """(N, D..., C) as (N, C, D...) when ``channels_last``."""
    if not channels_last:
        return values
    shape = shape_of(values)
    moved = (shape[0], shape[-1]) + shape[1:-1]
    return build(moved, lambda index: element(values, (index[0],) + index[2:] + (index[1],)))


def channels_back(values, channels_last: bool):
    if not channels_last:
        return values
    shape = shape_of(values)
    moved = (shape[0],) + shape[2:] + (shape[1],)
    return build(moved, lambda index: element(values, (index[0], index[-1]) + index[1:-1]))


def global_average_pool(x, x_scale, x_zero_point, y_scale, y_zero_point, signed: bool, channels_last: bool = False):
    """ELT-4.1 to 4.3: a = sum q - n z_x (exact), v = fl(fl(a) m), m = fl(s_x / fl(s_y n)),
    v clamped to [qmin - z_y, qmax - z_y], rounded half to even, z_y added."""
    qmin, qmax = integer_range(signed)
    nchw = channels_first(x, channels_last)
    shape = shape_of(nchw)
    size = math.prod(shape[2:])
    ratio = divide(x_scale, multiply(y_scale, Fraction(size)))

    def average(index):
        channel = element(nchw, index[:2])
        total = sum(flatten(channel)) - size * x_zero_point
        scaled = multiply(to_float32(Fraction(total)), ratio)
        low, high = qmin - y_zero_point, qmax - y_zero_point
        return min(max(round_half_to_even(scaled), low), high) + y_zero_point

    return channels_back(build(shape[:2] + (1,) * (len(shape) - 2), average), channels_last)


def output_length(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int,
                  ceil_mode: bool) -> int:
    """ELT-6.1 with integer division: C truncates toward zero; ceil mode rounds up and drops a
    last window that would start in the end padding."""
    span = size + pad_begin + pad_end - dilation * (kernel - 1) - 1
    if ceil_mode:
        count = -((-span) // stride) + 1
        if (count - 1) * stride >= size + pad_begin:
            count -= 1
    else:
        count = (abs(span) // stride) * (1 if span >= 0 else -1) + 1
    assert count >= 0
    return count


def window_positions(output: tuple[int, ...], spatial: tuple[int, ...], kernel, strides, pads_begin, dilations):
    """The input positions of one window that lie inside the input, row-major."""
    axes = [[o * s - p + j * d for j in range(k) if 0 <= o * s - p + j * d < n]
            for o, n, k, s, p, d in zip(output, spatial, kernel, strides, pads_begin, dilations)]
    return list(itertools.product(*axes))


def pool(x, function, kernel, strides, pads, dilations, ceil_mode):
    """Apply ``function(channel, positions, output_index)`` at every output of every (n, c)."""
    shape = shape_of(x)
    spatial = shape[2:]
    rank = len(spatial)
    strides = strides or [1] * rank
    dilations = dilations or [1] * rank
    pads = pads or [0] * (2 * rank)
    outputs = tuple(output_length(spatial[a], kernel[a], strides[a], pads[a], pads[rank + a], dilations[a],
                                  bool(ceil_mode)) for a in range(rank))

    def value(index):
        channel = element(x, index[:2])
        positions = window_positions(index[2:], spatial, kernel, strides, pads[:rank], dilations)
        return function(channel, positions, index[2:])

    return build(shape[:2] + outputs, value)


def max_pool(x, signed: bool, *, kernel_shape, strides=None, pads=None, dilations=None, ceil_mode=0):
    """ELT-6.2, ELT-6.3: the largest code among the window's positions inside the input."""
    lowest = integer_range(signed)[0]
    return pool(x, lambda channel, positions, _: max([element(channel, p) for p in positions], default=lowest),
                kernel_shape, strides, pads, dilations, ceil_mode)


def average_pool(x, x_scale, x_zero_point, y_scale, y_zero_point, signed: bool, *, kernel_shape, strides=None,
                 pads=None, ceil_mode=0, count_include_pad=0, channels_last=0):
    """ELT-6.4 to 6.6: a whole-input window without padding is the global average (ELT-4); any
    other sums fl(s_x (q - z_x)) in float32 from 0 in row-major order, divides by the count in
    float32, then fl(fl(a / s_y) + z_y) becomes a code by ELT-2.1."""
    qmin, qmax = integer_range(signed)
    nchw = channels_first(x, channels_last)
    spatial = shape_of(nchw)[2:]
    if tuple(kernel_shape) == spatial and not any(pads or []):
        return global_average_pool(x, x_scale, x_zero_point, y_scale, y_zero_point, signed, bool(channels_last))

    def average(channel, positions, _):
        total = Fraction(0)
        for position in positions:
            total = add(total, multiply(x_scale, Fraction(element(channel, position) - x_zero_point)))
        count = math.prod(kernel_shape) if count_include_pad else len(positions)
        mean = divide(total, Fraction(count))
        return output_code(add(divide(mean, y_scale), Fraction(y_zero_point)), qmin, qmax)

    result = pool(nchw, average, kernel_shape, strides, pads, None, ceil_mode)
    return channels_back(result, bool(channels_last))


# --- ELT-7: concatenation ---------------------------------------------------------------------------------------


def concatenate(parts: list, axis: int):
    if axis == 0:
        return [item for part in parts for item in part]
    return [concatenate([part[i] for part in parts], axis - 1) for i in range(len(parts[0]))]


def qlinear_concat(y_scale: Fraction, y_zero_point: int, inputs, axis: int, signed: bool):
    """ELT-7: every input through the identity table Q_Y(fl(s_X (q - z_X))) (which maps each code to
    itself when the scales and zero points agree, so the copy needs no case of its own), then
    joined along ``axis``."""
    parts = [look_up(values, table(identity, scale, zero_point, y_scale, y_zero_point, signed), signed)
             for values, scale, zero_point in inputs]
    rank = len(shape_of(parts[0]))
    return concatenate(parts, axis % rank)


# --- ELT-6.7 to 6.10: automatic padding and the integer average rules (other profiles) ----------------------------


def automatic_pads(size: int, kernel: int, stride: int, auto_pad: str) -> tuple[int, int]:
    """ELT-6.7: VALID pads nothing; SAME_* pad t = (ceil(n / s) - 1) s + k - n positions (k undilated),
    the odd one at the end (UPPER) or the start (LOWER); a negative t splits with C's truncation."""
    if auto_pad in ("NOTSET", "VALID"):
        return 0, 0
    total = (-(-size // stride) - 1) * stride + kernel - size
    halve = total if auto_pad == "SAME_UPPER" else total + 1
    begin = abs(halve) // 2 * (1 if halve >= 0 else -1)
    return begin, total - begin


def resolved_pads(x, kernel_shape, strides, pads, auto_pad: str):
    """The pads a pooling call uses: the given ones, or ELT-6.7's for every spatial axis."""
    spatial = shape_of(x)[2:]
    if auto_pad == "NOTSET":
        return pads
    strides = strides or [1] * len(spatial)
    automatic = [automatic_pads(n, k, s, auto_pad) for n, k, s in zip(spatial, kernel_shape, strides)]
    return [begin for begin, _ in automatic] + [end for _, end in automatic]


def rounded_quotient_away(total: int, count: int) -> int:
    """ELT-6.9: total / count to nearest, ties away from zero."""
    magnitude = (2 * abs(total) + count) // (2 * count)
    return magnitude if total >= 0 else -magnitude


def tosa_average(total: int, count: int) -> int:
    """ELT-6.10: total * M rounded by a single right shift, M and the shift from TOSA's reciprocal_scale."""
    bits = (count - 1).bit_length()
    multiplier = ((2**30 + 1) * 2**bits) // count
    shift = 30 + bits
    return (total * multiplier + 2 ** (shift - 1)) >> shift


def integer_average_pool(x, x_zero_point: int, y_zero_point: int, signed: bool, rule: str, *, kernel_shape,
                         strides=None, pads=None, ceil_mode=0, channels_last=0):
    """ELT-6.8 to 6.10: exact window sums over the positions inside the input, divided by their
    count with ``rule``; TensorFlow Lite's rule sums the raw codes and adds no zero point."""
    qmin, qmax = integer_range(signed)
    nchw = channels_first(x, channels_last)
    input_zero, output_zero = (0, 0) if rule == "rounded_integer_division" else (x_zero_point, y_zero_point)
    divide_rule = rounded_quotient_away if rule == "rounded_integer_division" else tosa_average

    def average(channel, positions, _):
        total = sum(element(channel, position) - input_zero for position in positions)
        return min(max(divide_rule(total, len(positions)) + output_zero, qmin), qmax)

    return channels_back(pool(nchw, average, kernel_shape, strides, pads, None, ceil_mode), bool(channels_last))


def tosa_table(value: int, table: list[int]) -> int | None:
    """ELT-8.1 to ELT-8.3: TOSA TABLE of one code; None where the int16 form's slope leaves int16. The int16 result
    is written as the weighted sum T_i (128 - f) + T_{i+1} f, which equals 128 T_i + (T_{i+1} - T_i) f."""
    if len(table) == 256:
        return table[value + 128]
    index, fraction = divmod(value + 32768, 128)
    if not -32768 <= table[index + 1] - table[index] <= 32767:
        return None
    return table[index] * (128 - fraction) + table[index + 1] * fraction
