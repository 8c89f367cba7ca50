"""The single customer view on a terminal, for the customer-care lead reading it.

Works from the JSON document (`ProfileView.to_dict()`), so the same rendering serves a local
store and a running server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

# Channel -> (icon, colour): one glance tells the store visit from the phone call.
CHANNEL_STYLE: dict[str, tuple[str, str]] = {
    "web": ("🌐", "cyan"),
    "mobile": ("📱", "magenta"),
    "store": ("🏬", "green"),
    "call_center": ("📞", "yellow"),
    "email": ("📧", "blue"),
    "social": ("💬", "bright_magenta"),
    "marketplace": ("🛒", "bright_cyan"),
    "other": ("•", "white"),
}
EVENT_STYLE: dict[str, str] = {
    "Order Completed": "bold green",
    "Product Returned": "bold red",
    "Order Refunded": "red",
    "Service Call": "bold yellow",
    "Support Ticket Opened": "bold yellow",
}
_DETAIL_KEYS = (
    "order_id",
    "revenue",
    "total",
    "product_id",
    "name",
    "reason",
    "ticket_id",
    "duration_seconds",
    "query",
    "campaign",
)


def _when(iso: str | None, seconds: bool = True) -> str:
    return iso[: 19 if seconds else 16].replace("T", " ") if iso else "-"


def _channel(name: str) -> Text:
    icon, colour = CHANNEL_STYLE.get(name, CHANNEL_STYLE["other"])
    return Text(f"{icon} {name}", style=colour)


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"{{{len(value)}}}" if isinstance(value, dict) else f"[{len(value)}]"
    return str(value)


def details(properties: Mapping[str, Any], width: int = 200) -> str:
    """The properties that say what happened, the known ones first, empty ones left out."""
    keys = [k for k in _DETAIL_KEYS if k in properties]
    keys += [k for k in properties if k not in keys]
    shown = [k for k in keys if properties[k] not in (None, "", {}, [])]
    text = ", ".join(f"{k}={_scalar(properties[k])}" for k in shown)
    return text if len(text) <= width else text[: width - 1] + "…"


def _card(doc: Mapping[str, Any]) -> Panel:
    identifiers = Table.grid(padding=(0, 2))
    identifiers.add_column(style="bold")
    identifiers.add_column()
    identifiers.add_column(style="dim")
    for entry in doc["identifiers"]:
        identifiers.add_row(entry["type"], entry["value"], f"since {_when(entry['first_seen'])}")
    traits = Table("trait", "value", "from", "when", box=None, header_style="bold dim")
    for key, trait in doc["traits"].items():
        traits.add_row(key, _scalar(trait["value"]), trait["source"], _when(trait["timestamp"]))
    parts: list[Any] = [identifiers]
    if doc["traits"]:
        parts += [Text(""), traits]
    return Panel(Group(*parts), title=f"[bold]profile {doc['profile_id']}[/]", expand=False)


def _summary(summary: Mapping[str, Any]) -> Text:
    line = Text()
    line.append(f"{summary['events']:,} events", style="bold")
    line.append(f" · {_when(summary['first_seen'])} → {_when(summary['last_seen'])}")
    line.append(f"\n{summary['orders']:,} orders ", style="green")
    line.append(f"{summary['revenue']:,.2f} revenue", style="bold green")
    line.append(f" · {summary['returns']:,} returns ", style="red")
    line.append(f"{summary['refunds_total']:,.2f} refunded", style="red")
    line.append(f" · {summary['service_contacts']:,} service contacts", style="yellow")
    line.append("\n")
    for name, count in summary["channels"].items():
        line.append_text(_channel(name))
        line.append(f" {count:,}   ")
    if summary["stores"]:
        stores = ", ".join(f"{store} ({n})" for store, n in summary["stores"].items())
        line.append(f"\nstores: {stores}", style="green")
    return line


def _title(event: Mapping[str, Any]) -> str:
    """ "Order Completed"; pages and screens by their name ("screen Home"); else the call type."""
    if event["type"] in ("page", "screen"):
        return f"{event['type']} {event['event']}" if event["event"] else event["type"]
    return str(event["event"] or event["type"])


def _timeline(doc: Mapping[str, Any]) -> Table:
    """One line per event: fixed columns sized to their content, details cut to the rest."""
    rows = []
    for event in doc["timeline"]:
        properties = event["properties"]
        if event["type"] in ("page", "screen"):
            properties = {k: v for k, v in properties.items() if k != "name"}
        rows.append((event, _title(event), details(properties)))
    table = Table(
        title="timeline (newest first)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        expand=True,
    )
    table.add_column("when", no_wrap=True, style="dim", width=16)
    table.add_column(
        "channel",
        no_wrap=True,
        width=max([7, *(_channel(e["channel"]).cell_len for e, _, _ in rows)]),
    )
    table.add_column("what", no_wrap=True, width=max([4, *(len(t) for _, t, _ in rows)]))
    table.add_column(
        "source",
        no_wrap=True,
        style="dim italic",
        width=max([6, *(len(e["source"]) for e, _, _ in rows)]),
    )
    table.add_column("details", no_wrap=True, overflow="ellipsis", style="dim", ratio=1)
    for event, title, detail in rows:
        table.add_row(
            _when(event["timestamp"], seconds=False),
            _channel(event["channel"]),
            Text(title, style=EVENT_STYLE.get(title, "")),
            event["source"],
            detail,
        )
    return table


def _probability(value: float | None) -> Text:
    """Certain links plain, reconciled ones by how sure the model is."""
    if value is None:
        return Text("-", style="dim")
    style = "green" if value >= 0.999 else "yellow" if value >= 0.99 else "red"
    return Text(f"{value:.4f}", style=style)


def _records(records: list[Mapping[str, Any]]) -> Table:
    """The CRM records joined to this person: where from, which record, whose name, and how
    sure the link is (1 when the record holds one of the profile's identifiers)."""
    table = Table(title="CRM records", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("source", no_wrap=True, style="bold")
    table.add_column("record id", no_wrap=True)
    table.add_column("name")
    table.add_column("match p", justify="right", no_wrap=True)
    table.add_column("linked by", style="dim", no_wrap=True)
    for record in records:
        name = " ".join(part for part in (record.get("given_name"), record.get("surname")) if part)
        table.add_row(
            str(record["source"]),
            str(record["record_id"]),
            name or "-",
            _probability(record.get("match_probability")),
            str(record.get("linked_by") or ""),
        )
    return table


def render(console: Console, doc: Mapping[str, Any]) -> None:
    """Print the card (identifiers, traits), the summary line, the linked CRM records and the
    timeline page."""
    console.print(_card(doc))
    console.print(_summary(doc["summary"]))
    if doc.get("records"):
        console.print(_records(doc["records"]))
    console.print(_timeline(doc))
    if doc.get("next_before"):
        console.print(f"[dim]older events: --before {doc['next_before']}[/]")
