"""The verified releases (refq/registry/verified.py): one record, read by constraints.txt, `refq versions`,
`refq conform` and its reports; a release that is not verified is a warning, never a failure."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import pytest

from refq.cli import main
from refq.conformance.harness import CaseResult
from refq.conformance.report import BackendRun, failure_details, json_report, junit_xml, version_lines
from refq.registry.profiles import EVERY_PROFILE_BY_NAME
from refq.registry.verified import (
    ENGINES,
    VERIFIED,
    VERIFIED_BY_PACKAGE,
    VersionCheck,
    check_backend,
    check_package,
    constraints_text,
    failure_note,
    public_version,
)

ROOT = Path(__file__).resolve().parent.parent
#: A release no record will ever list.
UNRELEASED = "999.0.0"


def test_constraints_file_is_the_record():
    assert (ROOT / "constraints.txt").read_text(encoding="utf-8") == constraints_text()


def test_constraints_pin_every_recorded_package_once():
    pins = [line for line in constraints_text().splitlines() if line and not line.startswith("#")]
    # A source build (llama-cpp-python's sources, compiled by refq ggml build) is not a pip install.
    assert [pin.split("==")[0] for pin in pins] == [entry.package for entry in VERIFIED
                                                   if not entry.source_build and not entry.environment]
    assert all(pin.split("==")[1] == VERIFIED_BY_PACKAGE[pin.split("==")[0]].versions[-1] for pin in pins)


def test_readme_install_uses_the_constraints():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install -c constraints.txt -e ".[all]"' in readme


def test_every_builtin_engine_backend_has_a_record():
    from refq.backends import BUILTIN

    assert set(BUILTIN) - {"refq"} == {backend for entry in ENGINES for backend in entry.backends}
    for entry in ENGINES:
        assert len(entry.profiles) == len(entry.backends) and set(entry.profiles) <= set(EVERY_PROFILE_BY_NAME)
        for backend, profile in zip(entry.backends, entry.profiles):
            declared = BUILTIN[backend].profile  # a per-operation table names its profile as "default"
            assert (declared["default"] if isinstance(declared, dict) else declared) == profile, (backend, profile)


def test_spec_lists_each_profile_with_its_verified_releases():
    from refq.registry.tables import verified_releases_table

    table = verified_releases_table()
    for name in EVERY_PROFILE_BY_NAME:
        row = next(line for line in table.split("\n") if line.startswith(f"| `{name}` |"))
        engines = [entry for entry in ENGINES if name in entry.profiles]
        for entry in engines:
            assert f"{entry.package} {', '.join(entry.versions)}" in row
        assert ("a hypothesis" in row) == (not engines)


def test_refq_itself_has_no_record():
    assert check_backend("refq") is None
    assert check_backend("my-adapter") is None


def test_public_version_drops_the_local_label():
    assert public_version("2.13.0+cpu") == "2.13.0"
    assert public_version("1.32.0") == "1.32.0"


@pytest.mark.parametrize("entry", VERIFIED, ids=lambda entry: entry.package)
def test_check_statuses(entry):
    verified = check_package(entry.package, installed=entry.versions[0])
    assert verified.status == "verified" and verified.is_verified
    assert verified.text() == f"verified with {entry.package} {entry.versions[0]}"
    local = check_package(entry.package, installed=entry.versions[-1] + "+cpu")
    assert local.is_verified
    other = check_package(entry.package, installed=UNRELEASED)
    assert other.status == "not_verified"
    assert other.text() == f"not verified with {entry.package} {UNRELEASED} (verified: {', '.join(entry.versions)})"
    absent = VersionCheck(entry.package, None, entry.versions)
    assert absent.status == "not_installed" and not absent.is_verified


def _runs(verification: VersionCheck) -> list[BackendRun]:
    results = [CaseResult("cast/a/onnx", "cast", "onnx", "pass"),
               CaseResult("cast/b/onnx", "cast", "onnx", "fail", 1, 4, "1 of 4 elements differ")]
    return [BackendRun("ml_dtypes", "ml_dtypes", "onnx", UNRELEASED, results, verification=verification),
            BackendRun("refq", "refq", "onnx", "0.1.0", results[:1])]


def test_unverified_release_is_a_warning_in_json_never_a_failure():
    check = check_package("ml_dtypes", installed=UNRELEASED)
    runs = _runs(check)
    report = json_report(runs)
    assert report["warnings"] == [f"ml_dtypes: {check.text()}"]
    backend = report["backends"][0]
    assert backend["verification"] == {"package": "ml_dtypes", "installed": UNRELEASED,
                                       "verified": list(check.verified), "status": "not_verified"}
    assert backend["warnings"] == report["warnings"]
    assert backend["summary"] == {"pass": 1, "fail": 1, "error": 0, "unsupported": 0}  # the case decides
    assert report["backends"][1]["verification"] is None and report["backends"][1]["warnings"] == []
    json.dumps(report, allow_nan=False)
    passing = BackendRun("ml_dtypes", "ml_dtypes", "onnx", UNRELEASED, runs[1].results, verification=check)
    assert passing.ok and passing.warnings


def test_unverified_release_is_a_warning_in_junit_never_a_failure():
    check = check_package("ml_dtypes", installed=UNRELEASED)
    root = ElementTree.fromstring(junit_xml(_runs(check)))
    suite = root.find("testsuite[@name='ml_dtypes']")
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["warning"] == f"ml_dtypes: {check.text()}"
    assert properties["verification"] == check.text()
    assert suite.find("system-err").text == f"warning: ml_dtypes: {check.text()}"
    assert suite.get("failures") == "1"  # the failing case, not the version
    assert len(suite.findall("testcase/failure")) == 1
    assert root.find("testsuite[@name='refq']/system-err") is None


def test_failure_details_name_the_unverified_release():
    check = check_package("ml_dtypes", installed=UNRELEASED)
    details = failure_details(_runs(check))
    assert details.split("\n")[0] == (f"ml_dtypes: 1 case(s) failed or errored ({check.text()}: "
                                      "the failures may be what this release changed)")
    verified = check_package("ml_dtypes", installed=VERIFIED_BY_PACKAGE["ml_dtypes"].versions[-1])
    assert failure_details(_runs(verified)).split("\n")[0] == "ml_dtypes: 1 case(s) failed or errored"


def test_version_lines_one_per_recorded_backend():
    check = check_package("ml_dtypes", installed=UNRELEASED)
    assert version_lines(_runs(check)) == f"ml_dtypes: {check.text()}"


def test_conform_prints_a_verification_line_per_backend(capsys):
    pytest.importorskip("ml_dtypes")
    status = main(["conform", "--backend", "ml_dtypes", "--backend", "refq", "--ops", "cast", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.split("\n")[0] == f"ml_dtypes: {check_backend('ml_dtypes').text()}"
    assert not any(line.startswith("refq:") for line in out.split("\n"))


def test_conform_json_and_junit_carry_the_verification(tmp_path, capsys):
    pytest.importorskip("ml_dtypes")
    status = main(["conform", "--backend", "ml_dtypes", "--ops", "cast", "--no-progress",
                   "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml")])
    capsys.readouterr()
    assert status == 0
    check = check_backend("ml_dtypes")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["backends"][0]["verification"]["status"] == check.status
    assert report["warnings"] == ([] if check.is_verified else [f"ml_dtypes: {check.text()}"])
    suite = ElementTree.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["verification"] == check.text()


def test_versions_command(capsys):
    assert main(["versions"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    assert lines[0].split()[:4] == ["package", "installed", "verified", "status"]
    assert [line.split()[0] for line in lines[1:]] == [entry.package for entry in VERIFIED]
    for line, entry in zip(lines[1:], VERIFIED):
        check = check_package(entry.package)
        assert line.split()[1] == (check.installed or "-")
    assert main(["versions", "--constraints"]) == 0
    assert capsys.readouterr().out == constraints_text()


def test_failure_note():
    stale = check_package("onnxruntime", installed=UNRELEASED)
    current = check_package("onnxruntime", installed=VERIFIED_BY_PACKAGE["onnxruntime"].versions[-1])
    note = failure_note([stale, current])
    assert note == (f"onnxruntime {UNRELEASED} is installed, but refq was verified with onnxruntime "
                    f"{', '.join(stale.verified)}: if this test runs onnxruntime, this failure is what "
                    f"onnxruntime {UNRELEASED} changed.")
    assert failure_note([current]) == ""


def test_failing_test_names_an_unverified_release(tmp_path):
    """The suite's conftest adds the note to a failing test's report when an engine release installed is
    not verified: a real distribution record of a release nobody verified, found first on sys.path."""
    record = tmp_path / "site" / f"ml_dtypes-{UNRELEASED}.dist-info"
    record.mkdir(parents=True)
    (record / "METADATA").write_text(f"Metadata-Version: 2.1\nName: ml_dtypes\nVersion: {UNRELEASED}\n")
    test = tmp_path / "test_fails.py"
    test.write_text(textwrap.dedent("""
        def test_fails():
            assert 1 == 2
    """))
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q", str(test)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": f"{tmp_path / 'site'}:{ROOT / 'tests'}", "PATH": "/usr/bin:/bin"})
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "refq: engine releases not verified" in completed.stdout
    assert f"ml_dtypes {UNRELEASED} is installed, but refq was verified with ml_dtypes" in completed.stdout


def test_a_source_build_is_checked_by_the_version_its_backend_reports():
    assert check_backend("ggml").status == "not_installed"
    assert "run refq ggml build" in check_backend("ggml").text()
    assert check_backend("ggml", "0.3.36").status == "verified"
    assert check_backend("ggml", "0.3.37").status == "not_verified"
    assert check_backend("gguf-py", "9.9").status == "verified"  # a pip package: its metadata decides
