"""The GPU host has PyTorch, pandas, pyarrow and what scripts/device_*.sh install (TVM, XGBoost) but no
seaborn, matplotlib, orjson, scipy or scikit-learn: the modules of collection, pretraining, tuning and study
exports must import without them (plotting stays in the notebook modules; JSON falls back to the standard
library, see test_tokens)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tenset_study

ABSENT_ON_HOST = ("seaborn", "matplotlib", "orjson", "scipy", "sklearn", "jupytext", "papermill")
PLOTTING = ("seaborn", "matplotlib")
ALL_MODULES = tuple(m.name for m in pkgutil.walk_packages(tenset_study.__path__, "tenset_study.")
                    if m.name != "tenset_study.cli.__main__")  # importing __main__ runs the command
#: What the GPU host runs: everything but the book layer (the notebooks' tables and figures) and the
#: importers of TenSet's logs (their fast path needs orjson; imports run on the CPU machine).
HOST_MODULES = tuple(m for m in ALL_MODULES
                     if not m.startswith(("tenset_study.book", "tenset_study.importers.tenset")))


def _import_without(absent: tuple[str, ...], modules: tuple[str, ...]) -> subprocess.CompletedProcess:
    code = "\n".join(["import sys", *(f"sys.modules[{name!r}] = None" for name in absent),
                      *(f"import {module}" for module in modules),
                      "from tenset_study import fastjson", "print(fastjson.BACKEND)"])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_host_commands_import_without_the_notebook_libraries() -> None:
    done = _import_without(ABSENT_ON_HOST, HOST_MODULES)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "json", "the standard library stands in for orjson"


def test_only_the_book_layer_plots() -> None:
    """matplotlib and seaborn belong to ``tenset_study.book``: every other module imports without them."""
    assert len(HOST_MODULES) > 40 and any(m.startswith("tenset_study.book.") for m in ALL_MODULES)
    done = _import_without(PLOTTING, tuple(m for m in ALL_MODULES if not m.startswith("tenset_study.book")))
    assert done.returncode == 0, done.stderr[-2000:]


def test_package_imports_stay_light() -> None:
    """The packages re-export their API lazily (PEP 562): importing one imports neither torch nor TVM."""
    packages = ("features", "collect", "programs", "zoo", "models")
    code = "\n".join(["import sys", *(f"import tenset_study.{p}" for p in packages),
                      "print(sorted(m for m in ('torch', 'tvm') if m in sys.modules))"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
