"""The paper's tuning claim (on-par or better mean inference time with 25-40% of the baseline's tuning time),
judged on a transfer-tuning study's results and tuning curves; one :class:`~tenset_study.book.claims.Claim`
for :func:`~tenset_study.book.claims.claims_table`."""

from __future__ import annotations

import pandas as pd

from .claim import NOT_REPRODUCED, NOT_RUN, PAPER_SHORT, PAPER_TUNING_SHARES, PARTLY, REPRODUCED, Claim

#: The paper's tuning claim: on-par inference time with at most this share of the baseline's tuning time.
PAPER_TUNING_SHARE = PAPER_TUNING_SHARES[1]


def tuning_claim(results: pd.DataFrame, source: str = "transfer_tuning.csv", model: str = "ours",
                 curves: pd.DataFrame | None = None) -> Claim:
    """Reproduced when, on every (network, platform), ``model`` is on par with or faster than the baseline
    with at most 40% of its tuning time; partly when that holds for some; else not reproduced.

    Where ``model`` tuned with the whole budget (``<model>@100%``, the ``full`` preset since the search-time
    measure) and ``curves`` hold its tuning curves, it is read off them (:func:`_curve_case`): its estimated
    latency once 40% of the baseline's tuning time had passed, against the latency the baseline ends at. Arms
    with a reduced budget are judged end to end (:func:`_end_to_end_case`): intervals overlap or lie below with
    at most 40% of the baseline's tuning time. The random-search arms at the same budgets say how much of it the
    model earns: if random search is on par too, the baseline's budget was more than the network needed."""
    paper = (f"on-par or better mean inference time with {PAPER_TUNING_SHARES[0]:.0%}-{PAPER_TUNING_SHARE:.0%} of the baseline's "
             "tuning time")
    from ..tuning.study import compare_to_baseline

    comparison = compare_to_baseline(results)
    comparison = comparison[comparison["verdict"] != "n/a"]
    ours_arms = comparison[comparison["arm"].str.startswith(f"{model}@")]
    if ours_arms.empty:
        return Claim("transfer tuning", paper, f"no timed {model!r} arm beside a timed baseline", NOT_RUN,
                     "the table holds no end-to-end timings of both", source)
    cases, held, parts, bases = 0, 0, [], set()
    for (platform, network), group in ours_arms.groupby(["target_platform", "network"], sort=False):
        cases += 1
        whole = group[group["arm"] == f"{model}@100%"]
        case = _curve_case(whole.iloc[0], _curves_of(curves, platform, network)) if len(whole) else None
        if case is None:
            case = _end_to_end_case(group, comparison[(comparison["target_platform"] == platform)
                                                      & (comparison["network"] == network)])
        good, text, basis = case
        held += good
        bases.add(basis)
        parts.append(f"{network} on {platform or 'this target'}: {text}")
    verdict = REPRODUCED if held == cases else PARTLY if held else NOT_REPRODUCED
    short = f"on par within {PAPER_TUNING_SHARE:.0%} of the time in {held} of {cases} network(s) and target(s)"
    return Claim("transfer tuning", paper, " | ".join(parts), verdict, "; ".join(sorted(bases)), source,
                 PAPER_SHORT["transfer tuning"], short)


#: How a case judged end to end was decided.
END_TO_END_BASIS = ("end-to-end latency of the compiled network (Relax VM; interval over timing rounds in fresh "
                    "processes, or over the repeats of one process, widened by the spread over seeds) of the "
                    "transferred model tuned with a share of the trials, against MetaSchedule's XGBoost model with "
                    "all of them; tuning time is wall time of the tuning")
#: How a case judged on the tuning curves was decided.
CURVE_BASIS = ("estimated network latency (task weight x best measured kernel) of the transferred model tuned with "
               f"the whole budget once {PAPER_TUNING_SHARE:.0%} of the baseline's tuning time had passed, over the "
               "latency the baseline ends at, geometric mean over seed pairs with a bootstrap interval: on par "
               "when the interval reaches 1.00 or lies below")


def _curves_of(curves: pd.DataFrame | None, platform, network) -> pd.DataFrame | None:
    """The curves of one (target, network) case, grouped as the speedup tables group them; None without any."""
    from ..tuning.speedup import group_columns

    if curves is None or curves.empty:
        return None
    where, _ = group_columns(curves)
    chosen = curves[(curves[where] == platform) & (curves["network"] == network)]
    return chosen if len(chosen) else None


def _curve_case(row: pd.Series, curves: pd.DataFrame | None) -> tuple[bool, str, str] | None:
    """The claim on one (network, target) from the whole-budget arm's curves; None without them."""
    from ..tuning.speedup import latency_at_shares, speedup_table

    if curves is None:
        return None
    arm = row["arm"]
    shares = latency_at_shares(curves, shares=PAPER_TUNING_SHARES).set_index(["arm", "share"])
    if (arm, PAPER_TUNING_SHARE) not in shares.index:
        return None
    at = {share: shares.loc[(arm, share)] for share in PAPER_TUNING_SHARES}
    decisive = at[PAPER_TUNING_SHARE]
    good = bool(decisive["covered"] > 0 and decisive["low"] <= 1.0)
    speedups = speedup_table(curves).set_index("arm")
    speedup = speedups.loc[arm, "verdict"] if arm in speedups.index else "no speedup"
    text = "; ".join(f"{arm} at {share:.0%} of the baseline's time: latency x{value['ratio']:.2f} "
                     f"[{value['low']:.2f}, {value['high']:.2f}] of its final ({int(value['covered'])} of "
                     f"{int(value['seeds'])} seed pairs)" for share, value in at.items())
    text += f"; search-time speedup {speedup}; final end to end: {row['verdict']}"
    return good, text, CURVE_BASIS


def _end_to_end_case(group: pd.DataFrame, same_case: pd.DataFrame) -> tuple[bool, str, str]:
    """The claim on one (network, target) from the end-to-end comparison of reduced-budget arms."""
    good = group[group["verdict"].isin(["on par", "faster"]) & (group["tuning_time_ratio"] <= PAPER_TUNING_SHARE)]
    arms = "; ".join(f"{row['arm']} latency x{row['latency_ratio']:.2f} [{row['ratio_low']:.2f}, "
                     f"{row['ratio_high']:.2f}] of the baseline's ({row['verdict']}) in "
                     f"{row['tuning_time_ratio']:.0%} of its tuning time"
                     for _, row in group.sort_values("tuning_time_ratio").iterrows())
    randoms = same_case[same_case["arm"].str.startswith("random@")]
    random_note = (f"; random search at the same budget: {', '.join(randoms['verdict'].unique())}"
                   if len(randoms) else "")
    return bool(len(good)), arms + random_note, END_TO_END_BASIS
