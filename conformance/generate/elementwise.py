"""Cases for chapter ELT, ONNX Runtime's com.microsoft operators and MaxPool on 8-bit input:
``qlinear_add``, ``qlinear_mul``, ``qlinear_sigmoid``, ``qlinear_leaky_relu``,
``qlinear_global_average_pool``, ``max_pool``, ``qlinear_average_pool``, ``qlinear_concat``.

Their definition is ONNX Runtime's, so every case runs under the ``onnxruntime`` profile only.
``qlinear_concat``'s ``inputs`` argument is a list of (X, scale, zero point) triples: a sequence
input, which a descriptor stores as a list of tuples of array references.

Level 1 holds one small case for each of five operations (the checked-in level's size budget
is nearly spent); level 2 holds both input types, broadcasting, saturation, every 8-bit code
through the lookup tables, both pooling layouts and the window attributes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec
from refq.registry.operations import OPERATIONS
from refq.registry.variants import VARIANTS_BY_NAME

#: The com.microsoft operators are ONNX Runtime's own: one profile.
PROFILES = ("onnxruntime",)
#: QLinearAdd and QLinearMul are TOSA's ADD and MUL between RESCALEs too (binary_arithmetic = tosa_rescale).
BINARY_PROFILES = ("onnxruntime", "tosa")
TYPES = (np.uint8, np.int8)


def random_values(rng: np.random.Generator, dtype, shape) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def every_code(dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.arange(info.min, info.max + 1).astype(dtype)


def short(dtype) -> str:
    return "u8" if np.dtype(dtype) == np.uint8 else "s8"


def case(op: str, name: str, inputs: dict, *, attributes: dict | None = None, clauses=(), description: str,
         generator: str, seed: int = 0, profiles: tuple[str, ...] = PROFILES) -> CaseSpec:
    return CaseSpec(op=op, name=name, inputs={key: np.array(value, order="C") for key, value in inputs.items()},
                    attributes=attributes or {}, clauses=tuple(clauses), description=description,
                    generator=f"elementwise.{generator}", seed=seed, profiles=profiles)


def binary_inputs(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point) -> dict:
    dtype = a.dtype.type
    return {"A": a, "A_scale": np.float32(a_scale), "A_zero_point": dtype(a_zero_point), "B": b,
            "B_scale": np.float32(b_scale), "B_zero_point": dtype(b_zero_point), "C_scale": np.float32(c_scale),
            "C_zero_point": dtype(c_zero_point)}


def unary_inputs(x, x_scale, x_zero_point, y_scale, y_zero_point, *, names=("X", "X_scale", "X_zero_point",
                                                                            "Y_scale", "Y_zero_point")) -> dict:
    dtype = x.dtype.type
    return dict(zip(names, (x, np.float32(x_scale), dtype(x_zero_point), np.float32(y_scale), dtype(y_zero_point))))


POOL_NAMES = ("X", "x_scale", "x_zero_point", "y_scale", "y_zero_point")


# --- qlinear_add and qlinear_mul ----------------------------------------------------------------------------


def binary_cases(op: str, seed: int) -> Iterator[CaseSpec]:
    """Every case also under ``tosa``: TOSA's integer sum and product (ELT-2.8, ELT-2.9, binary_arithmetic)."""
    rng = np.random.default_rng(seed)
    # Level 1: one small same-shape case, and a small int8 one under tosa.
    yield case(op, "small-u8", binary_inputs(random_values(rng, np.uint8, (3, 5)), 0.05, 128,
                                             random_values(rng, np.uint8, (3, 5)), 0.07, 120, 0.11, 125),
               description="uint8, two 3 x 5 operands of the same shape", generator=f"{op}_small", seed=seed,
               profiles=BINARY_PROFILES)
    yield case(op, "small-s8-tosa", binary_inputs(np.array([[-128, -77, -1, 0, 1, 42, 126, 127]], np.int8), 0.0312,
                                                  -3, np.array([[127, 100, -128, 5, -9, 64, -100, 0]], np.int8),
                                                  0.0187, 7, 0.0433 if op == "qlinear_add" else 0.9, -2),
               description="int8, two 1 x 8 operands including the range ends: TOSA's integer graph",
               generator=f"{op}_small", seed=0, profiles=("tosa",))
    for dtype in TYPES:
        info = np.iinfo(dtype)
        yield case(op, f"random-{short(dtype)}",
                   binary_inputs(random_values(rng, dtype, (4, 7, 9)), 0.0312, random_values(rng, dtype, ()),
                                 random_values(rng, dtype, (4, 7, 9)), 0.0187, random_values(rng, dtype, ()),
                                 0.0433 if op == "qlinear_add" else 0.9, random_values(rng, dtype, ())),
                   description=f"{dtype.__name__}, random 4 x 7 x 9 operands and zero points",
                   generator=f"{op}_random", seed=seed, profiles=BINARY_PROFILES)
        for name, a_shape, b_shape in (("scalar-b", (5, 6), ()), ("scalar-a", (), (5, 6)),
                                       ("row-b", (4, 6), (6,)), ("column-a", (4, 1), (4, 6)),
                                       ("both-broadcast", (3, 1, 5), (1, 4, 1))):
            yield case(op, f"broadcast-{name}-{short(dtype)}",
                       binary_inputs(random_values(rng, dtype, a_shape), 0.021, random_values(rng, dtype, ()),
                                     random_values(rng, dtype, b_shape), 0.034, random_values(rng, dtype, ()),
                                     0.047 if op == "qlinear_add" else 0.6, random_values(rng, dtype, ())),
                       description=f"{dtype.__name__}, A of shape {a_shape} and B of shape {b_shape} broadcast",
                       generator=f"{op}_broadcast", seed=seed, profiles=BINARY_PROFILES)
        # Every pair of codes, a small output scale: most results saturate at one end or the other.
        codes = every_code(dtype)
        yield case(op, f"every-pair-saturating-{short(dtype)}",
                   binary_inputs(codes.reshape(256, 1), 0.1, info.max if dtype == np.int8 else 0,
                                 codes.reshape(1, 256), 0.13, info.min, 0.02, (int(info.min) + int(info.max)) // 2),
                   description=f"{dtype.__name__}, every pair of codes (256 x 256 by broadcasting), zero points at the "
                               f"range ends, output scale 0.02: results saturate at both ends",
                   generator=f"{op}_every_pair", seed=0, profiles=BINARY_PROFILES)


# --- qlinear_sigmoid and qlinear_leaky_relu -----------------------------------------------------------------


def lookup_cases(op: str, seed: int, attributes_list=({},)) -> Iterator[CaseSpec]:
    rng = np.random.default_rng(seed)
    if op == "qlinear_sigmoid":
        yield case(op, "small-u8", unary_inputs(np.array([[0, 17, 64, 127], [128, 129, 200, 255]], np.uint8),
                                                0.05, 128, 1 / 256, 0),
                   description="uint8, eight codes, the usual sigmoid output parameters (1/256, 0)",
                   generator=f"{op}_small", seed=0)
    if op == "qlinear_tanh":
        yield case(op, "small-s8", unary_inputs(np.array([[-128, -90, -1, 0], [1, 37, 90, 127]], np.int8),
                                                0.07, 0, 1 / 128, 0),
                   description="int8, eight codes, the usual tanh output parameters (1/128, 0)",
                   generator=f"{op}_small", seed=0)
    for attributes in attributes_list:
        suffix = "" if not attributes else f"-alpha-{attributes['alpha']}"
        for dtype in TYPES:
            for x_scale, y_scale in ((0.0625, 1 / 256), (0.213, 0.0171)):
                yield case(op, f"every-code-{short(dtype)}-scale-{x_scale}{suffix}",
                           unary_inputs(every_code(dtype).reshape(16, 16), x_scale, random_values(rng, dtype, ()),
                                        y_scale, random_values(rng, dtype, ())),
                           attributes=attributes,
                           description=f"{dtype.__name__}, all 256 codes through the table, input scale {x_scale}, "
                                       f"output scale {y_scale:.6g}", generator=f"{op}_every_code", seed=seed)


# --- qlinear_global_average_pool ----------------------------------------------------------------------------


def global_average_pool_cases() -> Iterator[CaseSpec]:
    op = "qlinear_global_average_pool"
    rng = np.random.default_rng(7)
    yield case(op, "small-u8", unary_inputs(random_values(rng, np.uint8, (1, 3, 4, 4)), 0.04, 120, 0.05, 118,
                                            names=POOL_NAMES),
               attributes={"channels_last": 0}, description="uint8 NCHW 1 x 3 x 4 x 4",
               generator="global_average_pool_small", seed=7)
    for dtype in TYPES:
        for channels_last, shape in ((0, (2, 8, 7, 9)), (1, (2, 7, 9, 8)), (0, (1, 5, 33)), (1, (1, 3, 4, 5, 6))):
            layout = "nhwc" if channels_last else "nchw"
            yield case(op, f"random-{short(dtype)}-{layout}-rank-{len(shape)}",
                       unary_inputs(random_values(rng, dtype, shape), 0.0371, random_values(rng, dtype, ()), 0.0293,
                                    random_values(rng, dtype, ()), names=POOL_NAMES),
                       attributes={"channels_last": channels_last},
                       description=f"{dtype.__name__}, shape {shape}, channels_last={channels_last}",
                       generator="global_average_pool_random", seed=7)
        info = np.iinfo(dtype)
        yield case(op, f"saturation-{short(dtype)}",
                   unary_inputs(np.where(rng.random((1, 4, 6, 6)) < 0.5, info.min, info.max).astype(dtype), 0.5,
                                (int(info.min) + int(info.max)) // 2, 0.01, 0, names=POOL_NAMES),
                   attributes={"channels_last": 0},
                   description=f"{dtype.__name__}, range-end inputs, output scale 50 times smaller: averages saturate",
                   generator="global_average_pool_saturation", seed=7)


# --- max_pool and qlinear_average_pool ----------------------------------------------------------------------

WINDOW_SETTINGS = (
    # name, x shape, attributes common to both pools, description
    ("2x2-stride-2", (1, 3, 6, 6), {"kernel_shape": [2, 2], "strides": [2, 2]}, "2 x 2 windows, stride 2"),
    ("3x3-pads", (1, 2, 7, 6), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, "3 x 3 windows, padding 1"),
    ("ceil-mode", (2, 2, 7, 8), {"kernel_shape": [3, 2], "strides": [2, 3], "ceil_mode": 1},
     "3 x 2 windows, strides (2, 3), ceil_mode 1: the last windows overhang"),
    ("asymmetric-pads", (1, 2, 5, 7), {"kernel_shape": [2, 3], "strides": [2, 2], "pads": [0, 1, 1, 2]},
     "2 x 3 windows, stride 2, pads (top, left, bottom, right) = (0, 1, 1, 2)"),
    ("1d", (1, 3, 11), {"kernel_shape": [4], "strides": [3], "pads": [2, 1]}, "1-D windows of 4, stride 3"),
)


# auto_pad (ELT-6.7): the SAME split with an odd total, dilation, ceil_mode, and a kernel shorter than the
# stride, whose negative SAME total moves the windows (level 2 only).
AUTO_PAD_SETTINGS = (
    ("same-upper", (1, 2, 8, 7), {"auto_pad": "SAME_UPPER", "kernel_shape": [3, 2], "strides": [2, 2]},
     "SAME_UPPER, 3 x 2 windows, stride 2: the odd padding at the end"),
    ("same-lower", (1, 2, 8, 7), {"auto_pad": "SAME_LOWER", "kernel_shape": [3, 2], "strides": [2, 2]},
     "SAME_LOWER, 3 x 2 windows, stride 2: the odd padding at the start"),
    ("same-upper-ceil-mode", (1, 2, 9, 6), {"auto_pad": "SAME_UPPER", "kernel_shape": [4, 3], "strides": [3, 2],
                                            "ceil_mode": 1},
     "SAME_UPPER, 4 x 3 windows, strides (3, 2), ceil_mode 1"),
    ("same-negative-pads", (1, 2, 7, 9), {"auto_pad": "SAME_UPPER", "kernel_shape": [1, 2], "strides": [4, 3]},
     "SAME_UPPER, kernel shorter than the stride: negative pads shift the windows right"),
    ("same-lower-1d", (1, 3, 10), {"auto_pad": "SAME_LOWER", "kernel_shape": [2], "strides": [4]},
     "SAME_LOWER, 1-D windows of 2, stride 4: a negative end pad"),
    ("valid", (1, 2, 7, 8), {"auto_pad": "VALID", "kernel_shape": [3, 3], "strides": [2, 3]},
     "VALID, 3 x 3 windows, strides (2, 3)"),
)


def max_pool_attributes(**given) -> dict:
    attributes = {"auto_pad": "NOTSET", "ceil_mode": 0, "dilations": None, "kernel_shape": None, "pads": None,
                  "storage_order": 0, "strides": None}
    attributes.update(given)
    return attributes


def average_pool_attributes(**given) -> dict:
    attributes = {"auto_pad": "NOTSET", "ceil_mode": 0, "channels_last": 0, "count_include_pad": 0,
                  "kernel_shape": None, "pads": None, "strides": None}
    attributes.update(given)
    return attributes


def max_pool_setting_cases(rng, dtype, settings, generator: str, seed: int) -> Iterator[CaseSpec]:
    """One max-pool case of ``dtype`` per window setting."""
    for name, shape, attributes, description in settings:
        yield case("max_pool", f"{name}-{short(dtype)}", {"X": random_values(rng, dtype, shape)},
                   attributes=max_pool_attributes(**attributes), description=f"{dtype.__name__}, {description}",
                   generator=generator, seed=seed)


def average_pool_inputs(rng, dtype, shape) -> dict:
    return unary_inputs(random_values(rng, dtype, shape), 0.0417, random_values(rng, dtype, ()), 0.0389,
                        random_values(rng, dtype, ()), names=POOL_NAMES)


def average_pool_setting_cases(rng, dtype, settings, generator: str, seed: int) -> Iterator[CaseSpec]:
    """Two average-pool cases of ``dtype`` per window setting: count_include_pad 0 and 1."""
    for name, shape, attributes, description in settings:
        for count_include_pad in (0, 1):
            yield case("qlinear_average_pool", f"{name}-count-include-pad-{count_include_pad}-{short(dtype)}",
                       average_pool_inputs(rng, dtype, shape),
                       attributes=average_pool_attributes(count_include_pad=count_include_pad, **attributes),
                       description=f"{dtype.__name__}, {description}, count_include_pad={count_include_pad}",
                       generator=generator, seed=seed)


def max_pool_cases() -> Iterator[CaseSpec]:
    op = "max_pool"
    rng = np.random.default_rng(8)
    for dtype in TYPES:
        yield from max_pool_setting_cases(rng, dtype, WINDOW_SETTINGS, "max_pool_windows", 8)
        yield case(op, f"dilations-{short(dtype)}", {"X": random_values(rng, dtype, (1, 2, 8, 8))},
                   attributes=max_pool_attributes(kernel_shape=[2, 2], dilations=[2, 3], pads=[1, 0, 0, 1]),
                   description=f"{dtype.__name__}, 2 x 2 windows dilated (2, 3), padding never wins the maximum",
                   generator="max_pool_windows", seed=8)
    yield from max_pool_auto_pad_cases()


def max_pool_auto_pad_cases() -> Iterator[CaseSpec]:
    op = "max_pool"
    rng = np.random.default_rng(80)
    for dtype in TYPES:
        yield from max_pool_setting_cases(rng, dtype, AUTO_PAD_SETTINGS, "max_pool_auto_pad", 80)
        yield case(op, f"same-upper-dilations-{short(dtype)}", {"X": random_values(rng, dtype, (1, 2, 9, 8))},
                   attributes=max_pool_attributes(auto_pad="SAME_UPPER", kernel_shape=[3, 2], dilations=[2, 3],
                                                  strides=[2, 1]),
                   description=f"{dtype.__name__}, SAME_UPPER with dilations (2, 3): the padding ignores the "
                               "dilation, so fewer than ceil(n / s) outputs",
                   generator="max_pool_auto_pad", seed=80)


def average_pool_cases() -> Iterator[CaseSpec]:
    op = "qlinear_average_pool"
    rng = np.random.default_rng(9)
    for dtype in TYPES:
        yield from average_pool_setting_cases(rng, dtype, WINDOW_SETTINGS, "average_pool_windows", 9)
        yield case(op, f"channels-last-{short(dtype)}", average_pool_inputs(rng, dtype, (1, 6, 5, 3)),
                   attributes=average_pool_attributes(channels_last=1, kernel_shape=[3, 2], pads=[1, 0, 1, 1]),
                   description=f"{dtype.__name__}, NHWC 1 x 6 x 5 x 3, 3 x 2 windows, padding",
                   generator="average_pool_windows", seed=9)
    yield from average_pool_auto_pad_cases()


def average_pool_auto_pad_cases() -> Iterator[CaseSpec]:
    op = "qlinear_average_pool"
    rng = np.random.default_rng(90)
    for dtype in TYPES:
        yield from average_pool_setting_cases(rng, dtype, AUTO_PAD_SETTINGS, "average_pool_auto_pad", 90)
        yield case(op, f"same-lower-channels-last-{short(dtype)}", average_pool_inputs(rng, dtype, (1, 7, 6, 3)),
                   attributes=average_pool_attributes(channels_last=1, auto_pad="SAME_LOWER", kernel_shape=[2, 3],
                                                      strides=[2, 2]),
                   description=f"{dtype.__name__}, NHWC 1 x 7 x 6 x 3, SAME_LOWER, 2 x 3 windows, stride 2",
                   generator="average_pool_auto_pad", seed=90)


# --- qlinear_concat: a sequence input, one (X, X_scale, X_zero_point) triple per concatenated tensor --------


def concat_case(name: str, y_scale, y_zero_point, parts, axis: int, *, description: str, generator: str,
                seed: int, outcome: str = "valid") -> CaseSpec:
    """A ``qlinear_concat`` case; ``parts`` are the ``(X, X_scale, X_zero_point)`` triples, stored as the
    descriptor's list-valued ``inputs`` input."""
    triples = [(np.array(values, order="C"), np.array(np.float32(scale)), np.array(zero_point))
               for values, scale, zero_point in parts]
    return CaseSpec(op="qlinear_concat", name=name,
                    inputs={"Y_scale": np.array(np.float32(y_scale)), "Y_zero_point": np.array(y_zero_point),
                            "inputs": triples},
                    attributes={"axis": axis}, clauses=(), description=description,
                    generator=f"elementwise.{generator}", seed=seed, profiles=PROFILES, outcome=outcome)


def concat_cases() -> Iterator[CaseSpec]:
    rng = np.random.default_rng(14)
    # Level 1: the copy path (scale bits and zero point equal to the output's), the table path, and a
    # zero point shift alone (same scale: still the table), along a negative axis.
    yield concat_case("small-s8-axis-minus-1", 0.05, np.int8(-3),
                      [(random_values(rng, np.int8, (2, 3)), 0.05, np.int8(-3)),
                       (random_values(rng, np.int8, (2, 1)), 0.0731, np.int8(10)),
                       (random_values(rng, np.int8, (2, 4)), 0.05, np.int8(5))], -1,
                      description="int8, three 2 x n inputs along axis -1: the first copied (its scale and zero "
                                  "point are the output's), the second through the table, the third only shifted",
                      generator="qlinear_concat_small", seed=14)
    for dtype in TYPES:
        info = np.iinfo(dtype)

        def zero_point():
            return dtype(random_values(rng, dtype, ()))

        yield concat_case(f"random-{short(dtype)}-axis-0", 0.0419, zero_point(),
                          [(random_values(rng, dtype, (rows, 3, 5)), scale, zero_point())
                           for rows, scale in ((2, 0.0287), (1, 0.0613), (3, 0.0419))], 0,
                          description=f"{dtype.__name__}, three rank-3 inputs along axis 0, random zero points",
                          generator="qlinear_concat_random", seed=14)
        yield concat_case(f"channels-{short(dtype)}-four-inputs-one-empty", 0.0352, zero_point(),
                          [(random_values(rng, dtype, (2, channels, 3, 3)), scale, zero_point())
                           for channels, scale in ((3, 0.0211), (0, 0.5), (2, 0.0352), (4, 0.117))], 1,
                          description=f"{dtype.__name__}, four NCHW inputs along the channel axis, one with no "
                                      f"channels", generator="qlinear_concat_random", seed=14)
        yield concat_case(f"one-input-every-code-{short(dtype)}", 0.0173, zero_point(),
                          [(every_code(dtype).reshape(2, 128), 0.0391, zero_point())], -2,
                          description=f"{dtype.__name__}, one input holding all 256 codes through the table",
                          generator="qlinear_concat_every_code", seed=14)
        # Power-of-two scales: s_X / s_Y = 1/2 and 3/2 make every other code an exact tie (half to even).
        middle = (int(info.min) + int(info.max) + 1) // 2
        yield concat_case(f"scale-ties-{short(dtype)}", 0.25, dtype(middle),
                          [(every_code(dtype).reshape(1, 256), 0.125, dtype(middle + 1)),
                           (every_code(dtype).reshape(1, 256), 0.375, dtype(middle))], 0,
                          description=f"{dtype.__name__}, every code twice, input scales 1/2 and 3/2 of the output "
                                      f"scale (powers of two): exact ties on every other code",
                          generator="qlinear_concat_ties", seed=0)
        yield concat_case(f"saturation-{short(dtype)}", 0.01, dtype(middle),
                          [(every_code(dtype).reshape(16, 16), 0.5, dtype(middle)),
                           (every_code(dtype).reshape(16, 16), 0.0025, dtype(info.min))], 1,
                          description=f"{dtype.__name__}, every code at 50 times the output scale (saturates at "
                                      f"both ends) next to every code at a quarter of it",
                          generator="qlinear_concat_saturation", seed=0)
    # Invalid arguments a conforming backend rejects (ONNX Runtime does).
    codes = every_code(np.uint8)[:6].reshape(2, 3)
    yield concat_case("error-types-differ", 0.1, np.uint8(128),
                      [(codes, 0.1, np.uint8(128)), (codes.astype(np.int8), 0.1, np.int8(0))], 0,
                      description="a uint8 output and an int8 second input", generator="qlinear_concat_errors",
                      seed=0, outcome="error")
    yield concat_case("error-axis-out-of-range", 0.1, np.uint8(128), [(codes, 0.1, np.uint8(128))], 2,
                      description="axis 2 on rank-2 inputs", generator="qlinear_concat_errors", seed=0,
                      outcome="error")
    yield concat_case("error-shapes-differ", 0.1, np.uint8(128),
                      [(codes, 0.1, np.uint8(128)), (codes.T.copy(), 0.2, np.uint8(128))], 0,
                      description="a 2 x 3 and a 3 x 2 input along axis 0", generator="qlinear_concat_errors",
                      seed=0, outcome="error")


#: The few cases of level 1 (the checked-in level has a tight size budget); every other case is level 2.
LEVEL_1 = (
    ("qlinear_add", "separating-add-all-pairs-0"),
    ("qlinear_add", "separating-add-scalar-a-0"),
    ("qlinear_mul", "separating-mul-0"),
    ("qlinear_sigmoid", "separating-sigmoid-0"),
    ("qlinear_global_average_pool", "separating-global_average_pool-0"),
    ("qlinear_add", "small-u8"),
    ("qlinear_mul", "small-u8"),
    ("qlinear_add", "small-s8-tosa"),
    ("qlinear_mul", "small-s8-tosa"),
    ("qlinear_sigmoid", "small-u8"),
    ("qlinear_tanh", "small-s8"),
    ("qlinear_global_average_pool", "small-u8"),
    ("qlinear_concat", "small-s8-axis-minus-1"),
    # every code with nonzero input and output zero points: an ignored optional zero point shows
    ("qlinear_sigmoid", "every-code-s8-scale-0.0625"),
    ("qlinear_leaky_relu", "every-code-s8-scale-0.0625-alpha-0.01"),
    ("qlinear_tanh", "every-code-s8-scale-0.0625"),
    ("qlinear_average_pool", "separating-average_pool-0"),
    ("qlinear_average_pool", "separating-average_pool-one-scale-0"),
)


def _separating_rows(probe, operation: str) -> np.ndarray:
    """The flat positions (or, for a broadcast scalar A, the rows) of ``probe`` on which some combination of
    the operation's variant values gives another output than ONNX Runtime's."""
    from refq.conformance import fingerprint_elementwise as fe

    base = fe.predict(probe, fe.ONNXRUNTIME[operation])
    differ = np.zeros(base.shape, bool)
    for combination in fe.combinations_for(operation):
        other = fe.predict(probe, combination)
        if other is not None:
            differ |= other != base
    return np.flatnonzero(differ.any(axis=-1) if probe.inputs[0].shape[-1:] == (1,) else differ.ravel())


def separating_cases() -> Iterator[CaseSpec]:
    """Level 1: the fingerprint's ELT probes (refq.conformance.fingerprint_elementwise) cut down to the
    elements on which the evaluation orders differ: the fused fixed part of a sum, the operand order with
    a broadcast scalar A, where a product's zero point is added, MLAS's logistic, the integer channel sum."""
    from refq.conformance import fingerprint_elementwise as fe

    names = {"qlinear_add": ("A", "A_scale", "A_zero_point", "B", "B_scale", "B_zero_point", "C_scale",
                             "C_zero_point"),
             "qlinear_mul": ("A", "A_scale", "A_zero_point", "B", "B_scale", "B_zero_point", "C_scale",
                             "C_zero_point"),
             "qlinear_sigmoid": ("X", "X_scale", "X_zero_point", "Y_scale", "Y_zero_point"),
             "qlinear_global_average_pool": POOL_NAMES, "qlinear_average_pool": POOL_NAMES}
    for operation in names:
        # qlinear_add: a probe of each dimension; qlinear_average_pool: of average_sum, then average_division
        chosen = {"qlinear_add": (0, 2), "qlinear_average_pool": (0, 1)}.get(operation, (0,))
        for probe in (fe.probes_for(operation)[index] for index in chosen):
            inputs = dict(zip(names[operation], probe.inputs))
            keep = _separating_rows(probe, operation)
            first = names[operation][0]
            if operation in ("qlinear_add", "qlinear_mul"):
                # flat operands keep the separating positions; a broadcast scalar A keeps whole rows of both
                inputs["A"], inputs["B"] = inputs["A"][keep], inputs["B"][keep]
            elif operation == "qlinear_global_average_pool":
                inputs["X"] = inputs["X"][:, keep]  # the output's positions are the channels
            elif operation == "qlinear_average_pool":
                # the channels holding a separating window (the output is (1, C, H', W'))
                per_channel = int(np.prod(fe.predict(probe, fe.ONNXRUNTIME[operation]).shape[2:]))
                inputs["X"] = inputs["X"][:, np.unique(keep // per_channel)]
            kept = inputs[first].shape
            cut = (f"every code ({len(keep)} outputs differ under some combination)" if operation == "qlinear_sigmoid"
                   else f"cut to the {kept} elements on which some combination gives another output")
            clauses = tuple(VARIANTS_BY_NAME[name].clause for name in fe.OPERATION_VARIANTS[operation])
            yield case(operation, f"separating-{probe.name}", inputs, attributes=dict(probe.attributes),
                       clauses=clauses,
                       description=f"the fingerprint probe {probe.name} separating "
                                   f"{', '.join(fe.OPERATION_VARIANTS[operation])}: {cut}",
                       generator="separating")


def all_cases() -> Iterator[CaseSpec]:
    yield from binary_cases("qlinear_add", 10)
    yield from binary_cases("qlinear_mul", 11)
    yield from lookup_cases("qlinear_sigmoid", 12)
    yield from lookup_cases("qlinear_leaky_relu", 13, ({"alpha": 0.01}, {"alpha": 0.2}))
    yield from lookup_cases("qlinear_tanh", 15)
    yield from global_average_pool_cases()
    yield from max_pool_cases()
    yield from average_pool_cases()
    yield from concat_cases()
    yield from separating_cases()


def by_level(level: int) -> Iterator[CaseSpec]:
    """Level 1: the cases named in LEVEL_1; level 2: all the others."""
    for spec in all_cases():
        if ((spec.op, spec.name) in LEVEL_1) == (level == 1):
            yield spec


#: The operations this module writes cases for: those whose records name it.
OPS = tuple(operation.name for operation in OPERATIONS if "elementwise" in operation.generators)
GENERATORS = (by_level,)
