"""The index builder's writer thread (see `stores.builder`)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor


class Writer:
    """One background thread that stores what the caller has embedded, so the
    next group is embedded while this one is written. At most one job is in
    flight: memory stays bounded and jobs run in the order given."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-writer")
        self._job: Future | None = None

    def submit(self, fn, *args) -> None:
        self.wait()
        self._job = self._pool.submit(fn, *args)

    def wait(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.result()  # re-raises the writer's error here

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)
