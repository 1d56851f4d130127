"""Column building for the importer without per-row Python objects, and its Parquet part writer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ...data.dataset import COMPRESSION, Dataset, part_name, to_arrow
from ...data.files import write_parquet_atomic

# Low-cardinality columns worth dictionary-encoding; ids and traces are unique, and trying a
# dictionary for them costs more than half of the writing time. Min/max statistics of hashed ids and
# traces serve no query either.
DICTIONARY_COLUMNS = {
    "programs": ["task", "encoding", "source"],
    "measurements": ["platform", "error"],
}
STATISTICS_COLUMNS = {
    "programs": ["task", "encoding", "source"],
    "measurements": ["platform", "latency_s", "error", "measured_at"],
}


def string_array(items: list[bytes]) -> pa.Array:
    """An Arrow string array of ASCII byte strings, built from two buffers (no per-item conversion)."""
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.large_string(), len(items), [None, pa.py_buffer(offsets),
                                                                 pa.py_buffer(b"".join(items))]).cast(pa.string())


def program_ids(digests: list[bytes]) -> tuple[np.ndarray, pa.Array]:
    """Program ids of 9-byte BLAKE2b digests: as uint64 numbers and as 16-hex-digit strings.

    ``dataset.program_id`` is the first 16 hex digits of the digest, i.e. its first 8 bytes.
    """
    n = len(digests)
    if n == 0:
        return np.zeros(0, dtype=np.uint64), pa.array([], pa.string())
    first8 = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(n, -1)[:, :8]
    raw = np.ascontiguousarray(first8)
    numbers = raw.view(">u8").ravel().astype(np.uint64)
    text = raw.tobytes().hex().encode()
    offsets = np.arange(0, 16 * n + 1, 16, dtype=np.int32)
    strings = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text)])
    return numbers, strings


def first_unseen(ids: np.ndarray, candidates: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mask of the first occurrence of every id among ``candidates`` that is not in ``seen`` (sorted).

    Returns the mask and the updated sorted ``seen``.
    """
    fresh = np.zeros(len(ids), dtype=bool)
    rows = np.flatnonzero(candidates)
    if len(rows) == 0:
        return fresh, seen
    _, first = np.unique(ids[rows], return_index=True)
    rows = rows[np.sort(first)]
    if len(seen):
        pos = np.minimum(np.searchsorted(seen, ids[rows]), len(seen) - 1)
        rows = rows[seen[pos] != ids[rows]]
    fresh[rows] = True
    return fresh, np.union1d(seen, ids[rows]) if len(rows) else seen


def append_part(ds: Dataset, table: str, data: pa.Table) -> int:
    """Append rows as one part, like :meth:`Dataset.append` (same names, same atomic rename), but with
    dictionary encoding and statistics only where they help (see :data:`DICTIONARY_COLUMNS`)."""
    data = to_arrow(table, data)
    if data.num_rows == 0:
        return 0
    write_parquet_atomic(data, ds.root / table / part_name(), compression=COMPRESSION,
                         use_dictionary=DICTIONARY_COLUMNS.get(table, True),
                         write_statistics=STATISTICS_COLUMNS.get(table, True))
    return data.num_rows
