"""Fingerprinting: which variant values does a backend implement?

Golden vectors answer "does the backend meet profile P?". A fingerprint answers the
question before it: "which profile, if any, describes this backend?". It runs small
*discriminating* inputs built in memory, on which the values of one variant give
different results while the other variants agree as much as possible, and compares the
backend's outputs with refq's own under every valid combination of variant values.

One engine (:mod:`.fingerprint_engine`: probe -> predict -> match, one result type) runs
every chapter's probe table: the affine operations (:mod:`.fingerprint_affine`, per tensor
and per axis, element by element, with the nearest profile), requantization through
``qlinear_matmul`` and ``qlinear_conv`` (:mod:`.fingerprint_integer`), the elementwise
operations (:mod:`.fingerprint_elementwise`), the observers' qparams rule
(:mod:`.fingerprint_observers`), ggml's block types (:mod:`.fingerprint_gguf`), the MX scale rules and NVFP4's
(:mod:`.fingerprint_block`), NF4/FP4's thresholds and rules (:mod:`.fingerprint_bnb4`), weight-only int4
groups' codes, range, scale, zero-point, rounding and degenerate-scale rules (:mod:`.fingerprint_int4`), the
layout of packed codes (:mod:`.fingerprint_packing`), the
uint8 x int8 products (:mod:`.fingerprint_products`) and ``cast``'s engine variants (:mod:`.fingerprint_cast`);
:mod:`.fingerprint_report` renders the results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from refq.conformance import (fingerprint_block, fingerprint_bnb4, fingerprint_cast, fingerprint_elementwise,
                              fingerprint_gguf, fingerprint_int4, fingerprint_integer, fingerprint_observers,
                              fingerprint_packing, fingerprint_products)
from refq.conformance import fingerprint_engine as engine
from refq.conformance import fingerprint_report as report
from refq.conformance.fingerprint_affine import (  # noqa: F401 - the affine chapter's public names
    CHANNEL_AXIS,
    CHAPTER as AFFINE,
    GRANULARITIES,
    OPERATION_VARIANTS,
    AffineProbe as Probe,
    combinations,
    declared_profiles,
    dequantize_probes,
    predictions,
    probes_for,
    profile_combo,
    quantize_probes,
    stacked,
)
from refq.conformance.fingerprint_engine import Result, Unexplained, Unsupported, bits  # noqa: F401
from refq.conformance.outcome import Outcome
from refq.conformance.runner import Backend

F32 = np.float32
#: The chapters whose results are reported probe by probe, in report order.
PROBE_CHAPTERS = (fingerprint_integer.CHAPTER, fingerprint_elementwise.CHAPTER, fingerprint_observers.CHAPTER,
                  fingerprint_gguf.CHAPTER, fingerprint_block.CHAPTER, fingerprint_block.NVFP4_CHAPTER,
                  fingerprint_bnb4.CHAPTER, fingerprint_int4.CHAPTER, fingerprint_packing.CHAPTER,
                  fingerprint_products.CHAPTER, *fingerprint_cast.CHAPTERS)
#: The result type of every chapter (the affine one's old name).
OperationFingerprint = Result


@dataclass
class Fingerprint:
    backend: str
    version: str
    declared_profile: dict[str, str]
    operations: list[Result]
    #: Requantization through qlinear_matmul / qlinear_conv, per tensor and per channel.
    integer: list[Result] = field(default_factory=list)
    #: The elementwise operations' evaluation orders, per tensor.
    elementwise: list[Result] = field(default_factory=list)
    #: The observers' qparams rule (observe_minmax), per tensor.
    observers: list[Result] = field(default_factory=list)
    #: ggml's block types (gguf_quantize): the build's contraction and the zero signs.
    gguf: list[Result] = field(default_factory=list)
    #: The block-scaled formats: MX (block_quantize: the scale rule, infinity, tiny-scale and tie variants) and
    #: NVFP4 (nvfp4_quantize: BLK-8's arithmetic order, floor, zero scale, ceiling, NaN and -0 rules), NF4/FP4
    #: (bnb4_quantize: BLK-7), weight-only int4 groups (int4_group_quantize: BLK-9) and packed codes (pack_codes:
    #: BLK-10).
    block: list[Result] = field(default_factory=list)
    #: uint8 x int8 products (qlinear_matmul): summed exactly or in int16-saturating pairs (INT-2.6).
    products: list[Result] = field(default_factory=list)
    #: cast's engine variants (NUM-3.20, NUM-3.22, NUM-3.23), a probe each.
    cast: list[Result] = field(default_factory=list)

    def probe_results(self) -> list[Result]:
        return self.integer + self.elementwise + self.observers + self.gguf + self.block + self.products + self.cast

    def to_json(self) -> dict:
        return asdict(self)


def fingerprint_operation(backend, operation: str, granularity: str, declared: str | None = None) -> Result:
    """The affine fingerprint of ``operation`` at ``granularity``; ``declared`` names the profile whose
    deviations are listed (default: the backend's own)."""
    if declared is not None:
        backend = _Declaring(backend, declared)
    return engine.fingerprint_operation(backend, AFFINE, operation, granularity)


class _Declaring:
    """``backend`` seen as declaring ``profile``."""

    def __init__(self, backend, profile: str) -> None:
        self._backend, self.profile = backend, profile

    def __getattr__(self, name):
        return getattr(self._backend, name)


def is_consistent_with(result: Result, profile: str) -> bool:
    """Whether ``profile``'s values at this granularity are among the consistent combinations."""
    return engine.consistent_with(result, profile)


def _chapter(backend, chapter) -> list[Result]:
    return [engine.fingerprint_operation(backend, chapter, operation, granularity)
            for operation in chapter.operations for granularity in chapter.granularities]


def fingerprint(backend, *, operations=tuple(OPERATION_VARIANTS), granularities=GRANULARITIES,
                probes: bool = True) -> Fingerprint:
    """The fingerprint of ``backend`` (an adapter object) for every affine operation and granularity;
    with ``probes``, also its integer, elementwise and observer operations."""
    declared = declared_profiles(backend)
    results = [_chapter(backend, chapter) for chapter in PROBE_CHAPTERS] if probes else [[] for _ in PROBE_CHAPTERS]
    integer, elementwise, observers, gguf, block, nvfp4, bnb4, int4, packing, products = results[:10]
    cast = [result for chapter_results in results[10:] for result in chapter_results]
    return Fingerprint(
        backend=str(getattr(backend, "name", type(backend).__name__)),
        version=str(getattr(backend, "version", "")),
        declared_profile=declared,
        operations=[fingerprint_operation(backend, operation, granularity)
                    for operation in operations for granularity in granularities],
        integer=integer, elementwise=elementwise, observers=observers, gguf=gguf,
        block=block + nvfp4 + bnb4 + int4 + packing,
        products=products, cast=cast,
    )


def render_text(print_: callable, result: Fingerprint) -> None:
    report.render_text(print_, result)


def render_markdown(fingerprints: list[Fingerprint]) -> str:
    return report.render_markdown(fingerprints, PROBE_CHAPTERS)


# --- loading ----------------------------------------------------------------------------


def load(spec: str, *, timeout: float = 60.0, isolate: bool = True):
    """The backend for ``--backend SPEC``, loaded through the one runner: a Python adapter in the worker
    process (a segfault or a hang costs a probe, not the fingerprint), a ``cmd:`` program as the
    command runner. ``fake_quantize``, which the harness does not run, is fingerprinted too."""
    from refq.conformance.runner import load_backend

    loaded = load_backend(spec, isolate=isolate, timeout=timeout)
    return _SkipsAfterHang(loaded.spec, loaded.name, loaded.profile, loaded.version, loaded.operations,
                           loaded.runner, loaded.timeout)


class _SkipsAfterHang(Backend):
    """A backend that hung on one call of an operation is not waited on for each of its other probes:
    a fingerprint makes dozens of calls, and a full timeout each would turn one hang into an hour."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hung: set[str] = set()

    def call(self, op: str, inputs: dict, attributes: dict, timeout: float | None = None, *, case=None) -> Outcome:
        if op in self.hung:
            return Outcome("timeout", message=f"not called: an earlier {op} call hung")
        outcome = super().call(op, inputs, attributes, timeout, case=case)
        if outcome.kind == "timeout":
            self.hung.add(op)
        return outcome


def deviations(result: Fingerprint) -> list[str]:
    """What contradicts the profile the backend declares, or broke while probing: one line each
    (``refq fingerprint`` exits 1 when there is any)."""
    lines = []
    for item in result.operations + result.probe_results():
        where = f"{item.operation} {item.granularity.replace('_', '-')}"
        if item.status == "error":
            lines.append(f"{where}: error ({item.detail})")
        elif item.declared_deviations:
            lines.append(f"{where}: {len(item.declared_deviations)} input(s) deviate from the declared profile")
        elif item.declared_consistent is False:
            lines.append(f"{where}: the declared profile is contradicted")
    return lines


def all_builtin() -> list[str]:
    from refq.backends import BUILTIN

    return list(BUILTIN)
