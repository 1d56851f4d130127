"""Per-store features of tuning candidates, remembered by the candidate's IRModule: :class:`StoreFeatureCache`.

Evolutionary search scores the same programs again and again: every search round starts from the task's best
measured programs (``init_measured_ratio`` of the population, picked from the database each round), a parent
copied unmutated into the next generation is scored again, mutations often give back a program already seen,
and ``update`` featurizes the measured candidates that ``predict`` scored a moment before. MetaSchedule's
per-store features (``PerStoreFeature``) depend on the scheduled IRModule alone, so a candidate whose module is
structurally equal to one featurized before gets the stored arrays back, bit for bit, and only the others are
extracted (in one batch, as before). The key is ``tvm_ffi.structural_hash`` of ``candidate.sch.mod`` (the hash
MetaSchedule itself dedups candidates with) and the task; entries are dropped least recently used first
beyond ``max_entries``.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

#: Entries kept by default: a task's database picks and a round's five generations fit many times over; at
#: about 10 stores of 164 float32 per program this is ~100 MB at most.
DEFAULT_MAX_ENTRIES = 16384


class StoreFeatureCache:
    """Per-store feature arrays of candidates, keyed by (task key, structural hash of the candidate's module).

    ``max_entries = 0`` turns it off: every call extracts every candidate (``extract`` still counts them)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError(f"max_entries must be >= 0, got {max_entries}")
        self.max_entries = int(max_entries)
        self._arrays: OrderedDict = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.hash_seconds = 0.0

    def __len__(self) -> int:
        return len(self._arrays)

    def arrays(self, task_key: str, context, candidates, extract) -> list[np.ndarray | None]:
        """Per-store arrays of ``candidates`` (None where extraction failed); ``extract(context, candidates)``
        computes those not remembered, in one call, in candidate order."""
        if not self.max_entries:
            self.misses += len(candidates)
            return extract(context, candidates)
        keys = self._keys(task_key, candidates)
        out: list = [None] * len(candidates)
        missing: dict = {}  # key -> positions of candidates with that module
        for i, key in enumerate(keys):
            if key in self._arrays:
                self._arrays.move_to_end(key)
                out[i] = self._arrays[key]
                self.hits += 1
            else:
                missing.setdefault(key, []).append(i)
        if missing:
            firsts = [positions[0] for positions in missing.values()]
            extracted = extract(context, [candidates[i] for i in firsts])
            self.misses += len(firsts)
            self.hits += sum(len(positions) - 1 for positions in missing.values())
            for (key, positions), array in zip(missing.items(), extracted):
                for i in positions:
                    out[i] = array
                self._remember(key, array)
        return out

    def stats(self) -> dict:
        """``feature_cache_hits``, ``feature_cache_misses`` (programs extracted), ``feature_cache_hash_seconds``."""
        return {"feature_cache_hits": self.hits, "feature_cache_misses": self.misses,
                "feature_cache_hash_seconds": self.hash_seconds}

    def _keys(self, task_key: str, candidates) -> list[tuple[str, int]]:
        from tvm_ffi import structural_hash

        start = time.perf_counter()
        keys = [(task_key, int(structural_hash(c.sch.mod))) for c in candidates]
        self.hash_seconds += time.perf_counter() - start
        return keys

    def _remember(self, key, array) -> None:
        if array is None:  # a failed extraction is tried again next time
            return
        array.setflags(write=False)  # shared between candidates and calls
        self._arrays[key] = array
        while len(self._arrays) > self.max_entries:
            self._arrays.popitem(last=False)


__all__ = ["DEFAULT_MAX_ENTRIES", "StoreFeatureCache"]
