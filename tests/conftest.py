"""Fixtures shared by several test files."""

from __future__ import annotations

import atexit
import fcntl
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest

MINI_DATA = Path(__file__).resolve().parents[1] / "data" / "mini"
#: Real TenSet logs, beside the repository where the study's shared files are (CI has them).
SHARED_TENSET_LOGS = Path(__file__).resolve().parents[2] / "shared" / "tenset-format"

#: The folder every process of one test run shares: ``make test`` runs the tests in several pytest-xdist
#: workers, which inherit this variable from the process that made the folder (and removes it at exit).
_SHARED_VARIABLE = "TENSET_STUDY_TEST_SHARED"
if _SHARED_VARIABLE not in os.environ:
    os.environ[_SHARED_VARIABLE] = tempfile.mkdtemp(prefix="tenset-study-tests-")
    atexit.register(shutil.rmtree, os.environ[_SHARED_VARIABLE], ignore_errors=True)
SHARED = Path(os.environ[_SHARED_VARIABLE])

#: New CPU platforms skip the hardware probe (a triad in a fresh process, a few seconds a platform) except where
#: a test asks for it (``probe_hardware=True``).
os.environ.setdefault("TENSET_STUDY_PROBE_HARDWARE", "0")

#: In an xdist worker, the libraries' thread pools (OpenMP, BLAS, PyTorch, TVM's runtime) share the cores
#: with the other workers instead of each taking all of them: spinning pools that outnumber the cores made
#: the suite slower in two workers than in one process. Set before any test imports them.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _threads = str(max(1, (os.cpu_count() or 1) // _WORKERS))
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TVM_NUM_THREADS"):
        os.environ.setdefault(_variable, _threads)

#: Tuning studies of the smoke runs, shared by the tests of one run. A study is resumable, so the notebook
#: runs and the book build resume the study that :func:`smoke_tuning_study` tuned instead of tuning the same
#: arms again.
STUDIES = SHARED / "studies"
STUDIES.mkdir(exist_ok=True)
#: The smoke study's network and target: a CPU platform of data/mini, held out of pretraining; its
#: hardware features go to our model. (The tuning itself runs on this machine's CPU, whatever it is.)
SMOKE_TUNING_NETWORK = "dcgan-b1-16"
SMOKE_TUNING_TARGET = "amd-epyc-znver3-2c"
SMOKE_TUNING_STUDY = STUDIES / "mini"
def run_smoke_tuning(study_dir: Path, logs: list, **kwargs):
    """The transfer-tuning experiment with the ``smoke`` preset on data/mini (see above)."""
    from tenset_study.tuning import study as tuning_study

    return tuning_study.run_study(MINI_DATA, SMOKE_TUNING_TARGET, preset="smoke", study_dir=study_dir,
                                  results_dir=study_dir / "shared", progress=False, log=logs.append, **kwargs)


@pytest.fixture(scope="session")
def smoke_tuning_study():
    """The smoke transfer-tuning study, run once per test run whatever the number of xdist workers (the
    first worker to ask runs it under a file lock and keeps its outcome; the others wait and read it):
    (outcome, log lines, study dir)."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    kept = SHARED / "smoke-study-outcome.pkl"
    with open(SHARED / "smoke-study.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kept.exists():
            logs: list[str] = []
            outcome = run_smoke_tuning(SMOKE_TUNING_STUDY, logs)
            kept.write_bytes(pickle.dumps((outcome, logs)))
        outcome, logs = pickle.loads(kept.read_bytes())
    return outcome, logs, SMOKE_TUNING_STUDY


#: The collector tests' network and quick settings: a few tasks, a few programs, cheap timing.
COLLECT_NETWORK = "bert_tiny-b1-64"
COLLECT_QUICK = {"number": 1, "repeat": 3, "min_repeat_ms": 1, "builder_workers": 2}


@pytest.fixture(scope="session")
def tenset_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A small dataset imported from the shared real TenSet logs (a CPU and a GPU log); None where absent."""
    if not SHARED_TENSET_LOGS.is_dir():
        return None
    from tenset_study.importers.tenset.importer import import_tenset

    dest = tmp_path_factory.mktemp("tenset") / "dataset"
    for name in ("resnet-50-NHWC-B1-llvm.json", "resnet-18-NHWC-B1-cuda.json"):
        import_tenset(SHARED_TENSET_LOGS / name, dest, progress=False)
    return dest


@pytest.fixture(scope="session")
def bert_tiny_collection():
    """A real collection on this CPU, once per test run whatever the number of xdist workers (under a file
    lock, like the smoke study): 3 tasks of bert_tiny-b1-64 x 3 random programs, measured v1's way (each
    batch built, then measured). Returns ``(dataset folder, report)``; tests that change the dataset copy it."""
    from tenset_study.collect import CollectConfig, collect
    from tenset_study.collect.measure import MeasureSettings

    root, kept = SHARED / "bert-tiny-collection", SHARED / "bert-tiny-collection.pkl"
    with open(SHARED / "bert-tiny-collection.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kept.exists():
            report = collect(CollectConfig(dataset=root, networks=[COLLECT_NETWORK], programs_per_task=3,
                                           max_tasks=3, batch_size=4, measure=MeasureSettings(**COLLECT_QUICK),
                                           pipeline=False, progress=False))
            kept.write_bytes(pickle.dumps(report))
        report = pickle.loads(kept.read_bytes())
    return root, report


@pytest.fixture(scope="module")
def default_records():
    """Records and network tasks of data/mini, the small test dataset (skipped where it is absent)."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    from tenset_study.data import records
    from tenset_study.data.dataset import Dataset

    ds = Dataset.open(MINI_DATA)
    return records.load_records(ds), records.network_tasks(ds)


def small_cpu_inputs(families: tuple[str, ...], max_len: int = 32, n_tasks: int = 6):
    """``(ds, records, inputs)`` of the first ``n_tasks`` CPU tasks of data/mini (skipped where it is
    absent): small real inputs for training tiny models in tests."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    from tenset_study.data import records
    from tenset_study.data.dataset import Dataset
    from tenset_study.models.inputs import build_inputs
    from tenset_study.programs import tvm_setup

    tvm_setup.prepare_tvm("cpu")
    ds = Dataset.open(MINI_DATA)
    recs = records.load_records(ds)
    cpu = recs[recs["kind"] == "cpu"]
    tasks = sorted(cpu["task"].unique())[:n_tasks]
    sub = cpu[cpu["task"].isin(tasks)].reset_index(drop=True)
    return ds, sub, build_inputs(ds, sub, families=families, max_len=max_len)


def replayed_candidates(ds, task: str, programs, target: dict):
    """A TuneContext for ``task`` of ``ds`` on ``target`` and MetaSchedule candidates replayed from the stored
    traces of ``programs`` (program ids), in their order; the caller registers the tensor intrinsics."""
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    from tenset_study.programs import targets
    from tenset_study.programs.traces import schedule_from_trace
    from tenset_study.programs.workload import load_workload

    row = ds.to_pandas("tasks").set_index("task").loc[task]
    traces = ds.to_pandas("programs", columns=["program", "trace"]).set_index("program")["trace"]
    mod = load_workload(row["workload"])
    candidates = []
    for program in programs:
        sch = schedule_from_trace(mod, traces.loc[program])
        candidates.append(ms.MeasureCandidate(sch, ArgInfo.from_entry_func(sch.mod, remove_preproc=True)))
    context = ms.TuneContext(mod=mod, target=targets.make_target(target), num_threads=1, task_name=row["task_name"])
    return context, candidates
