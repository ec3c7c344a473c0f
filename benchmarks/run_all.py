"""Run every benchmark, save one run record, print its table, and render the README's table from it.

Each script runs in its own process with ``--json`` (so that one script's threads, allocator and
compiled kernels do not move another's figures); their measurements and the machine's facts make one
record (``refq-benchmarks-v1``) saved under ``benchmarks/results/``. ``--readme`` rewrites the README's
benchmark table and the scaling paragraph of docs/conformance/fuzzing.md (each between its markers)
from the record, so that the figures there are the record's and a test can check them.

    python benchmarks/run_all.py [--quick] [--only integer_ops,sweep_scaling] [--note TEXT] [--readme]
    python benchmarks/run_all.py --from benchmarks/results/RECORD.json --readme    # render, run nothing
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from record import FORMAT, Measurement, from_json, machine_facts, print_table, to_json  # noqa: E402

RESULTS = HERE / "results"
README = ROOT / "README.md"
FUZZING = ROOT / "docs" / "conformance" / "fuzzing.md"


@dataclass(frozen=True)
class Script:
    """One benchmark script and its arguments for a full run and for ``--quick`` (a few minutes in all)."""

    name: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()


SCRIPTS = (
    Script("affine_throughput", (), ("--log2-size", "22", "--repeats", "3")),
    Script("integer_ops", (), ("--repeats", "5")),
    Script("observers_minmax", (), ("--size", "2000000", "--repeats", "3")),
    Script("observers_histogram", (), ("--size", "1000000", "--repeats", "2")),
    Script("block_throughput", (), ("--log2-size", "20", "--repeats", "2")),
    Script("gguf_throughput", (), ("--log2-size", "18", "--repeats", "2")),
    Script("int4_group_throughput", (), ("--rows", "512", "--repeats", "2")),
    Script("packing_throughput", (), ("--rows", "1024", "--repeats", "2")),
    Script("exhaustive_binary32", (), ("--log2-count", "28")),
    Script("sweep_scaling", ("--chunks", "16"), ("--chunks", "6")),
    Script("conform_speed", ("--level2", "onnxruntime"), ()),
)
SCRIPTS_BY_NAME = {script.name: script for script in SCRIPTS}

# The markers around each generated block; the first names the record it was rendered from.
README_BEGIN = "<!-- benchmarks table: generated from {record} by benchmarks/run_all.py --readme; do not edit -->"
README_END = "<!-- end of the generated benchmarks table -->"
SCALING_BEGIN = "<!-- sweep scaling: generated from {record} by benchmarks/run_all.py --readme; do not edit -->"
SCALING_END = "<!-- end of the generated sweep scaling -->"


# --- running ------------------------------------------------------------------------------------------------


def run_script(script: Script, quick: bool, folder: str) -> tuple[dict, list[Measurement]]:
    arguments = list(script.quick if quick else script.full)
    output = Path(folder) / f"{script.name}.json"
    print(f"\n=== {script.name} {' '.join(arguments)}", flush=True)
    began = time.perf_counter()
    completed = subprocess.run([sys.executable, str(HERE / f"{script.name}.py"), *arguments, "--json", str(output)],
                               cwd=HERE)
    seconds = time.perf_counter() - began
    run = {"script": script.name, "arguments": arguments, "seconds": round(seconds, 1),
           "returncode": completed.returncode}
    if completed.returncode != 0 or not output.exists():
        print(f"run_all: {script.name} failed (exit {completed.returncode}); its rows are left out", flush=True)
        return run, []
    return run, from_json(json.loads(output.read_text()))


def run_record(names: list[str], quick: bool, note: str) -> dict:
    began = datetime.datetime.now(datetime.timezone.utc)
    runs, measurements = [], []
    with tempfile.TemporaryDirectory(prefix="refq-benchmarks-") as folder:
        for name in names:
            run, rows = run_script(SCRIPTS_BY_NAME[name], quick, folder)
            runs.append(run)
            measurements += rows
    return {"format": FORMAT, "date": began.isoformat(timespec="seconds"), "quick": quick, "note": note,
            "machine": machine_facts(ROOT), "runs": runs, "measurements": to_json(measurements)}


def record_path(record: dict) -> Path:
    stamp = record["date"][:16].replace(":", "").replace("-", "")
    commit = (record["machine"].get("commit") or "unknown")[:10]
    return RESULTS / f"{stamp}-{commit}{'-quick' if record['quick'] else ''}.json"


def load_record(path: Path) -> dict:
    record = json.loads(path.read_text())
    if record.get("format") != FORMAT:
        raise SystemExit(f"run_all: {path} is not a {FORMAT} record (format {record.get('format')!r})")
    return record


def measurements_of(record: dict) -> list[Measurement]:
    return from_json(record["measurements"])


# --- rendering ----------------------------------------------------------------------------------------------


def number(value: float) -> str:
    """Three significant figures, without an exponent for the magnitudes these tables hold."""
    if value == 0:
        return "0"
    digits = max(0, 2 - int(f"{abs(value):e}".split("e")[1]))
    return f"{value:,.{digits}f}"


def ratio_number(value: float) -> str:
    return f"{value:.2f}" if value < 10 else number(value)


def span(values: list[float], suffix: str = "", form=number) -> str:
    low, high = min(values), max(values)
    if form(low) == form(high):
        return form(low) + suffix
    return f"{form(low)}–{form(high)}{suffix}"


def verdict(rows: list[Measurement]) -> str:
    judged = [row for row in rows if row.meets_target is not None]
    if not judged:
        return ""
    target = re.sub(r"(\d)x ", r"\1× ", judged[0].target_text.replace(">=", "≥"))
    met = sum(1 for row in judged if row.meets_target)
    if len(judged) == 1:
        return f"{target}: {'met' if met else '**not met**'}"
    return f"{target}: {'met' if met == len(judged) else f'**met by {met} of {len(judged)}**'}"


def line_groups(measurements: list[Measurement]) -> list[list[Measurement]]:
    """Rows of one group (benchmark, operation, group, reference, unit) make one line; others one each."""
    lines: dict[tuple, list[Measurement]] = {}
    for index, row in enumerate(measurements):
        key = (row.benchmark, row.operation, row.group, row.reference, row.unit) if row.group else (index,)
        lines.setdefault(key, []).append(row)
    return list(lines.values())


def table_line(rows: list[Measurement]) -> str:
    first = rows[0]
    if len(rows) == 1:
        case = first.case
        others = ", ".join(f"{ratio_number(first.refq / value)}× {name}" for name, value in first.against.items()
                           if name != first.reference)
    else:
        worst = min(rows, key=lambda row: row.ratio if row.ratio is not None else row.refq)
        case = f"{first.group}: {len(rows)} cases (lowest: {worst.case})"
        others = ""
    ratios = [row.ratio for row in rows if row.ratio is not None]
    ratio = f"{span(ratios, '×', ratio_number)} {first.reference}" if ratios else ""
    cells = [f"`{first.operation}`" if " " not in first.operation else first.operation, case,
             f"{span([row.refq for row in rows])} {first.unit}", ratio, verdict(rows), others]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def short_commit(commit: str | None) -> str:
    if not commit:
        return "unknown"
    return commit[:10] + (" with uncommitted changes" if commit.endswith("+modified") else "")


def note_line(rows: list[Measurement]) -> str:
    """A row's note (the route taken, why a target is out of reach) as a list item under the table."""
    first = rows[0]
    what = f"`{first.operation}`" if " " not in first.operation else first.operation
    case = first.group if len(rows) > 1 else first.case
    notes = sorted({row.note for row in rows})
    return f"- {what}, {case}: {'; '.join(notes)}."


