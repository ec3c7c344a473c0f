"""Code tables: the 4-bit formats whose codes index a table of values in [-1, 1] (BLK-7).

bitsandbytes' NF4 and FP4 scale each block by its largest magnitude and store, for every element,
the code whose table value the scaled element is nearest to. A table is data: sixteen values as
exact rationals (each value of the format is the float32 nearest to it), and the float literals of
the decision tree that ONNX Runtime's and bitsandbytes' CUDA kernels select codes with (BLK-7.4), as
written in their C source (a C compiler rounds each decimal literal straight to float32).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class CodeTable:
    name: str
    description: str
    #: The value of each code 0..15, exactly (a decimal string or a ratio "n/d"); "-0" is a negative zero.
    values: tuple[str, ...]
    #: The decision tree's thresholds, the C literals in increasing order (BLK-7.4 ``decision_tree``).
    tree_thresholds: tuple[str, ...]
    #: The code the tree gives a value above exactly ``i`` of the thresholds (on the magnitude, with
    #: :attr:`tree_on_magnitude`).
    tree_codes: tuple[int, ...]
    #: Whether the tree compares |v| and adds the sign bit 8 for v < 0 (FP4), instead of comparing v (NF4).
    tree_on_magnitude: bool
    sources: tuple[str, ...] = ()

    def exact_values(self) -> tuple[Fraction, ...]:
        """Each code's value as a Fraction (a negative zero as 0)."""
        return tuple(Fraction(value) for value in self.values)


_NF4 = ("-1.0", "-0.6961928009986877", "-0.5250730514526367", "-0.39491748809814453", "-0.28444138169288635",
        "-0.18477343022823334", "-0.09105003625154495", "0.0", "0.07958029955625534", "0.16093020141124725",
        "0.24611230194568634", "0.33791524171829224", "0.44070982933044434", "0.5626170039176941",
        "0.7229568362236023", "1.0")
_NF4_TREE = ("-0.8480964004993439", "-0.6106329262256622", "-0.4599952697753906", "-0.33967943489551544",
             "-0.23460740596055984", "-0.13791173323988914", "-0.045525018125772476", "0.03979014977812767",
             "0.1202552504837513", "0.2035212516784668", "0.2920137718319893", "0.3893125355243683",
             "0.5016634166240692", "0.6427869200706482", "0.8614784181118011")
# The FP4 codes are sign, 2 exponent bits and 1 mantissa bit of 0, 0.0625, 8, 12, 4, 6, 2, 3 (bias 3, no
# infinity), divided by 12, the largest: each value is the float32 nearest to k / 12.
_FP4_MAGNITUDES = ("0", "1/192", "2/3", "1", "1/3", "1/2", "1/6", "1/4")
_FP4_TREE = ("0.00260417", "0.0859375", "0.20833333", "0.29166667", "0.4166667", "0.583333", "0.8333333")

CODE_TABLES: tuple[CodeTable, ...] = (
    CodeTable("nf4", "NormalFloat4 (QLoRA): quantiles of the standard normal distribution, scaled to [-1, 1]; "
                     "code 7 is 0, codes in increasing order of value",
              _NF4, _NF4_TREE, tuple(range(16)), False,
              ("bitsandbytes/functional.py get_4bit_type('nf4') (bitsandbytes 0.50.2)",
               "onnxruntime/contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h nf4_qaunt_map, "
               "QuantizeOneNF4 (onnxruntime 1.32)")),
    CodeTable("fp4", "bitsandbytes FP4: sign, 2 exponent bits, 1 mantissa bit (bias 3, no infinity or NaN), "
                     "the values divided by 12 to [-1, 1]; code 8 is a zero (its sign is bnb4_fp4_code8's)",
              (*_FP4_MAGNITUDES, "-0", *(f"-{value}" for value in _FP4_MAGNITUDES[1:])), _FP4_TREE,
              (0, 1, 6, 7, 4, 5, 2, 3), True,
              ("bitsandbytes/functional.py get_4bit_type('fp4') (bitsandbytes 0.50.2)",
               "onnxruntime/contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h fp4_qaunt_map, "
               "QuantizeOneFP4 (onnxruntime 1.32)")),
)

CODE_TABLES_BY_NAME = {table.name: table for table in CODE_TABLES}
