"""The feature store and training from it: shards, the ranking stream, streamed fits, DDP over Gloo."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import MINI_DATA

torch = pytest.importorskip("torch")

MAX_LEN = 64
SHARD_PROGRAMS = 96
TINY = {"epochs": 4, "hidden": 16, "heads": 2, "lr": 3e-3, "list_size": 16, "lists_per_batch": 8, "device": "cpu"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, set]:
    """A real dataset of 24 CPU tasks of data/mini without a quarter of each task's programs (held out
    for testing), its programs in 3 part files and its measurements in 2 (shuffled, as a collection leaves
    them); and the held-out program ids."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    from tenset_study.data.dataset import Dataset

    source = Dataset.open(MINI_DATA)
    tasks = source.to_pandas("tasks")
    cpu = sorted(tasks.loc[tasks["kind"] == "cpu", "task"])[:24]
    programs = source.to_pandas("programs")
    programs = programs[programs["task"].isin(cpu)].sort_values("program").reset_index(drop=True)
    held_out = programs["program"][np.random.default_rng(0).random(len(programs)) < 0.25]
    programs = programs[~programs["program"].isin(held_out)].reset_index(drop=True)
    measurements = source.to_pandas("measurements")
    measurements = measurements[measurements["program"].isin(programs["program"])]
    measurements = measurements.sample(frac=1.0, random_state=0).reset_index(drop=True)
    root = tmp_path_factory.mktemp("tiny") / "dataset"
    ds = Dataset.create(root, description="24 CPU tasks of data/mini, 3/4 of their programs (tests)")
    for table in ("platforms", "networks", "network_tasks"):
        ds.append(table, source.read(table))
    ds.append("tasks", tasks[tasks["task"].isin(cpu)])
    for chunk in np.array_split(np.arange(len(programs)), 3):
        ds.append("programs", programs.iloc[chunk])
    for chunk in np.array_split(np.arange(len(measurements)), 2):
        ds.append("measurements", measurements.iloc[chunk])
    return root, set(held_out)


@pytest.fixture(scope="module")
def tiny_dataset(tiny) -> Path:
    return tiny[0]


@pytest.fixture(scope="module")
def store(tiny_dataset, tmp_path_factory):
    """The tiny dataset's store, with small shards and join buckets (several of each)."""
    from tenset_study.features.store import build_feature_store

    return build_feature_store(tiny_dataset, tmp_path_factory.mktemp("store") / "s", max_len=MAX_LEN,
                               shard_programs=SHARD_PROGRAMS, bucket_rows=300)


def _all_records(store) -> pd.DataFrame:
    frames = [store.records(name).assign(shard=name, row=lambda f: np.arange(len(f))) for name in store.shards]
    return pd.concat(frames, ignore_index=True)


def _expected_ids(store, train_groups: pd.DataFrame | None = None) -> set[int]:
    """Ids of the records a stream must yield: those of groups with 2 or more records in their shard."""
    records = _all_records(store)
    if train_groups is not None:
        records = records.merge(train_groups[["task", "platform"]], on=["task", "platform"])
    size = records.groupby(["shard", "task", "platform"])["row"].transform("size")
    records = records[size > 1]
    index = records["shard"].map({name: i for i, name in enumerate(store.shards)}).to_numpy(np.int64)
    return set((index << 32 | records["row"].to_numpy(np.int64)).tolist())


def test_store_holds_what_the_in_memory_path_computes(tiny_dataset, store):
    from tenset_study.data import records
    from tenset_study.features import tokens
    from tenset_study.data.dataset import Dataset

    ds = Dataset.open(tiny_dataset)
    assert len(store.shards) > 3  # three program parts, cut into shards of SHARD_PROGRAMS
    assert all(shard["programs"] <= SHARD_PROGRAMS for shard in store.manifest["shards"])
    expected = records.load_records(ds)
    got = _all_records(store)
    assert len(got) == len(expected) == store.manifest["records"]
    both = expected.merge(got, on=["program", "platform"], suffixes=("", "_store"))
    assert len(both) == len(expected)
    np.testing.assert_allclose(both["label_store"], both["label"], rtol=1e-6)
    assert (both["task"] == both["task_store"]).all()
    ids, toks, lengths = tokens.program_tokens(ds, max_len=MAX_LEN)
    position = {p: i for i, p in enumerate(ids)}
    for name in store.shards[:3]:
        rows = store.records(name)
        want = [position[p] for p in rows["program"]]
        got_tokens, got_lengths = store.features(name).gather(rows["feature_row"].to_numpy(), max_len=MAX_LEN)
        np.testing.assert_array_equal(got_tokens, toks[want])
        np.testing.assert_array_equal(got_lengths, lengths[want])


