"""MkDocs hook: draw the documentation's figures with matplotlib at build time.

Every figure is computed by refq itself and drawn into an SVG that the build adds to
the site as a generated file at ``learn/figures/<name>.svg``; nothing is committed,
so a figure cannot drift from the code it shows. Pages refer to a figure by its
relative path (``![...](figures/staircase.svg)`` from a Learn page), and strict mode
checks those links like any other, because the files exist before pages are read.

To add a figure, write a function that takes a matplotlib ``Figure`` and draws on it,
and decorate it with ``@figure("name", width, height)``. The observers' figure
(:func:`observer_error_histograms`) runs every observer on one calibration set.

The hook runs after ``refq_spec`` (mkdocs.yml lists it second), which has put this
checkout on ``sys.path`` and reloaded refq.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import NamedTuple

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.figures")

FIGURE_DIR = "learn/figures"

#: Colours of the float fields (sign, exponent, mantissa) and of the two grids.
SIGN, EXPONENT, MANTISSA = "#e57373", "#81c784", "#64b5f6"
SYMMETRIC, ASYMMETRIC = "#1565c0", "#c62828"


class FigureSpec(NamedTuple):
    name: str
    width: float  # inches
    height: float
    draw: Callable


FIGURES: list[FigureSpec] = []


def figure(name: str, width: float, height: float) -> Callable[[Callable], Callable]:
    def register(draw: Callable) -> Callable:
        FIGURES.append(FigureSpec(name, width, height, draw))
        return draw

    return register


def render(spec: FigureSpec) -> bytes:
    """The figure as SVG bytes, with text kept as text and no timestamp (stable output)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "refq", "font.size": 9}):
        fig = Figure(figsize=(spec.width, spec.height))
        spec.draw(fig)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", facecolor="white", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


# --- the figures --------------------------------------------------------------------------

FLOAT32_EXAMPLES = (
    (0x3F800000, "1.0"),
    (0xBDCCCCCD, "-0.1 (rounded)"),
    (0x3E200000, "0.15625"),
    (0x00000001, "smallest subnormal"),
    (0x7F800000, "+infinity"),
    (0x7FC00000, "quiet NaN"),
)


def _value_text(decoded) -> str:
    if decoded.kind == "normal":
        unbiased = decoded.exponent - 127
        return f"$(-1)^{decoded.sign} \\times (1 + {decoded.mantissa}/2^{{23}}) \\times 2^{{{unbiased}}}$"
    if decoded.kind == "subnormal":
        return f"$(-1)^{decoded.sign} \\times ({decoded.mantissa}/2^{{23}}) \\times 2^{{-126}}$"
    return {"nan": "NaN", "infinity": "infinity"}.get(decoded.kind, decoded.kind)


@figure("float32-fields", 9.0, 3.6)
def float32_fields(fig) -> None:
    """The 32 bits of a few float32 values, coloured by field, with the value they decode to."""
    from refq.numbers.floats import decode

    axes = fig.add_subplot()
    rows = len(FLOAT32_EXAMPLES)
    for row, (bits, label) in enumerate(FLOAT32_EXAMPLES):
        decoded = decode(bits, "binary32")
        y = rows - 1 - row
        for position in range(32):
            bit = (bits >> (31 - position)) & 1
            colour = SIGN if position == 0 else EXPONENT if position < 9 else MANTISSA
            axes.add_patch(_rectangle(position, y, colour))
            axes.text(position + 0.5, y + 0.45, str(bit), ha="center", va="center", fontsize=8,
                      family="monospace")
        axes.text(-0.6, y + 0.45, f"{label}\n0x{bits:08x}", ha="right", va="center", fontsize=8)
        axes.text(32.6, y + 0.45, _value_text(decoded), ha="left", va="center", fontsize=8)
    for x, caption in ((0.5, "sign"), (5, "exponent (8 bits, bias 127)"), (20.5, "mantissa (23 bits)")):
        axes.text(x, rows + 0.1, caption, ha="center", va="bottom", fontsize=8)
    axes.set_xlim(-0.2, 32.2)
    axes.set_ylim(-0.2, rows + 0.6)
    axes.set_axis_off()


