"""The cost model: the shipped default matches the demo generator's assumptions; a bad file is
refused with the offending field named."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from clientcore.demo.config import Params
from clientcore.value.costs import CostModelError, load_costs, parse_costs, read_catalog


def test_default_costs_are_the_generators() -> None:
    costs, p = load_costs(), Params()

    def d(x: float) -> Decimal:
        return Decimal(str(x))

    assert costs.marketing["Email Sent"].per_event == d(p.cost_email)
    assert costs.marketing["Direct Mail Sent"].per_event == d(p.cost_direct_mail)
    assert costs.marketing["Social Message"].per_event == d(p.cost_social_message)
    assert costs.marketing["Ad Clicked"].per_event == d(p.cost_ad_click)
    assert costs.service["Support Ticket Opened"].per_event == d(p.cost_ticket)
    assert costs.service["Service Call"].per_minute == d(p.cost_call_per_minute)
    assert costs.fulfilment.default == d(p.cost_fulfilment_online)
    assert costs.fulfilment.by_channel["store"] == d(p.cost_fulfilment_store)
    assert costs.fulfilment.by_channel["call_center"] == d(
        p.cost_fulfilment_online + p.cost_call_order
    )
    assert costs.fulfilment.fee_rate_by_channel["marketplace"] == d(p.cost_marketplace_fee_rate)
    assert costs.returns.handling_per_refund == d(p.cost_return_handling)
    assert costs.returns.writeoff_rate == d(p.return_writeoff_rate)
    assert costs.catalog.path is None


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"marketing": {"Email Sent": {"per_event": -1}}}, "marketing.Email Sent.per_event"),
        ({"marketing": {"Email Sent": {"per_evnt": 1}}}, "marketing.Email Sent.per_evnt"),
        ({"fulfilment": {"fee_rate_by_channel": {"marketplace": 2}}},
         "fulfilment.fee_rate_by_channel.marketplace"),
        ({"returns": {"writeoff_rate": "lots"}}, "returns.writeoff_rate"),
        ({"service": {"Service Call": {"duration_property": "a.b"}}},
         "service.Service Call.duration_property"),
        ({"currency": "dollars"}, "currency"),
        ({"colour": "blue"}, "colour"),
        ({"service": {"Order Completed": {"per_event": 1}}}, "service.Order Completed"),
        ({"marketing": {"X": {}}, "service": {"X": {}}}, "service.X"),
    ],
)  # fmt: skip
def test_bad_field_is_named(document: dict[str, object], field: str) -> None:
    with pytest.raises(CostModelError) as caught:
        parse_costs(document)
    assert caught.value.field == field
    assert "\n" not in str(caught.value)


def test_bad_files(tmp_path: Path) -> None:
    broken = tmp_path / "costs.yaml"
    broken.write_text("marketing: [unclosed\n")
    with pytest.raises(CostModelError, match="not valid YAML at line"):
        load_costs(broken)
    with pytest.raises(CostModelError) as caught:
        load_costs(tmp_path / "missing.yaml")
    assert caught.value.field == "costs"


def test_catalog(tmp_path: Path) -> None:
    (tmp_path / "catalog.csv").write_text("product_id,unit_cost\np1,1.50\np2,\n")
    costs = parse_costs({"catalog": {"path": "catalog.csv"}}, tmp_path)
    assert read_catalog(costs.catalog) == {"p1": Decimal("1.50")}
    (tmp_path / "catalog.csv").write_text("product_id,cost\np1,1.50\n")
    with pytest.raises(CostModelError) as caught:
        read_catalog(costs.catalog)
    assert caught.value.field == "catalog.unit_cost_column"
    (tmp_path / "catalog.csv").write_text("product_id,unit_cost\np1,free\n")
    with pytest.raises(CostModelError, match="row 2"):
        read_catalog(costs.catalog)