def test_store_build_resumes_and_refuses_other_settings(tiny_dataset, store):
    from tenset_study.features.store import FeatureStoreError, build_feature_store

    folder = store.root / "features"
    lost = folder / f"{store.shards[1]}.parquet"
    lost.unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.parquet")}
    again = build_feature_store(tiny_dataset, store.root, max_len=MAX_LEN)  # shard size: the store's own
    assert lost.exists()
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.parquet") if p.name in kept} == kept
    assert again.shards == store.shards
    assert again.manifest["records_dir"] == store.manifest["records_dir"]
    with pytest.raises(FeatureStoreError, match="max_len"):
        build_feature_store(tiny_dataset, store.root, max_len=MAX_LEN + 1)


def test_stream_yields_every_record_once_over_ranks_and_workers(store):
    from torch.utils.data import DataLoader

    from tenset_study.models.streaming import RankingStream
    from tenset_study.evaluation.stream_training import stream_split

    split = stream_split(store, "by-task", seed=0, test_fraction=0.25)
    seen, lists = [], []
    for rank in range(2):
        stream = RankingStream(store, split.train_groups, list_size=16, lists_per_batch=4, seed=5, rank=rank,
                               world_size=2)
        stream.set_epoch(1)
        for batch in DataLoader(stream, batch_size=None, num_workers=2):
            ids = batch["record_ids"].numpy()
            mask = batch["mask"].numpy()
            assert batch["tokens"].shape[0] == mask.size and batch["labels"].shape == mask.shape
            assert ((ids >= 0) == mask).all()
            seen.append(ids[mask])
            lists += [row[row >= 0] for row in ids]
    seen = np.concatenate(seen)
    assert len(seen) == len(set(seen.tolist()))
    assert set(seen.tolist()) == _expected_ids(store, split.train_groups)
    keys = store.record_keys(seen)
    group = dict(zip(seen.tolist(), zip(keys["task"], keys["platform"])))
    for members in lists:  # a list never mixes (task, platform) groups
        assert len({group[i] for i in members.tolist()}) == 1
    assert not set(split.held_out["tasks"]) & set(keys["task"])


def test_stream_order_depends_on_epoch_and_seed_only(store):
    from tenset_study.models.streaming import RankingStream

    def order(seed, epoch):
        stream = RankingStream(store, list_size=16, lists_per_batch=4, seed=seed)
        stream.set_epoch(epoch)
        return np.concatenate([b["record_ids"].reshape(-1) for b in stream])

    first = order(0, 0)
    assert np.array_equal(first, order(0, 0))
    assert not np.array_equal(first, order(0, 1))
    assert not np.array_equal(first, order(1, 0))
    assert set(first.tolist()) == set(order(0, 1).tolist())


def test_stream_reads_a_window_of_shards_at_a_time(store):
    """Memory holds ``shuffle_shards`` shards: a batch draws on the current window only, and a window's
    shards are never read again once the next window starts."""
    from tenset_study.models.streaming import RankingStream

    for window in (1, 2):
        stream = RankingStream(store, list_size=16, lists_per_batch=4, shuffle_shards=window, seed=0)
        current, closed, windows = set(), set(), 0
        for batch in stream:
            shards = set((batch["record_ids"][batch["mask"]] >> 32).tolist())
            assert not shards & closed
            if not shards <= current and len(current | shards) > window:
                closed |= current
                current, windows = set(), windows + 1
            current |= shards
            assert len(current) <= window
        assert windows + 1 >= len(stream.shard_sizes) / window


