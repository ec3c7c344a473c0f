"""Cases for BLK-10, code packing: ``pack_codes`` and ``unpack_codes``.

Each case runs under the profiles whose engine packs that many bits: compressed-tensors 1 to 8 (signed codes),
HQQ 1, 2, 3, 4 and 8 (unsigned), ONNX 2 and 4 (both), torchao 4 (unsigned). Pack cases hold every code of the
range in rows of 40 (a multiple of every plane count, and 40 * B bits straddle int32 words for every B that
does not divide 32), in a three-dimensional array at 3 and 4 bits, and in rows of 37, whose last unit is padded
(HQQ at 1, 2 and 4 bits and torchao refuse those rows; the other engines pad). Unpack cases read units of random bits, the
bits no field reaches included, for rows of 40 (and of 37 at 3 and 4 bits), and once with no length (every field the units hold).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from refq.conformance.generate.case_spec import CaseSpec

RANDOM_SEED = 4127
#: torchao's four MX profiles pack alike (one pack_uint4): the vectors run under the first.
TORCHAO = ("torchao-floor",)
ONNX = ("onnx", "onnx-reference")
#: The profiles whose engines pack signed codes, and unsigned ones, at each number of bits.
SIGNED_PROFILES = {bits: ("compressed-tensors", *(ONNX if bits in (2, 4) else ())) for bits in range(1, 9)}
UNSIGNED_PROFILES = {bits: (*(("hqq",) if bits in (1, 2, 3, 4, 8) else ()), *(ONNX if bits in (2, 4) else ()),
                            *(TORCHAO if bits == 4 else ())) for bits in range(1, 9)}
#: Profiles that take a row of 37 (an odd length, not a multiple of HQQ's plane counts at 1, 2 and 4 bits).
ODD_ROW_PROFILES = ("compressed-tensors", *ONNX, "hqq")
ROW = 40
ODD_ROW = 37
ROWS = {1: 8, 2: 256}


def _codes(bits: int, signed: bool, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Codes of ``shape``: every code of the range once in order, then random ones."""
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    size = int(np.prod(shape))
    every = np.arange(low, high + 1)
    values = np.concatenate([every, rng.integers(low, high + 1, max(size - every.size, 0))])[:size]
    return values.reshape(shape).astype(np.int8 if signed else np.uint8)


