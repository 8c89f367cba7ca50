"""Group commit: one thread owns the writes, and many requests share each durable commit.

A request hands its judged batch to the writer and waits; the writer takes everything queued,
commits it in one transaction, then wakes every waiter with its outcome. Throughput grows with
load (more requests per commit) while each 200 still means "committed".
"""

from __future__ import annotations

import queue
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from clientcore.collect.ingest import Prepared, commit, prepared_from
from clientcore.events.validate import Staged, finish
from clientcore.store import AppendOutcome, Store

MAX_EVENTS_PER_COMMIT = 20_000


@dataclass
class _Job:
    staged: Staged
    source: str
    origin: str
    future: Future[tuple[AppendOutcome, Prepared]]


class GroupCommitWriter:
    def __init__(
        self,
        store: Store,
        max_wait_seconds: float = 0.002,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self.on_commit = on_commit
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._max_wait = max_wait_seconds
        self._thread = threading.Thread(target=self._run, name="clientcore-writer", daemon=True)
        self.commits = 0
        self.events = 0
        self._thread.start()

    def submit(
        self, staged: Staged, source: str, origin: str
    ) -> Future[tuple[AppendOutcome, Prepared]]:
        """Queue a staged request; the future gets its outcome and its judged events once they
        are committed (the writer judges a whole group of requests in one engine call)."""
        future: Future[tuple[AppendOutcome, Prepared]] = Future()
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the writer has stopped"))
            return future
        self._queue.put(_Job(staged, source, origin, future))
        return future

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _take(self) -> tuple[list[_Job], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        jobs, size = [first], _size(first)
        deadline = time.monotonic() + self._max_wait
        while size < MAX_EVENTS_PER_COMMIT:
            timeout = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._finish(jobs)
                return [], True
            jobs.append(job)
            size += _size(job)
        return jobs, False

    def _run(self) -> None:
        while True:
            jobs, stop = self._take()
            if jobs:
                self._finish(jobs)
            if stop:
                return

    def _finish(self, jobs: list[_Job]) -> None:
        try:
            judged = finish([job.staged for job in jobs])
            batches = [
                prepared_from(judgement, job.source, job.origin)
                for judgement, job in zip(judged, jobs, strict=True)
            ]
            outcome = commit(self._store, batches)
        except Exception as error:  # every waiter must hear of the failure, then we go on
            for job in jobs:
                job.future.set_exception(error)
            return
        self.commits += 1
        self.events += outcome.inserted
        if self.on_commit is not None and outcome.inserted:
            self.on_commit()
        positions = sorted(outcome.inserted_positions)
        offset = 0
        for job, batch in zip(jobs, batches, strict=True):
            n = batch.n_valid
            mine = bisect_left(positions, offset + n) - bisect_left(positions, offset)
            job.future.set_result((AppendOutcome(mine, n - mine, len(batch.rejected)), batch))
            offset += n


def _size(job: _Job) -> int:
    return len(job.staged.columns["idx"]) + len(job.staged.rejected)
