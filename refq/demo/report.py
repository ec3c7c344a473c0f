"""The end-to-end table: size and accuracy of float32 / int8 / int4-weight models, how many of the
1,797 images ONNX Runtime computes bit-identically to refq at every layer, and inference time."""

from __future__ import annotations

import datetime
import platform
import time
from dataclasses import dataclass, field

import numpy as np

from refq.demo import data as digits_data
from refq.demo import export, integer_inference, models
from refq.demo.compare import Comparison, compare
from refq.demo.qat import quantization_aware_training
from refq.demo.quantized import QuantizedModel, float_model_bytes, quantize_model, quantized_model_bytes

WEIGHT_BITS = (8, 4)


@dataclass(frozen=True)
class Settings:
    epochs: dict[str, int] = field(default_factory=lambda: {"mlp": 30, "cnn": 20})
    qat_epochs: int = 3
    timing_repeats: int = 7

    @classmethod
    def quick(cls) -> "Settings":
        """Fewer epochs and timings: the test suite's run."""
        return cls({"mlp": 8, "cnn": 5}, qat_epochs=1, timing_repeats=1)


@dataclass
class ModelReport:
    architecture: str
    #: (variant, bytes, test accuracy), float32 first.
    rows: list[tuple[str, int, float]]
    #: (weight bits, ONNX form) -> comparison of all images.
    comparisons: dict[tuple[int, str], Comparison]
    #: engine -> median seconds for all images.
    timings: dict[str, float]


@dataclass
class Report:
    settings: Settings
    images: int
    test_images: int
    models: list[ModelReport]
    versions: dict[str, str]
    date: str


def median_seconds(function, repeats: int) -> float:
    function()  # warm-up: JIT compilation, session allocation
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return float(np.median(samples))


def _logits_only(onnx_model):
    trimmed = type(onnx_model)()
    trimmed.CopyFrom(onnx_model)
    kept = [output for output in trimmed.graph.output if output.name == "logits"]
    del trimmed.graph.output[:]
    trimmed.graph.output.extend(kept)
    return trimmed


def compare_forms(quantized: QuantizedModel, refq_outputs, images) -> dict[str, Comparison]:
    """QOperator, and QDQ twice: every layer an output (ORT then keeps the float operators), and only the
    logits with ORT's optimizations on (it may fuse the groups into integer kernels)."""
    logits_only = _logits_only(export.qdq(quantized))
    forms = {"QOperator": (export.qoperator(quantized), None),
             "QDQ": (export.qdq(quantized), None),
             "QDQ, logits only": (logits_only, export.float_layers(logits_only))}
    return {form: compare(quantized, refq_outputs, export.run_session(export.session(graph), images), images,
                          float_layers)
            for form, (graph, float_layers) in forms.items()}


def model_report(architecture: str, digits, settings: Settings, log=None) -> ModelReport:
    import torch

    images, labels = digits.images, digits.labels
    test = digits.test
    model = models.build(architecture)
    models.train(model, images[digits.train], labels[digits.train], settings.epochs[architecture])
    float_logits = models.float_logits(model, images)
    rows = [("float32", float_model_bytes(model), models.accuracy(float_logits[test], labels[test]))]
    comparisons, quantized_models = {}, {}
    for bits in WEIGHT_BITS:
        quantized = quantize_model(model, images[digits.calibration], bits)
        quantized_models[bits] = quantized
        outputs = integer_inference.run(quantized, images)
        label = "int8" if bits == 8 else f"int{bits} weights, int8 activations"
        rows.append((label, quantized_model_bytes(quantized), models.accuracy(outputs["logits"][test], labels[test])))
        for form, comparison in compare_forms(quantized, outputs, images).items():
            comparisons[(bits, form)] = comparison
        if settings.qat_epochs:
            trained = quantization_aware_training(model, images[digits.train], labels[digits.train],
                                                  images[digits.calibration], settings.qat_epochs, bits)
            qat_logits = integer_inference.run(trained, images)["logits"]
            rows.append((label + f", QAT {settings.qat_epochs} epochs", quantized_model_bytes(trained),
                         models.accuracy(qat_logits[test], labels[test])))
        if log:
            log(f"{architecture}: int{bits} weights done")

    int8 = quantized_models[8]
    ort_int8 = export.session(_logits_only(export.qoperator(int8)))
    ort_float = export.session(export.float32(model))
    torch_input = torch.from_numpy(images)

    def torch_float():
        with torch.no_grad(), models.single_thread_torch():
            model(torch_input)

    timings = {
        "refq int8": median_seconds(lambda: integer_inference.run(int8, images), settings.timing_repeats),
        "ONNX Runtime int8": median_seconds(lambda: export.run_session(ort_int8, images), settings.timing_repeats),
        "ONNX Runtime float32": median_seconds(lambda: export.run_session(ort_float, images),
                                               settings.timing_repeats),
        "torch float32": median_seconds(torch_float, settings.timing_repeats),
    }
    return ModelReport(architecture, rows, comparisons, timings)


