"""Fingerprinting the elementwise operations (ELT): which float32 evaluation order does a backend's
``qlinear_add``, ``qlinear_mul``, ``qlinear_sigmoid``, ``qlinear_global_average_pool`` and
``qlinear_average_pool`` follow?

refq's ELT functions compute ONNX Runtime's order by default; the rivals below (the evaluation orders a
compiler or another kernel plausibly produces) are registry variants the same functions take, and each
prediction is refq's function under the combination's values (tests/oracle/fingerprint_elementwise.py
checks them against plain numpy written apart from refq's ELT kernels):

- ``add_fixed_part`` (ELT-2.3): $f = z_C - (r_x z_x + r_y z_y)$ with the first product and the sum
  contracted into one fused multiply-add (``fused``, ONNX Runtime) or rounded separately
  (``two_roundings``);
- ``add_operand_order`` (ELT-2.5): with a broadcast scalar ``A`` the kernel swaps the operands so that
  the scalar is $y$ (``swapped``, ONNX Runtime) or keeps ``A`` as $x$ (``as_given``);
- ``mul_zero_point`` (ELT-2.6): $\\mathrm{fl}(\\mathrm{fl}(p m) + z_C)$ (``float32_sum``, ONNX Runtime),
  $\\mathrm{fma}(p, m, z_C)$ (``fused``) or $\\mathrm{round}(\\mathrm{fl}(p m)) + z_C$ (``after_rounding``);
- ``average_sum`` (ELT-4.2, ELT-6.5): an exact integer sum times one float32 multiplier
  (``integer_sum``, ONNX Runtime's global pool) or float32 sums of dequantized values divided by the
  count (``float32_window_sum``, ONNX Runtime's windowed pool);
- ``sigmoid_function`` (ELT-3.3): MLAS's rational logistic (``mlas_logistic``, ONNX Runtime) or
  $1 / (1 + e^{-x})$ in float64 rounded to float32 (``float64_logistic``, nearly always correctly rounded);
- ``average_division`` (ELT-6.8, the registry variant) for ``qlinear_average_pool``: the window average
  divided in float32 (``float32``, ONNX Runtime), or the integer rules of TensorFlow Lite
  (``rounded_integer_division``) and TOSA (``tosa_reciprocal``), which sum integers
  (``average_sum = integer_sum``; verified against the exact oracle of ``tests/oracle/average_pool.py``;
  no backend here implements them).
  They require one scale, TensorFlow Lite also one zero point and TOSA int8: a combination that cannot
  compute a probe predicts a refusal, which any error raised by the backend matches.

Each probe is a full call (all 256 codes against random codes, for a seeded search of scales on which
the values give different outputs).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from refq.conformance import fingerprint_engine as engine
from refq.conformance.fingerprint_engine import Probe, Result, every_combination as combinations, registry_values
from refq.elementwise.binary import qlinear_add, qlinear_mul
from refq.elementwise.lookup import qlinear_sigmoid
from refq.elementwise.pooling import qlinear_global_average_pool
from refq.elementwise.windows import qlinear_average_pool
from refq.errors import RefqValueError

F32 = np.float32
F64 = np.float64

#: Operation -> its dimensions (registry variant -> its values, ONNX Runtime's first).
OPERATION_VARIANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "qlinear_add": {"add_fixed_part": registry_values("add_fixed_part"),
                    "add_operand_order": registry_values("add_operand_order")},
    "qlinear_mul": {"mul_zero_point": registry_values("mul_zero_point")},
    "qlinear_sigmoid": {"sigmoid_function": registry_values("sigmoid_function")},
    "qlinear_global_average_pool": {"average_sum": registry_values("average_sum")},
    "qlinear_average_pool": {"average_sum": registry_values("average_sum")[::-1],
                             "average_division": registry_values("average_division")},
}
#: What ONNX Runtime 1.32 computes (its profile, ``onnxruntime``, is the only one naming ELT operations).
ONNXRUNTIME = {operation: {name: values[0] for name, values in variants.items()}
               for operation, variants in OPERATION_VARIANTS.items()}
#: refq's function of each operation: the predictions are these under the variant values.
REFQ = {"qlinear_add": qlinear_add, "qlinear_mul": qlinear_mul, "qlinear_sigmoid": qlinear_sigmoid,
        "qlinear_global_average_pool": qlinear_global_average_pool, "qlinear_average_pool": qlinear_average_pool}
#: Profiles whose backends the ELT rules describe.
PROFILE_COMBINATIONS = {"onnxruntime": ONNXRUNTIME}


def valid(combination: dict[str, str]) -> bool:
    """The integer average rules (ELT-6.8) sum integers: they go with ``average_sum = integer_sum`` only."""
    return combination.get("average_division", "float32") == "float32" or combination["average_sum"] == "integer_sum"


def combinations_for(operation: str) -> list[dict[str, str]]:
    """The valid combinations of ``operation``'s dimensions."""
    return [combination for combination in combinations(OPERATION_VARIANTS[operation]) if valid(combination)]


