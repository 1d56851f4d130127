"""What a claim of the paper is beside ours: the :class:`Claim` record, the verdicts and the paper's figures
(:mod:`.claims` and :mod:`.tuning_claim` judge the claims)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN = "reproduced", "partly", "not reproduced", "not run"

#: The paper's pruning claims: share of training data removed at unchanged PCA (conference, journal).
PAPER_PRUNED = (0.45, 0.53)
#: The paper's transfer claim: top-5 accuracy on unseen hardware above this.
PAPER_TOP5 = 0.90
#: The paper's tuning claim: on-par inference time with this range of shares of the baseline's tuning time.
PAPER_TUNING_SHARES = (0.25, 0.40)
#: Each claim of the paper in a few words, for the verdict table.
PAPER_SHORT = {
    "split comparison": "the split changes the answer (no figure)",
    "pruning": f"{PAPER_PRUNED[0]:.0%} pruned (journal {PAPER_PRUNED[1]:.0%}), PCA kept",
    "transfer": f"top-5 above {PAPER_TOP5:.0%} on unseen hardware",
    "transfer tuning": f"on par in {PAPER_TUNING_SHARES[0]:.0%}-{PAPER_TUNING_SHARES[1]:.0%} of the tuning time",
}


@dataclass
class Claim:
    """One claim: the paper's figure and ours in full (``paper``, ``ours``) and in a few words for the verdict
    table (``paper_short``, ``ours_short``), the verdict, how it was decided and the table it was read from."""

    claim: str
    paper: str
    ours: str
    verdict: str
    basis: str
    source: str
    paper_short: str = ""
    ours_short: str = ""

    def as_dict(self) -> dict:
        return asdict(self)
