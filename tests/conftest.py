"""Fixtures shared by several test files."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

MINI_DATA = Path(__file__).resolve().parents[1] / "data" / "mini"

#: The folder every process of one test run shares: ``make test`` runs the tests in several pytest-xdist
#: workers, which inherit this variable from the process that made the folder (and removes it at exit).
_SHARED_VARIABLE = "TENSET_STUDY_TEST_SHARED"
if _SHARED_VARIABLE not in os.environ:
    os.environ[_SHARED_VARIABLE] = tempfile.mkdtemp(prefix="tenset-study-tests-")
    atexit.register(shutil.rmtree, os.environ[_SHARED_VARIABLE], ignore_errors=True)
SHARED = Path(os.environ[_SHARED_VARIABLE])

#: Tuning studies of the smoke runs, shared by the tests of one run. A study is resumable, so the notebook
#: runs and the book build resume the study that :func:`smoke_tuning_study` tuned instead of tuning the same
#: arms again; they and every user of the fixture run in one worker (:data:`SMOKE_STUDY_GROUP`), in order.
STUDIES = SHARED / "studies"
STUDIES.mkdir(exist_ok=True)
#: The smoke study's network and target: a CPU platform of data/mini, held out of pretraining; its
#: hardware features go to our model. (The tuning itself runs on this machine's CPU, whatever it is.)
SMOKE_TUNING_NETWORK = "dcgan-b1-16"
SMOKE_TUNING_TARGET = "amd-epyc-znver3-2c"
SMOKE_TUNING_STUDY = STUDIES / "mini"
#: The xdist group of the smoke study's users and of the book's notebook runs and build (which share it).
SMOKE_STUDY_GROUP = "smoke-study-and-book"


def run_smoke_tuning(study_dir: Path, logs: list, **kwargs):
    """The transfer-tuning experiment with the ``smoke`` preset on data/mini (see above)."""
    from tenset_study.tuning import study as tuning_study

    return tuning_study.run_study(MINI_DATA, SMOKE_TUNING_TARGET, preset="smoke", study_dir=study_dir,
                                  results_dir=study_dir / "shared", progress=False, log=logs.append, **kwargs)


@pytest.fixture(scope="session")
def smoke_tuning_study():
    """The smoke transfer-tuning study, run once per session: (outcome, log lines, study dir)."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    logs: list[str] = []
    return run_smoke_tuning(SMOKE_TUNING_STUDY, logs), logs, SMOKE_TUNING_STUDY


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
    from tenset_study.programs import tvm_setup
    from tenset_study.data.dataset import Dataset
    from tenset_study.models.inputs import build_inputs

    tvm_setup.prepare_tvm("cpu")
    ds = Dataset.open(MINI_DATA)
    recs = records.load_records(ds)
    cpu = recs[recs["kind"] == "cpu"]
    tasks = sorted(cpu["task"].unique())[:n_tasks]
    sub = cpu[cpu["task"].isin(tasks)].reset_index(drop=True)
    return ds, sub, build_inputs(ds, sub, families=families, max_len=max_len)


#: Module- and class-scoped fixtures are built once per worker that needs them; tests sharing one run in
#: the same worker (an ``xdist_group``), the others spread over the workers one by one.
_SHARED_SCOPES = ("module", "class", "package")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Puts every test that uses a module-scoped fixture of its file in one xdist group per (file, fixtures),
    and every user of the smoke tuning study in :data:`SMOKE_STUDY_GROUP`, unless the test names its group
    itself (``@pytest.mark.xdist_group``)."""
    for item in items:
        if item.get_closest_marker("xdist_group") or not hasattr(item, "_fixtureinfo"):
            continue
        if "smoke_tuning_study" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group(SMOKE_STUDY_GROUP))
            continue
        shared = sorted(name for name, defs in item._fixtureinfo.name2fixturedefs.items()
                        if defs and defs[-1].scope in _SHARED_SCOPES)
        if shared:
            item.add_marker(pytest.mark.xdist_group(f"{item.path.name}:{'+'.join(shared)}"))