def pack_cases(level: int) -> Iterator[CaseSpec]:
    rng = np.random.default_rng([RANDOM_SEED, level])
    suffix = "-random" if level == 2 else ""
    for bits in range(1, 9):
        for signed, by_bits in ((True, SIGNED_PROFILES), (False, UNSIGNED_PROFILES)):
            profiles = by_bits[bits]
            if not profiles:
                continue
            kind = "signed" if signed else "unsigned"
            # Enough rows of 40 to hold every code of 8 bits at least once.
            rows = max(ROWS[level], -(-(1 << bits) // ROW))
            yield CaseSpec(op="pack_codes", name=f"{kind}-{bits}-bit{suffix}",
                           inputs={"codes": _codes(bits, signed, (rows, ROW), rng)}, attributes={"bits": bits},
                           clauses=(), description=f"{rows} rows of 40 {kind} {bits}-bit codes: every code of the "
                                                   "range, then random ones",
                           generator="packing.pack_cases", seed=RANDOM_SEED, profiles=profiles)
            if level != 1:
                continue
            if bits in (3, 4):
                yield CaseSpec(op="pack_codes", name=f"{kind}-{bits}-bit-three-dimensional",
                               inputs={"codes": _codes(bits, signed, (2, 3, ROW), rng)},
                               attributes={"bits": bits}, clauses=(),
                               description=f"{kind} {bits}-bit codes of shape (2, 3, 40)",
                               generator="packing.pack_cases", seed=RANDOM_SEED, profiles=profiles)
            odd = tuple(name for name in profiles if name in ODD_ROW_PROFILES)
            if odd:
                yield CaseSpec(op="pack_codes", name=f"{kind}-{bits}-bit-rows-of-37",
                               inputs={"codes": _codes(bits, signed, (5, ODD_ROW), rng)}, attributes={"bits": bits},
                               clauses=("BLK-10.3",), description=f"5 rows of 37 {kind} {bits}-bit codes: each "
                                                                  "row's last unit padded with zero fields",
                               generator="packing.pack_cases", seed=RANDOM_SEED, profiles=odd)


def _units(profile_bits_unit: int, count: int, rng: np.random.Generator) -> np.ndarray:
    if profile_bits_unit == 32:
        return rng.integers(0, 1 << 32, count, dtype=np.uint64).astype(np.uint32).view(np.int32)
    return rng.integers(0, 256, count).astype(np.uint8)


def unpack_cases(level: int) -> Iterator[CaseSpec]:
    from refq.block.packing import unit_width
    from refq.block.packing_kernels import PLANES, STREAM_LOW_FIRST, stream_units
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME

    rng = np.random.default_rng([RANDOM_SEED, 1, level])
    suffix = "-random" if level == 2 else ""
    for bits in range(1, 9):
        for signed, by_bits in ((True, SIGNED_PROFILES), (False, UNSIGNED_PROFILES)):
            kind = "signed" if signed else "unsigned"
            # One case per kind of units: profiles that read the same bytes from the same input share it.
            groups: dict[tuple, list[str]] = {}
            for name in by_bits[bits]:
                packing = EVERY_PROFILE_BY_NAME[name].packing
                unit_bits = unit_width(bits, packing["code_unit"])
                order = PLANES if packing["code_order"] == "planes" else STREAM_LOW_FIRST
                groups.setdefault((unit_bits, order, packing["code_extent"]), []).append(name)
            for (unit_bits, order, extent), profiles in groups.items():
                tag = (f"{'words' if unit_bits == 32 else 'bytes'}-{'planes' if order == PLANES else 'stream'}"
                       + ("-whole-array" if extent == "tensor" else ""))
                lengths = [(ROW, tuple(profiles))]
                if level == 1 and bits in (3, 4):
                    lengths.append((ODD_ROW, tuple(name for name in profiles if name in ODD_ROW_PROFILES)))
                for length, chosen in lengths:
                    if not chosen:
                        continue
                    rows = ROWS[level]
                    if extent == "tensor":
                        units = _units(unit_bits, stream_units(rows * length, bits, unit_bits, order), rng)
                        attributes = {"bits": bits, "length": rows * length, "signed": signed}
                    else:
                        per_row = stream_units(length, bits, unit_bits, order)
                        units = _units(unit_bits, rows * per_row, rng).reshape(rows, per_row)
                        attributes = {"bits": bits, "length": length, "signed": signed}
                    yield CaseSpec(op="unpack_codes", name=f"{kind}-{bits}-bit-{tag}-rows-of-{length}{suffix}",
                                   inputs={"packed": units}, attributes=attributes, clauses=(),
                                   description=f"random {'int32 words' if unit_bits == 32 else 'bytes'} read as "
                                               f"{rows} rows of {length} {kind} {bits}-bit codes"
                                               + (" (one stream)" if extent == "tensor" else ""),
                                   generator="packing.unpack_cases", seed=RANDOM_SEED, profiles=chosen)
    if level != 1:
        return
    yield CaseSpec(op="unpack_codes", name="every-field", inputs={"packed": _units(32, 30, rng).reshape(3, 10)},
                   attributes={"bits": 3, "length": None, "signed": None}, clauses=("BLK-10.5",),
                   description="3 rows of 10 random int32 words, no length: every 3-bit field they hold (106 a "
                               "row), signed under offset",
                   generator="packing.unpack_cases", seed=RANDOM_SEED, profiles=("compressed-tensors",))


def error_cases(level: int) -> Iterator[CaseSpec]:
    # Under ONNX's text: no engine declares that profile for packing, so these are refq's own contract (the
    # engines' answers to bad input differ: compressed-tensors carries an out-of-range code into the next field
    # and returns fewer codes for too few words).
    if level != 1:
        return
    common = dict(clauses=(), generator="packing.error_cases", seed=0, profiles=("onnx",), outcome="error")
    yield CaseSpec(op="pack_codes", name="error-code-range", inputs={"codes": np.full((2, 8), 16, np.uint8)},
                   attributes={"bits": 4}, description="a code of 16: beyond 4-bit codes", **common)
    yield CaseSpec(op="pack_codes", name="error-bits", inputs={"codes": np.zeros((2, 8), np.int8)},
                   attributes={"bits": 9}, description="9 bits: more than a byte's code", **common)
    yield CaseSpec(op="unpack_codes", name="error-packed-length", inputs={"packed": np.zeros(3, np.uint8)},
                   attributes={"bits": 4, "length": 8, "signed": True},
                   description="3 bytes for 8 4-bit codes, which take 4", **common)
    yield CaseSpec(op="unpack_codes", name="error-packed-type", inputs={"packed": np.zeros(4, np.int32)},
                   attributes={"bits": 4, "length": 8, "signed": True},
                   description="int32 words where the profile packs bytes", **common)


GENERATORS = (pack_cases, unpack_cases, error_cases)
