"""Threads for work that may block for good, and the store's one thread.

A read of a FIFO, of a hung network mount or of /proc/kmsg may never return,
and a thread cannot be killed. In asyncio.to_thread's shared pool each such
read takes a worker for good, until no terminal gets an answer, and the
process cannot exit (it joins that pool). Here each job gets a daemon thread
of its own (idle ones are reused); a job past its deadline is abandoned with
its thread, and the next job gets another.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time

from .errors import ShellperError

log = logging.getLogger("shellper.workers")

LOOK_DEADLINE = 2.0  # seconds a suggestion's parse, policy and look at the files may take
KEEP_IDLE = 4  # idle threads kept for the next jobs


class Late(Exception):
    """The job did not finish within its deadline; its thread was abandoned."""


class LookTimeout(ShellperError):
    action = "type the command yourself, or ask again from another folder"


class _Job:
    __slots__ = ("fn", "args", "loop", "done")

    def __init__(self, fn, args, loop, done):
        self.fn, self.args, self.loop, self.done = fn, args, loop, done


def _settle(done, ok: bool, value) -> None:
    if done.done():  # timed out or cancelled: nobody waits for it any more
        return
    if ok:
        done.set_result(value)
    else:
        done.set_exception(value)


class Workers:
    def __init__(self, keep_idle: int = KEEP_IDLE):
        self.keep_idle = keep_idle
        self._idle: list = []  # the inboxes of idle threads
        self._lock = threading.Lock()
        self.abandoned = 0  # threads given up on, still stuck or finished late

    def _inbox(self) -> queue.SimpleQueue:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        # A daemon thread: one stuck for good never keeps the process from exiting.
        threading.Thread(target=self._serve, args=(inbox,), name="shellper-worker", daemon=True).start()
        return inbox

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        while True:
            job = inbox.get()
            try:
                ok, value = True, job.fn(*job.args)
            except BaseException as exc:  # handed to the waiting coroutine
                ok, value = False, exc
            try:
                job.loop.call_soon_threadsafe(_settle, job.done, ok, value)
            except RuntimeError:  # the loop is closed: the daemon is stopping
                return
            job = value = None  # hold nothing while idle
            with self._lock:
                if len(self._idle) >= self.keep_idle:
                    return
                self._idle.append(inbox)

    async def run(self, deadline: float, fn, *args):
        """fn(*args) in a thread of its own; Late when it takes more than deadline seconds."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        job = _Job(fn, args, loop, done)
        self._inbox().put(job)
        try:
            # On timeout or cancellation wait_for cancels `done`; a late result is dropped,
            # and the thread, if it ever finishes, serves again.
            return await asyncio.wait_for(done, deadline)
        except asyncio.TimeoutError:
            with self._lock:
                self.abandoned += 1
            log.warning(
                "%s took more than %g s; its thread is abandoned (%d so far)", getattr(fn, "__name__", "a job"), deadline, self.abandoned
            )
            raise Late(deadline) from None


_workers = Workers()


async def look(fn, *args):
    """fn(*args): the part of a suggestion that looks at the files, within LOOK_DEADLINE."""
    deadline = LOOK_DEADLINE
    try:
        return await _workers.run(deadline, fn, *args)
    except Late:
        raise LookTimeout(
            f"shellper could not finish looking at the files in {deadline:g} s (a file or folder there did not"
            " answer: a pipe, or a network mount that hangs?); nothing was suggested"
        ) from None


class Serial:
    """One daemon thread that runs jobs in the order given: an SQLite
    connection stays on one thread, and a store stuck on a hung disk never
    takes the event loop (or the process's exit) with it."""

    def __init__(self, name: str = "shellper-serial"):
        self.name = name
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._since: float | None = None  # when the running job started

    def submit(self, fn, *args) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
        self._inbox.put((future, fn, args))
        return future

    def close(self) -> None:
        """Let the thread end once the jobs given so far are done (a later job starts another)."""
        with self._lock:
            if self._thread is not None:
                self._inbox.put(None)
                self._thread = None

    def _serve(self) -> None:
        while True:
            job = self._inbox.get()
            if job is None:
                return
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            self._since = time.monotonic()
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)
            finally:
                self._since = None
            job = future = fn = args = None

    def stuck(self, limit: float) -> bool:
        """Whether the running job has taken more than limit seconds."""
        since = self._since
        return since is not None and time.monotonic() - since > limit

    async def run(self, wait: float | None, fn, *args):
        """fn(*args) on the thread; Late after wait seconds (the job still runs, in its turn)."""
        future = asyncio.wrap_future(self.submit(fn, *args))
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # a late failure is not "unretrieved"
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait)
        except asyncio.TimeoutError:
            raise Late(wait) from None
