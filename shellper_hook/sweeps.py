"""The daemon's sweeps: what exited shells left, and an idle daemon's exit."""

from __future__ import annotations

import asyncio
import logging
import os
import time

from . import workers

log = logging.getLogger("shellper.daemon")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def cleanup_every(daemon, period: float) -> None:
    """Forget the conversations, pipes, locks and shown suggestions of shells that have exited, now and then."""
    while True:
        await asyncio.sleep(period)
        try:
            removed = await daemon.keeper.run(None, daemon.store.cleanup)
        except Exception as exc:  # best effort; the next round tries again
            log.warning("cleanup failed: %s", exc)
            continue
        if removed:
            log.info("removed %d sessions of shells that exited", removed)
        daemon.pipes.sweep(alive)
        # A lock can go only with its shell: a live shell may have a request waiting on it.
        for key in [k for k, lock in daemon.locks.items() if not lock.locked() and not alive(k.pid)]:
            del daemon.locks[key]
        for key in [k for k in daemon.shown if not alive(k.pid)]:
            del daemon.shown[key]
        await prune_undo(daemon)
        await daemon.forwards.sweep(alive)


async def prune_undo(daemon) -> None:
    """Drop kept changes past undo_days, and the oldest past undo_max_mb (kept after their
    shell exits: a change made in a closed terminal can still be taken back elsewhere)."""
    try:
        gone = await workers.look(daemon.undo.prune, daemon.undo_limits())
    except Exception as exc:  # best effort; the next round tries again
        log.warning("undo prune failed: %s", exc)
        return
    if gone:
        log.info("removed %d changes kept for undo", gone)


async def idle_watch(daemon) -> None:
    """Exit once nothing was asked for idle_exit seconds (0: never)."""
    period = min(max(daemon.settings.idle_exit / 4, 0.05), 30.0)
    while True:
        await asyncio.sleep(period)
        idle = time.monotonic() - daemon.last_active
        if daemon.active == 0 and 0 < daemon.settings.idle_exit <= idle:
            log.info("idle for %.0f s, exiting", idle)
            daemon.stopping.set()
            return
