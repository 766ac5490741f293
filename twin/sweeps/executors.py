"""Where cells run: local worker processes or a Dask distributed cluster.

Both satisfy :class:`Executor`; the runner (:mod:`twin.sweeps.runner`) keeps at most
:attr:`Executor.workers` cells in flight, waits with a timeout (it never blocks without one), and
decides what to do with each finished, failed, lost or overdue cell:

- :meth:`Executor.outcome` returns the cell's result dict (:func:`twin.sweeps.evaluate.run_cell`),
  re-raises the cell's own exception (recorded as failed), or raises :class:`WorkerLost` when the
  worker died or the task was cancelled (resubmitted, a bounded number of times).
- :meth:`Executor.abandon` gives up on an overdue cell (cancels it; locally, where a running
  process cannot be cancelled, the worker processes are killed and the pool restarted).

Dask: submitted futures go into one ``distributed.as_completed`` collection; completed ones (done,
error or cancelled) are taken with ``next_batch(block=False)`` and waited for on its condition
with a timeout, and results are fetched with a timeout too. No call blocks without one:
iterating ``as_completed`` can spin forever when a worker restarts (dask/distributed#6074,
#7331) and a task lost with its worker can hang a waiting client (#3196, #4001). A cell that
does not come back in ``timeout_s`` is cancelled and resubmitted under a fresh key; a
``KilledWorker`` (the scheduler gave up after its own retries) is resubmitted the same way.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Protocol

from .errors import SweepError
from .evaluate import run_cell

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "SerialExecutor",
    "WorkerLost",
    "available_cpus",
]

log = logging.getLogger("twin.sweeps")

#: Default per-cell timeout on Dask, s (a cell that has not come back is resubmitted).
DASK_TIMEOUT_S = 3600.0
#: Longest wait for a worker restart after a hung cell, s.
RESTART_TIMEOUT_S = 60.0
#: Longest wait for a finished cell's result to be fetched from its worker, s.
FETCH_TIMEOUT_S = 120.0
#: Thread-count variables set to 1 in local workers: one cell per process, no oversubscription.
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class WorkerLost(SweepError, RuntimeError):
    """The worker computing a cell died or the task was cancelled: resubmit the cell."""


class Executor(Protocol):
    """Runs cells somewhere; see the module docstring."""

    @property
    def workers(self) -> int:
        """How many cells can run at once."""
        ...

    default_timeout_s: float | None

    def submit(self, kind: str, params: dict[str, Any], seeds: list[int], key: str) -> Any: ...

    def wait(self, futures: Collection[Any], timeout_s: float) -> list[Any]:
        """The futures among ``futures`` that are finished (none if ``timeout_s`` passed)."""
        ...

    def outcome(self, future: Any) -> dict[str, Any]: ...

    def abandon(self, future: Any) -> None: ...

    def close(self) -> None: ...


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _init_worker() -> None:
    # the sweep process handles Ctrl-C (and kills the workers); workers must not print tracebacks
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in _ONE_THREAD:
        os.environ[name] = "1"


class SerialExecutor:
    """Cells one after another in this process (the simple reference; debugging, tests).

    :meth:`submit` computes the cell before returning a finished future, so timeouts never fire.
    """

    default_timeout_s: float | None = None
    workers = 1

    def submit(self, kind: str, params: dict[str, Any], seeds: list[int], key: str) -> Any:
        fut: cf.Future[Any] = cf.Future()
        try:
            fut.set_result(run_cell(kind, params, seeds))
        except Exception as exc:
            fut.set_exception(exc)
        return fut

    def wait(self, futures: Collection[Any], timeout_s: float) -> list[Any]:
        return [f for f in futures if f.done()]

    def outcome(self, future: Any) -> dict[str, Any]:
        return dict(future.result())

    def abandon(self, future: Any) -> None:
        return None

    def close(self) -> None:
        return None


class LocalExecutor:
    """Cells in ``workers`` local processes (all CPUs by default).

    Processes are started with ``spawn`` (the sweep process may hold threads, which ``fork``
    copies unsafely), so a script that runs a sweep on a :class:`LocalExecutor` needs the usual
    ``if __name__ == "__main__":`` guard. Each worker runs one cell at a time with one thread.
    """

    default_timeout_s: float | None = None

    def __init__(self, workers: int | None = None) -> None:
        n = available_cpus() if workers is None or workers <= 0 else int(workers)
        self._workers = n
        self._pool = self._new_pool()
        self._generation: dict[cf.Future[Any], int] = {}
        self._gen = 0

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def pids(self) -> list[int]:
        """Process ids of the worker processes started so far (diagnostics, tests)."""
        procs = getattr(self._pool, "_processes", None) or {}
        return [int(p.pid) for p in procs.values() if p.pid is not None]

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        # spawn: the parent may hold threads (rich, SQLAlchemy), which fork would copy unsafely
        ctx = multiprocessing.get_context("spawn")
        return cf.ProcessPoolExecutor(self._workers, mp_context=ctx, initializer=_init_worker)

    def submit(self, kind: str, params: dict[str, Any], seeds: list[int], key: str) -> Any:
        try:
            fut = self._pool.submit(run_cell, kind, params, seeds)
        except cf.process.BrokenProcessPool:
            self._restart()
            fut = self._pool.submit(run_cell, kind, params, seeds)
        self._generation[fut] = self._gen
        return fut

    def wait(self, futures: Collection[Any], timeout_s: float) -> list[Any]:
        try:
            for first in cf.as_completed(futures, timeout=timeout_s):
                return [first, *(f for f in futures if f is not first and f.done())]
        except TimeoutError:
            pass
        return []

    def outcome(self, future: Any) -> dict[str, Any]:
        gen = self._generation.pop(future, self._gen)
        try:
            return dict(future.result())
        except cf.process.BrokenProcessPool as exc:
            if gen == self._gen:
                self._restart()
            raise WorkerLost(f"worker process died ({exc})") from None
        except cf.CancelledError:
            raise WorkerLost("cancelled") from None

    def abandon(self, future: Any) -> None:
        if future.cancel():
            self._generation.pop(future, None)
            return
        # running: a process cannot be cancelled; kill the workers (the other running cells come
        # back as WorkerLost and are resubmitted)
        log.warning("killing the local worker processes to abandon an overdue cell")
        self._generation.pop(future, None)
        self._kill()
        self._restart()

    def _kill(self) -> None:
        # ProcessPoolExecutor offers no way to stop a running task (terminate_workers() is 3.14+)
        for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
            proc.kill()

    def _restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()
        self._gen += 1

    def close(self) -> None:
        """Stop the workers; cells still running (an interrupted sweep) are killed."""
        self._kill()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _refuse_if_nobody_listens(scheduler: str, timeout_s: float) -> None:
    """A ``tcp://HOST:PORT`` scheduler whose port refuses the connection fails at once: Dask's
    client would retry it until its whole connect timeout has passed."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(scheduler)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number: the client's own error names it
        return
    if parts.scheme != "tcp" or host is None or port is None:
        return
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except ConnectionRefusedError as exc:
        raise SweepError(f"scheduler: cannot connect to {scheduler}: {exc}") from None
    except OSError:  # unreachable, unresolved, slow: left to the client and its timeout
        return


