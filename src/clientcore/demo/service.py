"""After-sales events: returns and refunds, support tickets and service calls.

Their rates come from the products in the order (return and complaint rates), so the
few abnormal products show up as a cluster of returns, tickets and calls.
"""

from __future__ import annotations

from typing import Any

from clientcore.demo.config import CH_MARKET, CH_STORE
from clientcore.demo.events import agent_context
from clientcore.demo.sessions import Block
from clientcore.demo.timeline import CALL_REASONS, TICKET_REASONS, Orders

#: Return reasons (drawn uniformly from these lists): lemons come back broken.
_LEMON_REASONS = ("defective", "defective", "not_as_described", "damaged")
_USUAL_REASONS = (
    "doesnt_fit",
    "doesnt_fit",
    "changed_mind",
    "changed_mind",
    "not_as_described",
    "damaged",
)


def emit_service(b: Block, orders: Orders, user_ids: list[str | None], anon_ids: list[str]) -> None:
    """Returns keyed like their order; tickets via the web form; calls via an agent."""
    out, r, catalog = b.out, b.r, b.catalog
    lines = orders.line_ptr.tolist()
    returned = orders.line_returned.tolist()
    abnormal = catalog.abnormal.tolist()
    for k in range(len(orders)):
        i = int(orders.person[k])
        t_return = int(orders.return_ms[k])
        if t_return >= 0:
            ctx = _return_context(b, orders, k)
            uid, anon = user_ids[k], anon_ids[k] or None
            for line in range(lines[k], lines[k + 1]):
                if not returned[line]:
                    continue
                product = int(orders.product[line])
                reasons = _LEMON_REASONS if abnormal[product] else _USUAL_REASONS
                reason = reasons[int(r.random() * len(reasons))]
                props = {
                    "order_id": orders.order_id[k],
                    "product_id": catalog.product_id[product],
                    "quantity": int(orders.qty[line]),
                    "price": int(catalog.price_cents[product]) / 100,
                    "reason": reason,
                }
                out.track(i, t_return, "Product Returned", uid, anon, ctx, props)
            refund = {
                "order_id": orders.order_id[k],
                "total": int(orders.refund[k]) / 100,
                "currency": "USD",
            }
            out.track(i, t_return, "Order Refunded", uid, anon, ctx, refund)

        t_ticket = int(orders.ticket_ms[k])
        if t_ticket >= 0:
            props = {
                "ticket_id": "tkt_" + orders.order_id[k][4:],
                "reason": TICKET_REASONS[int(orders.ticket_reason[k])],
                "order_id": orders.order_id[k],
            }
            if orders.ticket_product[k] >= 0:
                props["product_id"] = catalog.product_id[int(orders.ticket_product[k])]
            traits = {"email": b.email_typed(i, t_ticket)}
            b.add_name(i, traits)
            ctx = {"channel": "web", "traits": traits}
            anon = b.cookie_at(i, t_ticket)
            uid = b.user_at(i, t_ticket)
            out.track(i, t_ticket, "Support Ticket Opened", uid, anon, ctx, props)
            b.service_cost[i] += b.params.cost_ticket

        t_call = int(orders.call_ms[k])
        if t_call >= 0:
            ctx, uid, anon = agent_context(b, i, t_call)
            seconds = int(orders.call_seconds[k])
            call: dict[str, Any] = {
                "reason": CALL_REASONS[int(orders.call_reason[k])],
                "duration_seconds": seconds,
                "agent_id": ctx["agent_id"],
                "order_id": orders.order_id[k],
            }
            if orders.call_product[k] >= 0:
                call["product_id"] = catalog.product_id[int(orders.call_product[k])]
            out.track(i, t_call, "Service Call", uid, anon, ctx, call)
            b.service_cost[i] += b.params.cost_call_per_minute * seconds / 60


def _return_context(b: Block, orders: Orders, k: int) -> dict[str, Any]:
    """Store orders come back to the store; online ones to the warehouse."""
    channel = int(orders.channel[k])
    if channel == CH_STORE:
        return {"channel": "store", "store_id": b.world.store_ids[int(orders.store[k])]}
    if channel == CH_MARKET:
        return {"channel": "marketplace"}
    return {"channel": "other"}
