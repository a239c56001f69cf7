"""Each metric against the scikit-learn call it stands for; names, directions and fit rules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as sk

from toolkit.errors import ToolkitError
from toolkit.metrics import METRIC_NAMES, Metric, check_metric, default_metric, get_metric


def random_case(n: int = 300, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(y (n,), probs (n, k)): noisy but better than chance, every class present."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, probs


@pytest.mark.parametrize("k", [2, 5])
def test_each_metric_is_the_sklearn_call(k: int) -> None:
    y, probs = random_case(k=k)
    pred = probs.argmax(1)
    expected = {
        "accuracy": sk.accuracy_score(y, pred),
        "balanced_accuracy": sk.balanced_accuracy_score(y, pred),
        "f1_macro": sk.f1_score(y, pred, average="macro"),
        "f1_micro": sk.f1_score(y, pred, average="micro"),
        "log_loss": sk.log_loss(y, probs),
        "roc_auc": (
            sk.roc_auc_score(y, probs[:, 1])
            if k == 2
            else sk.roc_auc_score(y, probs, multi_class="ovr", average="macro")
        ),
        "qwk": sk.cohen_kappa_score(y, pred, weights="quadratic"),
    }
    for name, value in expected.items():
        assert get_metric(name)(y, probs) == pytest.approx(value, abs=1e-12), name


def test_log_loss_keeps_a_column_for_a_class_absent_from_the_truth() -> None:
    y, probs = random_case(k=3)
    keep = y != 2
    assert get_metric("log_loss")(y[keep], probs[keep]) == pytest.approx(
        sk.log_loss(y[keep], probs[keep], labels=[0, 1, 2])
    )


def test_roc_auc_averages_over_the_classes_present() -> None:
    y, probs = random_case(k=4)
    keep = y != 3
    per_class = [sk.roc_auc_score(y[keep] == c, probs[keep, c]) for c in (0, 1, 2)]
    assert get_metric("roc_auc")(y[keep], probs[keep]) == pytest.approx(np.mean(per_class))


def test_roc_auc_needs_both_classes() -> None:
    _, probs = random_case(k=2)
    with pytest.raises(ToolkitError, match="ROC AUC needs both"):
        get_metric("roc_auc")(np.zeros(10, dtype=int), probs[:10])


def test_qwk_of_a_single_class_is_a_user_error() -> None:
    probs = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    with pytest.raises(ToolkitError, match="QWK is undefined"):
        get_metric("qwk")(np.array([0, 0]), probs)


def test_map_at_k_by_hand() -> None:
    probs = np.array(
        [
            [0.5, 0.3, 0.2, 0.0],  # truth 0: rank 1 -> 1
            [0.5, 0.3, 0.2, 0.0],  # truth 2: rank 3 -> 1/3
            [0.1, 0.2, 0.3, 0.4],  # truth 0: rank 4 -> 0 at k=3
            [0.4, 0.4, 0.2, 0.0],  # truth 1: tie with class 0, class 0 first -> 1/2
        ]
    )
    y = np.array([0, 2, 0, 1])
    assert get_metric("map@3")(y, probs) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert get_metric("map@1")(y, probs) == pytest.approx(1 / 4)
    assert get_metric("map@4")(y, probs) == pytest.approx((1 + 1 / 3 + 1 / 4 + 1 / 2) / 4)


def test_map_at_k_gives_no_credit_to_unlisted_classes() -> None:
    one_hot = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])  # a label file: one class per row
    y = np.array([0, 1])
    assert get_metric("map@3")(y, one_hot) == pytest.approx(0.5)  # = accuracy


def test_names_titles_directions_and_orientation() -> None:
    loss, acc = get_metric("log_loss"), get_metric("accuracy")
    assert (loss.title, loss.direction, loss.needs) == ("log loss", "minimize", "probabilities")
    assert (acc.direction, acc.needs) == ("maximize", "labels")
    assert loss.oriented(0.3) == -0.3 and acc.oriented(0.3) == 0.3
    assert loss.better(0.2, 0.3) and not loss.better(0.3, 0.2)
    assert acc.better(0.9, 0.8) and not acc.better(0.8, 0.8)
    assert get_metric("map@3") == Metric("map@3", "MAP@3", "maximize", "ranking", 3)
    assert get_metric("map@3").k == 3 and get_metric("map@k", k=7).k == 7
    assert get_metric("MAP@5").name == "map@5" and get_metric("log-loss").name == "log_loss"
    for name in METRIC_NAMES:
        assert get_metric(name).direction in ("maximize", "minimize")


@pytest.mark.parametrize(
    ("typo", "suggestion"), [("logloss", "log_loss"), ("acuracy", "accuracy")]
)
def test_unknown_metrics_suggest_a_name(typo: str, suggestion: str) -> None:
    with pytest.raises(ToolkitError, match=f"did you mean '{suggestion}'") as info:
        get_metric(typo)
    assert "\n" not in str(info.value)
    with pytest.raises(ToolkitError, match="k >= 1"):
        get_metric("map@0")


def test_default_metrics() -> None:
    assert default_metric("label") == "accuracy"
    assert default_metric("probability") == default_metric("class-probabilities") == "log_loss"
    assert default_metric("top-k") == "map@k"
    with pytest.raises(ToolkitError, match="unknown submission kind"):
        default_metric("labels")


def test_what_fits_each_shape() -> None:
    for name in ("log_loss", "roc_auc"):
        with pytest.raises(ToolkitError, match=r"needs probabilities.*--metric") as info:
            check_metric(get_metric(name), "label", [0, 1])
        assert "\n" not in str(info.value)
    for name in ("accuracy", "f1_macro", "qwk", "map@3"):
        check_metric(get_metric(name), "label", [0, 1])
    for kind in ("probability", "class-probabilities"):
        for name in METRIC_NAMES:
            check_metric(get_metric(name), kind, [0, 1])
    check_metric(get_metric("map@5"), "top-k", ["a", "b"])
    check_metric(get_metric("accuracy"), "top-k", ["a", "b"])
    with pytest.raises(ToolkitError, match=r"top-k.*--metric one of map@k, accuracy"):
        check_metric(get_metric("log_loss"), "top-k", ["a", "b"])
    with pytest.raises(ToolkitError, match=r"qwk.*'cat' is not an integer"):
        check_metric(get_metric("qwk"), "class-probabilities", ["cat", "dog"])
    check_metric(get_metric("qwk"), "label", [np.int64(1), np.int64(3)])


def test_importing_the_package_does_not_import_sklearn() -> None:
    code = "import sys, toolkit.metrics; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
