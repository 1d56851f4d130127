"""Features: what a cost model reads about a program and where it ran, computed once and kept on disk.

Modules: :mod:`.tokens` (a program's schedule as token vectors; :mod:`.vocabulary`, :mod:`.token_table` and
:mod:`.token_stats` define, speed up and describe them), :mod:`.perstore` (MetaSchedule's 164 per-store
features, pooled per program or kept as padded sets of stores), :mod:`.context` (hardware and workload
features), :mod:`.cache` (per-program features cached by content) and :mod:`.store` (a sharded on-disk store of tokens and records for training at
TenSet scale: :mod:`.store_reader`, :mod:`.store_writer`, :mod:`.store_records`).
"""

from __future__ import annotations

from ..lazy import lazy_exports

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "FEATURE_NAMES": "tokens", "FEATURE_WIDTH": "tokens", "TOKENIZER_VERSION": "tokens", "TokenizerError": "tokens",
    "encode_program": "tokens", "encode_programs": "tokens", "length_distribution": "tokens",
    "program_tokens": "tokens",
    "PERSTORE_VERSION": "perstore", "POOLED_WIDTH": "perstore", "PerStoreError": "perstore",
    "perstore_features": "perstore", "program_perstore": "perstore", "program_store_sets": "perstore",
    "CONTEXT_VERSION": "context", "hardware_features": "context", "workload_features": "context",
    "cache_root": "cache", "cached_program_features": "cache", "clear_feature_cache": "cache",
    "FeatureStore": "store", "FeatureStoreError": "store", "build_feature_store": "store",
    "default_store_path": "store",
}

__all__ = ["CONTEXT_VERSION", "FEATURE_NAMES", "FEATURE_WIDTH", "FeatureStore", "FeatureStoreError",
           "PERSTORE_VERSION", "POOLED_WIDTH", "PerStoreError", "TOKENIZER_VERSION", "TokenizerError",
           "build_feature_store", "cache_root", "cached_program_features", "clear_feature_cache",
           "default_store_path", "encode_program", "encode_programs", "hardware_features", "length_distribution",
           "perstore_features", "program_perstore", "program_store_sets", "program_tokens", "workload_features"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
