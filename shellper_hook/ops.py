"""The daemon's operations: one handler each, in one table (translate included).

A handler takes the checked request (protocol.decode_request) and returns a
reply dict; the daemon (framing, lifecycle) holds the state they share.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import datetime

from . import __version__, errors, protocol, turns, undo, workers
from .errors import BackendTimeout, ShellperError
from .export import training_conversations
from .store import SessionKey, session_key
from .undo_store import restore_for

log = logging.getLogger("shellper.daemon")


def key_of(pid: int) -> SessionKey:
    try:
        return session_key(pid)
    except ProcessLookupError:
        raise ProcessLookupError(f"no shell with PID {pid} is running") from None


class _Timing:
    """What a translate spent waiting (its terminal's lock, the model): not the daemon's own time."""

    def __init__(self):
        self.waited = 0.0


def timed(handler):
    """The daemon's own milliseconds per request (its waits excluded), kept for `status`."""

    async def run(self, req: dict) -> dict:
        timing = _Timing()
        started = time.perf_counter()
        try:
            return await handler(self, req, timing)
        finally:
            self.d.overhead_ms.append((time.perf_counter() - started - timing.waited) * 1000)

    return run


class Ops:
    def __init__(self, daemon):
        self.d = daemon
        self.table = {
            "ping": self.ping,
            "translate": self.translate,
            "check": self.check,
            "executed": self.executed,
            "commit": self.commit,
            "history": self.history,
            "reset": self.reset,
            "closed": self.closed,
            "status": self.status,
            "export": self.export,
            "stop": self.stop,
            "forward": self.forward,
            "unforward": self.unforward,
            "facts": self.facts,
        }

    async def ping(self, req: dict) -> dict:
        return protocol.ok(pid=os.getpid(), version=__version__)

    @timed
    async def translate(self, req: dict, timing: _Timing) -> dict:
        d = self.d
        d.reread_settings()
        asked = undo.asked(req["text"])
        if asked is not None:  # never goes to the model
            return await self._undo(req, asked[0])
        d.wake()
        key = key_of(req["session"])
        lock = d.locks.setdefault(key, asyncio.Lock())
        notes: list = []  # what the user should know about the history, and a cold start
        model_seconds = 0.0

        async def ask(history, request):
            nonlocal model_seconds
            deadline, said = await d.warmth.before()  # a warm-up under way is waited for, not raced
            notes.extend(said)
            await d.backend_ready()
            asked = time.perf_counter()
            answered = False
            with d.using_backend() as backend:
                try:
                    message = await backend.ask(history, request, timeout=deadline)
                    answered = True
                    return message
                except BackendTimeout as exc:
                    raise d.warmth.timed_out(exc, deadline) from None
                finally:
                    model_seconds = time.perf_counter() - asked
                    timing.waited += model_seconds
                    notes.extend(d.warmth.after(model_seconds, answered))

        async def ask_general(messages):
            await d.backend_ready()
            asked = time.perf_counter()
            with d.using_backend() as backend:
                try:
                    return await backend.ask_general(messages, d.settings.general_model)
                finally:
                    timing.waited += time.perf_counter() - asked

        queued = time.perf_counter()
        async with lock:  # one terminal's requests never interleave
            timing.waited += time.perf_counter() - queued
            shown = d.shown.get(key)
            if isinstance(shown, undo.Restore) and req["text"].strip() == shown.command.strip():
                return protocol.error("that is an undo's restore: Enter runs it, Ctrl-C drops it", "refused")
            kind, request = turns.route(req["text"], shown if isinstance(shown, turns.Shown) else None, d.settings.general_model)
            if kind == "general":
                return await self._general(req, key, ask_general, request, notes)
            history = await d.keeper.kept(notes, [], self._turns_of, key)
            try:
                s = await turns.suggest(
                    ask,
                    history,
                    req["text"],
                    req["cwd"],
                    req["shell"],
                    d.settings.allow_recursive,
                    cdpath=req.get("cdpath"),
                    # Undo keeps at the prompt's Enter: `shellper ask` (commit) has none, so it claims nothing.
                    limits=None if req.get("commit") else d.undo_limits(),
                )
            except BaseException:
                # The earlier suggestion is off the prompt: a report of the next line must not settle it.
                d.shown.pop(key, None)
                d.keeper.in_background(d.store.drop_pending, key)
                raise
            d.maybe_preload(model_seconds)
            # set_pending replaces the earlier suggestion.
            keep = d.store.add_exchange if req.get("commit") else d.store.set_pending
            if await d.keeper.kept(notes, False, lambda *a: keep(*a) or True, key, s.request, s.call, s.command):
                d.keeper.wrote()
            # What Enter judges again (check): the suggestion as it was shown.
            d.shown[key] = turns.Shown(s.command, s.call, s.effect, tuple(s.warnings), s.request)
        return self._suggested(req, s, notes)

    def _suggested(self, req: dict, s, notes: list) -> dict:
        d = self.d
        while d.due:
            notes.append(d.due.pop(0))
        warnings = list(s.warnings) + notes
        other = d.other_settings(req.get("settings"))
        if other:
            warnings.append(other)
        call = None if s.call is None else s.call.to_dict()
        return protocol.ok(command=s.command, call=call, warnings=warnings, effect=s.effect)

    async def _general(self, req: dict, key, ask, request: str, notes: list) -> dict:
        """A request for the general model (called with the terminal's lock held): never kept in
        the history the SHELLper model sees, which holds only its own tool calls."""
        d = self.d
        d.shown.pop(key, None)
        d.keeper.in_background(d.store.drop_pending, key)
        pairs = await d.keeper.kept(notes, [], self._commands_of, key)
        s = await turns.suggest_general(ask, pairs, request, req["cwd"], req["shell"])
        d.shown[key] = turns.Shown(s.command, None, s.effect, tuple(s.warnings), s.request)
        return self._suggested(req, s, notes)

    def _commands_of(self, key) -> list:
        return [(ex.request, ex.command) for ex in self.d.store.history(key, self.d.settings.max_turns)]

    async def _undo(self, req: dict, number: int | None) -> dict:
        """ "undo" (or "undo N"): the command that takes back this terminal's last change (or
        change N), from the undo folder, judged on the files as they are now."""
        d = self.d
        key = key_of(req["session"])
        async with d.locks.setdefault(key, asyncio.Lock()):
            d.shown.pop(key, None)  # the suggestion before it is off the prompt
            d.keeper.in_background(d.store.drop_pending, key)
            found = await workers.look(restore_for, d.undo, key, number, req["cwd"], os.path.expanduser("~"), req["shell"])
            if found.refused:
                return protocol.error(found.refused, "refused")
            d.shown[key] = found  # Enter checks it again (check)
        return protocol.ok(command=found.command, call=None, warnings=[], effect=found.effect)

    def _turns_of(self, key) -> list:
        return [(ex.request, ex.call) for ex in self.d.store.history(key, self.d.settings.max_turns)]

    async def check(self, req: dict) -> dict:
        """Enter is about to run a line: when it is the suggestion, judge it again on the
        files as they are now (in a worker with a deadline, like every look)."""
        d = self.d
        try:
            key = key_of(req["session"])
        except ProcessLookupError:
            return protocol.ok(changed=False, lines=[])
        shown = d.shown.get(key)
        if shown is None or req["command"].strip() != shown.command.strip():
            return protocol.ok(changed=False, lines=[])
        if isinstance(shown, undo.Restore):
            return await self._check_restore(req, key, shown)
        limits = d.undo_limits()
        again = await workers.look(
            turns.recheck, shown, req["command"], req["cwd"], req["shell"], d.settings.allow_recursive, None, req.get("cdpath"), limits
        )
        if again.refused:  # (kept: every Enter on it is refused while the files stay so)
            return protocol.error(again.refused, "refused")
        lines = list(again.lines)
        if again.undo is not None and again.undo.steps and not again.undo.why_not:
            # What it destroys is kept before it runs (also when it changed: a second Enter runs it unasked).
            why = await self._keep(req, key, shown.command, again.undo, limits)
            if why:
                effect = (again.lines[1] if again.changed else shown.effect).rsplit("; undo: ", 1)[0]
                head = "undo could not keep what it changes; this is what it does (Enter runs it, Ctrl-C drops it):"
                lines = [head, f"{effect}; undo: no, {why}", *(again.lines[2:] if again.changed else shown.warnings)]
        if lines:  # shown now as it is: a second Enter runs it
            d.shown[key] = turns.Shown(shown.command, shown.call, lines[1], tuple(lines[2:]), shown.request)
        return protocol.ok(changed=bool(lines), lines=lines)

    async def _keep(self, req: dict, key, command: str, plan, limits) -> str:
        """Keep what the command is about to destroy ("" when kept, else why not)."""
        d = self.d
        self._drop_kept(key)
        try:
            d.keeping[key] = await workers.look(d.undo.keep, key, command, req["shell"], req["cwd"], plan, limits)
        except workers.LookTimeout:
            return "keeping the files took too long"
        except Exception as exc:  # whatever went wrong, it is said before the command runs
            return errors.one_line(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__, 200)
        return ""

    def _drop_kept(self, key) -> None:
        number = self.d.keeping.pop(key, None)
        if number is not None:
            self._undo_later(self.d.undo.finish, number, False)

    def _undo_later(self, fn, *args) -> None:
        """fn(*args) on the undo folder, in a worker (it looks at the user's files: it may hang)."""

        async def run():
            try:
                await workers.look(fn, *args)
            except Exception as exc:  # the change stays unfinished; prune removes it later
                log.warning("undo: %s", exc)

        self.d._spawn(run())

    async def _check_restore(self, req: dict, key, shown: undo.Restore) -> dict:
        """Enter on an undo: the files must still be as its line said, or nothing runs."""
        d = self.d
        now = await workers.look(restore_for, d.undo, key, shown.number, req["cwd"], os.path.expanduser("~"), req["shell"])
        if now.refused or now.command != shown.command:
            d.shown.pop(key, None)
            why = now.refused or "the files changed since"
            return protocol.error(f"{why}; nothing was run (Ctrl-G on `undo` asks again)", "refused")
        return protocol.ok(changed=False, lines=[])

    async def executed(self, req: dict) -> dict:
        """The line the shell ran after a suggestion: settle it (turns decides, the store writes)."""
        d = self.d
        try:
            key = key_of(req["session"])
        except ProcessLookupError:
            return protocol.ok(recorded="none")
        line, shell = req["command"], req["shell"]
        shown = d.shown.pop(key, None)  # the suggestion has run (or was passed over)
        ran = shown is not None and line.strip() == shown.command.strip()
        number = d.keeping.pop(key, None)
        if number is not None:  # what Enter kept: a change to undo, or nothing when it did nothing
            try:  # (before the reply: an "undo" right after finds it)
                await workers.look(d.undo.finish, number, ran)
            except Exception as exc:  # it stays unfinished; prune removes it later
                log.warning("undo: %s", exc)
        if isinstance(shown, undo.Restore):
            # Taken back: never undone again; gone before the reply, so an "undo" next finds the one before.
            if ran and req.get("status") == 0:
                try:
                    await workers.look(d.undo.drop, shown.number)
                except Exception as exc:  # (a kept folder that cannot be removed: prune tries again)
                    log.warning("undo: %s", exc)
            return protocol.ok(recorded="none")
        async with d.locks.setdefault(key, asyncio.Lock()):
            recorded = await d.keeper.kept(
                None, "none", d.store.settle, key, lambda pending: turns.settle(pending, line, shell), req.get("status")
            )
        return protocol.ok(recorded=recorded)

    async def commit(self, req: dict) -> dict:
        recorded = await self.d.keeper.stored(self.d.store.settle, key_of(req["session"]), turns.accept)
        return protocol.ok(recorded="committed" if recorded != "none" else "none")

    async def history(self, req: dict) -> dict:
        key, store = key_of(req["session"]), self.d.store

        def read():
            pending = store.pending(key)
            return protocol.ok(
                exchanges=[ex.to_dict() for ex in store.history(key)],
                pending=None if pending is None else pending.to_dict(),
            )

        return await self.d.keeper.stored(read)

    async def reset(self, req: dict) -> dict:
        d = self.d
        if req.get("all") is True:
            # The locks stay: a translation in flight must still hold its
            # terminal's (the periodic cleanup drops unused ones).
            return protocol.ok(removed=await d.keeper.stored(d.store.reset_all))
        return protocol.ok(removed=await d.keeper.stored(d.store.reset, key_of(req["session"])))

    async def closed(self, req: dict) -> dict:
        """A shell's exit hook: forget its conversation now, not at the next sweep.

        bash sends it from a background client, so the shell may be gone
        already; then every session stored under that PID is of a dead shell."""
        d = self.d
        pid = req["session"]
        try:
            key = key_of(pid)
        except ProcessLookupError:
            key = None
        d.pipes.drop(pid)
        for gone in [k for k in d.shown if k.pid == pid]:
            del d.shown[gone]
        for gone in [k for k in d.keeping if k.pid == pid]:  # kept at an Enter whose report never came
            self._drop_kept(gone)

        def forget_dead() -> int:
            removed = 0
            for s in d.store.sessions():  # sessions of dead shells that had this PID
                if s["pid"] == pid and (key is None or round(s["start"] * 100) != round(key.start * 100)):
                    removed += d.store.reset(SessionKey(pid, s["start"]))
            return removed

        removed = await d.keeper.kept(None, 0, forget_dead)
        if key is not None:  # (its lock goes with the periodic sweep, once the shell is gone)
            async with d.locks.setdefault(key, asyncio.Lock()):
                removed += await d.keeper.kept(None, 0, d.store.reset, key)
        return protocol.ok(removed=removed)

    async def status(self, req: dict) -> dict:
        d = self.d
        d.reread_settings()  # (`shellper doctor` asks this first: it shows the settings in use)
        try:
            info = await (await d.backend_ready()).server_status()
        except ShellperError as exc:  # the daemon runs: it says why it cannot ask the model
            info = {"reachable": False, "message": str(exc)}
        d.server_info = info
        return protocol.ok(
            pid=os.getpid(),
            version=__version__,
            uptime=round(time.time() - d.started, 1),
            socket=d.socket_path,
            sessions=await d.keeper.kept(None, "unknown (the history database cannot be read now)", lambda: len(d.store.sessions())),
            base_url=d.settings.base_url,
            model=d.settings.model,
            server=info,
            overhead_ms=_percentiles(d.overhead_ms),
        )

    async def export(self, req: dict) -> dict:
        since = _parse_since(req.get("since"))
        return protocol.ok(conversations=training_conversations(await self.d.keeper.stored(self.d.store.corrections, since)))

    async def forward(self, req: dict) -> dict:
        """`shellper ssh` opens a listener for one connection (forward.py), open while it runs."""
        owner = req.get("owner", "")
        if not (owner.isascii() and owner.isdigit() and 0 < int(owner) <= 2**31):
            raise ShellperError("forward needs owner=PID (the `shellper ssh` process)")
        made = await self.d.forwards.add(int(owner))
        return protocol.ok(socket=made.socket, token=made.token, id=made.id)

    async def facts(self, req: dict) -> dict:
        return protocol.error("facts come only from a server's shell, through its forward (`shellper ssh`)", "bad_request")

    async def unforward(self, req: dict) -> dict:
        return protocol.ok(closed=await self.d.forwards.remove(req.get("id") or ""))

    async def stop(self, req: dict) -> dict:
        asyncio.get_running_loop().call_soon(self.d.stopping.set)
        return protocol.ok(pid=os.getpid())


def _percentiles(values) -> dict:
    """p50/p99 of the daemon's own time per translate, for benchmarks."""
    data = sorted(values)
    if not data:
        return {"count": 0}

    def pick(q):
        return round(data[min(len(data) - 1, int(q * len(data)))], 3)

    return {"count": len(data), "p50": pick(0.5), "p99": pick(0.99)}


def _parse_since(value):
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise ShellperError(f"--since {value!r} is not a date; give one like 2026-11-01") from None
