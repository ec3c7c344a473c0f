"""refq against ONNX Runtime, image by image and layer by layer, bit for bit.

An image agrees when every int8 tensor (the quantized input, each layer's output) and the
float32 logits have identical bits. For an image that disagrees, the first layer that
differs is recomputed by refq *from ONNX Runtime's own input to that layer* under each
candidate variant, and the first candidate whose bits equal ONNX Runtime's names the cause.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from refq.affine import dequantize, quantize
from refq.demo import integer_inference
from refq.demo.quantized import QuantizedLayer, QuantizedModel

#: REQ-1 variants of the integer layers, named after the profile that fixes them.
REQUANTIZE_CANDIDATES = {
    "onnxruntime": {"precision": "float32", "zero_point_placement": "after_rounding"},
    "onnx-reference": {"precision": "float64", "zero_point_placement": "before_rounding"},
    "float64 multiply, zero point after rounding": {"precision": "float64", "zero_point_placement": "after_rounding"},
    "float32 multiply, zero point before rounding": {"precision": "float32", "zero_point_placement": "before_rounding"},
}
#: Profiles tried for the float ends (QuantizeLinear of the input, DequantizeLinear of the logits).
AFFINE_CANDIDATES = ("onnxruntime", "onnx", "onnx-reference", "pytorch")
#: The QDQ form left unfused: the float operator between DequantizeLinear and QuantizeLinear.
FLOAT_OPERATOR = "float32 operator (QDQ, not fused)"
UNEXPLAINED = "unexplained"
FUSED_AS_ORT_CHOSE = "ORT's partly fused graph: integer kernels, float32 operators"


@dataclass(frozen=True)
class Disagreement:
    image: int
    #: The first tensor (in layer_names order, then "logits") whose bits differ.
    layer: str
    explanation: str


@dataclass
class Comparison:
    images: int
    #: Images whose every compared tensor is bit-identical.
    identical: int
    #: Per tensor, the number of images whose tensor differs.
    differing_by_layer: dict[str, int]
    disagreements: list[Disagreement] = field(default_factory=list)

    def explanations(self) -> Counter:
        return Counter((d.layer, d.explanation) for d in self.disagreements)


def same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per image (first axis): are all elements bit-identical?"""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(f"refq: shapes or types differ: {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
    unsigned = np.dtype(f"u{a.dtype.itemsize}")
    return (a.view(unsigned) == b.view(unsigned)).reshape(len(a), -1).all(axis=1)


#: How :func:`float_operator` forms the float32 sums; ORT's own order is not specified, so each
#: stands in for it. Torch's kernels choose their blocking by batch size: the whole batch ORT ran
#: and a single image can give different sums.
FLOAT_SUMMATIONS = {
    "batch": "summed as torch does the whole batch",
    "image": "summed as torch does one image",
    "float64": "float64 sum rounded once, float32 bias",
}


def float_operator(layer: QuantizedLayer, x: np.ndarray, summation: str = "batch") -> np.ndarray:
    """What the unfused QDQ form computes: dequantize the int8 input, weights and int32 bias
    (AFF-4.2), run the float32 operator, quantize (AFF-3.1). ``summation`` picks the order of
    additions (:data:`FLOAT_SUMMATIONS`); a match is evidence, not a proof, of the cause."""
    import torch

    if summation == "image":
        return np.concatenate([float_operator(layer, x[i:i + 1], "batch") for i in range(len(x))])
    spec = layer.spec
    working = np.float64 if summation == "float64" else np.float32
    x_float = dequantize(x, layer.input_scale, layer.input_zero_point, dtype="int8", profile="onnxruntime")
    axis = 0 if spec.kind == "conv" else 1
    w_float = dequantize(layer.weight, layer.weight_scale, layer.weight_zero_point, dtype="int8", axis=axis,
                         profile="onnxruntime")
    inputs, weights = torch.from_numpy(x_float.astype(working)), torch.from_numpy(w_float.astype(working))
    with torch.no_grad():
        if spec.kind == "conv":
            y = torch.nn.functional.conv2d(inputs, weights, None, spec.stride, spec.padding).numpy().astype(np.float32)
            if layer.bias is not None:
                bias_scale = (np.float32(layer.input_scale) * layer.weight_scale).astype(np.float32)
                bias = dequantize(layer.bias, bias_scale, np.zeros(layer.bias.shape, np.int32), dtype="int32",
                                  axis=0, profile="onnxruntime")
                y = (y + bias[None, :, None, None]).astype(np.float32)
        else:
            y = (inputs.reshape(len(inputs), -1) @ weights).numpy().astype(np.float32)
    return quantize(y, layer.output_scale, layer.output_zero_point, dtype="int8", profile="onnxruntime")


def _cached(cache: dict, key, compute):
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def explain(model: QuantizedModel, name: str, ort_outputs: dict[str, np.ndarray], image: int,
            images: np.ndarray, cache: dict | None = None) -> str:
    """The first candidate variant under which refq, given ORT's input to tensor ``name``, gives ORT's bits.
    ``cache`` keeps whole-batch recomputations between images."""
    cache = {} if cache is None else cache
    names = integer_inference.layer_names(model)
    expected = ort_outputs[name][image:image + 1]
    if name == "input":
        candidates = {profile: lambda p=profile: integer_inference.quantize_input(model, images[image:image + 1], p)
                      for profile in AFFINE_CANDIDATES}
    elif name == "logits":
        q = ort_outputs[names[-1]][image:image + 1]
        candidates = {profile: lambda p=profile: integer_inference.dequantize_output(model, q, p)
                      for profile in AFFINE_CANDIDATES}
    else:
        layer = model.layers[names.index(name) - 1]
        x_all = ort_outputs[names[names.index(name) - 1]]
        x = x_all[image:image + 1]
        candidates = {label: lambda v=variants: integer_inference.run_layer(layer, x, **v)
                      for label, variants in REQUANTIZE_CANDIDATES.items()}
        for summation, words in FLOAT_SUMMATIONS.items():
            candidates[f"{FLOAT_OPERATOR}, {words}"] = lambda s=summation: _cached(
                cache, (name, s), lambda: float_operator(layer, x_all, s))[image:image + 1]
    for label, compute in candidates.items():
        if same_bits(compute(), expected).all():
            return label
    return UNEXPLAINED


#: INT-2.6 values tried for the integer kernels of ORT's optimized QDQ graph, which on x86 moves int8
#: activations to uint8 (its S8-to-U8 conversion) and so reaches the uint8 x int8 kernels.
PRODUCTS = {"exact": "", "int16_pairs": ", int8 activations moved to uint8 and their products summed in "
                                        "int16-saturating pairs (INT-2.6: this CPU has no VNNI)"}


def mixed_chain(model: QuantizedModel, images: np.ndarray, float_layers: set[str],
                summation: str = "batch", u8s8_products: str = "exact") -> np.ndarray:
    """refq's logits when the layers in ``float_layers`` run as float operators (:func:`float_operator`)
    and the others as integer kernels (with ``u8s8_products``, :func:`integer_inference.run_layer`)."""
    x = integer_inference.quantize_input(model, images)
    for layer in model.layers:
        x = (float_operator(layer, x, summation) if layer.spec.name in float_layers
             else integer_inference.run_layer(layer, x, u8s8_products=u8s8_products))
    return integer_inference.dequantize_output(model, x)


def compare(model: QuantizedModel, refq_outputs: dict[str, np.ndarray], ort_outputs: dict[str, np.ndarray],
            images: np.ndarray, float_layers: set[str] | None = None) -> Comparison:
    """Compare the tensors ONNX Runtime returned (all of :func:`layer_names` and logits, or a subset).

    When only some tensors are known, a disagreement is explained only by recomputing the whole
    chain as ORT's optimizer arranged it: ``float_layers`` names the layers it left as float operators."""
    names = [name for name in [*integer_inference.layer_names(model), "logits"] if name in ort_outputs]
    agree = {name: same_bits(refq_outputs[name], ort_outputs[name]) for name in names}
    every = np.logical_and.reduce([agree[name] for name in names])
    comparison = Comparison(len(every), int(every.sum()), {name: int((~agree[name]).sum()) for name in names})
    complete = len(names) == len(integer_inference.layer_names(model)) + 1
    cache: dict[str, np.ndarray] = {}

    def mixed_agrees(image: int) -> str | None:
        """The summation and INT-2.6 value under which ORT's optimized chain gives this image's logits, in words."""
        for products, products_words in PRODUCTS.items():
            for summation, summation_words in FLOAT_SUMMATIONS.items():
                agree = _cached(cache, ("mixed", summation, products), lambda: same_bits(
                    mixed_chain(model, images, float_layers, summation, products), ort_outputs["logits"]))
                if agree[image]:
                    return summation_words + products_words
        return None

    for image in np.flatnonzero(~every):
        first = next(name for name in names if not agree[name][image])
        if complete:
            explanation = explain(model, first, ort_outputs, int(image), images, cache)
        elif float_layers is not None and (words := mixed_agrees(int(image))) is not None:
            explanation = FUSED_AS_ORT_CHOSE + " for " + (", ".join(sorted(float_layers)) or "none") + ", " + words
        else:
            explanation = UNEXPLAINED
        comparison.disagreements.append(Disagreement(int(image), first, explanation))
    return comparison
