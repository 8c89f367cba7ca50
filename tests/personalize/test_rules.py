"""Business rules are invariants: whatever the scores, the list never breaks one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.personalize.errors import InvalidRequestError
from clientcore.personalize.rules import ItemFacts, Rules, apply_rules, diversify, eligible

N = 40


@st.composite
def worlds(draw: st.DrawFn) -> tuple[ItemFacts, np.ndarray, np.ndarray, np.ndarray, Rules, int]:
    def flags(p: float) -> np.ndarray:
        return np.array(draw(st.lists(st.booleans(), min_size=N, max_size=N)), bool) | (p > 1)

    price = np.array(draw(st.lists(st.floats(1, 200), min_size=N, max_size=N)))
    cost = price * np.array(draw(st.lists(st.floats(0.1, 1.2), min_size=N, max_size=N)))
    facts = ItemFacts(
        in_stock=flags(0.5),
        repeatable=flags(0.5),
        price=price,
        margin=(price - cost) / price,
        launched=np.where(flags(0.5), np.nan, 1000.0 + np.arange(N)),
        category=np.array(draw(st.lists(st.integers(0, 4), min_size=N, max_size=N))),
    )
    ranked = np.array(draw(st.permutations(list(range(N)))), dtype=np.int64)
    bought = np.array(draw(st.lists(st.integers(0, N - 1), max_size=10)), dtype=np.int64)
    returned = np.array(draw(st.lists(st.integers(0, N - 1), max_size=5)), dtype=np.int64)
    low = draw(st.none() | st.floats(1, 100))
    high = draw(st.none() | st.floats(100, 200))
    rules = Rules(
        min_price=low,
        max_price=high,
        min_margin=draw(st.none() | st.floats(-0.5, 0.8)),
        max_category_share=draw(st.floats(0.1, 1.0)),
        exclude=frozenset(draw(st.lists(st.integers(0, N - 1), max_size=5))),
    )
    return facts, ranked, bought, returned, rules, draw(st.integers(1, 15))


@settings(max_examples=200, deadline=None)
@given(worlds(), st.floats(900, 1100))
def test_no_list_ever_breaks_a_rule(world: tuple, now: float) -> None:  # type: ignore[type-arg]
    facts, ranked, bought, returned, rules, k = world
    shown = apply_rules(ranked, facts, rules, bought, returned, now, k)
    assert len(shown) == len(set(shown.tolist())) <= k
    for item in shown.tolist():
        assert facts.in_stock[item]
        assert not facts.launched[item] > now
        assert item not in returned
        assert item not in rules.exclude
        assert facts.repeatable[item] or item not in bought
        if rules.min_price is not None:
            assert facts.price[item] >= rules.min_price
        if rules.max_price is not None:
            assert facts.price[item] <= rules.max_price
        if rules.min_margin is not None:
            assert facts.margin[item] >= rules.min_margin
    # As many as the eligible items allow, in the model's order.
    allowed = ranked[eligible(ranked, facts, rules, bought, returned, now)]
    assert len(shown) == min(k, len(allowed))
    position = {item: p for p, item in enumerate(ranked.tolist())}
    assert [position[i] for i in shown.tolist()] == sorted(position[i] for i in shown.tolist())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=30),
    st.integers(1, 12),
    st.integers(1, 5),
)
def test_a_category_goes_over_its_cap_only_when_the_others_ran_out(
    categories: list[int], k: int, cap: int
) -> None:
    category = np.array(categories)
    ranked = np.arange(len(categories))
    shown = diversify(ranked, category, k, cap)
    assert len(shown) == min(k, len(ranked))
    counts = np.bincount(category[shown], minlength=4)
    within_caps = np.minimum(np.bincount(category, minlength=4), cap).sum()
    if (counts > cap).any():
        assert within_caps < min(k, len(ranked)), "over a cap although the caps could fill it"
        available = np.bincount(category, minlength=4)
        assert (np.minimum(counts, cap) == np.minimum(available, cap)).all()
    else:
        assert len(shown) == min(k, len(ranked))


def test_cap_is_a_share_of_the_list() -> None:
    assert Rules(max_category_share=0.4).category_cap(10) == 4
    assert Rules(max_category_share=0.4).category_cap(1) == 1
    assert Rules(max_category_share=1.0).category_cap(7) == math.ceil(7)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_price": 10.0, "max_price": 5.0}, "min_price"),
        ({"min_margin": 1.5}, "min_margin"),
        ({"max_category_share": 0.0}, "max_category_share"),
    ],
)
def test_bad_rules_name_their_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        Rules(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field
