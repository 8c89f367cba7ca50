"""Where Splink runs: DuckDB in this process (the default), or Spark when one machine is not
enough.

Only the linkage moves: Splink trains, blocks and scores on the engine. Records go in as Arrow
(from either store), and the scored pairs come back as Arrow into the run's in-process DuckDB
connection, where clustering, evidence and publication happen: after scoring, one code path
for both engines. The comparisons are compiled for the engine (`model.compile_model`), so a
model trained on one engine scores on the other.

* `duckdb`: Splink on the run's own in-memory connection; nothing leaves the process.
* `spark`: `SparkEngine.local()` starts local-mode Spark (master `CLIENTCORE_SPARK_MASTER`,
  default `local[*]`; shuffle partitions `CLIENTCORE_SPARK_PARTITIONS`, default 8) with the
  jar of Splink's similarity functions; `SparkEngine(session)` uses a session you configured
  for a cluster (start it with `spark.jars` = `splink.backends.spark.similarity_jar_location()`).
  Needs PySpark 4 and Java 17: `pip install 'clientcore[spark]'`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from clientcore.reconcile import ReconcileError

if TYPE_CHECKING:  # Splink loads in a second: only the commands that link pay for it.
    import duckdb
    from splink.internals.database_api import DatabaseAPI
    from splink.internals.splink_dataframe import SplinkDataFrame

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = get_args(EngineName)
# Functions Splink's jar adds to Spark SQL that the comparisons call.
_SPARK_FUNCTIONS = ("jaro_winkler", "damerau_levenshtein")


class LinkageEngine(ABC):
    """One engine for one run: fresh Splink database APIs, and scored pairs made readable in
    the run's DuckDB connection."""

    name: ClassVar[str]

    @abstractmethod
    def database_api(self) -> DatabaseAPI:
        """A new Splink database API: one per linker, so that tables Splink cached for one
        model never serve another."""

    @abstractmethod
    def readable(self, frame: SplinkDataFrame, compute: duckdb.DuckDBPyConnection) -> str:
        """The name under which the run's DuckDB connection reads `frame`."""

    def release(self, frame: SplinkDataFrame, compute: duckdb.DuckDBPyConnection) -> None:
        """Drop `frame` once it has been read."""
        frame.drop_table_from_database_and_remove_from_cache()

    def clear(self) -> None:  # noqa: B027 (nothing to free by default)
        """Drop the tables Splink made during a run (the engine stays usable)."""

    def close(self) -> None:
        """Free everything the engine holds: the run that opened it is over."""
        self.clear()


class DuckDBEngine(LinkageEngine):
    """Splink on the run's own connection: scored pairs are read where they are."""

    name = "duckdb"

    def __init__(self, compute: duckdb.DuckDBPyConnection) -> None:
        self.compute = compute

    def database_api(self) -> DatabaseAPI:
        from splink import DuckDBAPI

        return DuckDBAPI(self.compute)

    def readable(self, frame: SplinkDataFrame, compute: duckdb.DuckDBPyConnection) -> str:
        if compute is not self.compute:
            raise ValueError("a DuckDB engine reads its frames on its own connection only")
        return frame.physical_name