def _rectangle(x: float, y: float, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 0.9, facecolor=colour, edgecolor="white", linewidth=0.8)


#: The example tensor range of the staircase figure: one-sided, as after a ReLU, plus a little.
STAIRCASE_RANGE = (Fraction(-1, 4), Fraction(3, 2))


def staircase_parameters():
    """(scale, zero point) of the symmetric int4 and asymmetric uint4 grids for STAIRCASE_RANGE."""
    import numpy as np

    from refq.numbers.rounding import round_rational

    low, high = STAIRCASE_RANGE
    symmetric_scale = np.float32(float(max(-low, high) / 7))
    asymmetric_scale = np.float32(float((high - low) / 15))
    zero_point = round_rational(-low / Fraction(float(asymmetric_scale)))
    return (symmetric_scale, 0), (asymmetric_scale, zero_point)


@figure("staircase", 8.0, 3.4)
def staircase(fig) -> None:
    """x against dequantize(quantize(x)) for a symmetric int4 and an asymmetric uint4 grid."""
    import numpy as np

    from refq.affine import dequantize, quantize

    low, high = (float(bound) for bound in STAIRCASE_RANGE)
    x = np.linspace(low - 0.1, high + 0.1, 1201, dtype=np.float32)
    (symmetric_scale, _), (asymmetric_scale, zero_point) = staircase_parameters()
    grids = (
        ("symmetric int4 (narrow), $z = 0$", symmetric_scale, 0, "int4", True, SYMMETRIC),
        (f"asymmetric uint4, $z = {zero_point}$", asymmetric_scale, zero_point, "uint4", False, ASYMMETRIC),
    )
    for index, (title, scale, zero, dtype, narrow, colour) in enumerate(grids):
        axes = fig.add_subplot(1, 2, index + 1)
        q = quantize(x, scale, zero, dtype=dtype, narrow=narrow)
        x_hat = dequantize(q, scale, zero, dtype=dtype, narrow=narrow)
        axes.axvspan(low, high, color="#eeeeee", zorder=0)
        axes.plot(x, x, color="#9e9e9e", linewidth=0.8, linestyle="--", label="$x$")
        axes.step(x, x_hat, where="mid", color=colour, linewidth=1.4, label=r"$\hat{x}$")
        used = np.unique(q)
        axes.set_title(f"{title}\n$s = {float(scale):.4g}$, {len(used)} codes used in the data range",
                       fontsize=9)
        axes.set_xlabel("$x$ (grey: the data range)")
        if index == 0:
            axes.set_ylabel(r"$\hat{x} = (q - z)\,s$")
        axes.legend(loc="upper left", fontsize=8)
        axes.grid(alpha=0.3)
    fig.subplots_adjust(wspace=0.25)


#: The values of the rounding figure: ties (x.5) and a few non-ties beside them.
ROUNDING_VALUES = tuple(Fraction(n, 4) for n in (-10, -6, -5, -2, 2, 3, 5, 6, 10))


@figure("rounding-modes", 8.0, 3.2)
def rounding_modes(fig) -> None:
    """Each rounding mode (NUM-2.2) on ties and non-ties: the integer it gives, coloured by direction."""
    from matplotlib.colors import ListedColormap

    from refq.numbers.rounding import round_rational
    from refq.registry import ROUNDING_MODES

    axes = fig.add_subplot()
    direction = [[(round_rational(v, m.name) > v) - (round_rational(v, m.name) < v) for v in ROUNDING_VALUES]
                 for m in ROUNDING_MODES]
    axes.imshow(direction, cmap=ListedColormap(["#90caf9", "#ffffff", "#ffab91"]), vmin=-1, vmax=1,
                aspect="auto")
    for row, mode in enumerate(ROUNDING_MODES):
        for column, value in enumerate(ROUNDING_VALUES):
            axes.text(column, row, str(round_rational(value, mode.name)), ha="center", va="center", fontsize=9)
    axes.set_xticks(range(len(ROUNDING_VALUES)),
                    [f"{float(v):g}" + ("\n(tie)" if v.denominator == 2 else "") for v in ROUNDING_VALUES])
    axes.set_yticks(range(len(ROUNDING_MODES)), [m.name for m in ROUNDING_MODES])
    axes.set_xlabel("exact value $v$ (blue: rounded down, orange: rounded up)")
    axes.tick_params(length=0)


