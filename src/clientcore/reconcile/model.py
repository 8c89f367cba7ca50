"""The Fellegi–Sunter model: what is compared, how pairs are found, and how it learns.

The comparisons are written for CRM data whose fields are correlated:

* the address is ONE comparison (number, street, postcode and town move together when a person
  moves, so scoring them separately would count one fact three times);
* given name and surname are compared straight and crosswise (records typed surname first);
* nicknames are compatible, not equal (Bob may stand for Robert: `names.given_roots`);
* birth dates have a level for day and month swapped;
* e-mail and phone values held by more records than one person plausibly has are placeholders
  (`noemail@…`, a store's own number) and are blanked before comparing.

Parameters are estimated without labels: the prior from deterministic rules, u by random
sampling, m by expectation maximisation over several blocking passes, each leaving some
comparisons free to learn. Only comparisons for fields the data holds are built, so the same
code links the demo CRMs and the FEBRL files.

The comparisons are specs compiled per engine: levels that call similarity functions name them
as the engine does (`PortableLevel`: DuckDB's `jaro_winkler_similarity`, Spark's `jaro_winkler`
from Splink's jar…), and a saved model is recompiled for another engine by `compile_model`, so
a model trained on DuckDB scores on Spark and the other way round.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.database_api import DatabaseAPI
from splink.internals.dialects import SplinkDialect

from clientcore.reconcile import ReconcileError
from clientcore.reconcile.names import given_roots

# A value held by more records than this is no personal identifier (placeholders, shop numbers).
MAX_RECORDS_PER_VALUE = 12
# Splink narrates at INFO and WARNING (levels not seen in training…); the run report says
# what matters, so only its errors are let through.
SPLINK_LOG_LEVEL = logging.ERROR

# Columns of the table Splink reads (built by `linkage_input`).
INPUT_COLUMNS = (
    "unique_id",
    "source",
    "given_name",
    "surname",
    "given_roots",
    "surname_roots",
    "birth_date",
    "email",
    "email_local",
    "phone",
    "street_number",
    "address_1",
    "postcode",
    "city",
    "state",
    "national_id",
    "loyalty_card",
    "user_id",
)


def shared_values_sql() -> str:
    """E-mails and phones held by more records than one person plausibly has (store SQL)."""
    return f"""SELECT 'email' AS kind, email AS value FROM customer_records
               WHERE email IS NOT NULL GROUP BY email HAVING count(*) > {MAX_RECORDS_PER_VALUE}
               UNION ALL
               SELECT 'phone', phone FROM customer_records
               WHERE phone IS NOT NULL GROUP BY phone HAVING count(*) > {MAX_RECORDS_PER_VALUE}"""


def linkage_input(
    records: pa.Table, compute: duckdb.DuckDBPyConnection, shared: pa.Table | None = None
) -> pa.Table:
    """Splink's input from stored records: e-mails and phones in `shared` (kind, value)
    blanked, nickname roots attached, town from city or suburb."""
    names = sorted(
        {g for g in records.column("given_name").to_pylist() if g}
        | {s for s in records.column("surname").to_pylist() if s}
    )
    roots = pa.table(
        {
            "name": pa.array(names, pa.string()),
            "roots": pa.array([list(given_roots(g)) for g in names], pa.list_(pa.string())),
        }
    )
    if shared is None:
        shared = pa.table({"kind": pa.array([], pa.string()), "value": pa.array([], pa.string())})
    compute.register("records_in", records)
    compute.register("roots_in", roots)
    compute.register("shared_in", shared)
    try:
        return compute.sql(
            """WITH blanked AS (
                    SELECT * REPLACE (
                        CASE WHEN email IN (SELECT value FROM shared_in WHERE kind = 'email')
                             THEN NULL ELSE email END AS email,
                        CASE WHEN phone IN (SELECT value FROM shared_in WHERE kind = 'phone')
                             THEN NULL ELSE phone END AS phone)
                    FROM records_in)
                SELECT record_key AS unique_id, source, c.given_name, c.surname,
                       g.roots AS given_roots, s.roots AS surname_roots, birth_date,
                       email, split_part(email, '@', 1) AS email_local, phone,
                       street_number, address_1, postcode,
                       coalesce(city, suburb) AS city, state, national_id, loyalty_card, user_id
                FROM blanked c LEFT JOIN roots_in g ON c.given_name = g.name
                     LEFT JOIN roots_in s ON c.surname = s.name
                ORDER BY record_key"""
        ).to_arrow_table()
    finally:
        for name in ("records_in", "roots_in", "shared_in"):
            compute.unregister(name)


def present_columns(table: pa.Table) -> set[str]:
    """Columns with at least one value: comparisons on empty columns cannot be trained."""
    return {name for name in table.column_names if table.column(name).null_count < len(table)}


# Does any element of one array appear in the other, per engine.
_OVERLAP = {"duckdb": "list_has_any", "spark": "arrays_overlap"}


class PortableLevel(ComparisonLevelCreator):
    """A custom level whose SQL names its functions as the engine does: `{jaro_winkler}`,
    `{damerau_levenshtein}` and `{overlap}` in the template become the engine's names.

    sqlglot alone does not get these right (DuckDB's `jaro_winkler_similarity` has no Spark
    builtin; Splink's jar registers `jaro_winkler`), so the names come from Splink's dialects.
    On DuckDB a template gives exactly the SQL the models saved before it hold."""

    def __init__(self, template: str, label: str) -> None:
        self.template = template
        self.label = label

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        engine = sql_dialect.sql_dialect_str
        if engine not in _OVERLAP:
            raise ReconcileError(f"linkage does not run on {engine}; use duckdb or spark", "engine")
        return self.template.format(
            jaro_winkler=sql_dialect.jaro_winkler_function_name,
            damerau_levenshtein=sql_dialect.damerau_levenshtein_function_name,
            overlap=_OVERLAP[engine],
        )

    def create_label_for_charts(self) -> str:
        return self.label


def _given_name() -> cl.CustomComparison:
    crosswise = (
        "given_name_l = surname_r OR {overlap}(given_roots_l, surname_roots_r) "
        "OR {damerau_levenshtein}(given_name_l, surname_r) <= 1"
    )
    return cl.CustomComparison(
        output_column_name="given_name",
        comparison_levels=[
            cll.NullLevel("given_name"),
            cll.ExactMatchLevel("given_name", term_frequency_adjustments=True),
            cll.ArrayIntersectLevel("given_roots", min_intersection=1).configure(
                label_for_charts="Nickname of the same name"
            ),
            cll.DamerauLevenshteinLevel("given_name", 1),
            cll.JaroWinklerLevel("given_name", 0.88),
            PortableLevel(crosswise, "Given name typed as surname"),
            cll.CustomLevel(
                "substr(given_name_l, 1, 1) = substr(given_name_r, 1, 1)", "Same initial"
            ),
            cll.ElseLevel(),
        ],
    )


def _surname() -> cl.CustomComparison:
    crosswise = (
        "surname_l = given_name_r OR {overlap}(surname_roots_l, given_roots_r) "
        "OR {damerau_levenshtein}(surname_l, given_name_r) <= 1"
    )
    return cl.CustomComparison(
        output_column_name="surname",
        comparison_levels=[
            cll.NullLevel("surname"),
            cll.ExactMatchLevel("surname", term_frequency_adjustments=True),
            cll.DamerauLevenshteinLevel("surname", 1),
            cll.JaroWinklerLevel("surname", 0.88),
            PortableLevel(crosswise, "Surname typed as given name"),
            cll.JaroWinklerLevel("surname", 0.8),
            cll.ElseLevel(),
        ],
    )


def _birth_date() -> cl.CustomComparison:
    swapped = (
        "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) "
        "AND substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) "
        "AND substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)"
    )
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.CustomLevel(swapped, "Day and month swapped"),
            cll.DamerauLevenshteinLevel("birth_date", 1),
            cll.DamerauLevenshteinLevel("birth_date", 2),
            cll.ElseLevel(),
        ],
    )


def _email() -> cl.CustomComparison:
    """Exact or not. Mailbox names are built from names (john.smith87@…), so a mailbox name
    shared across domains, or one character apart, says little the names have not said, and
    counting it again is what glues two John Smiths together at a million records."""
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email"),
            cll.ElseLevel(),
        ],
    )


def _address() -> cl.CustomComparison:
    """One comparison for the whole address: its parts are not independent evidence."""

    def same(col: str) -> str:
        return f"{col}_l = {col}_r"

    house = f"{same('street_number')} AND {same('address_1')}"
    # Streets compared without spaces too: "merfield pl" and "merfieldplace" are one street.
    squeezed = "replace(address_1_l, ' ', '')", "replace(address_1_r, ' ', '')"
    # Same place: the postcode one typo apart, or the town spelt nearly alike.
    local = (
        "({damerau_levenshtein}(postcode_l, postcode_r) <= 1 "
        "OR {jaro_winkler}(city_l, city_r) >= 0.92)"
    )
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.CustomLevel(
                "(address_1_l IS NULL OR address_1_r IS NULL) "
                "AND (postcode_l IS NULL OR postcode_r IS NULL)",
                "Address missing",
            ).configure(is_null_level=True),
            cll.CustomLevel(f"{house} AND {same('postcode')}", "Same house, same postcode"),
            cll.CustomLevel(house, "Same house, postcode differs"),
            PortableLevel(
                f"{same('street_number')} AND "
                f"{{jaro_winkler}}({squeezed[0]}, {squeezed[1]}) >= 0.88 AND {local}",
                "Same number, street one typo apart",
            ),
            PortableLevel(
                f"{squeezed[0]} = {squeezed[1]} AND {local}", "Same street, other or no number"
            ),
            cll.CustomLevel(same("postcode"), "Same postcode, other street"),
            PortableLevel(local, "Same town or postcode one typo apart"),
            cll.ElseLevel(),
        ],
    )


def _exact(column: str, fuzzy: bool = False) -> cl.CustomComparison:
    levels: list[Any] = [cll.NullLevel(column), cll.ExactMatchLevel(column)]
    if fuzzy:
        levels.append(cll.DamerauLevenshteinLevel(column, 1))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(output_column_name=column, comparison_levels=levels)


def comparisons(columns: Iterable[str]) -> list[Any]:
    """The comparisons the data can support."""
    have = set(columns)
    found: list[Any] = []
    if "given_name" in have:
        found.append(_given_name())
    if "surname" in have:
        found.append(_surname())
    if "birth_date" in have:
        found.append(_birth_date())
    if "email" in have:
        found.append(_email())
    if "phone" in have:
        found.append(_exact("phone"))
    if have & {"address_1", "postcode"}:
        found.append(_address())
    if "national_id" in have:
        found.append(_exact("national_id", fuzzy=True))
    if "loyalty_card" in have:
        found.append(_exact("loyalty_card"))
    if "user_id" in have:
        found.append(_exact("user_id"))
    return found


def blocking_rules(columns: Iterable[str]) -> list[Any]:
    """How candidate pairs are found: any one shared key, or a name and a date, or a house.

    Every rule is an equality join (no large blocks at a million records): a person keeps
    at least one of these in common across copies unless nearly everything changed.
    """
    have = set(columns)
    rules: list[Any] = []
    for key in ("email", "phone", "national_id", "loyalty_card", "user_id"):
        if key in have:
            rules.append(block_on(key))
    if {"surname", "birth_date"} <= have:
        rules.append(block_on("surname", "birth_date"))
        rules.append(block_on("given_name", "birth_date"))
        rules.append(block_on("birth_date", "substr(surname, 1, 1)"))
    if {"given_name", "surname"} <= have:
        rules.append(block_on("given_name", "surname", "postcode"))
        rules.append(block_on("given_name", "surname", "city"))
        rules.append("l.given_name = r.surname AND l.surname = r.given_name")
    for name in ("surname", "given_name", "birth_date"):
        if {name, "postcode"} <= have:
            rules.append(block_on(name, "postcode"))
    if {"street_number", "address_1"} <= have:
        rules.append(block_on("street_number", "address_1", "postcode"))
    if {"email_local", "surname"} <= have:
        rules.append(block_on("email_local", "surname"))
    return rules


def settings(columns: Iterable[str], evidence: bool = True) -> SettingsCreator:
    have = set(columns)
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(have),
        blocking_rules_to_generate_predictions=blocking_rules(have),
        retain_matching_columns=evidence,
        retain_intermediate_calculation_columns=evidence,
        additional_columns_to_retain=["source"],
        max_iterations=20,
        em_convergence=0.0001,
    )


def _training_rules(have: set[str]) -> list[Any]:
    """EM passes, each leaving free the comparisons it does not block on. Never on an address
    or an e-mail: there, household members (one mailbox, one house, other first names and
    birth dates) are the similar non-matches, and EM would take them for one person and
    learn that first names often differ within a person."""
    passes: list[Any] = []
    if "birth_date" in have:
        passes.append(block_on("birth_date"))
    if {"given_name", "surname"} <= have:
        passes.append(block_on("given_name", "surname"))
    if not passes and "postcode" in have:
        passes.append(block_on("postcode"))
    return passes


def train(
    linker: Linker, columns: Iterable[str], max_pairs: float, seed: int = 1, em_pairs: float = 2e6
) -> None:
    """Estimate the model without labels (Splink's recommended order). EM runs on a sample of
    at most `em_pairs` pairs per pass: one birth date alone pairs 38M records at a million."""
    have = set(columns)
    deterministic: list[Any] = []
    if "email" in have and "given_name" in have:
        deterministic.append(block_on("email", "given_name"))
    if {"given_name", "surname", "birth_date"} <= have:
        deterministic.append(block_on("given_name", "surname", "birth_date"))
    if "national_id" in have:
        deterministic.append(block_on("national_id"))
    if deterministic:
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    for rule in _training_rules(have):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=em_pairs
        )


def new_linker(
    db_api: DatabaseAPI, table: pa.Table, model: SettingsCreator | dict[str, Any]
) -> Linker:
    """A Splink linker over `table` on the engine of `db_api`; a saved model is compiled for
    that engine first."""
    if isinstance(model, dict):
        model = compile_model(model, db_api.sql_dialect.sql_dialect_str)
    frame = db_api.register(table)
    return Linker(frame, model, log_level=SPLINK_LOG_LEVEL)


def _catalogue(engine: str) -> dict[str, Any]:
    """Every comparison and blocking rule this code can build, compiled for `engine`: a saved
    model holds a subset of them."""
    return settings(INPUT_COLUMNS).create_settings_dict(engine)


def compile_model(model: dict[str, Any], engine: str) -> dict[str, Any]:
    """The saved `model` with its SQL written for `engine`, parameters untouched.

    Levels are matched by comparison and label (in order), blocking rules by their SQL in the
    model's own dialect; a model whose comparisons this code no longer builds is refused rather
    than guessed at."""
    source = model.get("sql_dialect", "duckdb")
    if source == engine:
        return model
    before, after = _catalogue(source), _catalogue(engine)
    levels: dict[str, list[tuple[str, str, str]]] = {
        old["output_column_name"]: [
            (a["label_for_charts"], a["sql_condition"], b["sql_condition"])
            for a, b in zip(old["comparison_levels"], new["comparison_levels"], strict=True)
        ]
        for old, new in zip(before["comparisons"], after["comparisons"], strict=True)
    }
    rules = {
        old["blocking_rule"]: new["blocking_rule"]
        for old, new in zip(
            before["blocking_rules_to_generate_predictions"],
            after["blocking_rules_to_generate_predictions"],
            strict=True,
        )
    }
    stale = ReconcileError(
        f"the saved model was built by other comparisons than this version's and cannot be "
        f"moved from {source} to {engine}; train a new one with `clientcore reconcile run "
        f"--retrain --engine {engine}`",
        "engine",
    )
    out = copy.deepcopy(model)
    out["sql_dialect"] = engine
    for comparison in out["comparisons"]:
        known = levels.get(comparison["output_column_name"])
        saved = comparison["comparison_levels"]
        if known is None or [k[:2] for k in known] != [
            (lvl["label_for_charts"], lvl["sql_condition"]) for lvl in saved
        ]:
            raise stale
        for level, (_, _, sql) in zip(saved, known, strict=True):
            level["sql_condition"] = sql
    for rule in out["blocking_rules_to_generate_predictions"]:
        text = rule["blocking_rule"] if isinstance(rule, dict) else rule
        if text not in rules:
            raise stale
    out["blocking_rules_to_generate_predictions"] = [
        {**rule, "blocking_rule": rules[rule["blocking_rule"]], "sql_dialect": engine}
        if isinstance(rule, dict)
        else rules[rule]
        for rule in out["blocking_rules_to_generate_predictions"]
    ]
    return out


def level_values(model: dict[str, Any], comparison: str) -> dict[str, int]:
    """Level label -> the comparison vector value (gamma) Splink gives it: -1 for the null
    level, then counting down from the first level to 0 for the last."""
    for spec in model["comparisons"]:
        if spec["output_column_name"] != comparison:
            continue
        levels = [lvl for lvl in spec["comparison_levels"] if not lvl.get("is_null_level")]
        return {lvl["label_for_charts"]: len(levels) - 1 - i for i, lvl in enumerate(levels)}
    return {}


def conflict_sql(model: dict[str, Any]) -> str:
    """Pairs that the model may score high but that are two people of one household: their
    first names disagree (beyond typos and nicknames), their birth dates do not agree, and no
    personal identifier (national id, card, login, phone) is shared; a shared mailbox or house
    is no evidence between those two. Such pairs are never merged automatically. Phones count
    as personal because CRMs hold mobiles: at a million generated records, every conflict pair
    with the same phone was one person (3,103 of 3,103)."""
    given = level_values(model, "given_name")
    born = level_values(model, "birth_date")
    if not given or not born:
        return "FALSE"
    agree = min(born["Exact match on birth_date"], born["Day and month swapped"])
    # First names disagree: nothing in common, or only the initial (Marie and Michelle).
    condition = (
        f"gamma_given_name BETWEEN 0 AND {given['Same initial']} AND gamma_birth_date < {agree}"
    )
    for personal in ("national_id", "loyalty_card", "user_id", "phone"):
        exact = level_values(model, personal).get(f"Exact match on {personal}")
        if exact is not None:
            condition += f" AND gamma_{personal} <> {exact}"
    return f"({condition})"


# The input columns each comparison reads, for showing evidence side by side.
COMPARED: dict[str, tuple[str, ...]] = {
    "given_name": ("given_name",),
    "surname": ("surname",),
    "birth_date": ("birth_date",),
    "email": ("email",),
    "phone": ("phone",),
    "address": ("street_number", "address_1", "postcode", "city"),
    "national_id": ("national_id",),
    "loyalty_card": ("loyalty_card",),
    "user_id": ("user_id",),
}


def evidence(
    row: dict[str, Any], model: dict[str, Any], levels: dict[str, dict[int, str]] | None = None
) -> list[dict[str, Any]]:
    """Field by field: what each side held, the level reached, and its match weight (term-
    frequency adjustment included). `agreement` is exact (the top level), partial (a fuzzy
    level), disagree (the last level) or missing (a side is empty: no evidence). Pass
    `levels` (from `level_labels`) when explaining many pairs of one model."""
    levels = levels if levels is not None else level_labels(model)
    out: list[dict[str, Any]] = []
    for name, labels in levels.items():
        gamma = row.get(f"gamma_{name}")
        if gamma is None:
            continue
        top = max(labels) if labels else 0
        gamma = int(gamma)
        agreement = (
            "missing"
            if gamma < 0
            else "exact"
            if gamma == top
            else "disagree"
            if gamma == 0
            else "partial"
        )
        weight = float(row.get(f"mw_{name}") or 0.0) + float(row.get(f"mw_tf_adj_{name}") or 0.0)
        columns = COMPARED.get(name, (name,))
        out.append(
            {
                "field": name,
                "agreement": agreement,
                "level": "missing on one side" if gamma < 0 else labels.get(gamma, str(gamma)),
                "match_weight": round(weight, 3),
                "left": {c: _plain(row.get(f"{c}_l")) for c in columns},
                "right": {c: _plain(row.get(f"{c}_r")) for c in columns},
            }
        )
    return out


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Per comparison, gamma -> level label."""
    return {
        spec["output_column_name"]: {
            v: k for k, v in level_values(model, spec["output_column_name"]).items()
        }
        for spec in model["comparisons"]
    }


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float) else str(value)
