"""The performance record (benchmarks/record.py, benchmarks/run_all.py): the README's benchmark table and
the fuzzing page's scaling paragraph are exactly the rendering of the checked-in record they name, every
row's reference is among the implementations timed beside refq, and every benchmark writes its rows with
``--json``. No timing is asserted: the figures are whatever the record measured."""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
#: The modules beside the scripts: what they share, not benchmarks themselves.
NOT_SCRIPTS = {"record", "timing", "run_all"}


def benchmark_module(name: str):
    """A module of benchmarks/ (the scripts import each other as siblings, so the folder is on the path)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def run_all():
    return benchmark_module("run_all")


def named_record(run_all, path: Path, begin: str) -> tuple[str, Path]:
    text = path.read_text()
    name = run_all.generated_name(text, begin)
    assert name is not None, f"{path.name} has no generated block"
    return text, ROOT / name


def test_the_readme_table_is_the_rendering_of_its_record(run_all):
    text, record_path = named_record(run_all, run_all.README, run_all.README_BEGIN)
    assert record_path.parent == run_all.RESULTS and record_path.is_file(), record_path
    record = run_all.load_record(record_path)
    block = run_all.render_readme_table(record, record_path.relative_to(ROOT).as_posix())
    assert block in text
    assert run_all.replace_block(text, run_all.README_BEGIN, run_all.README_END, block, run_all.README) == text


def test_the_scaling_paragraph_is_the_rendering_of_its_record(run_all):
    text, record_path = named_record(run_all, run_all.FUZZING, run_all.SCALING_BEGIN)
    record = run_all.load_record(record_path)
    block = run_all.render_scaling(record, record_path.relative_to(ROOT).as_posix())
    assert block is not None, "the record has no sweep_scaling row"
    assert block in text


def test_checked_in_records_are_complete(run_all):
    records = sorted(run_all.RESULTS.glob("*.json"))
    assert records, "no run record under benchmarks/results"
    for path in records:
        record = run_all.load_record(path)
        machine = record["machine"]
        assert machine["cpu"]["model"] and machine["cpu"]["flags"] and machine["memory_bytes"] > 0
        assert machine["versions"]["refq"] and machine["commit"]
        assert "cpu_features" in machine["routes"]
        rows = run_all.measurements_of(record)
        assert rows
        for row in rows:
            # Measurement refuses a reference it was not timed beside; said again here for the record's rows.
            assert row.reference is None or row.reference in row.against, (path.name, row)
            assert row.target is None or row.reference is not None, (path.name, row)
        scripts = {run["script"] for run in record["runs"]}
        assert {row.benchmark for row in rows} <= scripts


def test_every_script_is_run_by_run_all_and_lists_json():
    run_all = benchmark_module("run_all")
    scripts = {path.stem for path in BENCHMARKS.glob("*.py")} - NOT_SCRIPTS
    assert scripts == set(run_all.SCRIPTS_BY_NAME)
    for name in sorted(scripts):
        completed = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), "--help"], cwd=BENCHMARKS,
                                   capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0 and "--json FILE" in completed.stdout, (name, completed.stderr)


def test_a_script_writes_its_rows_with_json(tmp_path):
    """The cheapest script on a tiny size, as run_all runs it: its rows load back as Measurements."""
    record = benchmark_module("record")
    output = tmp_path / "rows.json"
    completed = subprocess.run([sys.executable, str(BENCHMARKS / "observers_minmax.py"), "--size", "4096",
                                "--repeats", "1", "--json", str(output)], cwd=BENCHMARKS, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "CPU features:" in completed.stdout
    rows = record.from_json(json.loads(output.read_text()))
    assert {row.operation for row in rows} == {"observe_minmax", "dynamic_quantize_linear"}
    assert all(row.refq > 0 and row.against for row in rows)
    assert record.to_json(rows) == json.loads(output.read_text())


def test_measurement_rules():
    record = benchmark_module("record")
    row = record.Measurement("b", "op", "case", "GB/s", 2.0, {"engine": 4.0}, "engine", 0.9)
    assert row.ratio == 0.5 and row.meets_target is False
    assert dataclasses.replace(row, refq=4.0).meets_target is True
    with pytest.raises(ValueError, match="not among the implementations timed"):
        record.Measurement("b", "op", "case", "GB/s", 2.0, {"engine": 4.0}, "other")
    limited = record.Measurement("b", "op", "case", "s", 19.0, limit=20.0)
    assert limited.meets_target is True and dataclasses.replace(limited, refq=21.0).meets_target is False
    assert record.from_json(record.to_json([row, limited])) == [row, limited]


def test_grouped_rows_make_one_line(run_all):
    rows = [run_all.Measurement("b", "quantize", f"profile {name}", "GB/s", value, {"ort": 10.0}, "ort", 0.9, group="out=")
            for name, value in (("a", 5.0), ("b", 9.5))]
    [line] = [run_all.table_line(group) for group in run_all.line_groups(rows)]
    assert "out=: 2 cases (lowest: profile a)" in line
    assert "0.50–0.95× ort" in line and "met by 1 of 2" in line

