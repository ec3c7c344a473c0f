"""GGF-1.1: the ggml block types refq knows, their block sizes and byte counts.

A ggml tensor of a quantized type is a sequence of blocks; each block holds a fixed
number of consecutive elements of a row in a fixed number of bytes. The numeric ids are
ggml's ``enum ggml_type`` values, the ones a GGUF file stores for each tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

from refq.errors import invalid

#: Elements in a super-block of the K types (ggml's ``QK_K``).
SUPER_BLOCK = 256


@dataclass(frozen=True)
class BlockType:
    name: str
    ggml_id: int
    block_elements: int
    block_bytes: int
    #: Whether refq executes the reference quantize of this type (dequantize is always defined).
    quantize: bool

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.block_bytes / self.block_elements


BLOCK_TYPES: tuple[BlockType, ...] = (
    BlockType("Q4_0", 2, 32, 18, True),
    BlockType("Q4_1", 3, 32, 20, True),
    BlockType("Q5_0", 6, 32, 22, True),
    BlockType("Q5_1", 7, 32, 24, True),
    BlockType("Q8_0", 8, 32, 34, True),
    BlockType("Q8_1", 9, 32, 36, True),
    BlockType("Q2_K", 10, SUPER_BLOCK, 84, True),
    BlockType("Q3_K", 11, SUPER_BLOCK, 110, True),
    BlockType("Q4_K", 12, SUPER_BLOCK, 144, True),
    BlockType("Q5_K", 13, SUPER_BLOCK, 176, True),
    BlockType("Q6_K", 14, SUPER_BLOCK, 210, True),
    BlockType("Q8_K", 15, SUPER_BLOCK, 292, True),
    BlockType("IQ4_NL", 20, 32, 18, True),
    BlockType("IQ4_XS", 23, SUPER_BLOCK, 136, True),
    BlockType("TQ1_0", 34, SUPER_BLOCK, 54, True),
    BlockType("TQ2_0", 35, SUPER_BLOCK, 66, True),
    BlockType("MXFP4", 39, 32, 17, True),
    BlockType("NVFP4", 40, 64, 36, True),
    BlockType("Q1_0", 41, 128, 18, True),
    BlockType("Q2_0", 42, 64, 18, True),
    BlockType("IQ2_XXS", 16, SUPER_BLOCK, 66, False),
    BlockType("IQ2_XS", 17, SUPER_BLOCK, 74, False),
    BlockType("IQ3_XXS", 18, SUPER_BLOCK, 98, False),
    BlockType("IQ1_S", 19, SUPER_BLOCK, 50, False),
    BlockType("IQ3_S", 21, SUPER_BLOCK, 110, False),
    BlockType("IQ2_S", 22, SUPER_BLOCK, 82, False),
    BlockType("IQ1_M", 29, SUPER_BLOCK, 56, False),
)

BLOCK_TYPES_BY_NAME = {block_type.name: block_type for block_type in BLOCK_TYPES}


def block_type(name: object, argument: str = "type") -> BlockType:
    """The block type called ``name`` (``"Q4_K"``, case-insensitive); anything else is an error naming ``argument``."""
    if isinstance(name, BlockType):
        return name
    key = name.upper() if isinstance(name, str) else None
    if key not in BLOCK_TYPES_BY_NAME:
        raise invalid(argument, "one of " + ", ".join(BLOCK_TYPES_BY_NAME), name)
    return BLOCK_TYPES_BY_NAME[key]