def test_streamed_fit_ranks_held_out_programs_like_the_in_memory_fit(tiny, store):
    from tenset_study.evaluation import metrics
    from tenset_study.data.dataset import Dataset
    from tenset_study.models import create
    from tenset_study.models.inputs import build_inputs
    from tenset_study.data.records import load_records
    from tenset_study.models.streaming import RankingStream

    root, held_out = tiny
    ds = Dataset.open(root)
    records = load_records(ds)
    inputs = build_inputs(ds, records, families=("tokens", "context"), max_len=MAX_LEN)
    source = Dataset.open(MINI_DATA)  # the held-out programs are only there
    test = load_records(source)
    test = test[test["program"].isin(held_out)].reset_index(drop=True)
    test_inputs = build_inputs(source, test, families=("tokens", "context"), max_len=MAX_LEN)
    pca = {}
    for how in ("memory", "stream"):
        model = create("tlp", seed=0, **TINY)
        if how == "memory":
            model.fit(inputs, np.arange(len(records)))
        else:
            model.fit_stream(RankingStream(store, list_size=16, lists_per_batch=8, seed=0))
            assert model.metadata["train_records"] == len(records)
            assert model.metadata["max_len"] == MAX_LEN
        assert model.history_[-1]["loss"] < model.history_[0]["loss"]
        table = metrics.evaluate(test, model.predict(test_inputs, np.arange(len(test))), ks=(1,), n_boot=0)
        pca[how] = table.loc[table["metric"] == "pca", "value"].mean()  # over the two CPU platforms
    assert pca["stream"] > 0.55, pca
    assert abs(pca["stream"] - pca["memory"]) < 0.08, pca


def test_train_command_streams_and_refuses_what_it_cannot_stream(tiny_dataset, store, tmp_path, capsys):
    from tenset_study.cli import main
    from tenset_study.models import CostModel

    assert main(["features", "--dataset", str(tiny_dataset), "--out", str(store.root), "--max-len", str(MAX_LEN)]) == 0
    assert f"{store.manifest['records']} records in {len(store.shards)} shards" in capsys.readouterr().out
    out = tmp_path / "tlp.model"
    args = ["train", "--dataset", str(tiny_dataset), "--stream", "--store", str(store.root), "--max-len",
            str(MAX_LEN), "--model", "tlp", "--split", "by-task", "--test-fraction", "0.25", "--param",
            "epochs=1", "hidden=16", "heads=2", "device=cpu", "--out", str(out)]
    assert main(args) == 0
    model = CostModel.load(out)
    assert model.metadata["stream"]["world_size"] == 1 and model.metadata["split"] == "by-task"
    capsys.readouterr()
    assert main([*args[:args.index("--split") + 1], "within-task", *args[args.index("--split") + 2:]]) == 2
    assert "split 'within-task' cannot be streamed" in capsys.readouterr().err
    assert main([*args[:args.index("--model") + 1], "mlp", *args[args.index("--model") + 2:]]) == 2
    assert "--model 'mlp' cannot be trained with --stream" in capsys.readouterr().err


WORKER = textwrap.dedent('''
    import os, sys
    import numpy as np
    import torch
    from tenset_study.evaluation.stream_training import train_stream

    dataset, store, out = sys.argv[1:4]
    seen = []
    model = train_stream(dataset, "tlp", os.path.join(out, "model.pt"), store_dir=store, max_len={max_len},
                         params={params}, split="none", progress=False,
                         on_batch=lambda b: seen.append(b["record_ids"][b["mask"]].numpy()))
    flat = torch.cat([p.detach().reshape(-1) for p in model.network_.parameters()]).numpy()
    np.savez(os.path.join(out, "rank%s.npz" % os.environ["RANK"]), ids=np.concatenate(seen), params=flat,
             epochs=len(model.history_))
''')


def test_ddp_over_gloo_two_ranks_read_disjoint_records_and_agree(tiny_dataset, store, tmp_path):
    params = {**TINY, "epochs": 1}
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(max_len=MAX_LEN, params=repr(params)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(script), str(tiny_dataset), str(store.root), str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    first, second = (set(r["ids"].tolist()) for r in ranks)
    assert first and second and not first & second
    assert len(first) + len(second) == sum(len(r["ids"]) for r in ranks)  # nothing twice within a rank
    assert first | second == _expected_ids(store)
    np.testing.assert_array_equal(ranks[0]["params"], ranks[1]["params"])
    assert (tmp_path / "model.pt").exists()  # saved once, by rank 0
