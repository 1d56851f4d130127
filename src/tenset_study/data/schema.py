"""The dataset's tables: their Arrow schemas, keys and column documentation.

:data:`SCHEMAS` gives every table's columns and types, :data:`KEYS` the columns that identify a row,
:data:`SMALL_TABLES` the tables de-duplicated on their key when read, and :data:`COLUMN_DOCS` the type, unit
and meaning of every column (rendered into the book's data chapter; tests check that every column has one).
The folder layout and the :class:`~tenset_study.data.dataset.Dataset` that reads and writes it are in
:mod:`tenset_study.data.dataset`.
"""

from __future__ import annotations

import pyarrow as pa

#: Timestamps: microseconds, UTC.
TIMESTAMP = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "platforms": pa.schema(
        [
            ("platform", pa.string()),
            ("kind", pa.string()),
            ("target", pa.string()),
            ("model", pa.string()),
            ("arch", pa.string()),
            ("cores", pa.int32()),
            ("threads_per_core", pa.int32()),
            ("vector_bits", pa.int32()),
            ("cache_line_bytes", pa.int32()),
            ("l1d_kib_per_core", pa.float64()),
            ("l2_kib_per_core", pa.float64()),
            ("l3_mib", pa.float64()),
            ("clock_mhz", pa.float64()),
            ("clock_max_mhz", pa.float64()),
            ("memory_gib", pa.float64()),
            ("memory_bandwidth_gbs", pa.float64()),
            ("peak_gflops_fp32", pa.float64()),
            ("sm_count", pa.int32()),
            ("max_threads_per_block", pa.int32()),
            ("max_shared_memory_per_block", pa.int64()),
            ("warp_size", pa.int32()),
            ("compute_capability", pa.string()),
            ("features_source", pa.string()),
            ("readings", pa.string()),
            ("software", pa.string()),
            ("runner", pa.string()),
            ("recorded_at", TIMESTAMP),
        ]
    ),
    "networks": pa.schema(
        [
            ("network", pa.string()),
            ("family", pa.string()),
            ("batch_size", pa.int32()),
            ("input_shape", pa.list_(pa.int64())),
            ("input_dtype", pa.string()),
            ("source", pa.string()),
        ]
    ),
    "tasks": pa.schema(
        [
            ("task", pa.string()),
            ("kind", pa.string()),
            ("op", pa.string()),
            ("task_name", pa.string()),
            ("flops", pa.float64()),
            ("bytes", pa.float64()),
            ("arithmetic_intensity", pa.float64()),
            ("arg_shapes", pa.string()),
            ("arg_dtypes", pa.string()),
            ("workload_format", pa.string()),
            ("workload", pa.string()),
            ("target", pa.string()),
        ]
    ),
    "network_tasks": pa.schema(
        [
            ("network", pa.string()),
            ("task", pa.string()),
            ("weight", pa.int32()),
        ]
    ),
    "programs": pa.schema(
        [
            ("program", pa.string()),
            ("task", pa.string()),
            ("encoding", pa.string()),
            ("trace", pa.string()),
            ("source", pa.string()),
        ]
    ),
    "measurements": pa.schema(
        [
            ("program", pa.string()),
            ("platform", pa.string()),
            ("latency_s", pa.float64()),
            ("repeats_s", pa.list_(pa.float64())),
            ("error", pa.string()),
            ("measured_at", TIMESTAMP),
        ]
    ),
    "remeasurements": pa.schema(
        [
            ("program", pa.string()),
            ("platform", pa.string()),
            ("session", pa.string()),
            ("latency_s", pa.float64()),
            ("repeats_s", pa.list_(pa.float64())),
            ("error", pa.string()),
            ("measured_at", TIMESTAMP),
        ]
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    "platforms": ("platform",),
    "networks": ("network",),
    "tasks": ("task",),
    "network_tasks": ("network", "task"),
    "programs": ("program",),
    "measurements": ("program", "platform"),
    "remeasurements": ("program", "platform", "session"),
}

# Tables small enough to be de-duplicated on read; programs and measurements are append-only streams.
SMALL_TABLES = ("platforms", "networks", "tasks", "network_tasks")
TABLES = tuple(SCHEMAS)