def machine_text(record: dict) -> str:
    machine = record["machine"]
    cpu = machine["cpu"]
    features = machine.get("routes", {}).get("cpu_features", [])
    vnni = "with" if {"avx512vnni", "avxvnni"} & set(features) else "without"
    memory = machine.get("memory_bytes")
    versions = machine["versions"]
    releases = ", ".join(f"{name} {versions[name]}" for name in sorted(versions) if versions[name])
    size = "quick sizes (`--quick`)" if record["quick"] else "full sizes"
    return (f"Measured {record['date'][:10]} on {cpu['model']} ({cpu['logical_cpus']} logical CPUs, "
            f"{' '.join(features) or 'no AVX2'}: {vnni} VNNI"
            + (f", {memory / 2**30:.0f} GiB" if memory else "") + f"), commit {short_commit(machine.get('commit'))}, {size}; "
            f"{releases}.")


def render_readme_table(record: dict, name: str) -> str:
    """The README's block: the markers, the machine, the note and one table line per row or group."""
    lines = [README_BEGIN.format(record=name), "", machine_text(record) + (" " + record["note"] if record["note"]
                                                                           else ""), "",
             "| operation | case | refq | ratio to the reference | target | also timed (refq / it) |",
             "|---|---|---:|---:|---|---|"]
    groups = line_groups(measurements_of(record))
    lines += [table_line(rows) for rows in groups]
    notes = [note_line(rows) for rows in groups if rows[0].note]
    if notes:
        lines += ["", *notes]
    failed = [run["script"] for run in record["runs"] if run["returncode"] != 0]
    if failed:
        lines += ["", "Not in this record (the script failed): " + ", ".join(failed) + "."]
    return "\n".join(lines + ["", README_END])


#: sweep_scaling's per-chunk cost without refq's isolation (the backend in the Dask worker's process).
IN_PROCESS = "chunk seconds, backend in the Dask worker's process"


