"""Measurement noise: the coefficient of variation of each measurement's repeats, the floor under any
difference between two programs that a cost model can learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ...data.dataset import Dataset


def repeat_cv(ds: Dataset, ddof: int = 1) -> pd.DataFrame:
    """Coefficient of variation of every successful measurement's repeats: ``std / mean`` of ``repeats_s``.

    Streams the measurements table batch by batch. ``ddof=1`` is the sample standard deviation.
    Returns columns program, platform, repeats (count), mean_s, cv; measurements with fewer than
    ``ddof + 1`` repeats get cv NaN.
    """
    pieces = []
    for batch in ds.iter_batches("measurements", columns=["program", "platform", "repeats_s", "error"]):
        repeats = batch.column("repeats_s")
        lengths = pc.fill_null(pc.list_value_length(repeats), 0).to_numpy(zero_copy_only=False)
        flat = pc.list_flatten(repeats).to_numpy(zero_copy_only=False).astype(float)
        parent = pc.list_parent_indices(repeats).to_numpy(zero_copy_only=False)
        n = len(lengths)
        sums = np.bincount(parent, weights=flat, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / lengths
            sq = np.bincount(parent, weights=(flat - mean[parent]) ** 2, minlength=n)
            std = np.sqrt(sq / (lengths - ddof))
            cv = np.where(lengths > ddof, std / mean, np.nan)
        errors = batch.column("error").is_null().to_numpy(zero_copy_only=False)
        pieces.append(pd.DataFrame({
            "program": batch.column("program").to_pandas(),
            "platform": batch.column("platform").to_pandas(),
            "repeats": lengths.astype(int),
            "mean_s": np.where(lengths > 0, mean, np.nan),
            "cv": cv,
        })[errors])
    if not pieces:
        return pd.DataFrame(columns=["program", "platform", "repeats", "mean_s", "cv"])
    return pd.concat(pieces, ignore_index=True)


def cv_summary(cv: pd.DataFrame) -> pd.DataFrame:
    """Per platform: measurements with a CV, repeats per measurement (median) and the CV's median,
    90th percentile and mean (index: platform)."""
    valid = cv.dropna(subset=["cv"])
    grouped = valid.groupby("platform", observed=True)
    return grouped.agg(
        measurements=("cv", "size"),
        repeats=("repeats", "median"),
        cv_median=("cv", "median"),
        cv_p90=("cv", lambda s: s.quantile(0.9)),
        cv_mean=("cv", "mean"),
    )