#: The disagreement map: scales, and the integers k around which x = (k + 1/2) s is a tie.
DISAGREEMENT_PROFILES = ("onnx", "pytorch")
DISAGREEMENT_SEED = 8
DISAGREEMENT_SCALES = 48
DISAGREEMENT_K = range(-64, 64)


def disagreement_grid():
    """(scales, k, q under each of DISAGREEMENT_PROFILES) for the float32 x nearest (k + 1/2) s."""
    import numpy as np

    from refq.affine import quantize

    rng = np.random.default_rng(DISAGREEMENT_SEED)
    scales = np.sort(rng.uniform(0.001, 0.1, DISAGREEMENT_SCALES).astype(np.float32))
    k = np.arange(DISAGREEMENT_K.start, DISAGREEMENT_K.stop)
    x = ((k[None, :] + 0.5) * scales[:, None].astype(np.float64)).astype(np.float32)
    results = []
    for profile in DISAGREEMENT_PROFILES:
        results.append(np.stack([quantize(row, scale, dtype="int8", profile=profile)
                                 for row, scale in zip(x, scales)]).astype(np.int64))
    return scales, k, results


@figure("profile-disagreement", 8.0, 3.6)
def profile_disagreement(fig) -> None:
    """Where the onnx and pytorch profiles quantize x near a tie (k + 1/2) s differently."""
    import numpy as np
    from matplotlib.colors import ListedColormap

    scales, k, (first, second) = disagreement_grid()
    difference = np.sign(second - first)
    axes = fig.add_subplot()
    axes.imshow(difference, cmap=ListedColormap(["#1565c0", "#f5f5f5", "#c62828"]), vmin=-1, vmax=1,
                aspect="auto", interpolation="nearest", origin="lower",
                extent=(k[0] - 0.5, k[-1] + 0.5, -0.5, len(scales) - 0.5))
    ticks = np.linspace(0, len(scales) - 1, 5).astype(int)
    axes.set_yticks(ticks, [f"{scales[i]:.3g}" for i in ticks])
    axes.set_xlabel("$k$: x is the float32 nearest $(k + 1/2)\\,s$, int8, $z = 0$")
    axes.set_ylabel("scale $s$")
    count = int(np.count_nonzero(difference))
    a, b = DISAGREEMENT_PROFILES
    axes.set_title(f"{b} − {a}: red +1, blue −1 — {count} of {difference.size} inputs disagree", fontsize=9)


#: The observers' example: 16,000 standard-normal activations and 8 outliers of magnitude 20 to 40,
#: in four calibration batches, quantized to uint8 with each observer's range.
OBSERVER_SEED = 5
OBSERVER_COLOURS = {"MinMax": "#ef6c00", "moving average": "#8e24aa", "histogram (L2)": "#1565c0",
                    "percentile 99.9": "#2e7d32", "entropy (KL)": "#c62828"}


def observer_batches():
    import numpy as np

    rng = np.random.default_rng(OBSERVER_SEED)
    return [np.concatenate([rng.standard_normal(4000), rng.uniform(20, 40, 2) * rng.choice([-1, 1], 2)])
            .astype(np.float32) for _ in range(4)]


