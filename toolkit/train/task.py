"""What a run is asked to do besides training: which images, which submission, which metric.

Three small decisions, each made once from the config and the competition, before training:

- :func:`image_request`: the image size and resize mode to load the competition with. An
  explicit ``data.image_size`` wins; otherwise an encoder with pretrained weights asks for
  its weights' input size (the timm plugin's ``preferred_image_size``); otherwise the data
  stage decides (native size, or a size derived from the photos).
- :func:`resolve_task`: the submission format (from ``sample_submission.csv`` unless
  ``submission.*`` settings override it) and the metric (``metric``, else the shape's
  default), checked against each other.
- :func:`matching_competition`: the competition loaded with this config's image request
  (reloaded from its cache when the caller loaded it with another one).

No torch here: tuning and submitting call these too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.data import Competition, SubmissionFormat
    from toolkit.metrics import Metric
    from toolkit.train.config import TrainConfig


@dataclass(frozen=True)
class Task:
    """The submission a run prepares for and the metric it is judged by."""

    submission: SubmissionFormat
    metric: Metric

    def record(self, classes: list[Any]) -> dict[str, Any]:
        """What a run record and a provenance JSON keep of the task (JSON-ready)."""
        metric = self.metric
        return {
            "metric": {"name": metric.name, "title": metric.title, "direction": metric.direction},
            "submission": self.submission.to_record(classes)
            | {"header": list(self.submission.header)},
        }


def image_request(config: TrainConfig) -> tuple[int, str]:
    """(image_size, resize) to load the competition with; 0 lets the data stage choose."""
    if config.image_size > 0:
        return config.image_size, config.resize
    preferred = _encoder_preferred_size(config)
    return (preferred or 0), config.resize


def _encoder_preferred_size(config: TrainConfig) -> int | None:
    """The input size an encoder's pretrained weights expect (None: no preference)."""
    from toolkit.registry import encoders
    from toolkit.registry.contracts import preferred_image_size

    base, _, variant = config.encoder.partition(":")
    try:
        factory = encoders.get(base)
    except Exception:  # an unknown encoder: training names it with its own message
        return None
    preferred = preferred_image_size(factory)
    if preferred is None:
        return None
    params = dict(config.encoder_params)
    if variant:
        params.setdefault("variant", variant)
    try:
        size = preferred(**params)
    except TypeError:  # parameters the helper does not take: no preference
        return None
    return int(size) if size else None


def load_for(config: TrainConfig, path: str | Path) -> Competition:
    """Load the competition at ``path`` the way ``config`` asks for its images."""
    from toolkit.data import load_competition

    size, resize = image_request(config)
    return load_competition(path, image_size=size, resize=resize)


def matching_competition(config: TrainConfig, comp: Competition) -> Competition:
    """``comp`` itself when it was loaded with ``config``'s image request, else a reload."""
    size, resize = image_request(config)
    policy = comp.image_policy
    if policy.get("native") and size in (0, int(policy.get("size", 0))):
        return comp  # nothing was resampled: every request that keeps the size is the same
    if int(policy.get("requested", 0)) == size and policy.get("resize", "crop") == resize:
        return comp
    from toolkit.data import load_competition

    return load_competition(comp.root, image_size=size, resize=resize)


def resolve_task(config: TrainConfig, comp: Competition) -> Task:
    """The submission format and the metric of a run, checked to fit each other."""
    from toolkit.data import submission_format
    from toolkit.metrics import check_metric, default_metric, get_metric

    fmt = submission_format(
        comp,
        kind=config.submission_kind,
        k=config.submission_k,
        positive_class=config.submission_positive_class,
    )
    metric = get_metric(config.metric or default_metric(fmt.kind), k=max(fmt.k, 1))
    check_metric(metric, fmt.kind, comp.classes)
    return Task(fmt, metric)
