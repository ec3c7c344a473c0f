"""refq._jit: kernels run compiled by default, interpreted inside ``pure_python()``.

The observable difference used throughout: int64 addition wraps around when
compiled (Numba's fixed-width integers) but not when interpreted on Python ints.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from refq import _jit
from refq._jit import Kernel, jit_enabled, kernel, pure_python

INT64_MAX = 2**63 - 1
REPOSITORY = Path(__file__).resolve().parents[1]


@kernel
def increment(value):
    """Add one."""
    return value + 1


@kernel
def increment_twice(value):
    return increment(increment(value))


@kernel
def fill_increments(values, out):
    for index in range(values.size):
        out[index] = increment(values[index])


def test_kernel_runs_compiled_by_default():
    assert jit_enabled()
    assert increment(INT64_MAX) == -(2**63)  # wrapped: ran as int64 machine code


def test_pure_python_runs_the_interpreter():
    with pure_python():
        assert not jit_enabled()
        assert increment(INT64_MAX) == 2**63
    assert jit_enabled()
    assert increment(INT64_MAX) == -(2**63)


def test_pure_python_nests_and_restores_after_errors():
    with pure_python():
        with pure_python():
            assert not jit_enabled()
        assert not jit_enabled()
    assert jit_enabled()
    with pytest.raises(ZeroDivisionError):
        with pure_python():
            1 / 0
    assert jit_enabled()


def test_kernels_call_kernels():
    # Compiled, the inner kernel is the compiled one too: the wrap happens inside.
    assert increment_twice(INT64_MAX - 1) == -(2**63)
    assert isinstance(increment, Kernel) and increment._dispatcher is not None
    with pure_python():
        assert increment_twice(INT64_MAX - 1) == 2**63


def test_array_kernels_call_scalar_kernels():
    values = np.array([1, INT64_MAX], dtype=np.int64)
    out = np.empty(2, dtype=np.int64)
    fill_increments(values, out)
    assert out.tolist() == [2, -(2**63)]
    out_interpreted = np.empty(2, dtype=np.int64)
    with pure_python(), np.errstate(over="ignore"):
        fill_increments(values, out_interpreted)  # numpy int64 scalars wrap too
    assert out_interpreted.tolist() == out.tolist()


def test_kernel_keeps_the_function():
    assert increment.__name__ == "increment"
    assert increment.__doc__ == "Add one."
    assert increment.py_func(INT64_MAX) == 2**63
    assert repr(increment) == f"<refq kernel {__name__}.increment>"
    assert increment.compiled is increment.compiled  # compiled once, then reused


def _run_python(code: str, **environment: str) -> str:
    env = {**os.environ, **environment}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH", "")]))
    completed = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=REPOSITORY,
                               capture_output=True, text=True, check=True)
    return completed.stdout.strip()


def test_import_refq_does_not_import_numba():
    output = _run_python("""
        import sys
        import refq, refq.registry, refq.numbers.rounding, refq.numbers.integers
        print("numba" in sys.modules, "llvmlite" in sys.modules)
    """)
    assert output == "False False"


def test_first_kernel_call_imports_numba():
    output = _run_python("""
        import sys
        from refq.numbers.rounding import round_float
        round_float(2.5)
        print("numba" in sys.modules)
    """)
    assert output == "True"


@pytest.mark.parametrize(("setting", "enabled"), [("1", False), ("yes", False), ("0", True), ("", True)])
def test_disable_jit_environment_variable(setting, enabled):
    output = _run_python("""
        import sys
        from refq._jit import jit_enabled
        from refq.numbers.rounding import round_float
        print(jit_enabled(), round_float(2.5), "numba" in sys.modules)
    """, REFQ_DISABLE_JIT=setting)
    assert output == f"{enabled} 2.0 {enabled}"


def test_module_flag_matches_jit_enabled():
    assert _jit._pure_python is (not jit_enabled())
