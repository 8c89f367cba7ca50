"""Pairwise and cluster precision, recall and F1: golden values on small clusterings."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from clientcore.reconcile.evaluate import cluster_scores, evaluate_labels, pairwise_scores


def test_a_perfect_clustering_scores_one() -> None:
    truth = ["p1", "p1", "p2", "p3", "p3", "p3"]
    result = evaluate_labels([7, 7, 8, 9, 9, 9], truth)
    assert result.pairwise.f1 == result.cluster.f1 == 1.0
    assert result.largest_cluster == result.largest_true_cluster == 3


def test_a_giant_cluster_has_recall_but_no_precision() -> None:
    truth = ["a", "a", "b", "b", "c", "c"]
    pairwise = pairwise_scores([0] * 6, truth)
    assert pairwise.recall == 1.0
    assert pairwise.precision == 3 / 15
    assert cluster_scores([0] * 6, truth).f1 == 0.0


def test_golden_values_of_a_mixed_clustering() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = [1, 1, 2, 2, 3, 4]  # a split, a wrong merge of a and b, c alone
    pairwise = pairwise_scores(predicted, truth)
    assert (pairwise.true_positives, pairwise.predicted, pairwise.actual) == (1, 2, 4)
    assert pairwise.f1 == round(2 * 0.5 * 0.25 / 0.75, 6)
    clusters = cluster_scores(predicted, truth)
    assert (clusters.true_positives, clusters.predicted, clusters.actual) == (1, 4, 3)


def test_edges_are_scored_before_transitivity() -> None:
    truth = ["a", "a", "a", "b"]
    result = evaluate_labels([0, 0, 0, 1], truth, (np.array([0, 1, 2]), np.array([1, 2, 3])))
    assert result.edges is not None
    assert (result.edges.true_positives, result.edges.predicted) == (2, 3)


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=40))
def test_scores_do_not_depend_on_label_names(rows: list[tuple[int, int]]) -> None:
    predicted = [p for p, _ in rows]
    truth = [t for _, t in rows]
    renamed = [f"x{p * 7 + 3}" for p in predicted]
    assert pairwise_scores(predicted, truth) == pairwise_scores(renamed, truth)
    assert cluster_scores(predicted, truth) == cluster_scores(renamed, truth)
    assert cluster_scores(predicted, truth).f1 == cluster_scores(truth, predicted).f1
