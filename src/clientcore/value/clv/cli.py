"""`clientcore clv`: fit lifetime-value models and predict per customer.

Contract: bad input exits with code 2 and exactly one line on stderr naming the option or
column and the problem (usage errors included); a model that cannot be fitted exits with 1
and one line naming the model and the reason. `--json` prints exactly one JSON document on
stdout; otherwise output is a Rich table.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand

from clientcore.value.clv import _cli_io as io
from clientcore.value.clv.chart import holdout_svg, write_svg
from clientcore.value.clv.data import compress
from clientcore.value.clv.diagnostics import holdout_report
from clientcore.value.clv.errors import ClvError, DataError, FitError
from clientcore.value.clv.fitting import FittedModel
from clientcore.value.clv.lifetime_value import DAYS_PER_YEAR, customer_lifetime_value
from clientcore.value.clv.models import (
    MODELS,
    TITLES,
    TRANSACTION_MODELS,
    expected_purchases,
    expected_spend,
    fit_gamma_gamma,
    fit_rft,
    p_alive,
)
from clientcore.value.clv.summary import UNIT_DAYS


def _fail(message: str, code: int) -> typer.Exit:
    sys.stderr.write("error: " + " ".join(message.split()) + "\n")
    sys.stderr.flush()
    return typer.Exit(code)


# Typer may vendor Click; find its UsageError through a class it re-exports.
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


class _OneLineErrors(TyperCommand):
    """Turn Click usage errors (unknown option, missing value) into the one-line contract."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _USAGE_ERROR as exc:
            raise _fail(exc.format_message(), 2) from None  # type: ignore[attr-defined]


def _guard(body: Callable[[], None]) -> None:
    try:
        body()
    except DataError as exc:
        raise _fail(f"{exc.field}: {exc.problem}", 2) from None
    except FitError as exc:
        raise _fail(str(exc), 1) from None
    except ClvError as exc:
        raise _fail(str(exc), 2) from None


