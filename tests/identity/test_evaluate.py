"""Scoring the identity graph against a ground truth, on a contingency table checked by hand.

Truth: person A owns a1 a2 a3 a4, B owns b1 b2, C owns c1 c2; two trap identifiers are shared.
Store: P1 = {a1, a2, junk, store phone}, P2 = {a3, b1}, P3 = {b2}, P4 = {c1}; c2 and the family
e-mail are quarantined; a4 was never seen; a first name (never an identifier) is left out.

Cells (profile, person) over the evaluated identifiers a1 a2 a3 b1 b2 c1 c2 (c2 alone):
(P1,A)=2 (P2,A)=1 (P2,B)=1 (P3,B)=1 (P4,C)=1 (c2,C)=1
correct pairs   = C(2,2) = 1
predicted pairs = C(2,2) [P1] + C(2,2) [P2] = 2           -> precision 1/2
true pairs      = C(3,2) [A] + C(2,2) [B] + C(2,2) [C] = 5 -> recall 1/5
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from clientcore.identity.evaluate import TruthFileError, evaluate
from clientcore.identity.evaluate_cli import identity_eval
from clientcore.store import Store

TRUTH = """type,value,person_id
email,a1@example.com,A
user_id,a2,A
anonymous_id,a3,A
phone,+14155550104,A
user_id,b1,B
email,b2@example.com,B
user_id,c1,C
loyalty_card,C2CARD,C
"""
SHARED = """type,value,kind,n_people
email,family@example.com,family_email,2
phone,+14155550000,placeholder_phone,40
email,never@example.com,placeholder_email,3
"""
P1, P2, P3, P4 = 0, 4, 6, 7
STORED = [  # id, type, value, profile (None: quarantined)
    (0, "email", "a1@example.com", P1),
    (1, "user_id", "a2", P1),
    (2, "anonymous_id", "junk-cookie", P1),
    (3, "phone", "+14155550000", P1),  # a trap the graph linked
    (4, "anonymous_id", "a3", P2),
    (5, "user_id", "b1", P2),
    (6, "email", "b2@example.com", P3),
    (7, "user_id", "c1", P4),
    (8, "loyalty_card", "C2CARD", None),
    (9, "email", "family@example.com", None),  # a trap the graph quarantined
    (10, "first_name", "anna", None),  # never links: in no truth, counted nowhere
]


# The evidence: which identifiers the log showed together (a < b).
LINKS = [(0, 1), (1, 4), (5, 6), (7, 8), (0, 3), (0, 10)]


def _fill(store: Store, links: list[tuple[int, int]] = LINKS) -> None:
    store.execute(
        "INSERT INTO identifiers (id, type, value, profile_id, first_seq, quarantined) VALUES "
        + ", ".join("(?, ?, ?, ?, ?, ?)" for _ in STORED),
        [f for i, k, v, p in STORED for f in (i, k, v, p, i + 1, p is None)],
    )
    store.execute(
        "INSERT INTO identity_links (a, b, first_seq) VALUES "
        + ", ".join("(?, ?, ?)" for _ in links),
        [f for a, b in links for f in (a, b, 1)],
    )


def _truth(root: Path, nested: bool = True, shared: bool = True) -> Path:
    folder = root / "truth" if nested else root
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "identifiers.csv").write_text(TRUTH)
    if shared:
        (folder / "shared_identifiers.csv").write_text(SHARED)
    return root


def test_hand_checked_contingency(store: Store, tmp_path: Path) -> None:
    _fill(store)
    result = evaluate(store, _truth(tmp_path))
    assert result.precision == pytest.approx(1 / 2)
    assert result.recall == pytest.approx(1 / 5)
    assert result.f1 == pytest.approx(2 * 0.5 * 0.2 / 0.7)
    assert (result.correct_pairs, result.predicted_pairs, result.true_pairs) == (1, 2, 5)
    assert result.linkable_pairs == 5
    assert result.recall_all_pairs == pytest.approx(1 / 5)

    assert result.collapsed_clusters == 1  # P2 holds A and B
    assert result.split_people == 2  # A in P1 and P2, B in P2 and P3; C's c2 is in no profile
    assert result.identifiers_evaluated == 7
    assert result.identifiers_unseen == 1  # a4
    assert result.identifiers_quarantined == 1  # c2
    assert result.identifiers_unknown == 1  # junk-cookie
    assert (result.profiles, result.people) == (4, 3)
    assert (result.shared_identifiers, result.shared_quarantined) == (3, 1)
    assert (result.shared_linked, result.shared_unseen) == (1, 1)


CUSTOMERS = """person_id,segment,first_name,last_name,birth_date
A,store_loyal,Anna,Berg,1960-01-02
B,prospect,anna,Berg,1990-03-04
C,prospect,Carl,Dunn,
"""


def test_collapsed_profiles_listed_with_what_joined_them(store: Store, tmp_path: Path) -> None:
    _fill(store)
    # The family e-mail joins P2 instead of being quarantined: the trap that merged A and B.
    store.execute("UPDATE identifiers SET profile_id = ?, quarantined = false WHERE id = 9", [P2])
    truth = _truth(tmp_path)
    unnamed = evaluate(store, truth)
    assert unnamed.collapsed_clusters == 1
    (only,) = unnamed.collapsed
    assert only.profile_id == P2
    assert only.people == [{"person_id": "A"}, {"person_id": "B"}]
    assert only.shared == [{"type": "email", "value": "family@example.com"}]
    assert (only.namesakes, unnamed.collapsed_namesakes) == (None, None)  # no customers.csv

    (truth / "truth" / "customers.csv").write_text(CUSTOMERS)
    named = evaluate(store, truth)
    (only,) = named.collapsed
    assert [p["last_name"] for p in only.people] == ["Berg", "Berg"]
    assert only.people[1] == {
        "person_id": "B",
        "first_name": "anna",
        "last_name": "Berg",
        "birth_date": "1990-03-04",
    }
    assert (only.namesakes, named.collapsed_namesakes) == (True, 1)  # Anna and anna

    (truth / "truth" / "customers.csv").write_text(CUSTOMERS.replace("anna", "Ben"))
    assert evaluate(store, truth).collapsed_namesakes == 0


def test_truth_next_to_the_csv_and_without_traps(store: Store, tmp_path: Path) -> None:
    _fill(store)
    result = evaluate(store, _truth(tmp_path, nested=False, shared=False))
    # Without the trap list the store's phone is unknown and counts nowhere; pairs unchanged.
    assert (result.correct_pairs, result.predicted_pairs, result.true_pairs) == (1, 2, 5)
    assert result.shared_identifiers == 0
    assert result.identifiers_unknown == 3  # junk-cookie, the store phone, the family e-mail


def test_perfect_and_empty(store: Store, tmp_path: Path) -> None:
    truth = _truth(tmp_path, shared=False)
    empty = evaluate(store, truth)
    assert (empty.identifiers_evaluated, empty.identifiers_unseen) == (0, 8)
    # Nothing to find and nothing linked: vacuously perfect, and the counts say why.
    assert (empty.true_pairs, empty.predicted_pairs) == (0, 0)
    assert (empty.precision, empty.recall, empty.f1) == (1.0, 1.0, 1.0)
    store.execute(
        "INSERT INTO identifiers (id, type, value, profile_id, first_seq) VALUES "
        "(0, 'email', 'a1@example.com', 0, 1), (1, 'user_id', 'a2', 0, 1), "
        "(2, 'user_id', 'b1', 2, 2), (3, 'email', 'b2@example.com', 2, 2)"
    )
    perfect = evaluate(store, truth)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    assert (perfect.collapsed_clusters, perfect.split_people) == (0, 0)
    assert (perfect.collapsed, perfect.collapsed_namesakes) == ([], 0)


def test_missing_truth(store: Store, tmp_path: Path) -> None:
    with pytest.raises(TruthFileError, match=r"identifiers\.csv"):
        evaluate(store, tmp_path)
    (tmp_path / "identifiers.csv").write_text("kind,id\nemail,x\n")
    with pytest.raises(TruthFileError, match="person_id"):
        evaluate(store, tmp_path)


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(identity_eval, name="identity")
    return root


def test_cli(store: Store, tmp_path: Path, db_url: str) -> None:
    _fill(store)
    store.close()  # the command opens the database itself
    truth = _truth(tmp_path / "run")
    result = CliRunner().invoke(
        _cli(), ["identity", "evaluate", "--truth", str(truth), "--json", "--db", db_url]
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    doc = json.loads(result.stdout)
    assert {"precision", "recall", "f1", "collapsed_clusters", "split_people"} <= set(doc)
    assert doc["precision"] == pytest.approx(0.5)
    assert doc["split_people"] == 2
    shown = CliRunner().invoke(
        _cli(),
        ["identity", "evaluate", "--truth", str(truth), "--db", db_url],
        env={"COLUMNS": "120"},
    )
    assert shown.exit_code == 0
    assert "precision 0.5000" in shown.stdout
    assert "collapsed profiles (1 of 1 shown)" in shown.stdout  # P2: A and B, no names known
    assert doc["collapsed"][0]["people"] == [{"person_id": "A"}, {"person_id": "B"}]
    missing = CliRunner().invoke(
        _cli(), ["identity", "evaluate", "--truth", str(tmp_path / "nope"), "--db", db_url]
    )
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: --truth")


def test_recall_counts_only_pairs_the_log_can_prove(store: Store, tmp_path: Path) -> None:
    # Without the c1 — C2CARD link, nothing in the log says they are one person.
    _fill(store, [link for link in LINKS if link != (7, 8)])
    result = evaluate(store, _truth(tmp_path))
    assert result.linkable_pairs == 4
    assert result.recall == pytest.approx(1 / 4)
    assert result.recall_all_pairs == pytest.approx(1 / 5)