def render_scaling(record: dict, name: str) -> str | None:
    """The fuzzing page's paragraph on ``refq sweep --scheduler`` scaling, or None without that row."""
    rows = [row for row in measurements_of(record) if row.benchmark == "sweep_scaling"]
    if not rows:
        return None
    d = rows[0].details
    hours = d["projected wall seconds"] / 3600
    text = (
        f"Measured {record['date'][:10]} on this project's machine ({record['machine']['cpu']['logical_cpus']} "
        f"logical CPUs, shared), `benchmarks/sweep_scaling.py`: ONNX Runtime's `QuantizeLinear` over "
        f"{d['chunks']:.0f} chunks of $2^{{24}}$ inputs on a `LocalCluster` on loopback took "
        f"{d['1 worker seconds']:.1f} s with 1 worker and {d['2 workers seconds']:.1f} s with 2 "
        f"({rows[0].ratio:.2f}× the speed, an efficiency of {d['2-worker efficiency']:.0%}), and the two results "
        f"were identical field for field. One chunk costs {d['chunk seconds']:.3f} s end to end "
        f"({d[IN_PROCESS]:.3f} s with the backend "
        f"in the Dask worker's own process: the rest is the chunk's inputs and outputs crossing the socket to "
        f"refq's isolated worker), and loading the backend {d['backend start-up seconds']:.2f} s. "
        f"Projected from these: $2^{{32}}$ inputs × 256 parameter pairs is {d['projected chunks']:,.0f} chunks, "
        f"{d['projected chunks per worker']:,.0f} per worker on 64 workers, about {hours:.2f} h "
        f"({d['projected wall seconds, chunks only'] / 3600:.2f} h of chunks and "
        f"{d['projected start-ups per worker']:.0f} backend loads per worker, one per pair), assuming workers "
        f"as fast as one here, linear scaling (two workers on this shared 2-core machine scale worse, as "
        f"measured above), and the scheduler and network hidden behind the chunks (inputs are generated on "
        f"the worker; only counts come back). The record is `{name}`.")
    return "\n".join([SCALING_BEGIN.format(record=name), "", text, "", SCALING_END])


def replace_block(text: str, begin: str, end: str, block: str, where: Path) -> str:
    """``text`` with the block between the markers (begin's record name aside) replaced by ``block``."""
    pattern = re.compile(re.escape(begin).replace(re.escape("{record}"), r"[^ ]+") + r".*?" + re.escape(end),
                         re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"run_all: {where} has no generated block's markers ({begin.split(':')[0]} ... {end})")
    return pattern.sub(lambda _: block, text, count=1)


def generated_name(text: str, begin: str) -> str | None:
    """The record a generated block names in its first marker."""
    prefix, _, suffix = begin.partition("{record}")
    found = re.search(re.escape(prefix) + r"([^ ]+)" + re.escape(suffix), text)
    return found.group(1) if found else None


def rewrite_documents(record: dict, path: Path) -> None:
    name = path.resolve().relative_to(ROOT).as_posix()
    README.write_text(replace_block(README.read_text(), README_BEGIN, README_END, render_readme_table(record, name),
                                    README))
    print(f"rewrote the benchmark table of {README.relative_to(ROOT)} from {name}")
    scaling = render_scaling(record, name)
    if scaling is not None:
        FUZZING.write_text(replace_block(FUZZING.read_text(), SCALING_BEGIN, SCALING_END, scaling, FUZZING))
        print(f"rewrote the sweep scaling paragraph of {FUZZING.relative_to(ROOT)} from {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats: a few minutes in all")
    parser.add_argument("--only", help="comma-separated scripts (default: all): " + ", ".join(SCRIPTS_BY_NAME))
    parser.add_argument("--note", default="", help="a sentence on the conditions, kept in the record and the README")
    parser.add_argument("--from", dest="source", metavar="RECORD", help="render this record; run nothing")
    parser.add_argument("--readme", action="store_true",
                        help="rewrite the README's benchmark table (and fuzzing.md's scaling paragraph) from the record")
    args = parser.parse_args()
    if args.source:
        path = Path(args.source)
        record = load_record(path)
    else:
        names = args.only.split(",") if args.only else list(SCRIPTS_BY_NAME)
        unknown = [name for name in names if name not in SCRIPTS_BY_NAME]
        if unknown:
            parser.error(f"--only: no script {', '.join(unknown)} (scripts: {', '.join(SCRIPTS_BY_NAME)})")
        record = run_record(names, args.quick, args.note)
        RESULTS.mkdir(exist_ok=True)
        path = record_path(record)
        path.write_text(json.dumps(record, indent=1) + "\n")
        print(f"\nwrote {path.relative_to(ROOT)}")
    print()
    print(machine_text(record))
    print_table(measurements_of(record))
    if args.readme:
        rewrite_documents(record, path)
    return 0 if all(run["returncode"] == 0 for run in record["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
