"""The time a budgeted run keeps after a stage, sized from the measured speed of evaluation.

Under ``--budget`` a stage ends early enough for what comes after it to fit: the final
evaluation (train sample, validation and test predictions, each TTA view a forward pass), the
kNN score of an embedding run, the artifacts (plots, t-SNE) and, after an encoder stage, the
head's stage on frozen features (extracting them, then training the head). Most of that is
forward passes of the encoder, whose speed every evaluation measures (seconds per image view,
``Context.s_per_view``), so the reserve is counted in views here and priced in seconds by the
loop once a speed is known::

    stage's end = budget's end - SAFETY * (views after it * seconds per view + fixed seconds)
                  - a few seconds (MARGIN_S, at most MARGIN_SHARE of the budget)

Until the first measurement, and for a stage followed by another that trains on images (its
split of the budget is the plan's), the stage ends at its plan's share of the budget
(:data:`~toolkit.train.plan.TRAIN_SHARE`, :data:`~toolkit.train.plan.ENCODER_SHARE`), as a
fixed share once did for every run: it left 5-14% of a 10- or 15-minute budget unused on
CIFAR-sized data, and overran a 2-minute contrastive run by 20% (its features took longer to
extract than the share allowed).
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.runs.artifacts import TSNE_POINTS
from toolkit.train.plan import Plan

# The estimate is multiplied by this, and MARGIN_S added (at most MARGIN_SHARE of the budget):
# what followed a stage took 0.92-1.30x its estimate in the runs measured (docs/BENCHMARKS.md,
# fifth and sixth sittings; the 1.3x on a 6-s and a 30-s reserve), and the clock must not
# overrun. A margin of 1.5x alone covered them, but kept a third of a large reserve unused: 43 s
# of a 300-s contrastive run whose features and probe took 117 s after its encoder stage.
SAFETY = 1.2
MARGIN_S = 5.0
MARGIN_SHARE = 0.02
ARTIFACTS_S = 2.0  # checkpoint, arrays, metrics and plots (0.9-1.1 s on a 2-core EPYC)
TSNE_S = 12.0  # the t-SNE plot of 2,000 points (10.8 s on a 2-core EPYC; fewer: a share of it)
HEAD_SHARE = 0.03  # of the budget, for a head's training on frozen features (fixed length)


@dataclass(frozen=True)
class Reserve:
    """What must still run, once a stage ends, before the run's budget does."""

    end: float  # time.perf_counter() at which the run's budget ends
    views: int  # forward passes of one image after the stage (each TTA view counts)
    fixed_s: float  # seconds of the rest that are not forward passes
    margin_s: float = 0.0  # added after the SAFETY factor (MARGIN_S, or less on a short budget)

    def seconds(self, s_per_view: float) -> float:
        """The reserve in seconds, at ``s_per_view`` measured seconds per forward view."""
        return SAFETY * (self.views * s_per_view + self.fixed_s) + self.margin_s

    def deadline(self, s_per_view: float) -> float:
        """The moment the stage must end (``time.perf_counter()``) to leave the reserve."""
        return self.end - self.seconds(s_per_view)


def reserves(
    plan: Plan,
    *,
    end: float,
    n_train_eval: int,
    n_val: int,
    n_test: int,
    views: int,
    tsne: bool,
) -> list[Reserve | None]:
    """For each stage of ``plan`` (same order), what must fit after it; ``None`` where the
    plan's share decides (no budget, or an image-training stage follows).

    ``end`` is when the budget ends (``time.perf_counter()``), ``n_train_eval`` the train
    images the final evaluation scores (and embeds for kNN), ``n_val`` / ``n_test`` the
    validation and test images, ``views`` the TTA views a prediction averages (1: none) and
    ``tsne`` whether the run draws its t-SNE plot (an embedding run that saves its folder).
    """
    if plan.budget <= 0:
        return [None] * len(plan.stages)
    n_train = plan.n_train
    embedding = plan.stages[0].name == "encoder"
    last = plan.stages[-1]
    # The final evaluation: a frozen encoder's train and validation features are cached.
    pictures = n_test if last.on_features else n_train_eval + n_val + n_test
    final_views = views * pictures
    if embedding and n_val > 0 and not (last.on_features and views == 1):
        final_views += n_train_eval + n_val  # kNN on plain embeddings
    tsne_s = TSNE_S * min(n_val, TSNE_POINTS) / TSNE_POINTS if embedding and tsne else 0.0
    final_s = ARTIFACTS_S + tsne_s
    out: list[Reserve | None] = []
    for i, _ in enumerate(plan.stages):
        later = plan.stages[i + 1 :]
        if not all(stage.on_features for stage in later):
            out.append(None)
            continue
        extract = sum(views * (n_train + n_val) for _ in later)  # each head stage's features
        head_s = HEAD_SHARE * plan.budget * len(later)
        margin_s = min(MARGIN_S, MARGIN_SHARE * plan.budget)
        out.append(Reserve(end, final_views + extract, final_s + head_s, margin_s))
    return out
