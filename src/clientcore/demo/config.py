"""Global, documented knobs of the synthetic retailer.

Everything a model could be checked against lives here (and is written to
``truth/params.json``), so tests and benchmarks compare estimates to one source of truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

RETAILER = "Larkspur & Co."
RETAILER_DOMAIN = "larkspurco.com"
PLACEHOLDER_EMAIL = f"noemail@{RETAILER_DOMAIN}"
PLACEHOLDER_PHONE_ZEROS = "0000000000"

#: People are generated in blocks of this many; the output depends on it, so it is fixed.
BLOCK_SIZE = 2000

#: Channels in which an order can be placed (index = code used in arrays).
ORDER_CHANNELS = ("web", "mobile", "store", "call_center", "marketplace")
CH_WEB, CH_MOBILE, CH_STORE, CH_CALL, CH_MARKET = range(5)
#: Every value ``context.channel`` can take.
EVENT_CHANNELS = (
    "web",
    "mobile",
    "store",
    "call_center",
    "email",
    "social",
    "marketplace",
    "other",
)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Params:
    """Population-level parameters; times are in days unless the name says otherwise."""

    start: str = "2024-01-01"
    end: str = "2026-01-01"  # exclusive: events run through 2025-12-31
    # BG/NBD: purchase rate lambda ~ Gamma(shape=r, rate=alpha) per day,
    # dropout probability after each purchase p ~ Beta(a, b).
    r: float = 0.9
    alpha: float = 75.0
    a: float = 1.0
    b: float = 5.0
    # Gamma-Gamma: order value z ~ Gamma(shape=p, rate=nu), nu ~ Gamma(shape=q, rate=gamma).
    gg_p: float = 5.0
    gg_q: float = 4.0
    gg_gamma: float = 45.0
    prospect_share: float = 0.15  # people who never buy (marketing cost only)
    family_start_prob: float = 0.03  # chance a person starts a family sharing one email
    crm_share: float = 0.9  # share of people present in at least one CRM export
    promo_share: float = 0.25  # orders with a promotional discount
    tax_rate: float = 0.07
    free_shipping_threshold: float = 50.0
    shipping_fee: float = 5.99
    call_center_fee: float = 7.99
    # Costs used for the true customer P&L (USD).
    cost_email: float = 0.003
    cost_direct_mail: float = 0.85
    cost_social_message: float = 0.05
    cost_ad_click: float = 1.1
    cost_fulfilment_online: float = 7.5
    cost_fulfilment_store: float = 1.5
    cost_call_order: float = 4.0
    cost_marketplace_fee_rate: float = 0.15
    cost_ticket: float = 6.0
    cost_call_per_minute: float = 0.9
    cost_return_handling: float = 5.0
    return_writeoff_rate: float = 0.3  # share of unit cost lost on a returned item
    experiment: dict[str, Any] = field(
        default_factory=lambda: {
            "experiment_id": "exp_2025_05_winback_email",
            "experiment_name": "May 2025 win-back email with 15% coupon",
            "start": "2025-05-05",
            "response_days": 21,
            "treatment_share": 0.5,
            "true_incremental_order_prob": 0.08,
            "coupon_rate": 0.15,
            "eligibility": "registered, opted in, not unsubscribed, signed up before start",
        }
    )

    @property
    def start_ms(self) -> int:
        return _ms(self.start)

    @property
    def end_ms(self) -> int:
        return _ms(self.end)

    @property
    def experiment_start_ms(self) -> int:
        return _ms(str(self.experiment["start"]))

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready view, with the derived population means spelled out."""
        out = asdict(self)
        out["time_unit"] = "day"
        out["purchase_model"] = "BG/NBD (dropout after each purchase)"
        out["mean_purchase_rate_per_day"] = self.r / self.alpha
        out["mean_dropout_prob"] = self.a / (self.a + self.b)
        out["mean_order_value"] = self.gg_p * self.gg_gamma / (self.gg_q - 1.0)
        return out
