"""Ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clientcore.personalize.metrics import MetricSum, case_metrics


def test_golden_values() -> None:
    ranked = np.array([5, 1, 9, 2, 7])
    recall, ndcg, mrr = case_metrics(ranked, np.array([1, 7, 8]), k=5)
    assert recall == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg == pytest.approx(dcg / ideal)
    assert mrr == pytest.approx(1 / 2)


def test_only_the_top_k_count() -> None:
    assert case_metrics(np.array([1, 2, 3]), np.array([3]), k=2) == (0.0, 0.0, 0.0)
    assert case_metrics(np.array([3, 2, 1]), np.array([3]), k=2) == (1.0, 1.0, 1.0)


def test_coverage_and_means() -> None:
    total = MetricSum(k=2)
    total.add(np.array([0, 1]), np.array([0]))
    total.add(np.array([2, 1]), np.array([5]))
    result = total.result(catalog_size=10)
    assert result["recall@2"] == 0.5
    assert result["mrr@2"] == 0.5
    assert result["coverage"] == 0.3
    assert result["cases"] == 2
