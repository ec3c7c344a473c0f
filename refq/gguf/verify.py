"""``refq gguf verify``: is each tensor of a GGUF file well formed, and is it what the reference makes?

The file is read with the ``gguf`` package's reader (llama.cpp's own Python reader), never a
parser of refq's. For each tensor of a block type refq knows (GGF-1.1):

- **well formed**: a row (ggml's innermost dimension) is a whole number of blocks, the bytes are
  exactly blocks x block bytes, and every value the blocks decode to (GGF-5.2) is finite: a float16
  or E8M0 scale that is infinite or NaN, which no reference quantizer stores for finite weights,
  shows there. (Every other bit pattern of these types decodes to some finite value: there are no
  out-of-range codes to find.)
- **reproduced**, given the source weights: the bytes equal ``gguf_quantize_outcomes`` of the source
  under a GGF profile, unpredictable bytes aside. Every profile that fits is named.

F32 and F16 tensors are compared with the source exactly (F16 as float32 rounded to nearest
even, GGF-1.2); other types are reported unchecked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from refq.errors import RefqValueError, invalid
from refq.gguf.api import gguf_dequantize, gguf_quantize_outcomes
from refq.gguf.types import BLOCK_TYPES_BY_NAME


@dataclass
class TensorCheck:
    name: str
    type: str
    #: numpy order (the reverse of ggml's ne).
    shape: tuple[int, ...]
    #: "ok", "malformed" or "unchecked" (a type refq does not define).
    status: str
    problems: list[str] = field(default_factory=list)
    #: With a source: the profiles whose bytes the tensor equals ([] none; None: no source for it).
    fits: list[str] | None = None
    #: With a source and no profile fitting: blocks that differ under the nearest profile.
    differing_blocks: int = 0
    blocks: int = 0

    @property
    def failed(self) -> bool:
        return self.status == "malformed" or self.fits == []


def gguf_profiles() -> tuple[str, ...]:
    """The GGF profiles of file writers: ggml-cpu-x86's quantizer (GGF-4.3) quantizes activations at run
    time, never the weights of a file (llama-quantize writes Q8_0 with ``_ref``), so it is not a candidate."""
    from refq.registry.profiles import EVERY_PROFILE_BY_NAME

    return tuple(name for name, profile in EVERY_PROFILE_BY_NAME.items()
                 if profile.gguf and profile.gguf.get("gguf_activation_quantizer") == "reference")


def read(path) -> list:
    """The tensors of the GGUF file ``path`` (``gguf.GGUFReader``); a file it cannot read is an error naming it."""
    from gguf import GGUFReader

    file = Path(path)
    if not file.is_file():
        raise invalid("model", "an existing GGUF file", str(path))
    try:
        return list(GGUFReader(file).tensors)
    except Exception as error:  # noqa: BLE001 - any failure of the reader means the file is malformed
        raise RefqValueError(f"model: {file} is not a readable GGUF file ({type(error).__name__}: "
                             f"{str(error).splitlines()[0] if str(error) else 'no detail'})") from None


def read_source(path, tensor: str | None = None) -> dict[str, np.ndarray]:
    """The source weights: every array of a ``.safetensors`` file, or the one array of a ``.npy``
    file (named ``tensor``, or matching the file's only quantized tensor when ``tensor`` is None)."""
    file = Path(path)
    if not file.is_file():
        raise invalid("source", "an existing .safetensors or .npy file", str(path))
    try:
        if file.suffix == ".npy":
            return {tensor or "": np.load(file, allow_pickle=False)}
        if file.suffix == ".safetensors":
            from safetensors.numpy import load_file

            return dict(load_file(file))
    except Exception as error:  # noqa: BLE001 - an unreadable source is bad input
        raise RefqValueError(f"source: {file} is not readable ({type(error).__name__}: {error})") from None
    raise invalid("source", "a .safetensors or .npy file", str(path))


def _check_blocks(check: TensorCheck, data: np.ndarray, ne: tuple[int, ...]) -> np.ndarray | None:
    kind = BLOCK_TYPES_BY_NAME[check.type]
    row = int(ne[0]) if ne else 0
    elements = int(np.prod(ne)) if ne else 0
    if row % kind.block_elements:
        check.problems.append(f"a row of {row} elements is not a whole number of {kind.block_elements}-element blocks")
        return None
    check.blocks = elements // kind.block_elements
    if data.size != check.blocks * kind.block_bytes:
        check.problems.append(f"{data.size} bytes where {check.blocks} blocks take {check.blocks * kind.block_bytes}")
        return None
    blocks = np.ascontiguousarray(data.reshape(-1).view(np.uint8))
    with np.errstate(all="ignore"):
        values = gguf_dequantize(blocks, type=check.type).reshape(check.blocks, kind.block_elements)
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if bad.size:
        check.problems.append(f"{bad.size} of {check.blocks} blocks decode to infinite or NaN values (first: block "
                              f"{int(bad[0])}): a scale no quantizer of finite weights stores")
    return blocks


def _reproduce(check: TensorCheck, blocks: np.ndarray, weights: np.ndarray, profiles) -> None:
    kind = BLOCK_TYPES_BY_NAME[check.type]
    flat = np.ascontiguousarray(weights, dtype=np.float32).reshape(-1)
    if flat.size != check.blocks * kind.block_elements:
        check.problems.append(f"the source has {flat.size} values, the tensor {check.blocks * kind.block_elements}")
        check.fits = []
        return
    if not kind.quantize:
        check.problems.append(f"refq does not define {kind.name}'s quantize: the source cannot be compared")
        return
    fits, nearest = [], None
    for profile in profiles:
        try:
            expected, unpredictable = gguf_quantize_outcomes(flat, type=kind.name, profile=profile)
        except RefqValueError:  # a profile that does not define this type (ggml-native's unplaced FMAs)
            continue
        differ = ((expected != blocks) & ~unpredictable).reshape(check.blocks, kind.block_bytes).any(axis=1)
        count = int(differ.sum())
        if count == 0:
            fits.append(profile)
        nearest = count if nearest is None else min(nearest, count)
    check.fits = fits
    if not fits:
        check.differing_blocks = nearest
        check.problems.append(f"{nearest} of {check.blocks} blocks differ from the reference under every profile "
                              f"({', '.join(profiles)})")


def verify(model, *, source=None, tensor: str | None = None, profiles=None, progress=None) -> list[TensorCheck]:
    """Check every tensor of the GGUF file ``model`` (see the module); ``source`` names the weights it was
    quantized from; ``progress(done, total)`` is called after each tensor."""
    tensors = read(model)
    if tensor is not None and tensor not in {t.name for t in tensors}:
        raise invalid("tensor", "the name of a tensor of the file", tensor)
    profiles = gguf_profiles() if profiles is None else tuple(profiles)
    weights = read_source(source, tensor) if source is not None else {}
    if "" in weights:  # a .npy without --tensor: it is the source of the file's only quantized tensor
        quantized = [t.name for t in tensors if t.tensor_type.name in BLOCK_TYPES_BY_NAME]
        if len(quantized) != 1:
            raise invalid("tensor", "the tensor the .npy source holds (the file has "
                          f"{len(quantized)} quantized tensors)", None)
        weights = {quantized[0]: weights[""]}
    checks = []
    for done, item in enumerate(tensors, 1):
        if tensor is not None and item.name != tensor:
            continue
        ne = tuple(int(n) for n in item.shape)
        check = TensorCheck(item.name, item.tensor_type.name, tuple(reversed(ne)), "ok")
        source_values = weights.get(item.name)
        if check.type in BLOCK_TYPES_BY_NAME:
            blocks = _check_blocks(check, np.asarray(item.data), ne)
            if check.problems:
                check.status = "malformed"
            elif source_values is not None:
                _reproduce(check, blocks, source_values, profiles)
        elif check.type in ("F32", "F16") and source_values is not None:
            target = np.float32 if check.type == "F32" else np.float16
            with np.errstate(over="ignore"):
                rounded = np.asarray(source_values, dtype=np.float32).astype(target).reshape(-1)
            stored = np.asarray(item.data).reshape(-1)
            same = rounded.size == stored.size and np.array_equal(rounded.view(f"u{rounded.itemsize}"),
                                                                 stored.view(f"u{stored.itemsize}"))
            check.fits = ["exact"] if same else []
            if not same:
                check.problems.append(f"differs from the source rounded to {check.type}")
        elif check.type not in ("F32", "F16"):
            check.status = "unchecked"
        checks.append(check)
        if progress is not None:
            progress(done, len(tensors))
    return checks


def to_json(checks: list[TensorCheck]) -> list[dict]:
    return [asdict(check) for check in checks]
