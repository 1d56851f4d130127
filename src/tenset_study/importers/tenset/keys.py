"""Keys already in a dataset, held compactly so that re-imports of TenSet-sized data stay idempotent.

Program ids are 16 hex digits (:func:`tenset_study.data.dataset.program_id`), i.e. 64-bit numbers; a sorted
``uint64`` array holds 52 M of them in 416 MB where a Python set of strings would need several GB.
Measurement keys are kept as one sorted array of program numbers per platform. Ids that are not
16 hex digits cannot equal an id made by this importer and are ignored. Workers memory-map the arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...data.dataset import Dataset


def hex_ids_to_u64(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """uint64 values of the 16-hex-digit ids in an Arrow string array (other ids are dropped)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    ids = ids.filter(pc.match_substring_regex(ids, r"^[0-9a-f]{16}$").fill_null(False))
    if len(ids) == 0:
        return np.zeros(0, dtype=np.uint64)
    raw = bytes.fromhex("".join(ids.to_pylist()))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)


def _contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_values, values)
    pos[pos == len(sorted_values)] = len(sorted_values) - 1
    return sorted_values[pos] == values


@dataclass
class KeyIndex:
    """Program ids and (program, platform) keys present in a dataset before an import."""

    programs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    measurements: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return len(self.programs) == 0 and not self.measurements

    @classmethod
    def from_dataset(cls, ds: Dataset, platforms: set[str] | None = None) -> "KeyIndex":
        """Read the keys of ``ds`` (measurement keys only for ``platforms``, all when None)."""
        programs = [hex_ids_to_u64(b.column(0)) for b in ds.iter_batches("programs", columns=["program"])]
        by_platform: dict[str, list[np.ndarray]] = {}
        for batch in ds.iter_batches("measurements", columns=["program", "platform"]):
            table = pa.Table.from_batches([batch])
            for plat in pc.unique(table.column("platform")).to_pylist():
                if plat is None or (platforms is not None and plat not in platforms):
                    continue
                rows = table.filter(pc.equal(table.column("platform"), plat))
                by_platform.setdefault(plat, []).append(hex_ids_to_u64(rows.column("program")))
        index = cls()
        if programs:
            index.programs = np.unique(np.concatenate(programs))
        index.measurements = {p: np.unique(np.concatenate(a)) for p, a in by_platform.items()}
        return index

    def has_programs(self, ids: np.ndarray) -> np.ndarray:
        """Mask of the program numbers present."""
        return _contains(self.programs, ids)

    def has_measurements(self, platform: str, ids: np.ndarray) -> np.ndarray:
        """Mask of the program numbers measured on ``platform`` already."""
        return _contains(self.measurements.get(platform, np.zeros(0, dtype=np.uint64)), ids)

    def save(self, folder: Path) -> None:
        """Write the arrays to ``folder`` (for worker processes)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "programs.npy", self.programs)
        names = sorted(self.measurements)
        for i, name in enumerate(names):
            np.save(folder / f"measurements-{i}.npy", self.measurements[name])
        (folder / "platforms.json").write_text(json.dumps(names))

    @classmethod
    def load(cls, folder: Path) -> "KeyIndex":
        """Memory-map arrays written by :meth:`save`."""
        names = json.loads((folder / "platforms.json").read_text())
        return cls(
            np.load(folder / "programs.npy", mmap_mode="r"),
            {n: np.load(folder / f"measurements-{i}.npy", mmap_mode="r") for i, n in enumerate(names)},
        )
