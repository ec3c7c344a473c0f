"""What a sweep covers (:class:`SweepSpec`): the operation, its parameters, the profile and the range
of input patterns, checked as the command line gives them."""

from __future__ import annotations

from dataclasses import dataclass

from refq.errors import invalid, wrong_type

SPACE = 1 << 32
CHUNK = 1 << 24
OPERATIONS = ("quantize_linear", "cast")


@dataclass(frozen=True)
class SweepSpec:
    """What is swept: the operation, its parameters and the input space's range of patterns."""

    op: str
    parameters: dict
    profile: str
    start: int
    end: int
    #: "binary32" (float32 patterns) or a format of at most 16 bits whose patterns are decoded.
    source: str = "binary32"
    chunk: int = CHUNK

    def chunks(self, shard: tuple[int, int] = (1, 1)) -> list[tuple[int, int]]:
        """The ``[start, end)`` chunks of shard ``i`` of ``n`` (1-based): contiguous runs of chunks."""
        index, count = shard
        bounds = [(first, min(first + self.chunk, self.end)) for first in range(self.start, self.end, self.chunk)]
        low = (index - 1) * len(bounds) // count
        high = index * len(bounds) // count
        return bounds[low:high]


def source_bits(source: str) -> int:
    from refq.registry import float_format

    return float_format(source, "--source").total_bits


# --- arguments ----------------------------------------------------------------------------------------------


def parse_range(text: str | None, space: int = SPACE) -> tuple[int, int]:
    """``START:END`` (integers, hex allowed, END exclusive; either may be empty) -> (start, end)."""
    if text is None:
        return 0, space
    if not isinstance(text, str) or text.count(":") != 1:
        raise invalid("--range", "START:END, e.g. 0x3f800000:0x40000000", text)
    parts = text.split(":")
    try:
        start = int(parts[0], 0) if parts[0] else 0
        end = int(parts[1], 0) if parts[1] else space
    except ValueError:
        raise invalid("--range", "START:END with integer bounds (0x... allowed)", text) from None
    if not 0 <= start < end <= space:
        raise invalid("--range", f"0 <= START < END <= {space:#x}", text)
    return start, end


def parse_shard(text: str | None) -> tuple[int, int]:
    """``i/n`` with 1 <= i <= n."""
    if text is None:
        return 1, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except (ValueError, AttributeError):
        raise invalid("--shard", "i/n with integers 1 <= i <= n, e.g. 2/4", text) from None
    if not 1 <= index <= count:
        raise invalid("--shard", "i/n with 1 <= i <= n", text)
    return index, count


def quantize_parameters(scale, zero_point, dtype: str) -> dict:
    """Validated per-tensor parameters (refq's own checks)."""
    from refq.affine.parameters import scale_array, target_type, zero_point_array

    target = target_type(dtype)
    value = scale_array(scale)
    if value.size != 1:
        raise invalid("--scale", "one value", scale)
    zero_point_array(zero_point, target, ())
    return {"scale": float(value.reshape(())), "zero_point": int(zero_point), "dtype": target.format.name}


def parse_list(text: str, argument: str, kind) -> list:
    """``a,b,c`` -> [kind(a), kind(b), kind(c)]: a grid axis of ``--scales`` or ``--zero-points``."""
    if not isinstance(text, str) or not text.strip():
        raise invalid(argument, "comma-separated values, e.g. 0.5,1,2", text)
    values = []
    for part in text.split(","):
        try:
            values.append(kind(part.strip()))
        except ValueError:
            raise invalid(argument, f"comma-separated {kind.__name__} values", text) from None
    if len(set(values)) != len(values):
        raise invalid(argument, "values without repeats (a pair would be swept twice)", text)
    return values


def grid_parameters(scales, zero_points, dtype: str) -> list[dict]:
    """Validated parameters of every (scale, zero point) pair, scales outermost."""
    return [quantize_parameters(scale, zero_point, dtype) for scale in scales for zero_point in zero_points]


def cast_parameters(to: str, saturate: bool) -> dict:
    from refq.registry import float_format

    fmt = float_format(to, "--to")
    if fmt.total_bits >= 32:
        raise invalid("--to", "a float format narrower than float32", to)
    if not isinstance(saturate, bool):
        raise wrong_type("--saturate", "True or False", saturate)
    return {"to": fmt.name, "saturate": saturate}


def make_spec(op: str, parameters: dict, profile: str, source: str = "binary32", range_text: str | None = None,
              chunk: int = CHUNK) -> SweepSpec:
    from refq.registry import float_format
    from refq.registry.profiles import PROFILES_BY_NAME

    if op not in OPERATIONS:
        raise invalid("--op", "one of " + ", ".join(OPERATIONS), op)
    if profile not in PROFILES_BY_NAME:
        raise invalid("--profile", "one of " + ", ".join(PROFILES_BY_NAME), profile)
    fmt = float_format(source, "--source")
    if op == "quantize_linear" and fmt.name != "binary32":
        raise invalid("--source", "binary32 for quantize_linear (its input is float32)", source)
    if fmt.name != "binary32" and fmt.total_bits > 16:
        raise invalid("--source", "binary32 or a format of at most 16 bits", source)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= CHUNK:
        raise invalid("chunk", f"an integer in [1, {CHUNK}]", chunk)
    start, end = parse_range(range_text, SPACE if fmt.name == "binary32" else 1 << fmt.total_bits)
    return SweepSpec(op, parameters, profile, start, end, fmt.name, chunk)