# --- probes -----------------------------------------------------------------------------


def predict(probe: Probe, variants: dict[str, str]) -> np.ndarray | None:
    """The output of ``probe`` under one combination: refq's ELT function with those variant values;
    None where the combination refuses the probe (a RefqValueError)."""
    try:
        return REFQ[probe.operation](*probe.inputs, **probe.attributes, **variants)
    except RefqValueError:
        return None


def _output(probe: Probe, combination: dict[str, str]) -> bytes:
    predicted = predict(probe, combination)
    return b"refused" if predicted is None else predicted.tobytes()


def _separating(operation: str, make, wanted: int, seed: int, start: int = 0,
                dimension: str | None = None) -> list[Probe]:
    """Seeded search: ``make(rng, index)`` builds a candidate probe; keep those on which every value of
    some dimension gives an output of its own, whatever the values of the other dimensions (among the
    valid combinations)."""
    found: list[Probe] = []
    for index in range(start, start + 2000):
        # each candidate has its own generator, so ``start`` can skip a search already done
        probe = make(np.random.default_rng([seed, index]), len(found))
        separates = False
        dimensions = OPERATION_VARIANTS[operation]
        for name, values in dimensions.items():
            if dimension is not None and name != dimension:
                continue
            others = combinations({other: choices for other, choices in dimensions.items() if other != name})
            groups = [[{**rest, name: value} for value in values if valid({**rest, name: value})] for rest in others]
            groups = [group for group in groups if len(group) > 1]
            separates |= bool(groups) and all(len({_output(probe, c) for c in group}) == len(group)
                                              for group in groups)
        if separates:
            found.append(probe)
            if len(found) == wanted:
                break
    return found


def _scale(rng, low=0.005, high=0.2) -> np.float32:
    return F32(rng.uniform(low, high))


def add_probes() -> list[Probe]:
    """Every pair of uint8 codes, flat (the fixed part) and with ``A`` of shape (256, 1) broadcast against
    ``B`` of shape (256, 256), which makes ``A`` the per-span scalar (the operand order): two of each."""
    codes = np.arange(256, dtype=np.uint8)

    def make(rng, index, scalar):
        a_zero, b_zero, c_zero = (np.uint8(rng.integers(0, 256)) for _ in range(3))
        a = codes[:, None] if scalar else np.repeat(codes, 256)
        b = np.tile(codes, (256, 1)) if scalar else np.tile(codes, 256)
        return Probe(f"add-{'scalar-a' if scalar else 'all-pairs'}-{index}", "qlinear_add",
                     (a, _scale(rng), a_zero, b, _scale(rng), b_zero, _scale(rng), c_zero))

    return (_separating("qlinear_add", lambda rng, index: make(rng, index, False), 2, seed=5,
                        dimension="add_fixed_part")
            + _separating("qlinear_add", lambda rng, index: make(rng, index, True), 2, seed=15,
                          dimension="add_operand_order"))


def mul_probes() -> list[Probe]:
    codes = np.arange(256, dtype=np.uint8)

    def make(rng, index):
        zeros = [np.uint8(rng.integers(0, 256)) for _ in range(3)]
        return Probe(f"mul-{index}", "qlinear_mul", (np.repeat(codes, 256), _scale(rng, 0.01, 0.1), zeros[0],
                                                     np.tile(codes, 256),
                                                     _scale(rng, 0.01, 0.1), zeros[1], _scale(rng, 0.5, 8), zeros[2]))

    return _separating("qlinear_mul", make, 1, seed=6)