class SparkEngine(LinkageEngine):
    """Splink on a Spark session; scored pairs come back to the driver as Arrow."""

    name = "spark"

    def __init__(self, session: Any, owned: bool = False) -> None:
        """`owned`: the session was started for this run and is stopped with it."""
        self.session = session
        self.owned = owned
        # Intermediate tables: persisted in memory unless the session has a checkpoint
        # directory, where Splink's default (parquet files) breaks lineage for big jobs.
        try:
            checkpoint = not session.sparkContext._jsc.sc().getCheckpointDir().isEmpty()
        except AttributeError:  # no SparkContext in this client (Spark Connect)
            checkpoint = False
        self.lineage = None if checkpoint else "persist"
        self._apis: list[DatabaseAPI] = []
        self.database_api()  # registers the jar's functions in the session
        self._check_functions()

    @classmethod
    def local(
        cls,
        master: str | None = None,
        partitions: int | None = None,
        conf: Mapping[str, str] | None = None,
    ) -> SparkEngine:
        """Local-mode Spark with Splink's jar, and any further `conf`; the session already
        running in this process, if any, is used (and left running)."""
        SparkSession = _pyspark()
        running = SparkSession.getActiveSession()
        if running is not None:
            return cls(running, owned=False)
        from splink.backends.spark import similarity_jar_location

        shuffle = partitions or int(os.environ.get("CLIENTCORE_SPARK_PARTITIONS", "8"))
        builder = (
            SparkSession.builder.master(
                master or os.environ.get("CLIENTCORE_SPARK_MASTER", "local[*]")
            )
            .appName("clientcore-reconcile")
            .config("spark.jars", similarity_jar_location())
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(shuffle))
            # Not `./spark-warehouse` in whatever directory the command runs from.
            .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="clientcore-spark-"))
        )
        for key, value in (conf or {}).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        return cls(session, owned=True)

    def _check_functions(self) -> None:
        missing = [f for f in _SPARK_FUNCTIONS if not self.session.catalog.functionExists(f)]
        if missing:
            from splink.backends.spark import similarity_jar_location

            raise ReconcileError(
                f"the Spark session lacks {', '.join(missing)}: start it with spark.jars="
                f"{similarity_jar_location()} (Splink's similarity functions)",
                "engine",
            )

    def database_api(self) -> DatabaseAPI:
        from splink import SparkAPI

        api = SparkAPI(spark_session=self.session, break_lineage_method=self.lineage)
        self._apis.append(api)
        return api

    def readable(self, frame: SplinkDataFrame, compute: duckdb.DuckDBPyConnection) -> str:
        compute.register(frame.physical_name, frame.as_pyarrow_table())
        return frame.physical_name

    def release(self, frame: SplinkDataFrame, compute: duckdb.DuckDBPyConnection) -> None:
        compute.unregister(frame.physical_name)
        frame.drop_table_from_database_and_remove_from_cache()

    def clear(self) -> None:
        for api in self._apis:
            api.delete_tables_created_by_splink_from_db()
        self._apis.clear()

    def close(self) -> None:
        self.clear()
        if self.owned:
            warehouse = self.session.conf.get("spark.sql.warehouse.dir")
            self.session.catalog.clearCache()
            self.session.stop()
            if warehouse and "clientcore-spark-" in warehouse:
                shutil.rmtree(warehouse.removeprefix("file:"), ignore_errors=True)


def _pyspark() -> Any:
    """PySpark's SparkSession, or a refusal that says what to install."""
    try:
        import pyspark
        from pyspark.sql import SparkSession
    except ImportError:
        raise ReconcileError(
            "the Spark engine needs PySpark: pip install 'clientcore[spark]'", "engine"
        ) from None
    if int(pyspark.__version__.split(".")[0]) < 4:
        raise ReconcileError(
            f"the Spark engine needs PySpark 4 (Arrow in and out); this is {pyspark.__version__}",
            "engine",
        )
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        raise ReconcileError("the Spark engine needs Java (17): install a JDK", "engine")
    return SparkSession


@contextmanager
def engine_for(
    engine: EngineName | LinkageEngine, compute: duckdb.DuckDBPyConnection
) -> Iterator[LinkageEngine]:
    """The engine a run asked for by name (closed after it), or the one it was handed (only
    cleared of the run's tables: its owner closes it)."""
    if isinstance(engine, LinkageEngine):
        try:
            yield engine
        finally:
            engine.clear()
        return
    if engine == "duckdb":
        opened: LinkageEngine = DuckDBEngine(compute)
    elif engine == "spark":
        opened = SparkEngine.local()
    else:
        raise ReconcileError(
            f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}", "engine"
        )
    try:
        yield opened
    finally:
        opened.close()
