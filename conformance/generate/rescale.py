"""Cases for TOSA's ``RESCALE`` operator (``rescale``, REQ-2.8 and REQ-2.9), under the ``tosa`` profile only.

The int32 cases put every shift 2..62 side by side, one channel each (``per_channel``), twice: with a random
multiplier, and with a multiplier made for exact ties (REQ-2.4: $vM / 2^s$ ends in exactly one half, and the
double rounding's first step at bit 31 meets ties of its own). Their rows are random values within TOSA's
range $[-2^{s-1}, 2^{s-1})$, both ends of it, one past each end (unpredictable where int32 holds them), and
the exact ties with their neighbours. Four more channels hold what TOSA REQUIREs away: shifts 0, 1 and 63 and a
negative multiplier, every element unpredictable. The other cases read 8- and 16-bit inputs with zero
points (signed and unsigned), int48 accumulators in the 16-bit form (with results past int32), and int32
outputs.

Level 1 is small (the checked-in level's size budget); level 2 holds more rows and every pair of input and
output types TOSA allows, per tensor and per channel.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec

PROFILES = ("tosa",)
SHIFTS = np.arange(2, 63)
#: Channels whose shift or multiplier TOSA REQUIREs away: (multiplier, shift).
OUTSIDE_CHANNELS = ((1 << 30, 0), (1 << 30, 1), (1 << 30, 63), (-(1 << 30), 31))


def case(name: str, inputs: dict, attributes: dict, *, description: str, generator: str, seed: int,
         clauses=()) -> CaseSpec:
    return CaseSpec(op="rescale", name=name,
                    inputs={key: None if value is None else np.array(value, order="C") for key, value in inputs.items()},
                    attributes=attributes, clauses=tuple(clauses), description=description,
                    generator=f"rescale.{generator}", seed=seed, profiles=PROFILES)


def tie_multiplier(shift: int) -> int:
    """A multiplier $M = \\mathrm{odd} \\cdot 2^{j}$ for which some int32 $v$ in TOSA's range makes $vM / 2^s$ a tie:
    $j = s - 1$ up to $s = 31$ ($v$ odd), $M = 2^{30}$ above ($v = \\mathrm{odd} \\cdot 2^{s - 31}$)."""
    if shift <= 31:
        odd = 2 * ((shift * 7919) % (1 << (31 - shift))) + 1  # below 2^(32 - s): M stays below 2^31
        return odd << (shift - 1)
    return 1 << 30


def tie_values(shift: int, count: int, rng: np.random.Generator) -> list[int]:
    """``count`` values $v$ (half of them negative) whose $v M / 2^s$ is a tie under :func:`tie_multiplier`,
    within TOSA's range and int32; for $s = 62$ none exists, and in-range values stand in."""
    limit = 1 << (shift - 1)
    step = 1 if shift <= 31 else 1 << (shift - 31)
    top = min(limit, 1 << 31) // step  # odd multiples of step below the range's end
    if shift == 62 or top < 2:
        return [int(v) for v in rng.integers(-(1 << 31), 1 << 31, count)]
    odd = 2 * rng.integers(0, max(1, top // 2), count) + 1
    signs = np.where(np.arange(count) % 2, -1, 1)
    values = [int(sign * o * step) for sign, o in zip(signs, odd)]
    return [min(max(v, -limit), limit - 1, (1 << 31) - 1) for v in values]


def every_shift_inputs(rows: int, rng: np.random.Generator) -> dict:
    """int32 values by (row, channel): the random channels, the tie channels, the four outside channels."""
    multipliers, shifts, columns = [], [], []
    for shift in SHIFTS:
        limit = 1 << (int(shift) - 1)
        low, high = max(-limit, -(1 << 31)), min(limit, 1 << 31)
        random = [int(v) for v in rng.integers(low, high, rows)]
        edges = [low, high - 1, low - 1, high]  # both ends, one past each (clipped to int32 below)
        columns.append(random + edges)
        multipliers.append(int(rng.integers(0, 1 << 31)))
        shifts.append(int(shift))
    for shift in SHIFTS:
        ties = tie_values(int(shift), rows + 2, rng)
        columns.append(ties[:rows] + [ties[rows] + 1, ties[rows + 1] - 1, ties[0] - 1, ties[1] + 1])
        multipliers.append(tie_multiplier(int(shift)))
        shifts.append(int(shift))
    for multiplier, shift in OUTSIDE_CHANNELS:
        columns.append([int(v) for v in rng.integers(-(1 << 20), 1 << 20, rows + 4)])
        multipliers.append(multiplier)
        shifts.append(shift)
    values = np.clip(np.array(columns, np.int64).T, -(1 << 31), (1 << 31) - 1).astype(np.int32)
    return {"input": values, "multiplier": np.array(multipliers, np.int32), "shift": np.array(shifts, np.int32),
            "input_zp": None, "output_zp": np.array([-3], np.int8)}


def every_shift_cases(level: int) -> Iterator[CaseSpec]:
    rows = 4 if level == 1 else 64
    for rounding in ("double_round", "single_round"):
        rng = np.random.default_rng(2808)
        yield case(f"int32-int8-every-shift-{rounding.replace('_', '-')}", every_shift_inputs(rows, rng),
                   {"dtype": "int8", "scale32": True, "rounding_mode": rounding, "per_channel": True},
                   description=f"int32 -> int8, {rounding}, per channel: shifts 2..62 with random and tie-making "
                               "multipliers; random, edge, outside and tie values; shifts 0, 1, 63 and a negative "
                               "multiplier (unpredictable)",
                   generator="every_shift", seed=2808)


def int48_inputs(rows: int, rng: np.random.Generator) -> dict:
    shifts = np.arange(2, 63, 4 if rows < 16 else 1)
    values = rng.integers(-(1 << 47), 1 << 47, (rows, shifts.size))
    values[0] = -(1 << 47)
    values[1] = (1 << 47) - 1
    values[2:4] = rng.integers(-(1 << 20), 1 << 20, (2, shifts.size))
    return {"input": values.astype(np.int64), "multiplier": rng.integers(0, 1 << 15, shifts.size).astype(np.int32),
            "shift": shifts.astype(np.int32), "input_zp": None, "output_zp": None}


def zero_point_cases(level: int) -> Iterator[CaseSpec]:
    """8- and 16-bit inputs with zero points, int32 outputs, int48 in the 16-bit form."""
    rows = 4 if level == 1 else 48
    rng = np.random.default_rng(2809)
    yield case("int48-int16-scale16", int48_inputs(rows, rng),
               {"dtype": "int16", "scale32": False, "rounding_mode": "single_round", "per_channel": True},
               description="int48 (int64) -> int16, the 16-bit form: random and extreme accumulators at shifts "
                           "2..62, results past int32 unpredictable", generator="zero_points", seed=2809)
    codes = np.arange(-128, 128, dtype=np.int16).astype(np.int8).reshape(-1, 8)
    yield case("int8-int32-input-zp",
               {"input": codes, "multiplier": np.array([(1 << 30) + 12345, 1 << 30, 1, (1 << 31) - 1, 1 << 30,
                                                        1717986918, 3, (1 << 30) + 1], np.int32),
                "shift": np.array([10, 2, 9, 12, 30, 31, 9, 40], np.int32), "input_zp": np.array([-100], np.int8),
                "output_zp": None},
               {"dtype": "int32", "scale32": True, "rounding_mode": "double_round", "per_channel": True},
               description="every int8 code less the input zero point -100 to int32, multipliers up to 2^29",
               generator="zero_points", seed=2810)
    unsigned = np.arange(256, dtype=np.uint8).reshape(-1, 4)
    yield case("uint8-int8-input-zp",
               {"input": unsigned, "multiplier": np.array([1 << 30], np.int32), "shift": np.array([31], np.int32),
                "input_zp": np.array([131], np.uint8), "output_zp": np.array([7], np.int8)},
               {"dtype": "int8", "scale32": True, "rounding_mode": "double_round", "per_channel": False},
               description="every uint8 code (input_unsigned) less 131, halved (ties), plus 7", generator="zero_points",
               seed=2811)
    if level == 1:
        return
    yield from pair_cases(rng)


#: The (input, output) dtypes TOSA allows (no unsigned pair, no unsigned input to int32, no unsigned output of
#: int32 or int48), for the level-2 cross product.
PAIRS = tuple((i, o) for i in ("int8", "uint8", "int16", "uint16", "int32", "int64")
              for o in ("int8", "uint8", "int16", "uint16", "int32")
              if not (i.startswith("u") and o.startswith("u")) and not (i.startswith("u") and o == "int32")
              and not (i in ("int32", "int64") and o.startswith("u")))


def _zero_point(dtype: str, rng: np.random.Generator):
    info = np.iinfo(np.dtype(dtype))
    if info.bits == 8:
        return np.array([rng.integers(info.min, info.max + 1)], dtype)
    if dtype == "uint16":
        return np.array([32768], dtype)
    return None


def pair_cases(rng: np.random.Generator) -> Iterator[CaseSpec]:
    for input_type, output_type in PAIRS:
        info = np.iinfo(np.dtype(input_type))
        low, high = (-(1 << 47), 1 << 47) if input_type == "int64" else (info.min, info.max + 1)
        values = rng.integers(low, high, (16, 6)).astype(input_type)
        scale32 = input_type != "int64"
        for per_channel in (False, True):
            channels = 6 if per_channel else 1
            top = 1 << 31 if scale32 else 1 << 15
            shifts = rng.integers(2, 63, channels) if input_type == "int64" else rng.integers(2, 40, channels)
            roundings = ("single_round", "double_round") if scale32 else ("single_round",)
            for rounding in roundings:
                name = f"{input_type}-{output_type}-{'per-channel' if per_channel else 'per-tensor'}-" \
                       f"{rounding.replace('_', '-')}"
                yield case(name, {"input": values, "multiplier": rng.integers(0, top, channels).astype(np.int32),
                                  "shift": shifts.astype(np.int32), "input_zp": _zero_point(input_type, rng),
                                  "output_zp": _zero_point(output_type, rng)},
                           {"dtype": output_type, "scale32": scale32, "rounding_mode": rounding,
                            "per_channel": per_channel},
                           description=f"{input_type} -> {output_type}, {rounding}, "
                                       f"{'per channel' if per_channel else 'per tensor'}",
                           generator="pairs", seed=2812)


GENERATORS = (every_shift_cases, zero_point_cases)