def sigmoid_probes() -> list[Probe]:
    codes = np.arange(256, dtype=np.uint8)

    def make(rng, index):
        return Probe(f"sigmoid-{index}", "qlinear_sigmoid", (codes, _scale(rng, 0.02, 0.1), np.uint8(128),
                                                             F32(1 / 256), np.uint8(0)))

    return _separating("qlinear_sigmoid", make, 2, seed=7)


def pool_probes(operation: str) -> list[Probe]:
    def make(rng, index):
        x = rng.integers(0, 256, (1, 64, 16, 16)).astype(np.uint8)
        inputs = (x, _scale(rng), np.uint8(rng.integers(0, 256)), _scale(rng), np.uint8(rng.integers(0, 256)))
        attributes = {} if operation == "qlinear_global_average_pool" else {"kernel_shape": [2, 2], "strides": [2, 2]}
        return Probe(f"{operation.removeprefix('qlinear_')}-{index}", operation, inputs, attributes)

    if operation == "qlinear_global_average_pool":
        return _separating(operation, make, 1, seed=8)
    return _separating(operation, make, 1, seed=8, dimension="average_sum") + average_division_probes()


def average_division_probes() -> list[Probe]:
    """int8 2x2 windows in one scale and zero point, which the integer rules accept: window sums on
    ties $\\pm 1/2$ separate ties to even (float32), ties away from zero (TensorFlow Lite) and TOSA's
    rounding up of its reciprocal product."""
    def make(rng, index):
        x = rng.integers(-128, 128, (1, 16, 8, 8)).astype(np.int8)
        scale, zero = _scale(rng), np.int8(rng.integers(-20, 21))
        return Probe(f"average_pool-one-scale-{index}", "qlinear_average_pool", (x, scale, zero, scale, zero),
                     {"kernel_shape": [2, 2], "strides": [2, 2]})

    return _separating("qlinear_average_pool", make, 1, seed=9, dimension="average_division")


@lru_cache(maxsize=None)
def probes_for(operation: str) -> tuple[Probe, ...]:
    makers = {"qlinear_add": add_probes, "qlinear_mul": mul_probes, "qlinear_sigmoid": sigmoid_probes,
              "qlinear_global_average_pool": lambda: pool_probes("qlinear_global_average_pool"),
              "qlinear_average_pool": lambda: pool_probes("qlinear_average_pool")}
    table = tuple(makers[operation]())
    assert table, f"no separating probe found for {operation}"
    return table


# --- the fingerprint ----------------------------------------------------------------------


class ElementwiseChapter:
    """The ELT operations for the engine: one probe per call, compared whole, per tensor."""

    unit = "probe"
    operations = tuple(OPERATION_VARIANTS)
    granularities = ("per_tensor",)

    def dimensions(self, operation: str) -> dict[str, tuple[str, ...]]:
        return OPERATION_VARIANTS[operation]

    def combinations(self, operation: str) -> list[dict[str, str]]:
        return combinations_for(operation)

    def probes(self, operation: str, granularity: str) -> tuple[Probe, ...]:
        return tuple(engine.Probe(p.name, operation, p.inputs, p.attributes, p) for p in probes_for(operation))

    def output(self, probe, returned) -> np.ndarray:
        return np.asarray(returned)

    @lru_cache(maxsize=None)
    def _predicted(self, operation: str, name: str, combination: tuple):
        probe = next(p for p in probes_for(operation) if p.name == name)
        return predict(probe, dict(combination))

    def predict(self, probe, granularity: str, index: int, combination: dict[str, str]):
        predicted = self._predicted(probe.operation, probe.name, tuple(sorted(combination.items())))
        return engine.REFUSED if predicted is None else (predicted, None)

    def declared(self, backend, operation: str, granularity: str) -> dict[str, str] | None:
        return PROFILE_COMBINATIONS.get(getattr(backend, "profile", None), {}).get(operation)

    def profiles(self, operation: str, granularity: str) -> dict[str, dict[str, str]]:
        return {}

    def describe(self, probe, element, value):
        return engine.Unexplained(probe.name)


CHAPTER = ElementwiseChapter()


def fingerprint_operation(backend, operation: str) -> Result:
    return engine.fingerprint_operation(backend, CHAPTER, operation, "per_tensor")


def fingerprint_elementwise(backend) -> list[Result]:
    """Every ELT operation above; a backend without one is reported unsupported."""
    return [fingerprint_operation(backend, operation) for operation in OPERATION_VARIANTS]