def _emit_json(doc: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    sys.stdout.flush()


clv_app = typer.Typer(
    name="clv",
    help="Customer lifetime value: BG/NBD, Pareto/NBD, MBG/NBD and Gamma-Gamma models.",
    no_args_is_help=True,
    add_completion=False,
)

_TX = "CSV of transactions (one row per purchase)."
_SUMMARY = "Per-customer summary CSV/Parquet: customer_id, frequency, recency, T[, monetary_value]."


def _load(
    transactions: Path | None,
    summary: Path | None,
    customer_col: str | None,
    date_col: str | None,
    amount_col: str | None,
    calibration_end: str | None,
    observation_end: str | None,
    time_unit: str,
    need_spend: bool,
) -> dict[str, Any]:
    """Arrays from either source; 'summary' holds the SQL result when built from transactions."""
    if (transactions is None) == (summary is None):
        raise DataError("--transactions/--summary", "give exactly one of them")
    if transactions is not None:
        if need_spend and not amount_col:
            raise DataError("--amount-col", "required to model spend (gg) from transactions")
        s = io.load_transactions(
            transactions,
            customer_col,
            date_col,
            amount_col,
            calibration_end,
            observation_end,
            time_unit,
        )
        return {
            "customer_id": s.customer_id,
            "frequency": s.frequency,
            "recency": s.recency,
            "T": s.T,
            "monetary_value": s.monetary_value,
            "summary": s,
        }
    assert summary is not None
    return io.load_summary(summary, need_spend)


@clv_app.command(cls=_OneLineErrors)
def fit(
    transactions: Path | None = typer.Option(None, "--transactions", help=_TX),
    summary: Path | None = typer.Option(None, "--summary", help=_SUMMARY),
    customer_col: str | None = typer.Option(None, "--customer-col", help="Customer id column."),
    date_col: str | None = typer.Option(
        None, "--date-col", help="Date column (YYYY-MM-DD or YYYYMMDD)."
    ),
    amount_col: str | None = typer.Option(
        None, "--amount-col", help="Spend column (needed for gg)."
    ),
    calibration_end: str | None = typer.Option(
        None, "--calibration-end", help="Last calibration day, YYYY-MM-DD."
    ),
    observation_end: str | None = typer.Option(
        None, "--observation-end", help="End of holdout, YYYY-MM-DD."
    ),
    model: str | None = typer.Option(None, "--model", help="bgnbd | pnbd | mbgnbd | gg"),
    time_unit: str = typer.Option("week", "--time-unit", help="day | week"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
    chart: Path | None = typer.Option(None, "--chart", help="Write the holdout chart (SVG)."),
) -> None:
    """Fit a model; with --observation-end also report the holdout check."""

    def body() -> None:
        unit = io.check_unit(time_unit)
        if model not in MODELS:
            raise DataError("--model", f"must be one of {', '.join(MODELS)}, got {model!r}")
        data = _load(
            transactions,
            summary,
            customer_col,
            date_col,
            amount_col,
            calibration_end,
            observation_end,
            unit,
            model == "gg",
        )
        if model == "gg":
            result = fit_gamma_gamma(data["frequency"], data["monetary_value"])
        else:
            result = fit_rft(model, compress(data["frequency"], data["recency"], data["T"]))
        doc = result.to_dict()
        doc["time_unit"] = unit
        built = data.get("summary")
        if built is not None and built.observation_end is not None and model != "gg":
            report = holdout_report(
                result,
                built.frequency,
                built.recency,
                built.T,
                built.holdout_frequency,
                built.holdout_length,
            )
            doc["holdout"] = report.to_dict()
            if chart is not None:
                write_svg(holdout_svg(report), chart)
                doc["chart"] = str(chart)
        elif chart is not None:
            raise DataError("--chart", "needs --transactions with --observation-end (a holdout)")
        if json_out:
            _emit_json(doc)
        else:
            _print_fit(result, doc)

    _guard(body)


def _print_fit(result: FittedModel, doc: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"{TITLES[result.model]} fit ({doc['time_unit']}s)")
    table.add_column("parameter")
    table.add_column("estimate", justify="right")
    for name, value in result.params.items():
        table.add_row(name, f"{value:.4f}")
    table.add_row("log-likelihood", f"{result.log_likelihood:.2f}")
    table.add_row("customers", f"{result.n:,}")
    if result.n_excluded:
        table.add_row("excluded", f"{result.n_excluded:,}")
    table.add_row("fit seconds", f"{result.fit_seconds:.4f}")
    console.print(table)
    if "holdout" in doc:
        hold = Table(title=f"holdout ({doc['holdout']['horizon']:.1f} {doc['time_unit']}s)")
        for col in ("frequency", "customers", "actual", "predicted"):
            hold.add_column(col, justify="right")
        for b in doc["holdout"]["buckets"]:
            hold.add_row(
                b["frequency"],
                str(b["customers"]),
                f"{b['actual_mean']:.3f}",
                f"{b['predicted_mean']:.3f}",
            )
        console.print(hold)


@clv_app.command(cls=_OneLineErrors)
def predict(
    fit_path: Path | None = typer.Option(None, "--fit", help="Fit JSON of bgnbd/pnbd/mbgnbd."),
    spend_fit: Path | None = typer.Option(
        None, "--spend-fit", help="Fit JSON of gg (for spend, CLV)."
    ),
    transactions: Path | None = typer.Option(None, "--transactions", help=_TX),
    summary: Path | None = typer.Option(None, "--summary", help=_SUMMARY),
    customer_col: str | None = typer.Option(None, "--customer-col"),
    date_col: str | None = typer.Option(None, "--date-col"),
    amount_col: str | None = typer.Option(None, "--amount-col"),
    calibration_end: str | None = typer.Option(None, "--calibration-end"),
    time_unit: str | None = typer.Option(
        None, "--time-unit", help="day | week (default: the fit's)"
    ),
    horizon: float | None = typer.Option(
        None, "--horizon", help="Time units ahead (default 1 year)."
    ),
    margin: float = typer.Option(1.0, "--margin", help="Profit margin applied to spend."),
    discount_rate: float = typer.Option(0.0, "--discount-rate", help="Annual discount rate."),
    output: Path | None = typer.Option(None, "--output", help="Write per-customer .csv or .json."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """P(alive), expected purchases, expected spend and CLV per customer."""

    def body() -> None:
        if fit_path is None:
            raise DataError("--fit", "required: a fit JSON from `clientcore clv fit --json`")
        fit_doc = io.load_fit(fit_path, "--fit")
        model = FittedModel.from_dict(fit_doc)
        if model.model not in TRANSACTION_MODELS:
            raise DataError(
                "--fit", f"needs a {'/'.join(TRANSACTION_MODELS)} fit, got {model.model}"
            )
        spend = FittedModel.from_dict(io.load_fit(spend_fit, "--spend-fit")) if spend_fit else None
        if spend is not None and spend.model != "gg":
            raise DataError("--spend-fit", f"needs a gg fit, got {spend.model}")
        unit = io.check_unit(time_unit or str(fit_doc.get("time_unit", "week")))
        span = DAYS_PER_YEAR / UNIT_DAYS[unit] if horizon is None else horizon
        if not span > 0:
            raise DataError("--horizon", "must be positive")
        if not margin >= 0:
            raise DataError("--margin", "must not be negative")
        d = _load(
            transactions,
            summary,
            customer_col,
            date_col,
            amount_col,
            calibration_end,
            None,
            unit,
            spend is not None,
        )
        x, t_x, T = d["frequency"], d["recency"], d["T"]
        compress(x, t_x, T)  # validates the summary invariants with field names
        cols: dict[str, np.ndarray] = {
            "customer_id": d["customer_id"],
            "p_alive": p_alive(model, x, t_x, T),
            "expected_purchases": expected_purchases(model, span, x, t_x, T),
        }
        if spend is not None:
            m = d["monetary_value"]
            cols["expected_spend"] = expected_spend(spend, x, m)
            cols["clv"] = customer_lifetime_value(
                model, spend, x, t_x, T, m, span, margin, discount_rate, UNIT_DAYS[unit]
            )
        if output is not None:
            io.write_predictions(output, cols)
        doc: dict[str, Any] = {
            "model": model.model,
            "spend_model": spend.model if spend else None,
            "horizon": span,
            "time_unit": unit,
            "margin": margin,
            "discount_rate": discount_rate,
            "n_customers": int(x.size),
            "totals": {
                k: float(np.nansum(v))
                for k, v in cols.items()
                if k not in ("customer_id", "p_alive")
            },
            "output": str(output) if output else None,
        }
        if json_out:
            if output is None:
                doc["customers"] = [
                    {k: io.plain(v[i]) for k, v in cols.items()} for i in range(int(x.size))
                ]
            _emit_json(doc)
        else:
            _print_predictions(cols, doc)

    _guard(body)


def _print_predictions(cols: dict[str, np.ndarray], doc: dict[str, Any]) -> None:
    key = "clv" if "clv" in cols else "expected_purchases"
    order = np.argsort(-np.nan_to_num(cols[key]))[:15]
    table = Table(
        title=f"{TITLES[doc['model']]}: top customers by {key} "
        f"({doc['horizon']:.1f} {doc['time_unit']}s, {doc['n_customers']:,} customers)"
    )
    names = list(cols)
    for name in names:
        table.add_column(name, justify="left" if name == "customer_id" else "right")
    for i in order:
        table.add_row(
            *(str(cols[n][i]) if n == "customer_id" else f"{cols[n][i]:.3f}" for n in names)
        )
    console = Console()
    console.print(table)
    totals = ", ".join(f"{k} {v:,.2f}" for k, v in doc["totals"].items())
    console.print(f"totals: {totals}" + (f"; written to {doc['output']}" if doc["output"] else ""))


if __name__ == "__main__":
    clv_app()
