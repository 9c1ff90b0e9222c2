"""scikit-learn: the fitted values prediction uses, by the rules of :func:`tally`.

Only instance attributes (``__dict__``) are read, so no property runs and nothing is computed. scikit-learn is
never imported here: a fitted estimator can only exist once it is in ``sys.modules``.
"""
from __future__ import annotations

import math
import re
import sys
from typing import Any, Iterable

from .base import Budget, Counted, add_count

NAME = "sklearn"
LIBRARY = "sklearn"
ORDER = 30

#: Fitted attributes that are not parameters: labels, bookkeeping, or per-training-sample data.
NOT_PARAMS = frozenset({
    "classes_", "n_iter_", "n_features_in_", "feature_names_in_", "n_samples_seen_", "labels_", "embedding_",
    "support_", "n_support_", "n_outputs_", "n_classes_", "fit_status_", "shape_fit_", "train_score_",
    "validation_score_", "oob_score_", "oob_decision_function_", "oob_prediction_", "vocabulary_", "stop_words_",
    "class_weight_", "n_components_", "n_estimators_", "core_sample_indices_", "inertia_", "n_leaves_",
})


def claims(cls: type, sklearn: Any) -> bool:
    base = getattr(sys.modules.get("sklearn.base"), "BaseEstimator", None)
    if isinstance(base, type):
        return issubclass(cls, base)
    return cls.__module__.startswith("sklearn.")


def count(obj: Any, sklearn: Any, budget: Budget) -> Counted | None:
    counts: dict[str, int] = {}
    rule = tally(obj, counts, budget)
    if rule is None:
        return None
    return Counted(counts, f"scikit-learn {type(obj).__name__} ({rule})")


def _arrays(counts: dict[str, int], arrays: Iterable[Any]) -> None:
    """Add numeric arrays and scalars (Python floats count as fp64, ints as int64) to ``counts``."""
    for a in arrays:
        if a is None or isinstance(a, bool):
            continue
        if isinstance(a, float):
            add_count(counts, "float64", 1)
        elif isinstance(a, int):
            add_count(counts, "int64", 1)
        elif hasattr(a, "dtype") and hasattr(a, "size"):
            add_count(counts, a.dtype, a.size)


def _tree(counts: dict[str, int], tree: Any) -> None:
    """Counting rule for one fitted tree: every node holds a threshold, a feature index and its value entries.

    For ``sklearn.tree._tree.Tree``: node_count × (1 threshold + 1 feature + n_outputs × max_n_classes values),
    each at its array's dtype (float64 thresholds and values, intp feature indices). Child links and sample
    counts are structure and statistics, not parameters.
    """
    n = int(tree.node_count)
    per_node_values = int(math.prod(tree.value.shape[1:]))
    add_count(counts, tree.threshold.dtype, n)
    add_count(counts, tree.feature.dtype, n)
    add_count(counts, tree.value.dtype, n * per_node_values)


def _flatten(items: Any) -> list[Any]:
    if hasattr(items, "ravel") and hasattr(items, "dtype"):  # GradientBoosting keeps a 2-D object array
        return list(items.ravel())
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, (list, tuple)) else [item])
    return out


def tally(est: Any, counts: dict[str, int], budget: Budget, depth: int = 0) -> str | None:
    """Tally the learned values of a fitted estimator into ``counts``; returns the rule used, or None.

    Rules, first match wins: ``best_estimator_`` (search CV) → that estimator; Pipeline ``steps`` → sum of the
    steps; ``tree_`` → tree nodes (:func:`_tree`); ``estimators_`` → sum of the sub-estimators (forests, boosting,
    bagging, voting, stacking with its ``final_estimator_``); HistGradientBoosting → the same per-node rule over its
    predictors; ``support_vectors_`` → support vectors + ``dual_coef_`` + ``intercept_``; ``coefs_`` → MLP
    ``coefs_`` + ``intercepts_``; ``coef_`` → ``coef_`` + ``intercept_``; ``components_`` → ``components_`` +
    ``mean_``; ``cluster_centers_``; otherwise every public numeric array attribute ending in ``_`` except labels
    and bookkeeping (:data:`NOT_PARAMS`).
    """
    if depth > 8:
        return None
    budget.tick()
    attrs = getattr(est, "__dict__", {})
    if attrs.get("best_estimator_") is not None:
        rule = tally(attrs["best_estimator_"], counts, budget, depth + 1)
        return f"best_estimator_ {type(attrs['best_estimator_']).__name__}: {rule}" if rule else None
    if isinstance(attrs.get("steps"), list):
        names = []
        for step in attrs["steps"]:
            sub = step[-1] if isinstance(step, tuple) else step
            if sub is not None and not isinstance(sub, str) and tally(sub, counts, budget, depth + 1):
                names.append(type(sub).__name__)
        return f"steps {' + '.join(names)}" if names else None
    if attrs.get("tree_") is not None:
        _tree(counts, attrs["tree_"])
        return "tree nodes: threshold + feature + values"
    if attrs.get("estimators_") is not None:
        subs = [e for e in _flatten(attrs["estimators_"]) if e is not None]
        if attrs.get("final_estimator_") is not None:
            subs.append(attrs["final_estimator_"])
        rules = {re.sub(r"^\d+ estimators?; ", "", r)
                 for r in (tally(e, counts, budget, depth + 1) for e in subs) if r is not None}
        if not rules:
            return None
        noun = "estimator" if len(subs) == 1 else "estimators"
        return f"{len(subs)} {noun}; " + ("; ".join(sorted(rules)) if len(rules) <= 2 else "mixed rules")
    if attrs.get("_predictors") is not None:  # HistGradientBoosting*: lists of TreePredictor per iteration
        for predictor in _flatten(attrs["_predictors"]):
            budget.tick()
            nodes = predictor.nodes
            for field in ("num_threshold", "feature_idx", "value"):
                add_count(counts, nodes.dtype[field], len(nodes))
        _arrays(counts, [attrs.get("_baseline_prediction")])
        return "tree nodes: threshold + feature + value"
    for key, extra, rule in (("support_vectors_", ("dual_coef_", "intercept_"),
                              "support vectors + dual_coef_ + intercept_"),
                             ("coefs_", ("intercepts_",), "coefs_ + intercepts_"),
                             ("coef_", ("intercept_",), "coef_ + intercept_"),
                             ("components_", ("mean_",), "components_ + mean_"),
                             ("cluster_centers_", (), "cluster_centers_")):
        if attrs.get(key) is not None:
            values: list[Any] = []
            for name in (key, *extra):
                v = attrs.get(name)
                values.extend(v if isinstance(v, list) else [v])
            _arrays(counts, values)
            return rule
    generic = [v for k, v in attrs.items()
               if k.endswith("_") and not k.startswith("_") and k not in NOT_PARAMS
               and hasattr(v, "dtype") and getattr(v, "ndim", 0) >= 1]
    before = sum(counts.values())
    _arrays(counts, generic)
    return "fitted array attributes" if sum(counts.values()) > before else None
