"""Keeping the model server's prompt prefix read, so that no person waits for a cold read.

Every request starts with the same ~3,000 tokens (system prompt and tools); a
server keeps them read between requests, until it restarts, unloads the model
or switches to another. Reading them cold takes tens of seconds on a CPU. So
the daemon has them read when it starts, and a watch has them read again now
and then while no terminal waits (a warm-up on a warm server costs one token).
A request that comes while a warm-up reads waits for it (a small server has
one slot) and its reply says so; the first request to a server never warmed
gets a longer deadline, and a note when it was slow.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from .errors import BackendTimeout

log = logging.getLogger("shellper.warmth")

WATCH_PERIOD = 30.0  # seconds between warm-ups while the daemon waits (SHELLPER_WARM_WATCH; 0: none)
COLD_DEADLINE = 300.0  # seconds a request may take when the prefix was never read: a slow CPU's cold read
COLD = 1.5  # seconds: a warm-up slower than this read the prefix cold


def watch_period() -> float:
    try:
        return max(0.0, float(os.environ.get("SHELLPER_WARM_WATCH", WATCH_PERIOD)))
    except ValueError:
        return WATCH_PERIOD


class Warmth:
    def __init__(self, backend, settings) -> None:
        self.backend = backend
        self.settings = settings
        self.warm = False  # a warm-up or a request has read the prefix since the daemon started
        self.cold_seconds: float | None = None  # how long the last cold read took
        self._task: asyncio.Task | None = None

    def use(self, backend, settings, cold: bool) -> None:
        """New settings, perhaps a new server; cold: what it keeps read is not the prefix now."""
        self.backend, self.settings = backend, settings
        if cold:
            self.warm, self.cold_seconds = False, None

    async def read(self, why: str) -> bool:
        """Have the server read the prefix now (one warm-up at a time, shared by all who ask)."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._read(why))
        return await asyncio.shield(self._task)

    async def _read(self, why: str) -> bool:
        started = time.perf_counter()
        ok = await self.backend.warm_prompt_cache()
        seconds = time.perf_counter() - started
        if ok:
            self.warm = True
            if seconds >= COLD:
                self.cold_seconds = seconds
                log.info("prompt cache warmed in %.1f s (%s)", seconds, why)
            else:
                log.debug("prompt cache was warm (%.2f s, %s)", seconds, why)
        return ok

    async def watch(self, period: float, busy, eligible) -> None:
        """Warm again every period seconds while busy() is false and eligible() is true."""
        while True:
            await asyncio.sleep(period)
            if busy() or not eligible():
                continue
            try:
                await self.read("watch")
            except Exception as exc:  # the next round tries again
                log.warning("warm-up failed: %s", exc)

    async def before(self) -> tuple:
        """(deadline for the model's answer or None for the usual one, notes) for a request
        about to be sent: it waits for a warm-up under way rather than queueing beside it."""
        notes: list = []
        if self._task is not None and not self._task.done():
            started = time.perf_counter()
            await asyncio.shield(self._task)
            waited = time.perf_counter() - started
            if waited >= COLD:
                notes.append(f"the model was reading its instructions first ({waited:.0f} s); the next requests are faster")
        return (None if self.warm else max(self.settings.timeout, COLD_DEADLINE)), notes

    def after(self, seconds: float, ok: bool) -> list:
        """Notes for a request that took seconds (ok: it got an answer)."""
        if not ok or self.warm:
            return []
        self.warm = True  # the request itself read the prefix
        if seconds < COLD:
            return []
        self.cold_seconds = seconds
        return [f"the model read its instructions for the first time ({seconds:.0f} s); the next requests are faster"]

    def timed_out(self, exc: BackendTimeout, deadline) -> BackendTimeout:
        """The error of a request that ran out of time, saying why when the prefix was cold."""
        if deadline is None:
            return exc
        return BackendTimeout(
            f"the model server did not answer within {deadline:g} s while reading its instructions for the first"
            " time (a cold start); wait a little and try again, or raise SHELLPER_TIMEOUT"
        )
