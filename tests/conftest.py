"""Shared fixtures: a fresh store on every backend, so one suite runs on DuckDB and PostgreSQL.

PostgreSQL tests use the server named by CLIENTCORE_TEST_PG, each in a throwaway schema. They
skip with a reason when it is absent — unless CLIENTCORE_REQUIRE_BACKENDS names postgres (as
CI does), in which case they fail, so a green CI always means both backends ran.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from clientcore.store import Store, open_store

PG_URL = os.environ.get("CLIENTCORE_TEST_PG", "")
REQUIRED = {b.strip() for b in os.environ.get("CLIENTCORE_REQUIRE_BACKENDS", "").split(",") if b}


def _pg_or_skip() -> str:
    if not PG_URL:
        reason = "CLIENTCORE_TEST_PG is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
    else:
        try:
            import psycopg

            psycopg.connect(PG_URL, connect_timeout=3).close()
            return PG_URL
        except Exception as error:  # any connection failure means: no PostgreSQL here
            reason = f"PostgreSQL at {PG_URL} is not reachable: {error}"
    if "postgres" in REQUIRED:
        pytest.fail(f"PostgreSQL is required by CLIENTCORE_REQUIRE_BACKENDS but {reason}")
    pytest.skip(reason)


def spark_or_skip() -> None:
    """Skip without PySpark or Java, or fail when CLIENTCORE_REQUIRE_BACKENDS names spark."""
    import shutil

    reason = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        reason = "PySpark is not installed (pip install 'clientcore[spark]')"
    if reason is None and shutil.which("java") is None:
        reason = "Java is not installed (PySpark needs it)"
    if reason is None:
        return
    if "spark" in REQUIRED:
        pytest.fail(f"Spark is required by CLIENTCORE_REQUIRE_BACKENDS but {reason}")
    pytest.skip(reason)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    import psycopg

    base = _pg_or_skip()
    schema = f"cc_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    return str(tmp_path / "clientcore.duckdb")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database on each backend."""
    if request.param == "duckdb":
        return str(tmp_path / "clientcore.duckdb")
    return request.getfixturevalue("pg_url")  # type: ignore[no-any-return]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    yield opened
    opened.close()
