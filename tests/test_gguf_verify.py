"""``refq gguf verify`` on small GGUF files written here with ``gguf.GGUFWriter`` (no model downloads)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refq.cli import main
from refq.gguf import gguf_quantize
from refq.gguf.verify import verify

gguf = pytest.importorskip("gguf")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

RNG = np.random.default_rng(11)
SOURCE = {
    "blk.0.attn_q.weight": RNG.standard_normal((8, 256)).astype(np.float32),
    "blk.0.ffn_up.weight": RNG.standard_normal((4, 512)).astype(np.float32),
    "blk.0.ffn_down.weight": RNG.standard_normal((2, 256)).astype(np.float32),
    "output_norm.weight": RNG.standard_normal(256).astype(np.float32),
}
SOURCE["blk.0.attn_q.weight"][0, :32] = 0.0  # a block of zeros: its d = -0 in ggml


def write(path, tensors: dict[str, tuple[np.ndarray, str | None]]) -> None:
    writer = gguf.GGUFWriter(str(path), "llama")
    for name, (data, type_name) in tensors.items():
        if type_name is None:
            writer.add_tensor(name, data)
        else:
            writer.add_tensor(name, data, raw_dtype=gguf.GGMLQuantizationType[type_name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def quantized(name: str, type_name: str) -> tuple[np.ndarray, str]:
    values = SOURCE[name]
    return gguf_quantize(values, type=type_name).reshape(values.shape[0], -1), type_name


@pytest.fixture()
def model(tmp_path):
    path = tmp_path / "model.gguf"
    write(path, {"blk.0.attn_q.weight": quantized("blk.0.attn_q.weight", "Q4_0"),
                 "blk.0.ffn_up.weight": quantized("blk.0.ffn_up.weight", "Q4_K"),
                 "blk.0.ffn_down.weight": quantized("blk.0.ffn_down.weight", "Q8_0"),
                 "output_norm.weight": (SOURCE["output_norm.weight"], None)})
    source = tmp_path / "source.safetensors"
    safetensors_numpy.save_file(SOURCE, str(source))
    return path, source


def test_reference_file_is_reproduced_under_every_profile_that_computes_it(model):
    """The reference's bytes: ggml's and gguf-py's; the fused (x86-64-v3) build's too for Q4_0 and Q8_0
    on these weights, but not for Q4_K, whose scale search its FMAs change (GGF-4.2)."""
    path, source = model
    checks = {check.name: check for check in verify(path, source=source)}
    assert checks["blk.0.attn_q.weight"].fits == ["ggml", "ggml-native", "gguf-py"]
    assert checks["blk.0.ffn_up.weight"].fits == ["ggml", "gguf-py"]
    assert checks["blk.0.ffn_down.weight"].fits == ["ggml", "ggml-native", "gguf-py"]
    assert checks["output_norm.weight"].fits == ["exact"]
    assert not any(check.failed for check in checks.values())


def test_native_build_bytes_fit_only_the_ggml_native_profile(tmp_path):
    """A Q4_K tensor written by ggml's fused build (refq ggml build's x86-64-v3 library) is
    named as that build's, and not the reference's."""
    from tests import gguf_ggml
    from tests.test_gguf_ggml import cpu_has_fma

    if gguf_ggml.unavailable_reason() is not None or not cpu_has_fma():
        pytest.skip("needs refq ggml build's fused library on a CPU with FMA")
    values = SOURCE["blk.0.ffn_up.weight"]
    theirs = gguf_ggml.quantize("fused", "Q4_K", values).reshape(values.shape[0], -1)
    path = tmp_path / "native.gguf"
    write(path, {"w": (theirs, "Q4_K")})
    source = tmp_path / "w.npy"
    np.save(source, values)
    (check,) = verify(path, source=source)
    assert check.fits == ["ggml-native"]


def test_gguf_py_bytes_fit_only_the_gguf_py_profile(tmp_path):
    """gguf-py's Q4_0 of a block of zeros whose first zero is -0 stores d = +0, where ggml stores -0:
    only the gguf-py profile fits."""
    from gguf import quants

    values = SOURCE["blk.0.attn_q.weight"].copy()
    values[0, :32] = np.float32(-0.0)  # argmax picks the first: d = -0 / -8 = +0, ggml stores -0
    theirs = quants.quantize(values, gguf.GGMLQuantizationType.Q4_0)
    path = tmp_path / "gguf-py.gguf"
    write(path, {"w": (theirs, "Q4_0")})
    source = tmp_path / "w.npy"
    np.save(source, values)
    (check,) = verify(path, source=source)
    assert check.fits == ["gguf-py"]


def test_a_different_quantizer_is_not_reproduced(tmp_path):
    """Q4_0 bytes of another quantizer (every code's low bit flipped) are reproduced by no profile."""
    values = (np.arange(256, dtype=np.float32).reshape(1, 256) % 16 - 7.5).astype(np.float32)
    values[0, ::32] = -8.0  # d = 1: every other value is a tie of x * id + 8.5
    ours = gguf_quantize(values, type="Q4_0").reshape(-1, 18).copy()
    nibbles = ours[:, 2:]
    nibbles[:] = nibbles ^ 0x11
    path = tmp_path / "other.gguf"
    write(path, {"w": (ours.reshape(1, -1), "Q4_0")})
    source = tmp_path / "w.npy"
    np.save(source, values)
    (check,) = verify(path, source=source)
    assert check.fits == [] and check.failed and check.differing_blocks == 8


def test_an_infinite_scale_is_malformed(tmp_path, capsys):
    data = gguf_quantize(SOURCE["blk.0.ffn_down.weight"], type="Q8_0").reshape(-1, 34).copy()
    data[3, 0:2] = np.array([0x00, 0x7C], np.uint8)  # d = +inf (float16 0x7C00)
    path = tmp_path / "bad-scale.gguf"
    write(path, {"w": (data.reshape(2, -1), "Q8_0")})
    assert main(["gguf", "verify", str(path), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "MALFORMED: 1 of 16 blocks decode to infinite or NaN values (first: block 3)" in out


def test_cli_json_and_exit_codes(model, tmp_path, capsys):
    path, source = model
    report = tmp_path / "report.json"
    assert main(["gguf", "verify", str(path), "--source", str(source), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "reproduced: ggml, gguf-py" in out and "4 tensors, 0 failed" in out
    assert [entry["name"] for entry in json.loads(report.read_text())][0] == "blk.0.attn_q.weight"


@pytest.mark.parametrize("mangle, argument", [
    (lambda raw: raw[:100], "model"),  # truncated header
    (lambda raw: b"GGUF" + b"\x00" * 40, "model"),
    (lambda raw: raw[: len(raw) - 300], "model"),  # truncated tensor data
    (lambda raw: b"not a gguf file at all", "model"),
])
def test_malformed_file_is_one_line_exit_2(model, tmp_path, capsys, mangle, argument):
    path, _ = model
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(mangle(path.read_bytes()))
    assert main(["gguf", "verify", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"refq: error: {argument}: ")


def test_bad_arguments(model, tmp_path, capsys):
    path, source = model
    assert main(["gguf", "verify", str(tmp_path / "missing.gguf")]) == 2
    assert main(["gguf", "verify", str(path), "--tensor", "nope"]) == 2
    npy = tmp_path / "one.npy"
    np.save(npy, SOURCE["blk.0.attn_q.weight"])
    assert main(["gguf", "verify", str(path), "--source", str(npy)]) == 2  # three quantized tensors: which?
    assert main(["gguf", "verify", str(path), "--source", str(npy), "--tensor", "blk.0.attn_q.weight"]) == 0
    assert main(["gguf", "verify", str(path), "--source", str(tmp_path / "x.txt")]) == 2
    assert main(["gguf", "verify", str(path), "--json", str(tmp_path)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 5 and all(line.startswith("refq: error: ") for line in errors)
