"""The GPU host has PyTorch, pandas, pyarrow and what scripts/device_*.sh install (TVM, XGBoost) but no
seaborn, matplotlib, orjson, scipy or scikit-learn: the modules of collection, pretraining, tuning and study
exports must import without them (plotting stays in the notebook modules; JSON falls back to the standard
library, see test_tokens)."""

from __future__ import annotations

import subprocess
import sys

ABSENT_ON_HOST = ("seaborn", "matplotlib", "orjson", "scipy", "sklearn", "jupytext", "papermill")
HOST_MODULES = ("cli", "collect", "tuning", "tuning_study", "tuning_model", "study_archive", "streaming",
                "models.neural", "models.xgb", "models.multihead", "feature_store", "tokens", "timing_worker")


def test_host_commands_import_without_the_notebook_libraries() -> None:
    code = "\n".join([
        "import sys",
        *(f"sys.modules[{name!r}] = None" for name in ABSENT_ON_HOST),
        *(f"import tenset_study.{module}" for module in HOST_MODULES),
        "from tenset_study import fastjson",
        "print(fastjson.BACKEND)",
    ])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "json", "the standard library stands in for orjson"
