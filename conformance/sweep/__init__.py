"""Exhaustive sweeps: every input of a space, compared with refq, bit for bit.

- ``quantize_linear`` with one scale, zero point and type: every one of the $2^{32}$ float32
  bit patterns, in chunks of $2^{24}$ (``np.arange(..., dtype=uint32).view(float32)``).
- ``cast`` to a small float format: every float32 pattern, or (``source``) every pattern of
  a format of at most 16 bits (binary16, bfloat16, the 8-, 6- and 4-bit formats), decoded
  to float32 exactly and cast.

refq's answer comes from the specialised kernel
(:func:`refq.affine.specialized.quantize_run_float32`) when the profile's variants allow it,
else from the general one. A sweep is split into shards (``shard=(i, n)``, contiguous
ranges of chunks, for CI jobs) and each shard across ``jobs`` processes; the JSON of
shard results combine with :func:`merge`. A sweep that outgrows one machine runs on a
``dask.distributed`` cluster (:func:`~refq.conformance.sweep.cluster.sweep_on_cluster`), and a
grid of scales and zero points is one spec per pair (:func:`grid_parameters`).
"""

from refq.conformance.sweep.results import (CLASSES, FIRST, GRID_FORMAT, RESULT_FORMAT, SweepMismatch, SweepResult,
                                           add_traces, combine, grid_json, grid_summary, merge, merge_all, read,
                                           read_all, summary, write)
from refq.conformance.sweep.cluster import sweep_on_cluster
from refq.conformance.sweep.runner import ChunkRunner, count_differences, fill_patterns, sweep
from refq.conformance.sweep.spec import (CHUNK, OPERATIONS, SPACE, SweepSpec, cast_parameters, grid_parameters,
                                        make_spec, parse_list, parse_range, parse_shard, quantize_parameters)

__all__ = ["CHUNK", "CLASSES", "ChunkRunner", "FIRST", "GRID_FORMAT", "OPERATIONS", "RESULT_FORMAT", "SPACE",
           "SweepMismatch", "SweepResult", "SweepSpec", "add_traces", "cast_parameters", "combine",
           "count_differences", "fill_patterns", "grid_json", "grid_parameters", "grid_summary", "make_spec", "merge",
           "merge_all", "parse_list", "parse_range", "parse_shard", "quantize_parameters", "read", "read_all",
           "summary", "sweep", "sweep_on_cluster", "write"]
