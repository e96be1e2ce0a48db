"""The history store, kept on a thread of its own for the daemon.

A store on a hung disk or locked by another program must cost a request a
note, never the loop: every call runs on one worker thread with a deadline.
A database found damaged is moved aside (kept), a new one started, and the
call tried once more.
"""

from __future__ import annotations

import logging

from . import workers
from .errors import ShellperError
from .store import trouble

log = logging.getLogger("shellper.daemon")

# A lock held by another program fails a write after STORE_BUSY s; a translate waits
# STORE_WAIT s at most for the store, then goes on without the history; what the user
# asked of the store waits STORE_OP_WAIT.
STORE_BUSY = 0.05
STORE_WAIT = 0.5
STORE_OP_WAIT = 5.0

# What a translate says when the store could not keep its history.
_NOT_KEPT = {
    "full": "shellper keeps no history until there is room, so follow-up requests lack context; free some space",
    "locked": "this suggestion is not kept in the terminal's history",
    "slow": "history is not kept until it does",
    "io": "history is not kept until it can be",
    "damaged": "history is not kept until it can be",
    "unopened": "no history is kept until the daemon restarts (`shellper stop`; the next request starts it)",
}


class StoreUnavailable(ShellperError):
    kind = "store"
    action = "try again"


class _Trouble(Exception):
    """The store cannot do this now: kind is store.trouble()'s, or "slow"."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(kind)
        self.kind, self.detail = kind, detail


def damaged_note(aside: str) -> str:
    return f"shellper's history database was damaged: it is kept as {aside}, and a new one was started"


class Keeper:
    def __init__(self, store, note):
        self.store = store
        self._note = note  # note(text): said in the next translate's reply
        self._worker = workers.Serial("shellper-store")
        self._said: set = set()  # troubles told already (until a write succeeds again)
        if getattr(store, "recovered_from", None):
            note(damaged_note(store.recovered_from))
        if hasattr(store, "set_busy_timeout"):
            store.set_busy_timeout(STORE_BUSY)

    def _guarded(self, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:
            if trouble(exc) != "damaged":
                raise
            log.warning("the history database is damaged (%s); starting a new one", exc)
        aside = self.store.start_over()
        log.warning("the damaged history database is kept as %s", aside)
        self._note(damaged_note(aside))
        return fn(*args)

    async def run(self, wait: float | None, fn, *args):
        """fn(*args) on the store's thread, waiting at most `wait` s (None: for good)."""
        return await self._worker.run(wait, self._guarded, fn, *args)

    async def _on_store(self, wait: float | None, fn, *args):
        """fn(*args) on the store's thread, waiting at most `wait` s; _Trouble when it cannot be done now."""
        if wait is not None and self._worker.stuck(wait):  # stuck on a hung disk: do not queue behind it
            raise _Trouble("slow")
        try:
            return await self.run(wait, fn, *args)
        except workers.Late:
            raise _Trouble("slow") from None
        except Exception as exc:
            kind = trouble(exc)
            if kind is None:
                raise
            raise _Trouble(kind, str(exc)) from None

    async def stored(self, fn, *args):
        """fn(*args) for an operation the user asked for: a clear error when the store cannot do it now."""
        try:
            return await self._on_store(STORE_OP_WAIT, fn, *args)
        except _Trouble as exc:
            raise StoreUnavailable(f"{self._what(exc)}, so this could not be done") from None

    async def kept(self, notes: list | None, default, fn, *args):
        """fn(*args) for a request that goes on without the store: default when it
        cannot be done now, with a note in `notes` the first time."""
        try:
            return await self._on_store(STORE_WAIT, fn, *args)
        except _Trouble as exc:
            log.warning("history skipped: %s (%s)", self._what(exc), exc.detail or exc.kind)
            if notes is not None and exc.kind not in self._said:
                self._said.add(exc.kind)
                notes.append(f"{self._what(exc)}: {_NOT_KEPT[exc.kind]}")
            return default

    def wrote(self) -> None:
        """A write worked again: a later trouble is said anew."""
        self._said -= {"full", "locked", "slow", "io"}

    def _what(self, exc: _Trouble) -> str:
        where = self.store.path if hasattr(self.store, "path") else "the history database"
        return {
            "full": "the disk is full",
            "locked": f"another program holds shellper's history database ({where}) locked",
            "slow": f"shellper's history database ({where}) does not answer",
            "unopened": f"shellper's history database could not be opened ({exc.detail})",
        }.get(exc.kind, f"shellper's history database ({where}) cannot be used ({exc.detail})")

    def in_background(self, fn, *args) -> None:
        """fn(*args) on the store's thread, in its turn; nobody waits for it."""
        if self._worker.stuck(STORE_WAIT):
            return
        done = self._worker.submit(self._guarded, fn, *args)
        done.add_done_callback(lambda f: f.exception() and log.warning("history: %s", f.exception()))

    async def close(self, wait: float) -> None:
        try:
            await self.run(wait, self.store.close)
        except Exception as exc:  # a store stuck on a hung disk must not keep us running
            log.warning("the history database did not close: %s", exc)
        self._worker.close()
