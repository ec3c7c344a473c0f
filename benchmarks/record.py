"""The performance record: what every benchmark measures, the machine it ran on, and the tables made from it.

A benchmark script returns a list of :class:`Measurement`. ``--json FILE`` writes them; ``run_all.py``
collects every script's list into one run record (``refq-benchmarks-v1``) with the machine's facts,
saves it under ``benchmarks/results/``, and renders the README's benchmark table from it. The README's
figures are that rendering, so a test can check them against the record they came from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = "refq-benchmarks-v1"


@dataclass(frozen=True)
class Measurement:
    """One line of a benchmark: refq's throughput on one case beside the other implementations timed with it.

    ``against`` holds every other implementation timed in the same run, in the same unit; ``reference``
    names the one the issue's target is a ratio to (refq / reference), or is None for an informational row.
    ``limit`` is a target of another kind: an upper bound on refq's own figure (seconds, for a run that
    has no other implementation to compare with). Rows of one ``group`` (same benchmark, operation and
    reference) make one line of the README's table; ``details`` holds a row's other figures (per-backend
    start-up, a projection), by name.
    """

    benchmark: str
    operation: str
    case: str
    unit: str
    refq: float
    against: dict[str, float] = field(default_factory=dict)
    reference: str | None = None
    target: float | None = None
    note: str = ""
    group: str = ""
    limit: float | None = None
    details: dict[str, float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reference is not None and self.reference not in self.against:
            raise ValueError(f"reference {self.reference!r} is not among the implementations timed: "
                             f"{sorted(self.against)}")

    @property
    def ratio(self) -> float | None:
        return None if self.reference is None else self.refq / self.against[self.reference]

    @property
    def meets_target(self) -> bool | None:
        if self.limit is not None:
            return self.refq <= self.limit
        return None if self.target is None or self.ratio is None else self.ratio >= self.target

    @property
    def target_text(self) -> str:
        """The target as the issue states it, or "" for an informational row."""
        if self.limit is not None:
            return f"< {self.limit:g} {self.unit}"
        if self.target is not None and self.reference is not None:
            return f">= {self.target:g}x {self.reference}"
        return ""


def to_json(measurements: list[Measurement]) -> list[dict]:
    return [dataclasses.asdict(measurement) for measurement in measurements]


def from_json(rows: list[dict]) -> list[Measurement]:
    return [Measurement(**row) for row in rows]


def write(measurements: list[Measurement], path: str) -> None:
    Path(path).write_text(json.dumps(to_json(measurements), indent=1) + "\n")


def print_table(measurements: list[Measurement]) -> None:
    """Every measurement on one line: refq, each other implementation with refq's ratio to it, the target."""
    for measurement in measurements:
        others = "  ".join(f"{name} {value:.3g} ({measurement.refq / value:.2f}x)"
                           for name, value in measurement.against.items())
        target = ""
        if measurement.meets_target is not None:
            target = f"  [target {measurement.target_text}: {'met' if measurement.meets_target else 'NOT met'}]"
        print(f"{measurement.operation:<16} {measurement.case:<36} refq {measurement.refq:8.3g} {measurement.unit}"
              f"  {others}{target}", flush=True)


#: The CPU features the kernels' routes depend on, as LLVM names them.
ROUTE_FEATURES = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avxvnni", "amx-int8")


def routes() -> dict:
    """The CPU features found and the route each integer kernel takes on them: refq's matrix product (INT-2.7's
    VNNI byte dot products or INT-2.3's portable kernel), its convolution (INT-3.5's VNNI byte dot products or
    INT-3.4's portable kernels) and the ``u8s8_products`` value (INT-2.6) that ONNX
    Runtime's and FBGEMM's dispatch pick here (refq.backends.cpu)."""
    from refq.backends import cpu
    from refq.integer_ops import vnni, vnni_matmul

    features = cpu.host_features()
    return {"cpu_features": [name for name in ROUTE_FEATURES if name in features],
            "refq matmul_integer": ("VNNI byte dot products (INT-2.7)" if vnni_matmul.use_byte_route(1)
                                    else "portable (INT-2.3)"),
            "refq qlinear_conv": "VNNI byte dot products (INT-3.5)" if vnni.use_vnni() else "portable (INT-3.4)",
            "onnxruntime u8s8_products": cpu.mlas_u8s8_products(),
            "torch fbgemm u8s8_products": cpu.fbgemm_u8s8_products()}


def print_routes() -> dict:
    """Print the CPU features and routes (every benchmark starts with this line) and return them."""
    facts = routes()
    print(f"CPU features: {' '.join(facts['cpu_features']) or 'none of ' + ' '.join(ROUTE_FEATURES)}; routes: "
          + "; ".join(f"{name}: {value}" for name, value in facts.items() if name != "cpu_features"), flush=True)
    return facts


def _cpu() -> dict:
    facts = {"model": platform.processor() or platform.machine(), "flags": [], "logical_cpus": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return facts
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            facts["model"] = value.strip()
        elif key.strip() == "flags" and not facts["flags"]:
            facts["flags"] = sorted(value.split())
    return facts


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _commit(root: Path) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip() + ("+modified" if dirty else "")


def machine_facts(root: Path) -> dict:
    """The facts a ratio depends on: the CPU and its flags, the memory, the interpreter and every release timed."""
    from refq.registry.verified import VERIFIED, installed_version

    import refq

    versions = {"refq": refq.__version__}
    versions.update({entry.package: installed_version(entry.package) for entry in VERIFIED})
    return {"cpu": _cpu(), "routes": routes(), "memory_bytes": _memory_bytes(), "system": platform.platform(),
            "python": platform.python_version(), "versions": versions, "commit": _commit(root)}
