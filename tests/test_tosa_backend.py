"""The TOSA reference model as the built-in ``tosa`` backend, in its own interpreter (refq/backends/tosa.py,
refq/backends/interpreters.py): the level-1 cases of its operations (judged under the tosa profile), the int32
MATMUL overflow, refq's integer average pool
(ELT-6.10) against AVG_POOL2D, an abort costing one case, and ``refq backends install``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refq.backends.interpreters import ENVIRONMENTS, python_for
from refq.conformance.harness import case_paths, run_cases
from refq.conformance.loading import BackendUnavailable
from refq.conformance.runner import load_backend

TOSA_OPS = ("matmul_integer", "conv_integer", "qlinear_average_pool", "rescale", "table", "qlinear_add", "qlinear_mul")
needs_tosa = pytest.mark.skipif(not ENVIRONMENTS["tosa"].installed(),
                                reason="the tosa environment is not installed: run `refq backends install tosa`")
ADAPTER = Path(__file__).with_name("tosa_abort_adapter.py")


def _refq(*arguments: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "refq", *arguments], capture_output=True, text=True, **kwargs)


@needs_tosa
def test_tosa_runs_under_its_own_interpreter(tosa):
    assert tosa.runner.python == str(python_for("tosa"))
    assert set(TOSA_OPS) <= tosa.operations


@needs_tosa
def test_tosa_conforms_on_every_level1_case_of_its_operations(tosa):
    results = run_cases(tosa, case_paths(ops=TOSA_OPS))
    assert results
    assert {result.status for result in results} == {"pass"}, [(r.id, r.status, r.detail) for r in results
                                                                 if r.status != "pass"]
    compared = {op: sum(r.total for r in results if r.op == op) for op in ("matmul_integer", "conv_integer")}
    assert all(compared.values()), compared


@needs_tosa
def test_tosa_matmul_and_conv_equal_refq_on_random_operands(tosa):
    """Zero points per tensor, per row, per column and per channel; uint8 and int8; depthwise and grouped."""
    from refq.integer_ops.conv import conv_integer
    from refq.integer_ops.matmul import matmul_integer

    rng = np.random.default_rng(16)
    codes = {np.int8: (-128, 128), np.uint8: (0, 256)}

    def draw(dtype, shape):
        return rng.integers(*codes[dtype], shape).astype(dtype)

    compared = 0
    for a_type in codes:
        for b_type in codes:
            a, b = draw(a_type, (3, 5, 17)), draw(b_type, (17, 6))
            for a_zero, b_zero in ((draw(a_type, ()), draw(b_type, ())), (draw(a_type, (3, 5, 1)), draw(b_type, (6,)))):
                got = tosa.matmul_integer(a, b, a_zero, b_zero)
                np.testing.assert_array_equal(got, matmul_integer(a, b, a_zero, b_zero))
                compared += got.size
            x = draw(a_type, (2, 4, 9, 7))
            for group, w_shape in ((1, (5, 4, 3, 2)), (4, (8, 1, 2, 3)), (2, (6, 2, 3, 3))):
                w = draw(b_type, w_shape)
                attributes = dict(group=group, pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2])
                x_zero, w_zero = draw(a_type, ()), draw(b_type, (w_shape[0],))
                got = tosa.conv_integer(x, w, x_zero, w_zero, **attributes)
                np.testing.assert_array_equal(got, conv_integer(x, w, x_zero, w_zero, **attributes))
                compared += got.size
    assert compared > 1000


@needs_tosa
def test_tosa_matmul_overflow_wraps_where_the_tosa_profile_says_unpredictable(tosa):
    """The int32 sum 34,000 x 255 x (-255) = -2,210,850,000 leaves int32: the model wraps it (status VALID, the
    value refq's matmul_integer gives); TOSA's REQUIRE makes it unpredictable, which the profile says."""
    from refq.integer_ops.matmul import matmul_integer
    from refq.integer_ops.profiles import matmul_integer_outcomes

    a, b = np.full((1, 34_000), 127, np.int8), np.full((34_000, 2), -128, np.int8)
    a_zero, b_zero = np.int8(-128), np.int8(127)
    got = tosa.matmul_integer(a, b, a_zero, b_zero)
    assert got.tolist() == [[2_084_117_296] * 2] == matmul_integer(a, b, a_zero, b_zero).tolist()
    _, unpredictable = matmul_integer_outcomes(a, b, a_zero, b_zero, profile="tosa")
    assert unpredictable is not None and unpredictable.all()


@needs_tosa
def test_tosa_average_pool_is_refqs_tosa_reciprocal_rule(tosa):
    """AVG_POOL2D against qlinear_average_pool(average_division="tosa_reciprocal") (ELT-6.10): random
    windows, strides, pads below the kernel and zero points; the scale is kept (x_scale == y_scale)."""
    from refq.elementwise.windows import qlinear_average_pool

    rng = np.random.default_rng(6)
    scale = np.float32(0.25)
    compared = 0
    for _ in range(24):
        channels, height, width = (int(n) for n in rng.integers((1, 3, 3), (4, 11, 11)))
        kernel = [int(rng.integers(1, min(height, 4) + 1)), int(rng.integers(1, min(width, 4) + 1))]
        pads = [int(rng.integers(0, kernel[0])), int(rng.integers(0, kernel[1])),
                int(rng.integers(0, kernel[0])), int(rng.integers(0, kernel[1]))]
        attributes = dict(kernel_shape=kernel, strides=[int(s) for s in rng.integers(1, 3, 2)], pads=pads)
        x = rng.integers(-128, 128, (1, channels, height, width)).astype(np.int8)
        x_zero, y_zero = (np.int8(value) for value in rng.integers(-128, 128, 2))
        got = tosa.qlinear_average_pool(x, scale, x_zero, scale, y_zero, **attributes)
        expected = qlinear_average_pool(x, scale, x_zero, scale, y_zero, average_division="tosa_reciprocal",
                                        **attributes)
        np.testing.assert_array_equal(got, expected)
        compared += got.size
    assert compared > 500


@needs_tosa
def test_tosa_says_what_it_cannot_express(tosa):
    x = np.zeros((1, 1, 4, 4), np.int8)
    with pytest.raises(NotImplementedError, match="keeps the scale"):
        tosa.qlinear_average_pool(x, np.float32(1), np.int8(0), np.float32(2), np.int8(0), kernel_shape=[2, 2])
    with pytest.raises(NotImplementedError, match="rank 4"):
        tosa.conv_integer(np.zeros((1, 1, 4), np.int8), np.zeros((1, 1, 2), np.int8))


@needs_tosa
def test_an_abort_in_the_other_interpreter_costs_one_case():
    a, b = np.ones((2, 3), np.int8), np.ones((3, 2), np.int8)
    with load_backend(f"{ADAPTER}:AbortingTosa") as backend:
        assert backend.runner.python == str(python_for("tosa"))
        before = backend.call("matmul_integer", {"a": a, "b": b, "a_zero_point": None, "b_zero_point": None}, {})
        aborted = backend.call("matmul_integer", {"a": np.ones((1, 1), np.int8), "b": np.ones((1, 1), np.int8),
                                                  "a_zero_point": None, "b_zero_point": None}, {})
        after = backend.call("matmul_integer", {"a": a, "b": b, "a_zero_point": None, "b_zero_point": None}, {})
        assert aborted.kind == "crashed" and "SIGABRT" in aborted.message, aborted
        assert before.kind == after.kind == "returned" and backend.runner.restarts == 1
        np.testing.assert_array_equal(after.value, np.full((2, 2), 3, np.int32))


@needs_tosa
def test_install_again_does_nothing():
    result = _refq("backends", "install", "tosa", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tosa: {python_for('tosa')} (already installed)"


def test_install_of_an_unknown_backend_exits_2_with_one_line():
    result = _refq("backends", "install", "no-such-engine")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "no-such-engine" in result.stderr, result.stderr


def test_without_its_environment_tosa_is_not_available(tmp_path, monkeypatch):
    monkeypatch.setenv("REFQ_ENV_CACHE", str(tmp_path))
    with pytest.raises(BackendUnavailable, match="refq backends install tosa"):
        load_backend("tosa")
    with pytest.raises(BackendUnavailable, match="refq backends install tosa"):
        load_backend("tosa", isolate=False)  # it cannot run in this interpreter either


@needs_tosa
@pytest.mark.slow
def test_tosa_conforms_on_every_level2_case_of_its_operations(tosa, tmp_path):
    """Level 2 of matmul_integer and conv_integer, built here (about a minute): every pair of input types,
    zero points at both range ends and per row / column / channel, every convolution attribute."""
    from refq.cli import main

    assert main(["vectors", "build", "--level", "2", "--ops", "matmul_integer,conv_integer",
                 "--out", str(tmp_path)]) == 0
    results = run_cases(tosa, case_paths(level=2, ops=("matmul_integer", "conv_integer"), root=tmp_path))
    assert len(results) > 30
    assert {result.status for result in results} == {"pass"}, [(r.id, r.status, r.detail) for r in results
                                                                 if r.status != "pass"]