class DaskExecutor:
    """Cells on a Dask distributed cluster: ``scheduler`` is ``tcp://HOST:PORT`` or a ``Client``.

    A client made here is closed by :meth:`close`; one passed in is left open. ``workers`` is the
    number of worker threads the scheduler knows (at least 1; queried on every use, so workers
    joining or leaving change how many cells are in flight).
    """

    def __init__(
        self,
        scheduler: str | Client,
        *,
        timeout_s: float | None = DASK_TIMEOUT_S,
        connect_timeout_s: float = 30.0,
        restart_hung: bool = True,
    ) -> None:
        from distributed import Client, as_completed

        if isinstance(scheduler, Client):
            self.client, self._own = scheduler, False
        else:
            _refuse_if_nobody_listens(scheduler, connect_timeout_s)
            try:
                self.client = Client(scheduler, timeout=connect_timeout_s, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise SweepError(f"scheduler: cannot connect to {scheduler}: {exc}") from None
            self._own = True
        self.default_timeout_s = timeout_s
        self.restart_hung = restart_hung
        self._completed = as_completed(loop=self.client.loop)

    @property
    def workers(self) -> int:
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))

    def submit(self, kind: str, params: dict[str, Any], seeds: list[int], key: str) -> Any:
        fut = self.client.submit(
            run_cell, kind, params, seeds, key=f"{key}-{uuid.uuid4().hex[:8]}", pure=False
        )
        self._completed.add(fut)
        return fut

    def wait(self, futures: Collection[Any], timeout_s: float) -> list[Any]:
        wanted = set(futures)
        deadline = time.monotonic() + timeout_s
        ready = self._completed
        while True:
            # abandoned (cancelled) futures come back too: drop them
            done = [f for f in ready.next_batch(block=False) if f in wanted]
            left = deadline - time.monotonic()
            if done or left <= 0:
                return done
            with ready.thread_condition:
                if not ready.has_ready():
                    ready.thread_condition.wait(timeout=left)

    def outcome(self, future: Any) -> dict[str, Any]:
        from distributed import KilledWorker

        status = future.status
        if status == "cancelled":
            raise WorkerLost("task cancelled (worker or scheduler lost)")
        if status == "error":
            exc = future.exception(timeout=FETCH_TIMEOUT_S)
            if isinstance(exc, KilledWorker):
                raise WorkerLost(f"worker died running the cell ({exc})")
            future.release()
            raise exc
        try:
            result = future.result(timeout=FETCH_TIMEOUT_S)
        except TimeoutError:
            raise WorkerLost(f"result not fetched within {FETCH_TIMEOUT_S:g} s") from None
        finally:
            future.release()
        return dict(result)

    def abandon(self, future: Any) -> None:
        """Cancel an overdue cell; restart the worker still running it (hung), if it has a nanny.

        Dask cannot stop a running task: without a restart, a hung cell would hold its worker
        thread for good. Workers without a nanny (``dask worker --no-nanny``, threads-only
        clusters) are left as they are (logged).
        """
        busy = [addr for addr, keys in self.client.processing().items() if future.key in keys]
        future.cancel()
        future.release()
        if not (busy and self.restart_hung):
            return
        try:
            status = self.client.restart_workers(
                busy, timeout=RESTART_TIMEOUT_S, raise_for_error=False
            )
        except Exception as exc:  # no nanny, scheduler gone: the cell is resubmitted anyway
            log.warning("could not restart worker(s) %s running an overdue cell: %s", busy, exc)
            return
        log.warning("restarted worker(s) running an overdue cell: %s", status)

    def close(self) -> None:
        if self._own:
            self.client.close()
