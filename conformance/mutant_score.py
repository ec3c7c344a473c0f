"""The mutation score: every mutant run on its operations' cases through the harness, and the correct
adapter (the ``refq`` backend) under each profile the mutants declare, which must pass every case."""

from __future__ import annotations

from refq.conformance.mutant_adapter import CORRECT_BACKEND
from refq.conformance.mutant_cases import case_operation, level_cases
from refq.conformance.mutant_equivalence import equivalent_mutants


class Score:
    """Failing cases per mutant, and whether the correct adapter passed under each profile."""

    def __init__(self, caught: dict[str, int], cases: dict[str, int], correct: dict[str, list[str]],
                 source: str, equivalent: tuple[str, ...] = ()) -> None:
        #: Mutant name -> cases that failed or errored (0: the mutant survived).
        self.caught = caught
        #: Mutant name -> cases run.
        self.cases = cases
        #: Profile -> ids of the cases the correct adapter did not pass (must be empty).
        self.correct = correct
        #: "level N vectors" or "in-memory cases".
        self.source = source
        #: Mutants identical to the correct adapter on every input tried (:func:`is_equivalent`): no
        #: vector can kill them, so they are reported apart, neither killed nor survivors.
        self.equivalent = tuple(equivalent)

    @property
    def killed(self) -> int:
        return sum(1 for count in self.caught.values() if count)

    @property
    def total(self) -> int:
        """The mutants that can be killed (the equivalent ones left out)."""
        return len([name for name in self.caught if name not in self.equivalent])

    @property
    def survivors(self) -> list[str]:
        return [name for name, count in self.caught.items() if not count and name not in self.equivalent]

    @property
    def perfect(self) -> bool:
        return not self.survivors and not any(self.correct.values())

    def summary(self) -> str:
        equivalent = f", {len(self.equivalent)} equivalent (no input tells them apart)" if self.equivalent else ""
        return f"{self.killed}/{self.total} mutants caught{equivalent}"


def _in_process(backend: str, profile: str | None, timeout: float):
    """The mutant or the correct adapter loaded in this process: refq's own code, which neither crashes
    the interpreter nor hangs, so it needs no worker; ~90 worker starts (0.5-1 s each, every one loading
    the compiled kernels again) were most of a score's time."""
    from refq.conformance.runner import load_backend

    return load_backend(backend, profile, isolate=False, timeout=timeout)


def mutation_score(level: int = 1, *, cases=None, timeout: float = 60.0, progress: bool | None = None) -> Score:
    """Run every mutant, and the correct adapter under each profile they declare, on ``cases``
    (default: :func:`level_cases`) through the harness; a mutant is caught by any failing or
    erroring case."""
    from refq.conformance.harness import run_cases
    from refq.conformance.mutants import MUTANTS, spec

    cases = level_cases(level) if cases is None else cases
    source = "in-memory cases" if cases and not isinstance(cases[0], (str, bytes)) and hasattr(cases[0], "op") \
        else f"level {level} vectors"
    caught, counts = {}, {}
    for mutant in MUTANTS:
        own = [case for case in cases if case_operation(case) in mutant.operations]
        with _in_process(spec(mutant), None, timeout) as backend:
            results = run_cases(backend, own, timeout=timeout, progress=progress)
        caught[mutant.__name__] = sum(1 for r in results if r.status in ("fail", "error"))
        counts[mutant.__name__] = len(results)
    correct = {}
    for profile in sorted({mutant.profile for mutant in MUTANTS}):
        with _in_process(CORRECT_BACKEND, profile, timeout) as backend:
            results = run_cases(backend, cases, profile=profile, timeout=timeout, progress=progress)
        correct[profile] = [r.id for r in results if r.status in ("fail", "error")]
    equivalent = tuple(mutant.__name__ for mutant in equivalent_mutants())
    return Score(caught, counts, correct, source, equivalent)