def observer_results():
    """Per observer: (range, scale, zero point, x̂ - x) on :func:`observer_batches`, uint8 affine."""
    import numpy as np

    from refq.affine import dequantize, quantize
    from refq.observers import operations
    from refq.observers.calibrators import collect_values, entropy_range, percentile_range
    from refq.observers.qparams import qparams_from_range

    batches = observer_batches()
    minmax = operations.observe_minmax(batches)
    moving = operations.observe_moving_average(batches, averaging_constant=0.01)
    histogram = operations.observe_histogram(batches)
    collected = None
    for batch in batches:
        collected = collect_values(collected, batch, bins=2048)
    ranges = {
        "MinMax": (minmax["min_val"], minmax["max_val"]),
        "moving average": (moving["min_val"], moving["max_val"]),
        "histogram (L2)": histogram["searched_range"],
        "percentile 99.9": percentile_range(collected, 99.9),
        "entropy (KL)": entropy_range(collected, 128),
    }
    x = np.concatenate(batches)
    results = {}
    for name, (low, high) in ranges.items():
        qparams = qparams_from_range(low, high, dtype="uint8")
        q = quantize(x, qparams.scale, qparams.zero_point, dtype="uint8")
        error = dequantize(q, qparams.scale, qparams.zero_point, dtype="uint8") - x
        results[name] = ((float(low), float(high)), float(qparams.scale), int(qparams.zero_point), error)
    return x, results


@figure("observer-errors", 8.0, 7.2)
def observer_error_histograms(fig) -> None:
    """The data, the range each observer picks, its uint8 grid, and the error of quantizing with it."""
    import numpy as np

    x, results = observer_results()
    grid = fig.add_gridspec(3, 1, height_ratios=(2.2, 1.4, 2.4), hspace=0.45)
    data = fig.add_subplot(grid[0])
    data.hist(x, bins=400, color="#9e9e9e", log=True)
    for name, ((low, high), *_rest) in results.items():
        colour = OBSERVER_COLOURS[name]
        data.axvline(low, color=colour, linewidth=1.1)
        data.axvline(high, color=colour, linewidth=1.1, label=f"{name}: [{low:.3g}, {high:.3g}]")
    data.set_title(f"{x.size:,} calibration values (normal, plus {int(np.sum(np.abs(x) > 10))} outliers) "
                   "and the range each observer picks", fontsize=9)
    data.set_ylabel("count (log)")
    data.legend(fontsize=7, loc="upper left", ncol=2)
    grids = fig.add_subplot(grid[1], sharex=data)
    for row, (name, ((low, high), scale, zero_point, _)) in enumerate(results.items()):
        levels = (np.arange(256) - zero_point) * scale
        grids.plot(levels, np.full(256, -row), "|", color=OBSERVER_COLOURS[name], markersize=6)
    grids.set_yticks([-row for row in range(len(results))], [f"{name}" for name in results], fontsize=7)
    grids.set_title(r"the 256 uint8 levels $(q - z)\,s$ of each range", fontsize=9)
    grids.set_xlabel("$x$")
    errors = fig.add_subplot(grid[2])
    edges = np.logspace(-6, 2, 81)
    for name, (_, scale, _, error) in results.items():
        inliers = np.abs(x) <= 4
        rms_in = float(np.sqrt(np.mean(np.square(error[inliers], dtype=np.float64))))
        rms_out = float(np.sqrt(np.mean(np.square(error[~inliers], dtype=np.float64))))
        errors.hist(np.abs(error) + 1e-7, bins=edges, histtype="step", linewidth=1.3, color=OBSERVER_COLOURS[name],
                    linestyle="--" if name == "MinMax" else "-",
                    label=f"{name}: RMS {rms_in:.3g} on |x| ≤ 4, {rms_out:.3g} on the outliers")
    errors.set_xscale("log")
    errors.set_yscale("log")
    errors.set_xlabel(r"$|\hat{x} - x|$ (uint8, each observer's $s$ and $z$)")
    errors.set_ylabel("count (log)")
    errors.set_title("quantization error: clipping the outliers makes the grid finer for everything else",
                     fontsize=9)
    errors.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.3), ncol=1, frameon=False)


# --- mkdocs events ------------------------------------------------------------------------