def versions() -> dict[str, str]:
    import numba
    import onnx
    import onnxruntime
    import sklearn
    import torch

    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "scikit-learn": sklearn.__version__, "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}


def build_report(settings: Settings | None = None, architectures=("mlp", "cnn"), log=None) -> Report:
    settings = settings or Settings()
    digits = digits_data.load()
    reports = [model_report(architecture, digits, settings, log) for architecture in architectures]
    return Report(settings, len(digits.labels), len(digits.test), reports, versions(),
                  datetime.date.today().isoformat())


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header)))
             + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def explanation_text(comparison: Comparison) -> str:
    if not comparison.disagreements:
        return "—"
    return "; ".join(f"{count} × {layer}: {explanation}"
                     for (layer, explanation), count in sorted(comparison.explanations().items()))


def format_report(report: Report) -> str:
    lines = [f"Digits (scikit-learn): {report.images:,} images of 8×8 pixels, {report.test_images} held out "
             "for accuracy; float training " + ", ".join(f"{name} {count} epochs" for name, count in
                                                    report.settings.epochs.items())
             + f"; QAT {report.settings.qat_epochs} epochs from the float weights.", ""]
    lines += ["Size and accuracy (bytes of every stored number: weights packed, int32 biases, float32 scales, "
              "int8 zero points)", ""]
    rows = []
    for model in report.models:
        float_accuracy = model.rows[0][2]
        for variant, size, accuracy in model.rows:
            change = "" if variant == "float32" else f" ({100 * (accuracy - float_accuracy):+.1f})"
            rows.append([model.architecture, variant, f"{size:,}", f"{100 * accuracy:.1f} %{change}"])
    lines += _table(["model", "variant", "bytes", "test accuracy"], rows) + [""]
    lines += [f"Bit-exactness: refq's integer inference vs ONNX Runtime on all {report.images:,} images "
              "(int8 input, every layer's int8 output, float32 logits)", ""]
    rows = []
    for model in report.models:
        for (bits, form), comparison in model.comparisons.items():
            rows.append([model.architecture, f"int{bits}", form,
                         f"{comparison.identical:,} / {comparison.images:,}", explanation_text(comparison)])
    lines += _table(["model", "weights", "ONNX form", "identical at every layer",
                     "disagreements: first layer: variant that explains it"], rows) + [""]
    repeats = report.settings.timing_repeats
    lines += [f"Inference time for all {report.images:,} images, one thread (median of {repeats})", ""]
    rows = []
    for model in report.models:
        rows.append([model.architecture] + [f"{1000 * seconds:.2f} ms" for seconds in model.timings.values()])
    lines += _table(["model", *report.models[0].timings], rows) + [""]
    lines.append(", ".join(f"{name} {version}" for name, version in report.versions.items()) + f"; {report.date}")
    return "\n".join(lines)