# Column documentation: (type, unit, meaning). Rendered into the book's data chapter and used by tests
# to make sure every column is documented.
COLUMN_DOCS: dict[str, dict[str, tuple[str, str]]] = {
    "platforms": {
        "platform": ("", "platform id, e.g. `epyc-9b45-2c` or TenSet's `platinum-8272`"),
        "kind": ("", "`cpu` or `gpu`"),
        "target": ("", "the TVM target as JSON (TVM 0.27 dict form, or TenSet's target string)"),
        "model": ("", "processor or GPU model as the machine reports it"),
        "arch": ("", "micro-architecture: LLVM `mcpu` for CPUs, `sm_XY` for NVIDIA GPUs"),
        "cores": ("count", "physical cores used (CPU) or streaming multiprocessors (GPU)"),
        "threads_per_core": ("count", "hardware threads per core (CPU)"),
        "vector_bits": ("bit", "widest SIMD register the code generator may use (CPU)"),
        "cache_line_bytes": ("byte", "cache line size"),
        "l1d_kib_per_core": ("KiB", "L1 data cache per core (GPU: per SM, when known)"),
        "l2_kib_per_core": ("KiB", "L2 cache per core (GPU: null, see l3_mib for the shared L2)"),
        "l3_mib": ("MiB", "last-level cache in total (CPU L3, GPU L2)"),
        "clock_mhz": ("MHz", "base clock"),
        "clock_max_mhz": ("MHz", "maximum (boost) clock"),
        "memory_gib": ("GiB", "main memory (CPU) or device memory (GPU)"),
        "memory_bandwidth_gbs": ("GB/s", "memory bandwidth: measured or public spec, see features_source"),
        "peak_gflops_fp32": ("GFLOP/s", "fp32 peak: public spec or derived, see features_source"),
        "sm_count": ("count", "streaming multiprocessors (GPU)"),
        "max_threads_per_block": ("count", "TVM target limit (GPU)"),
        "max_shared_memory_per_block": ("byte", "TVM target limit (GPU)"),
        "warp_size": ("count", "threads per warp (GPU)"),
        "compute_capability": ("", "CUDA compute capability, e.g. `9.0`"),
        "features_source": ("", "where each hardware feature came from (JSON: column -> source)"),
        "readings": ("", "raw machine readings (lscpu, nvidia-smi) as JSON"),
        "software": ("", "TVM, TVM-FFI, torch, Python, driver versions as JSON"),
        "runner": ("", "measurement settings (repeats, minimum repeat time, builder) as JSON"),
        "recorded_at": ("UTC", "when the platform row was recorded"),
    },
    "networks": {
        "network": ("", "network id: `<family>-b<batch>-<size>`, e.g. `resnet_50-b1-224`"),
        "family": ("", "network family, e.g. `resnet_50`, `bert_base`"),
        "batch_size": ("count", "batch size"),
        "input_shape": ("", "shape of the network's input tensor"),
        "input_dtype": ("", "dtype of the input tensor"),
        "source": ("", "`zoo` (this project's PyTorch zoo) or `tenset` (imported)"),
    },
    "tasks": {
        "task": ("", "task id: hash of the workload and the target kind"),
        "kind": ("", "`cpu` or `gpu`: the design space the programs come from"),
        "op": ("", "operator class, e.g. `conv2d`, `dense`, `batch_matmul`, `pool`, `elementwise`"),
        "task_name": ("", "MetaSchedule's task name (fused function name) or TenSet's workload name"),
        "flops": ("FLOP", "floating-point operations of one run (null when unknown)"),
        "bytes": ("byte", "bytes of all buffer arguments (inputs and outputs)"),
        "arithmetic_intensity": ("FLOP/byte", "flops / bytes"),
        "arg_shapes": ("", "JSON list of the buffer arguments' shapes"),
        "arg_dtypes": ("", "JSON list of the buffer arguments' dtypes"),
        "workload_format": ("", "`tvm-ir-json` (replayable IRModule) or `ansor-workload-key`"),
        "workload": ("", "the workload itself: an IRModule as TVM JSON, or TenSet's workload key"),
        "target": ("", "the TVM target the task was extracted for (JSON)"),
    },
    "network_tasks": {
        "network": ("", "network id"),
        "task": ("", "task id"),
        "weight": ("count", "occurrences of the task in the network"),
    },
    "programs": {
        "program": ("", "program id: hash of the task and the trace"),
        "task": ("", "task id"),
        "encoding": ("", "`metaschedule` (TVM trace JSON) or `ansor` (TenSet's step list)"),
        "trace": ("", "the schedule as JSON: MetaSchedule `[instructions, decisions]` or Ansor steps"),
        "source": ("", "how the program was found: `random`, `evolutionary`, `tenset`, `database`"),
    },
    "measurements": {
        "program": ("", "program id"),
        "platform": ("", "platform id"),
        "latency_s": ("s", "mean of the repeats; null when the measurement failed"),
        "repeats_s": ("s", "every repeat's time"),
        "error": ("", "null, or what failed (build, run, timeout) with its message"),
        "measured_at": ("UTC", "when the measurement was taken"),
    },
    "remeasurements": {
        "program": ("", "program id, one of a fixed sample measured again in later collection sessions"),
        "platform": ("", "platform id (the program's first measurement there is in `measurements`)"),
        "session": ("UTC date", "the collection session (its UTC day) that measured it again"),
        "latency_s": ("s", "mean of the repeats; null when the measurement failed"),
        "repeats_s": ("s", "every repeat's time"),
        "error": ("", "null, or what failed"),
        "measured_at": ("UTC", "when the measurement was taken"),
    },
}
