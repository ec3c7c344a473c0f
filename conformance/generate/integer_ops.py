"""Cases for the integer operations (chapter INT): ``matmul_integer``, ``conv_integer``,
``qlinear_matmul``, ``qlinear_conv``.

Level 1 holds the few cases of :data:`LEVEL_1` (the checked-in level's size budget is nearly
spent): one per operation, the fingerprint's requantization probes, the int32 overflow and a
scaled accumulator beyond int32; level 2 holds every pair of input types, zero points at both
ends of their ranges (the largest centred magnitudes, 255), broadcasting, per-row / per-column /
per-channel zero points, every convolution attribute, requantization ties and saturation, one
error case per rule, and larger random shapes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec
from refq.registry.operations import OPERATIONS
#: The ONNX profiles, which every integer operation's vectors name.
ONNX_PROFILES = ("onnx", "onnxruntime", "onnx-reference")
#: The profiles the checked-in vectors of matmul_integer and conv_integer name: the ONNX ones and ``tosa`` (TOSA's
#: MATMUL and CONV2D, whose backend runs them). A subset of ``refq.integer_ops.profiles.INTEGER_PROFILES``.
PROFILES = (*ONNX_PROFILES, "tosa")
#: The QLinear operations also carry the PyTorch profiles (FBGEMM, QNNPACK, PT2E's reference representation)
#: and the LiteRT ones (reference, optimized and XNNPACK kernels): they requantize differently (REQ-1.1
#: multiplier order, REQ-1.5 rounding, REQ-2.7 fixed point) and their adapters run the vectors. TOSA has no
#: QLinear operator (its MATMUL or CONV2D and a RESCALE would be two operations).
QLINEAR_PROFILES = (*ONNX_PROFILES, "pytorch", "pytorch-qnnpack", "pytorch-pt2e", "tflite", "tflite-optimized",
                    "xnnpack")
TYPES = (np.uint8, np.int8)


def random_values(rng: np.random.Generator, dtype, shape) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def extreme_values(rng: np.random.Generator, dtype, shape) -> np.ndarray:
    """Only the two ends of the range: with a zero point at one end, centred values of magnitude 255."""
    info = np.iinfo(dtype)
    return np.where(rng.random(shape) < 0.5, info.min, info.max).astype(dtype)


def short(dtype) -> str:
    return "u8" if np.dtype(dtype) == np.uint8 else "s8"


def case(op: str, name: str, inputs: dict, *, attributes: dict | None = None, clauses=(), description: str,
         generator: str, seed: int = 0, outcome: str = "valid") -> CaseSpec:
    return CaseSpec(op=op, name=name, inputs={key: np.array(value, order="C") for key, value in inputs.items()},
                    attributes=attributes or {}, clauses=tuple(clauses), description=description,
                    generator=f"integer_ops.{generator}", seed=seed,
                    profiles=QLINEAR_PROFILES if op.startswith("qlinear_") else PROFILES, outcome=outcome)


def conv_attributes(**given) -> dict:
    attributes = {"auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None, "pads": None,
                  "strides": None}
    attributes.update(given)
    return attributes


# --- matmul_integer -----------------------------------------------------------------------------------------


def matmul_cases() -> Iterator[CaseSpec]:
    op = "matmul_integer"
    # Larger random shapes.
    rng = np.random.default_rng(200)
    for a_type in TYPES:
        for b_type in TYPES:
            a, b = random_values(rng, a_type, (3, 48, 200)), random_values(rng, b_type, (200, 40))
            yield case(op, f"large-{short(a_type)}{short(b_type)}",
                       {"a": a, "b": b, "a_zero_point": random_values(rng, a_type, ()),
                        "b_zero_point": random_values(rng, b_type, (40,))},
                       description="3 x 48 x 200 by 200 x 40, random values and zero points, per-column b",
                       generator="matmul_large", seed=200)
    rng = np.random.default_rng(1)
    for a_type in TYPES:
        for b_type in TYPES:
            a_info, b_info = np.iinfo(a_type), np.iinfo(b_type)
            for a_end, b_end in (("min", "max"), ("max", "min")):
                a_zero = getattr(a_info, a_end)
                b_zero = np.full(5, getattr(b_info, b_end), b_type)
                b_zero[::2] = getattr(b_info, "min" if b_end == "max" else "max")
                yield case(op, f"range-ends-{short(a_type)}{short(b_type)}-a-zero-point-{a_end}",
                           {"a": extreme_values(rng, a_type, (4, 16)), "b": extreme_values(rng, b_type, (16, 5)),
                            "a_zero_point": a_type(a_zero), "b_zero_point": b_zero},
                           clauses=("INT-2.5",),
                           description=f"{a_type.__name__} x {b_type.__name__}, inputs only at their range ends, zero "
                                       f"points at the ends: every product has magnitude 0 or up to 255^2",
                           generator="matmul_range_ends", seed=1)
            yield case(op, f"random-{short(a_type)}{short(b_type)}",
                       {"a": random_values(rng, a_type, (5, 33)), "b": random_values(rng, b_type, (33, 7)),
                        "a_zero_point": random_values(rng, a_type, ()),
                        "b_zero_point": random_values(rng, b_type, (7,))},
                       description=f"{a_type.__name__} x {b_type.__name__} random 5 x 33 by 33 x 7, per-column b "
                                   f"zero points", generator="matmul_random", seed=1)
    yield case(op, "broadcast-batch",
               {"a": random_values(rng, np.int8, (2, 1, 3, 8)), "b": random_values(rng, np.uint8, (4, 8, 5)),
                "a_zero_point": np.int8(-7), "b_zero_point": random_values(rng, np.uint8, (4, 1, 5))},
               description="batch dimensions (2, 1) and (4,) broadcast to (2, 4); b zero points per column of "
                           "each matrix, shape (4, 1, 5)", generator="matmul_shapes", seed=1)
    yield case(op, "per-row-a-zero-point",
               {"a": random_values(rng, np.uint8, (4, 6)), "b": random_values(rng, np.int8, (6, 3)),
                "a_zero_point": random_values(rng, np.uint8, (4, 1)), "b_zero_point": np.int8(0)},
               description="a zero point per row of a, shape (4, 1)", generator="matmul_shapes", seed=1)
    yield case(op, "vector-times-matrix",
               {"a": random_values(rng, np.uint8, (6,)), "b": random_values(rng, np.int8, (6, 3)),
                "a_zero_point": np.uint8(128), "b_zero_point": np.int8(1)},
               description="1-D a (a row, dropped from the result shape (3,))", generator="matmul_shapes", seed=1)
    yield case(op, "matrix-times-vector",
               {"a": random_values(rng, np.int8, (2, 3, 6)), "b": random_values(rng, np.int8, (6,)),
                "a_zero_point": np.int8(-128), "b_zero_point": np.int8(127)},
               description="1-D b (a column, dropped from the result shape (2, 3))", generator="matmul_shapes", seed=1)
    count = 34000
    yield case(op, "int32-overflow",
               {"a": np.full((1, count), 255, np.uint8), "b": np.tile(np.array([[0, 255]], np.uint8), (count, 1)),
                "a_zero_point": np.uint8(0), "b_zero_point": np.uint8(255)},
               clauses=("INT-2.5",),
               description=f"K = {count}: column 0 sums {count} products 255 * -255 = -2.2e9 < -2^31; column 1 "
                           f"is 0. Wraps under onnxruntime and onnx-reference, unpredictable under onnx",
               generator="matmul_overflow", seed=0)


# --- conv_integer -------------------------------------------------------------------------------------------

CONV_SHAPES = (
    # name, x shape, w shape, attributes, description
    ("groups-strides-dilations-pads", (1, 4, 9, 8), (4, 2, 3, 2),
     conv_attributes(group=2, pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2]),
     "2 groups, pads (top, left, bottom, right) = (1, 0, 2, 1), strides (2, 1), dilations (1, 2)"),
    ("3x3-pad-1", (1, 3, 6, 6), (4, 3, 3, 3), conv_attributes(pads=[1, 1, 1, 1]), "3 x 3 kernel, padding 1"),
    ("strides-dilations-asymmetric-pads", (1, 2, 9, 8), (3, 2, 3, 2),
     conv_attributes(pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2]),
     "pads (top, left, bottom, right) = (1, 0, 2, 1), strides (2, 1), dilations (1, 2)"),
    ("groups-2-batch-2", (2, 4, 5, 5), (6, 2, 3, 3), conv_attributes(group=2, pads=[1, 1, 1, 1]),
     "2 images, 2 groups of 2 input and 3 output channels"),
    ("depthwise", (1, 4, 6, 5), (4, 1, 3, 3), conv_attributes(group=4, pads=[1, 1, 1, 1], strides=[2, 2]),
     "depthwise: group = channels = 4, stride 2"),
    ("auto-pad-same-upper", (1, 2, 6, 7), (2, 2, 2, 3), conv_attributes(auto_pad="SAME_UPPER", strides=[2, 2]),
     "auto_pad SAME_UPPER with stride 2: odd padding goes to the end"),
    ("auto-pad-same-lower", (1, 2, 6, 7), (2, 2, 2, 3), conv_attributes(auto_pad="SAME_LOWER", strides=[2, 2]),
     "auto_pad SAME_LOWER with stride 2: odd padding goes to the start"),
    ("auto-pad-valid", (1, 2, 5, 6), (2, 2, 3, 3), conv_attributes(auto_pad="VALID", kernel_shape=[3, 3]),
     "auto_pad VALID, kernel_shape given"),
    ("1x1", (1, 5, 4, 4), (3, 5, 1, 1), conv_attributes(), "1 x 1 kernel (a matmul per pixel)"),
)


def conv_cases() -> Iterator[CaseSpec]:
    op = "conv_integer"
    # Larger random shapes.
    rng = np.random.default_rng(300)
    x, w = random_values(rng, np.uint8, (1, 16, 20, 20)), random_values(rng, np.int8, (32, 16, 3, 3))
    yield case(op, "large-u8s8", {"x": x, "w": w, "x_zero_point": np.uint8(117), "w_zero_point": np.int8(3)},
               attributes=conv_attributes(pads=[1, 1, 1, 1]),
               description="1 x 16 x 20 x 20 input, 32 x 16 x 3 x 3 weights, padding 1", generator="conv_large",
               seed=300)
    rng = np.random.default_rng(2)
    for name, x_shape, w_shape, attributes, description in CONV_SHAPES:
        yield case(op, name, {"x": random_values(rng, np.uint8, x_shape), "w": random_values(rng, np.int8, w_shape),
                              "x_zero_point": random_values(rng, np.uint8, ()),
                              "w_zero_point": random_values(rng, np.int8, ())},
                   attributes=attributes, clauses=("INT-3.1",), description=description + ", uint8 x int8",
                   generator="conv_shapes", seed=2)
    for x_type in TYPES:
        for w_type in TYPES:
            x_info, w_info = np.iinfo(x_type), np.iinfo(w_type)
            yield case(op, f"range-ends-{short(x_type)}{short(w_type)}",
                       {"x": extreme_values(rng, x_type, (1, 3, 4, 4)), "w": extreme_values(rng, w_type, (2, 3, 3, 3)),
                        "x_zero_point": x_type(x_info.max), "w_zero_point": w_type(w_info.min)},
                       attributes=conv_attributes(pads=[1, 1, 1, 1]), clauses=("INT-2.5",),
                       description=f"{x_type.__name__} x {w_type.__name__}, values and zero points at the range ends; "
                                   f"padding adds the zero point (nothing)", generator="conv_range_ends", seed=2)
    yield case(op, "per-channel-w-zero-point",
               {"x": random_values(rng, np.uint8, (1, 2, 5, 5)), "w": random_values(rng, np.int8, (3, 2, 3, 3)),
                "x_zero_point": np.uint8(3), "w_zero_point": np.array([-128, 0, 127], np.int8)},
               attributes=conv_attributes(), description="one w zero point per output channel, at both range ends",
               generator="conv_zero_points", seed=2)


# --- qlinear_matmul and qlinear_conv ------------------------------------------------------------------------


def qlinear_matmul_cases() -> Iterator[CaseSpec]:
    op = "qlinear_matmul"
    # Larger random shapes.
    rng = np.random.default_rng(400)
    a, b = random_values(rng, np.uint8, (64, 300)), random_values(rng, np.int8, (300, 48))
    yield case(op, "large-u8s8",
               {"a": a, "a_scale": np.float32(0.0123), "a_zero_point": np.uint8(131), "b": b,
                "b_scale": rng.uniform(0.001, 0.004, 48).astype(np.float32),
                "b_zero_point": np.zeros(48, np.int8), "y_scale": np.float32(0.71), "y_zero_point": np.uint8(119)},
               description="64 x 300 by 300 x 48, per-column b scales", generator="qlinear_matmul_large", seed=400)
    rng = np.random.default_rng(3)
    for a_type, b_type in ((np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8)):
        yield case(op, f"random-{short(a_type)}{short(b_type)}",
                   {"a": random_values(rng, a_type, (6, 40)), "a_scale": np.float32(0.0217),
                    "a_zero_point": random_values(rng, a_type, ()), "b": random_values(rng, b_type, (40, 5)),
                    "b_scale": rng.uniform(0.002, 0.01, 5).astype(np.float32),
                    "b_zero_point": random_values(rng, b_type, (5,)), "y_scale": np.float32(0.093),
                    "y_zero_point": random_values(rng, a_type, ())},
                   description=f"{a_type.__name__} x {b_type.__name__}, per-column b scales and zero points",
                   generator="qlinear_matmul_random", seed=3)
    # Multiplier 2^20: accumulators past 2^11 scale beyond int32 (REQ-1.6), of both signs, beside ones that
    # only saturate and zeros; every float32 step is exact. int8 x int8, which the torch adapters do not
    # take: FBGEMM (torch 2.13, profile pytorch) converts such a value unclamped, to q_min, where the
    # profile says it saturates (measured on u8 x s8; the profile in refq/registry/profiles.py is the thing
    # to change, not this case).
    a = np.array([[1, 0, 0, 0], [127, 127, 127, 127], [0, 0, 0, 0], [127, 127, 1, 0]], np.int8)
    b = np.array([[1, -1, 127, 8], [1, -1, 127, 0], [1, -1, 127, 0], [1, -1, 127, 0]], np.int8)
    yield case(op, "conversion-overflow",
               {"a": a, "a_scale": np.float32(1.0), "a_zero_point": np.int8(0), "b": b, "b_scale": np.float32(1.0),
                "b_zero_point": np.int8(0), "y_scale": np.float32(2.0**-20), "y_zero_point": np.int8(10)},
               clauses=("REQ-1.6",),
               description="multiplier 2^20: accumulators 64516 and 32385 scale beyond int32 (saturated to 127 "
                           "under onnxruntime, q_min on x86 when converted unclamped), 508 and 1016 only "
                           "saturate, -508 and 0 too", generator="qlinear_matmul_conversion_overflow", seed=0)
    # Multiplier 1/2 exactly: odd accumulators are ties, resolved to even.
    yield case(op, "ties-to-even",
               {"a": np.arange(-12, 12, dtype=np.int8).reshape(24, 1), "a_scale": np.float32(1.0),
                "a_zero_point": np.int8(0), "b": np.ones((1, 1), np.int8), "b_scale": np.float32(0.5),
                "b_zero_point": np.int8(0), "y_scale": np.float32(1.0), "y_zero_point": np.int8(3)},
               clauses=("REQ-1.2",), description="multiplier exactly 1/2: a * 1/2 for a in [-12, 11] ties to even",
               generator="qlinear_matmul_ties", seed=0)
    yield case(op, "saturation",
               {"a": extreme_values(rng, np.uint8, (4, 20)), "a_scale": np.float32(0.05),
                "a_zero_point": np.uint8(0), "b": extreme_values(rng, np.int8, (20, 6)), "b_scale": np.float32(0.05),
                "b_zero_point": np.int8(0), "y_scale": np.float32(0.01), "y_zero_point": np.uint8(128)},
               description="results far outside [0, 255] saturate at both ends", generator="qlinear_matmul_saturation",
               seed=3)
    # Accumulators past 2^24: float32 conversion rounds them, float64 does not; the profiles differ.
    yield case(op, "accumulators-past-2-to-24",
               {"a": extreme_values(rng, np.uint8, (4, 1500)), "a_scale": np.float32(0.0173),
                "a_zero_point": np.uint8(0), "b": extreme_values(rng, np.uint8, (1500, 8)),
                "b_scale": np.float32(0.0291), "b_zero_point": np.uint8(0), "y_scale": np.float32(15.7),
                "y_zero_point": np.uint8(7)},
               clauses=("REQ-1.2",),
               description="|accumulator| up to 9.8e7 > 2^24: float32 and float64 requantization can round apart",
               generator="qlinear_matmul_precision", seed=3)


def qlinear_conv_cases() -> Iterator[CaseSpec]:
    op = "qlinear_conv"
    # Larger random shapes.
    rng = np.random.default_rng(500)
    yield case(op, "large-u8s8",
               {"x": random_values(rng, np.uint8, (1, 16, 14, 14)), "x_scale": np.float32(0.02),
                "x_zero_point": np.uint8(120), "w": random_values(rng, np.int8, (32, 16, 3, 3)),
                "w_scale": rng.uniform(0.001, 0.003, 32).astype(np.float32), "w_zero_point": np.zeros(32, np.int8),
                "y_scale": np.float32(0.3), "y_zero_point": np.uint8(110),
                "B": rng.integers(-20000, 20000, 32).astype(np.int32)},
               attributes=conv_attributes(pads=[1, 1, 1, 1]), description="1 x 16 x 14 x 14, 32 output channels",
               generator="qlinear_conv_large", seed=500)
    rng = np.random.default_rng(4)
    settings = (
        ("u8s8-3x3-per-channel", np.uint8, np.int8, (1, 3, 6, 6), (4, 3, 3, 3), conv_attributes(pads=[1, 1, 1, 1]),
         "uint8 x int8, per-channel weight scales, bias, padding 1"),
        ("s8s8-strided", np.int8, np.int8, (1, 4, 7, 7), (3, 4, 3, 3), conv_attributes(strides=[2, 2], pads=[0, 1, 1, 0]),
         "int8 x int8, stride 2, asymmetric padding"),
        ("u8u8-groups", np.uint8, np.uint8, (2, 4, 5, 5), (4, 2, 2, 2), conv_attributes(group=2),
         "uint8 x uint8, 2 groups, 2 images"),
        ("u8s8-depthwise", np.uint8, np.int8, (1, 6, 5, 5), (6, 1, 3, 3),
         conv_attributes(group=6, pads=[1, 1, 1, 1], dilations=[2, 2]), "depthwise, dilation 2"),
    )
    for name, x_type, w_type, x_shape, w_shape, attributes, description in settings:
        channels = w_shape[0]
        yield case(op, name,
                   {"x": random_values(rng, x_type, x_shape), "x_scale": np.float32(0.0197),
                    "x_zero_point": random_values(rng, x_type, ()), "w": random_values(rng, w_type, w_shape),
                    "w_scale": rng.uniform(0.002, 0.02, channels).astype(np.float32),
                    "w_zero_point": np.full(channels, 0 if w_type == np.int8 else 128, w_type),
                    "y_scale": np.float32(0.0781), "y_zero_point": random_values(rng, x_type, ()),
                    "B": rng.integers(-3000, 3000, channels).astype(np.int32)},
                   attributes=attributes, clauses=("INT-3.2", "INT-3.3"), description=description,
                   generator="qlinear_conv_shapes", seed=4)
    yield case(op, "bias-only-per-tensor",
               {"x": np.zeros((1, 1, 3, 3), np.uint8), "x_scale": np.float32(0.5), "x_zero_point": np.uint8(0),
                "w": np.zeros((3, 1, 1, 1), np.int8), "w_scale": np.float32(0.25), "w_zero_point": np.int8(0),
                "y_scale": np.float32(1.0), "y_zero_point": np.uint8(100),
                "B": np.array([-4, 12, 2**31 - 1], np.int32)},
               attributes=conv_attributes(),
               description="zero input: the output is the bias times the multiplier 1/8: -0.5 and 1.5 are ties "
                           "(to even: 0 and 2), the largest int32 bias saturates at 255",
               generator="qlinear_conv_bias", seed=0)
    rng = np.random.default_rng(41)
    yield case(op, "per-channel-w-zero-point",
               {"x": random_values(rng, np.uint8, (1, 2, 5, 5)), "x_scale": np.float32(0.02),
                "x_zero_point": np.uint8(100), "w": random_values(rng, np.int8, (3, 2, 3, 3)),
                "w_scale": np.array([0.01, 0.02, 0.03], np.float32), "w_zero_point": np.array([1, -2, 3], np.int8),
                "y_scale": np.float32(0.05), "y_zero_point": np.uint8(120), "B": np.array([100, -200, 300], np.int32)},
               attributes=conv_attributes(), clauses=("INT-3.2", "INT-4.1"),
               description="a weight zero point per output channel, all different (INT-3.2)",
               generator="qlinear_conv_per_channel_zero_point", seed=41)


# --- the signatures PyTorch's quantized linear / conv2d and PT2E's reference representation take -----------


def separating_scales(rng: np.random.Generator) -> tuple[np.float32, np.float32, np.float32, np.ndarray]:
    """Scales whose multiplier fl32(fl32(s_a s_b) / s_y) differs from fl32(fl32(s_a s_b) * fl32(1 / s_y))
    (REQ-1.1, orders product_then_quotient and reciprocal), and every accumulator in [1, 127 / m] on
    which the two round apart."""
    f32 = np.float32
    while True:
        a_scale, b_scale = f32(rng.uniform(0.001, 0.1)), f32(rng.uniform(0.001, 0.1))
        y_scale = f32(a_scale * b_scale * f32(rng.uniform(50, 3000)))
        quotient = f32(a_scale * b_scale) / y_scale
        reciprocal = f32(a_scale * b_scale) * (f32(1) / y_scale)
        accumulators = np.arange(1, int(127 / quotient), dtype=np.int32)
        apart = accumulators[np.rint(accumulators.astype(f32) * quotient)
                             != np.rint(accumulators.astype(f32) * reciprocal)]
        if apart.size:
            return a_scale, b_scale, y_scale, apart


def torch_cases() -> Iterator[CaseSpec]:
    """Per-tensor or per-channel scales, no bias, symmetric pads: cases every torch adapter can run."""
    op = "qlinear_matmul"
    rng = np.random.default_rng(600)
    yield case(op, "u8s8-per-tensor",
               {"a": random_values(rng, np.uint8, (8, 64)), "a_scale": np.float32(0.0311),
                "a_zero_point": np.uint8(97), "b": random_values(rng, np.int8, (64, 16)),
                "b_scale": np.float32(0.0057), "b_zero_point": np.int8(-3), "y_scale": np.float32(0.412),
                "y_zero_point": np.uint8(131)},
               description="uint8 x int8, every scale and zero point per tensor", generator="qlinear_torch", seed=600)
    yield case(op, "u8s8-per-column-scales",
               {"a": random_values(rng, np.uint8, (8, 64)), "a_scale": np.float32(0.0311),
                "a_zero_point": np.uint8(12), "b": random_values(rng, np.int8, (64, 16)),
                "b_scale": rng.uniform(0.002, 0.01, 16).astype(np.float32), "b_zero_point": np.zeros(16, np.int8),
                "y_scale": np.float32(0.377), "y_zero_point": np.uint8(128)},
               description="uint8 x int8, per-column b scales", generator="qlinear_torch", seed=600)
    # Accumulators 1, 2, ... rounding apart under the two multiplier orders: a one-hot row times b's column.
    rows = []
    scales = []
    for _ in range(4):
        a_scale, b_scale, y_scale, apart = separating_scales(rng)
        scales.append((a_scale, b_scale, y_scale))
        rows.append(int(apart[0]))
    a_scale, b_scale, y_scale = scales[0]
    total = rows[0]
    depth = -(-total // 127)
    b = np.zeros((depth, 1), np.int8)
    b[:, 0] = 127
    b[-1, 0] = total - 127 * (depth - 1)
    yield case(op, "multiplier-order",
               {"a": np.ones((1, depth), np.uint8), "a_scale": a_scale, "a_zero_point": np.uint8(0), "b": b,
                "b_scale": b_scale, "b_zero_point": np.int8(0), "y_scale": y_scale, "y_zero_point": np.uint8(0)},
               clauses=("REQ-1.1",),
               description=f"an accumulator of {total} on which fl32(fl32(s_a s_b) / s_y) and "
                           "fl32(fl32(s_a s_b) * fl32(1 / s_y)) round apart", generator="qlinear_torch", seed=600)
    op = "qlinear_conv"
    yield case(op, "u8s8-no-bias",
               {"x": random_values(rng, np.uint8, (1, 4, 7, 7)), "x_scale": np.float32(0.0197),
                "x_zero_point": np.uint8(101), "w": random_values(rng, np.int8, (6, 4, 3, 3)),
                "w_scale": np.float32(0.0049), "w_zero_point": np.int8(2), "y_scale": np.float32(0.153),
                "y_zero_point": np.uint8(119)},
               attributes=conv_attributes(pads=[1, 1, 1, 1], strides=[2, 1]),
               description="uint8 x int8 per tensor, no bias, pads 1, stride (2, 1)", generator="qlinear_torch",
               seed=600)
    yield case(op, "u8s8-depthwise-no-bias",
               {"x": random_values(rng, np.uint8, (1, 8, 6, 6)), "x_scale": np.float32(0.0231),
                "x_zero_point": np.uint8(7), "w": rng.integers(-64, 64, (8, 1, 3, 3)).astype(np.int8),
                "w_scale": rng.uniform(0.002, 0.02, 8).astype(np.float32), "w_zero_point": np.zeros(8, np.int8),
                "y_scale": np.float32(0.0917), "y_zero_point": np.uint8(140)},
               attributes=conv_attributes(group=8, pads=[1, 1, 1, 1]),
               description="depthwise 3 x 3, per-channel weight scales, no bias; weights in [-64, 63], since FBGEMM's "
                           "depthwise kernel adds pairs of uint8 x int8 products in int16 with saturation",
               generator="qlinear_torch", seed=600)
    yield case(op, "s8s8-ties-no-bias",
               {"x": random_values(rng, np.int8, (1, 2, 5, 5)), "x_scale": np.float32(1.0),
                "x_zero_point": np.int8(-5), "w": random_values(rng, np.int8, (3, 2, 2, 2)),
                "w_scale": np.float32(1.0), "w_zero_point": np.int8(0), "y_scale": np.float32(2.0**15),
                "y_zero_point": np.int8(1)},
               attributes=conv_attributes(), clauses=("REQ-1.3",),
               description="multiplier 2^-15: ties and fractions, where rounding to even and truncating differ",
               generator="qlinear_torch", seed=600)


# --- error cases --------------------------------------------------------------------------------------------


def error_cases() -> Iterator[CaseSpec]:
    generator = "invalid_arguments"
    yield case("matmul_integer", "error-shape-mismatch",
               {"a": np.zeros((2, 3), np.uint8), "b": np.zeros((4, 2), np.int8), "a_zero_point": np.uint8(0),
                "b_zero_point": np.int8(0)},
               clauses=("INT-2.1",), description="a has 3 columns, b 4 rows", generator=generator, outcome="error")
    yield case("matmul_integer", "error-zero-point-type",
               {"a": np.zeros((2, 3), np.uint8), "b": np.zeros((3, 2), np.int8), "a_zero_point": np.int8(0),
                "b_zero_point": np.int8(0)},
               clauses=("INT-1.1",), description="uint8 a with an int8 a_zero_point", generator=generator,
               outcome="error")
    yield case("matmul_integer", "error-batch-broadcast",
               {"a": np.zeros((2, 2, 3), np.int8), "b": np.zeros((3, 3, 2), np.int8), "a_zero_point": np.int8(0),
                "b_zero_point": np.int8(0)},
               clauses=("INT-2.1",), description="batch dimensions (2,) and (3,) do not broadcast",
               generator=generator, outcome="error")
    yield case("conv_integer", "error-group-channels",
               {"x": np.zeros((1, 4, 3, 3), np.uint8), "w": np.zeros((2, 4, 1, 1), np.int8),
                "x_zero_point": np.uint8(0), "w_zero_point": np.int8(0)},
               attributes=conv_attributes(group=2), clauses=("INT-3.1",),
               description="group 2 on 4 channels needs w of shape (M, 2, kH, kW); w has 4 input channels",
               generator=generator, outcome="error")
    yield case("conv_integer", "error-zero-point-type",
               {"x": np.zeros((1, 1, 3, 3), np.int8), "w": np.zeros((1, 1, 1, 1), np.int8),
                "x_zero_point": np.uint8(0), "w_zero_point": np.int8(0)},
               attributes=conv_attributes(), clauses=("INT-1.1",), description="int8 x with a uint8 x_zero_point",
               generator=generator, outcome="error")
    yield case("qlinear_conv", "error-bias-type",
               {"x": np.zeros((1, 1, 3, 3), np.uint8), "x_scale": np.float32(0.5), "x_zero_point": np.uint8(0),
                "w": np.zeros((2, 1, 1, 1), np.int8), "w_scale": np.float32(0.25), "w_zero_point": np.int8(0),
                "y_scale": np.float32(1.0), "y_zero_point": np.uint8(0), "B": np.zeros(2, np.int64)},
               attributes=conv_attributes(), clauses=("INT-4.1",), description="an int64 bias: the bias is int32",
               generator=generator, outcome="error")
    yield case("qlinear_matmul", "error-b-scale-length",
               {"a": np.zeros((2, 3), np.uint8), "a_scale": np.float32(0.5), "a_zero_point": np.uint8(0),
                "b": np.zeros((3, 4), np.int8), "b_scale": np.full(3, 0.5, np.float32), "b_zero_point": np.int8(0),
                "y_scale": np.float32(1.0), "y_zero_point": np.uint8(0)},
               clauses=("INT-4.1",), description="3 b scales for 4 columns", generator=generator, outcome="error")


def separating_cases() -> Iterator[CaseSpec]:
    """Level 1: the fingerprint's requantization probes (refq.conformance.fingerprint_integer) that separate
    REQ-1's variant values on qlinear_matmul: a zero-point tie probe (round(v) + z against round(v + z)),
    and for each rival multiplier order its first probe (scales on which the float32 multipliers differ,
    an accumulator on which the outputs do)."""
    from refq.conformance import fingerprint_integer

    chosen, orders = [], set()
    for probe in fingerprint_integer.probes():
        if probe.rounding != "half_to_even":
            continue
        if probe.separates == "requantize_zero_point" and not chosen:
            chosen.append(("zero-point-tie", probe))
        if probe.separates == "requantize_multiplier_order":
            order = probe.name.removeprefix("multiplier-").rsplit("-", 1)[0]
            if order not in orders:
                orders.add(order)
                chosen.append((f"multiplier-{order.replace('_', '-')}", probe))
    for label, probe in chosen:
        inputs = dict(zip(("a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"),
                          probe.arguments()))
        yield case("qlinear_matmul", f"separating-{label}", inputs, clauses=("REQ-1.1", "REQ-1.3"),
                   description=f"the fingerprint probe {probe.name}: separates {probe.separates} (shape "
                               f"{probe.a.shape} x {probe.b.shape})", generator="qlinear_matmul_separating")


#: The few cases of level 1 (the checked-in level has a tight size budget); every other case is level 2.
LEVEL_1 = (
    ("matmul_integer", "range-ends-u8s8-a-zero-point-max"),
    # The one case whose int32 sum leaves int32 (wrapped under onnxruntime, refused by a checked accumulator).
    ("matmul_integer", "int32-overflow"),
    ("qlinear_matmul", "conversion-overflow"),
    # A per-axis zero point of every form the operations take, all values different.
    ("matmul_integer", "per-row-a-zero-point"),
    ("conv_integer", "per-channel-w-zero-point"),
    ("qlinear_matmul", "random-u8s8"),
    ("qlinear_conv", "per-channel-w-zero-point"),
    ("conv_integer", "groups-strides-dilations-pads"),
    ("qlinear_conv", "u8s8-3x3-per-channel"),
    # One small case every torch adapter runs; it separates FBGEMM's multiplier from QNNPACK's.
    ("qlinear_matmul", "multiplier-order"),
    ("qlinear_matmul", "separating-zero-point-tie"),
    ("qlinear_matmul", "separating-multiplier-float64-quotient"),
    ("qlinear_matmul", "separating-multiplier-reciprocal"),
    ("qlinear_matmul", "separating-multiplier-ratio-first"),
)


def by_level(level: int) -> Iterator[CaseSpec]:
    """Level 1: the cases named in LEVEL_1; level 2: all the others."""
    for generator in (matmul_cases, conv_cases, qlinear_matmul_cases, qlinear_conv_cases, torch_cases,
                      error_cases, separating_cases):
        for spec in generator():
            if ((spec.op, spec.name) in LEVEL_1) == (level == 1):
                yield spec


#: The operations this module writes cases for: those whose records name it.
OPS = tuple(operation.name for operation in OPERATIONS if "integer_ops" in operation.generators)
GENERATORS = (by_level,)
