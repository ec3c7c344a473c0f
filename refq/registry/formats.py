"""Number formats: the parameters every other table and function derives from."""

from __future__ import annotations

from dataclasses import dataclass

#: Special-value conventions of binary floating-point formats.
#:
#: ``ieee``: the all-ones exponent encodes infinities (mantissa 0) and NaNs.
#: ``fn``: finite; no infinities, only the all-ones exponent *and* mantissa is NaN.
#: ``fnuz``: finite, unsigned zero; the pattern of negative zero (sign bit alone) is the one NaN.
#: ``finite``: every pattern is a finite number (no NaN, no infinity).
SPECIAL_VALUE_CONVENTIONS = {
    "ieee": "all-ones exponent: infinity (mantissa 0) or NaN (mantissa != 0), IEEE 754",
    "fn": "finite: no infinity; all-ones exponent and mantissa is NaN (OCP FP8 E4M3)",
    "fnuz": "finite, unsigned zero: no infinity, no -0; the pattern 1000...0 is the only NaN",
    "finite": "every pattern is a finite number: no infinity, no NaN (OCP MX FP4/FP6)",
}


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: sign bit, exponent field, mantissa field.

    ``signed`` False drops the sign bit: the format has no negative values (an
    OCP MX E8M0 scale, NVFP4's UE4M3 block scale). ``has_zero`` False gives the
    exponent field 0 an ordinary binade instead of zeros and subnormals (E8M0,
    whose 0x00 is $2^{-127}$).
    """

    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    specials: str
    description: str
    sources: tuple[str, ...] = ()
    ml_dtypes_name: str | None = None
    signed: bool = True
    has_zero: bool = True

    @property
    def total_bits(self) -> int:
        return int(self.signed) + self.exponent_bits + self.mantissa_bits

    @property
    def has_infinity(self) -> bool:
        return self.specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.specials != "finite"

    @property
    def has_negative_zero(self) -> bool:
        return self.signed and self.has_zero and self.specials != "fnuz"

    @property
    def has_subnormals(self) -> bool:
        return self.has_zero and self.mantissa_bits > 0

    @property
    def min_biased_exponent(self) -> int:
        """The exponent that the field 0 stands for: 1 where it holds zeros and subnormals, else 0."""
        return 1 if self.has_zero else 0


@dataclass(frozen=True)
class IntegerFormat:
    """A two's-complement (signed) or plain binary (unsigned) integer of ``bits`` bits."""

    bits: int
    signed: bool

    @property
    def name(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"


FLOAT_FORMATS: tuple[FloatFormat, ...] = (
    FloatFormat("binary32", 8, 23, 127, "ieee", "IEEE 754 single precision (float32)",
                ("IEEE 754-2019 3.6",), "float32"),
    FloatFormat("binary16", 5, 10, 15, "ieee", "IEEE 754 half precision (float16)",
                ("IEEE 754-2019 3.6",), "float16"),
    FloatFormat("bfloat16", 8, 7, 127, "ieee", "brain float: binary32 with a 7-bit mantissa",
                ("Google bfloat16",), "bfloat16"),
    FloatFormat("float8_e4m3fn", 4, 3, 7, "fn", "OCP FP8 E4M3: max 448, no infinity",
                ("OCP 8-bit Floating Point Specification (OFP8) 1.0",), "float8_e4m3fn"),
    FloatFormat("float8_e5m2", 5, 2, 15, "ieee", "OCP FP8 E5M2: IEEE-like, max 57344",
                ("OCP 8-bit Floating Point Specification (OFP8) 1.0",), "float8_e5m2"),
    FloatFormat("float8_e4m3fnuz", 4, 3, 8, "fnuz", "FP8 E4M3 with bias 8 and unsigned zero (Graphcore, AMD)",
                ("ONNX Float8E4M3FNUZ",), "float8_e4m3fnuz"),
    FloatFormat("float8_e5m2fnuz", 5, 2, 16, "fnuz", "FP8 E5M2 with bias 16 and unsigned zero (Graphcore, AMD)",
                ("ONNX Float8E5M2FNUZ",), "float8_e5m2fnuz"),
    FloatFormat("float6_e3m2fn", 3, 2, 3, "finite", "OCP MX FP6 E3M2: max 28",
                ("OCP Microscaling Formats (MX) 1.0",), "float6_e3m2fn"),
    FloatFormat("float6_e2m3fn", 2, 3, 1, "finite", "OCP MX FP6 E2M3: max 7.5",
                ("OCP Microscaling Formats (MX) 1.0",), "float6_e2m3fn"),
    FloatFormat("float4_e2m1fn", 2, 1, 1, "finite", "OCP MX FP4 E2M1: values 0, 0.5, 1, 1.5, 2, 3, 4, 6",
                ("OCP Microscaling Formats (MX) 1.0", "ONNX Float4E2M1"), "float4_e2m1fn"),
    FloatFormat("float8_e8m0fnu", 8, 0, 127, "fn", "OCP MX E8M0 scale: powers of two 2^-127..2^127, no sign, no zero",
                ("OCP Microscaling Formats (MX) 1.0 5.4.1", "ONNX Float8E8M0"), "float8_e8m0fnu",
                signed=False, has_zero=False),
    FloatFormat("float8_ue4m3", 4, 3, 7, "fn", "NVFP4 block scale: E4M3FN without the sign bit, max 448",
                ("NVIDIA PTX ue4m3", "ggml NVFP4 (ue4m3)"), None, signed=False),
)

#: Other spellings accepted wherever a format name is.
FLOAT_FORMAT_ALIASES = {
    "float32": "binary32",
    "fp32": "binary32",
    "float16": "binary16",
    "fp16": "binary16",
    "half": "binary16",
    "bf16": "bfloat16",
    "e4m3fn": "float8_e4m3fn",
    "e5m2": "float8_e5m2",
    "e4m3fnuz": "float8_e4m3fnuz",
    "e5m2fnuz": "float8_e5m2fnuz",
    "e2m1": "float4_e2m1fn",
    "fp4": "float4_e2m1fn",
    "e8m0": "float8_e8m0fnu",
    "e8m0fnu": "float8_e8m0fnu",
    "ue8m0": "float8_e8m0fnu",
    "ue4m3": "float8_ue4m3",
}

#: Widths refq defines integers for.
INTEGER_BITS = range(1, 65)
