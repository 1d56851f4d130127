"""A sharded on-disk store of training records and their schedule tokens, for training at TenSet scale.

The in-memory path (:func:`tenset_study.models.inputs.build_inputs`) holds every record and a token array
``[programs, max_len, width]`` in memory: about 20 KB per program, so 200 GB for TenSet's 10 million
programs. The store keeps the same features on disk in shards that a training process reads one (or a few)
at a time, so memory is bounded by the shard size, not by the dataset:

    STORE/store.json                      manifest: featurizer, shards, record counts, source dataset
    STORE/features/<shard>.parquet        per program: id, task, token count, its real tokens (zstd)
    STORE/records-<key>/<shard>.parquet   the measured records of that shard's programs, with labels
    STORE/records-<key>/_groups.parquet   per (shard, task, platform): records, kind, op
    STORE/hardware.parquet, workload.parquet, network_tasks.parquet   the small context tables

A *feature shard* is a run of at most ``shard_programs`` consecutive rows of one ``programs`` part file,
tokenized with the featurizer of the in-memory path (:func:`tenset_study.features.tokens.encode_programs`, same
:data:`~tenset_study.features.tokens.TOKENIZER_VERSION`, same ``max_len``). Only real tokens are stored (padding is
restored on reading), in compressed Parquet. Its name carries a hash of the part file's name and size, the
featurizer version, ``max_len`` and ``shard_programs``, so a shard on disk is never stale; each is written
atomically, and a build that is interrupted resumes at the first shard not written. Programs of one task
are written together by the collector and by the TenSet importer, so a shard holds few tasks and most
(task, platform) groups lie in one shard; the stream forms ranking lists within a group and a shard.

The *record shard* of a feature shard holds the records of its programs (one per successful measurement,
as :func:`tenset_study.data.records.load_records` keeps them) with the label ``min latency of the (task,
platform) group / latency``, the minimum taken over the whole dataset. Measurements are in collection
order, so they are joined to their programs by an external hash join: programs ids and measurements are
partitioned to disk by a hash of the program id into buckets of about ``bucket_rows`` rows, each bucket is
joined in memory, the joined rows are partitioned again by shard range, and each range is split into its
record shards. Memory is bounded by ``bucket_rows`` and ``shard_programs``; the group minima are the only
state that grows with the data (one number per (task, platform) group). Record shards are rebuilt, into a
new folder named by a hash of the measurement and task part files and the feature shards, whenever those
change; the manifest is replaced atomically after the new folder is complete, then the old one removed.

Modules: :mod:`.store_reader` (the manifest's constants, :class:`FeatureStore` and :class:`ShardFeatures`:
reading a built store), :mod:`.store_writer` (:func:`build_feature_store` and the feature shards) and
:mod:`.store_records` (the record shards, by the external hash join).
"""

from __future__ import annotations

from .store_reader import (DEFAULT_BUCKET_ROWS, DEFAULT_SHARD_PROGRAMS, GROUPS_FILE, MANIFEST, RECORD_COLUMNS,
                           STORE_FORMAT, FeatureStore, FeatureStoreError, ShardFeatures, default_store_path)
from .store_writer import build_feature_store

__all__ = ["DEFAULT_BUCKET_ROWS", "DEFAULT_SHARD_PROGRAMS", "GROUPS_FILE", "MANIFEST", "RECORD_COLUMNS", "STORE_FORMAT",
           "FeatureStore", "FeatureStoreError", "ShardFeatures", "build_feature_store", "default_store_path"]