def on_files(files: Files, config: MkDocsConfig) -> Files:
    from refq._jit import pure_python

    started = time.perf_counter()
    # The interpreted kernels give the same bits and spare the build Numba's compile time.
    with pure_python():
        for spec in FIGURES:
            uri = f"{FIGURE_DIR}/{spec.name}.svg"
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"figures: {uri} exists in docs/; figures are generated, never committed")
            try:
                content = render(spec)
            except Exception as error:  # a figure that cannot be drawn must fail the build, named
                raise PluginError(f"figures: drawing {spec.name} failed: {error!r}") from error
            files.append(File.generated(config, uri, content=content))
    log.info("figures: drew %d figures in %.1f s", len(FIGURES), time.perf_counter() - started)
    return files


#: Colours of a Q4_K super-block's fields (GGF-3.7).
Q4K_FIELDS = (("d (float16)", 0, 2, "#e57373"), ("dmin (float16)", 2, 4, "#ffb74d"),
              ("8 scales + 8 minimums, 6 bits each", 4, 16, "#81c784"), ("256 codes, 4 bits each", 16, 144, "#64b5f6"))


@figure("q4k-superblock", 9.0, 5.2)
def q4k_superblock(fig) -> None:
    """The 144 bytes of one Q4_K super-block that refq quantizes, and the 256 weights they decode to."""
    import numpy as np

    from refq.gguf import gguf_dequantize, gguf_quantize
    from refq.gguf.kquants import scale_min_k4

    rng = np.random.default_rng(7)
    # Eight sub-blocks of different spreads: the sub-block scales and minimums differ visibly.
    x = np.concatenate([rng.standard_normal(32) * spread + shift for spread, shift in
                        ((0.2, 0.0), (0.5, 0.3), (1.0, -0.5), (0.1, 0.1), (0.8, 0.0), (0.3, -0.2), (1.5, 0.5),
                         (0.05, 0.0))]).astype(np.float32)
    blocks = gguf_quantize(x, type="Q4_K")
    y = gguf_dequantize(blocks, type="Q4_K")
    grid = fig.add_gridspec(2, 1, height_ratios=(1.3, 2.2), hspace=0.35)
    layout = fig.add_subplot(grid[0])
    per_row = 48
    for index, byte in enumerate(blocks):
        colour = next(c for _, start, end, c in Q4K_FIELDS if start <= index < end)
        row, column = divmod(index, per_row)
        layout.add_patch(_rectangle(column, -row, colour))
        layout.text(column + 0.5, -row + 0.45, f"{byte:02x}", ha="center", va="center", fontsize=5.5,
                    family="monospace")
    for position, (label, start, end, colour) in enumerate(Q4K_FIELDS):
        column, row = 24 * (position % 2), 2.3 - 1.1 * (position // 2)
        layout.add_patch(_rectangle(column, row, colour))
        layout.text(column + 1.3, row + 0.45, f"{label}: bytes {start}-{end - 1}", va="center", fontsize=7)
    layout.set_xlim(-0.2, per_row + 0.2)
    layout.set_ylim(-2.2, 3.4)
    layout.set_axis_off()
    layout.set_title("one Q4_K super-block: 144 bytes for 256 weights (4.5 bits per weight), in hexadecimal",
                     fontsize=9)
    values = fig.add_subplot(grid[1])
    values.plot(np.arange(256), x, ".", color="#9e9e9e", markersize=3, label="float32 weights")
    values.step(np.arange(256), y, where="mid", color="#1565c0", linewidth=0.9, label="decoded: (d·sc)·q − dmin·m")
    d, dmin = blocks[0:4].view(np.float16).astype(np.float32)
    top = float(np.abs(x).max()) * 1.15
    for j in range(8):
        scale, minimum = scale_min_k4(blocks, 4, j)
        values.axvline(32 * j - 0.5, color="#bdbdbd", linewidth=0.6)
        values.text(32 * j + 16, top, f"sc={int(scale)}, m={int(minimum)}", ha="center", va="top", fontsize=6.5)
    values.set_xlim(-1, 256)
    values.set_ylim(-top, top * 1.12)
    values.set_xlabel("element of the super-block (8 sub-blocks of 32)")
    values.set_title(f"d = {d:.4g}, dmin = {dmin:.4g}: each sub-block's step is d·sc and its offset dmin·m",
                     fontsize=9)
    values.legend(fontsize=7, loc="lower left")
