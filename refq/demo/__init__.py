"""End to end: the pieces of refq composed on two small models of scikit-learn's digits.

Train in float (torch), calibrate with refq's observers, quantize (int8 activations,
int8 or int4 per-channel weights), run integer-only inference with refq's kernels,
export the same integers to ONNX (QOperator and QDQ forms), run ONNX Runtime, and
compare every layer bit for bit. ``refq demo`` prints the resulting table.

Needs the optional backends (torch, onnx, onnxruntime) and scikit-learn.
"""
