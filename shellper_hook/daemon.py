"""The daemon: per-terminal conversations behind a private Unix socket.

Lifecycle, framing, per-terminal locks and a table from operation to
handler. One asyncio loop serves every terminal; each connection carries one
request (see protocol.py). A translate request is one turn (turns.py: the
model, then parse, policy and render off the loop) between reading the
terminal's history and writing its pending suggestion; it is cancelled at
the backend when its client disconnects (the user pressed Ctrl-C).
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import logging
import os
import signal
import socket
import stat
import sys
import threading
import time

from . import __version__, paths, protocol, workers
from .errors import BackendTimeout, ShellperError, with_action
from .pipes import TerminalPipes
from .warmth import Warmth, watch_period

log = logging.getLogger("shellper.daemon")

READ_TIMEOUT = 5.0  # a client must send its request line within this
WRITE_TIMEOUT = 10.0  # and take its reply within this (a stuck reader would keep us awake forever)
CLEANUP_PERIOD = 600.0  # seconds between sweeps for sessions of exited shells
RELOAD_SPIKE = 3.0  # an answer slower than this (s) suggests the model was reloaded
EXIT_WAIT = 2.0  # seconds a stopping daemon waits for its threads (one may be stuck for good)
# The store works on a thread of its own. A lock held by another program fails a
# write after STORE_BUSY s; a translate waits STORE_WAIT s at most for the store,
# then goes on without the history; what the user asked of the store waits STORE_OP_WAIT.
STORE_BUSY = 0.05
STORE_WAIT = 0.5
STORE_OP_WAIT = 5.0


class AlreadyRunning(Exception):
    pass


class StoreUnavailable(ShellperError):
    kind = "store"
    action = "try again"


class _Trouble(Exception):
    """The store cannot do this now: kind is store.trouble()'s, or "slow"."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(kind)
        self.kind, self.detail = kind, detail


class Daemon:
    def __init__(self, settings, store, backend, socket_path: str | None = None, uid: int | None = None, config_seen=...):
        self.settings = settings
        self.store = store
        self.backend = backend
        self.socket_path = socket_path or paths.socket_path()
        self.uid = os.getuid() if uid is None else uid
        self.started = time.time()
        self.last_active = time.monotonic()
        self.active = 0
        self.server: asyncio.AbstractServer | None = None
        self.stopping: asyncio.Event | None = None
        self._locks: dict = {}
        self.warmth = Warmth(backend, settings)  # the server's prompt prefix, kept read
        self.shown: dict = {}  # session key -> turns.Shown: the suggestion on its prompt, for the check at Enter
        self._lockfile = None
        self._bg: set = set()
        self.server_info: dict = {}
        # Milliseconds each translate spent in the daemon itself (backend call excluded).
        self.overhead_ms: collections.deque = collections.deque(maxlen=2000)
        self._last_preload = float("-inf")
        # Where our settings came from, to compare with each requesting terminal's.
        self.origin = protocol.settings_origin(os.environ)
        # The config file as it was when the settings were read (_config_stamp), to notice a change.
        self._config_seen = _config_stamp(paths.config_file()) if config_seen is ... else config_seen
        self._asking: collections.Counter = collections.Counter()  # backend -> requests waiting for its answer
        self._retired: set = set()  # backends replaced by a reload, closed when no request waits for them
        self._idle_watching = False
        # bash's requests after its first (pipes.py); shellper.bash finds them by the same name.
        self.pipes = TerminalPipes(self.socket_path + ".pipes", self._answer_pipe)
        self._store = workers.Serial("shellper-store")
        self._said: set = set()  # store troubles told already (until a write succeeds again)
        self._due: list = []  # notes for the next translate's reply (from any thread)
        if getattr(store, "recovered_from", None):
            self._due.append(_damaged_note(store.recovered_from))
        if hasattr(store, "set_busy_timeout"):
            store.set_busy_timeout(STORE_BUSY)

    # ---- lifecycle -------------------------------------------------------

    def _take_lock(self) -> None:
        """Exactly one daemon per user: hold an exclusive lock for our lifetime."""
        paths.ensure_private_dir(paths.state_dir())
        fh = open(os.path.join(paths.state_dir(), "daemon.pid"), "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise AlreadyRunning("another shellper daemon is already running") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lockfile = fh

    def _bind(self) -> socket.socket:
        directory = os.path.dirname(self.socket_path)
        paths.ensure_private_dir(directory)
        try:
            st = os.lstat(self.socket_path)
        except FileNotFoundError:
            st = None
        if st is not None:
            if not stat.S_ISSOCK(st.st_mode):
                raise PermissionError(f"{self.socket_path} is not a socket; move it away and retry")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.settimeout(1.0)  # a live daemon with a full backlog must not block us
            try:
                probe.connect(self.socket_path)
            except ConnectionRefusedError:
                # Nobody listens: a crashed daemon's socket. Replace it.
                os.unlink(self.socket_path)
            except OSError as exc:  # busy (EAGAIN), timed out, not ours...: never delete a live one
                raise AlreadyRunning(f"{self.socket_path} is in use ({exc}); not replacing it") from None
            else:
                raise AlreadyRunning(f"a daemon already listens on {self.socket_path}")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is born 0600, no window where others can connect
        try:
            sock.bind(self.socket_path)
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        sock.listen(128)
        sock.setblocking(False)
        self._socket_ino = os.stat(self.socket_path).st_ino
        return sock

    async def start(self) -> None:
        self._take_lock()
        self.stopping = asyncio.Event()
        sock = self._bind()
        self.pipes.start()
        self.server = await asyncio.start_unix_server(self._handle, sock=sock, limit=protocol.MAX_REQUEST + 2)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self.stopping.set)
            except (NotImplementedError, RuntimeError):
                pass
        log.info("shellper daemon %s pid %d listening on %s", __version__, os.getpid(), self.socket_path)
        self._spawn(self._warm_up())
        period = watch_period()
        if period > 0:
            self._spawn(self.warmth.watch(period, lambda: self.active > 0, self._watch_eligible))
        self._spawn(self._cleanup_every(CLEANUP_PERIOD))
        self._idle_watching = self.settings.idle_exit > 0
        if self._idle_watching:
            self._spawn(self._idle_watch())

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await self.stopping.wait()
        finally:
            await self.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        self.pipes.close()
        try:
            if os.stat(self.socket_path).st_ino == self._socket_ino:
                os.unlink(self.socket_path)
        except (OSError, AttributeError):
            pass
        for task in list(self._bg):
            task.cancel()
        try:
            await self.backend.aclose()
        except Exception:  # closing must not fail the shutdown
            pass
        try:
            await self._store.run(EXIT_WAIT, self.store.close)
        except Exception as exc:  # a store stuck on a hung disk must not keep us running
            log.warning("the history database did not close: %s", exc)
        self._store.close()
        if self._lockfile is not None:
            self._lockfile.close()
        log.info("shellper daemon stopped")

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _warm_up(self) -> None:
        """Clean up dead shells' sessions, check the server, preload the model and
        have it read the prompt prefix every request shares."""
        try:
            removed = await self._store.run(None, self._guarded, self.store.cleanup)
            if removed:
                log.info("removed %d sessions of shells that exited", removed)
        except Exception as exc:  # the model's warm-up goes on without it
            log.warning("cleanup failed: %s", exc)
        await self._meet_server()

    async def _meet_server(self) -> None:
        """Check the server, preload the model and have the prompt prefix read (best effort)."""
        try:
            self.server_info = await self.backend.server_status()
            log.info("model server: %s", self.server_info.get("message"))
            info = self.server_info
            if info.get("model_present") and info.get("tools") is not False:
                if info.get("ollama"):
                    await self.backend.preload()
                await self._warm_cache()
        except Exception as exc:  # warm-up is best effort
            log.warning("warm-up failed: %s", exc)

    async def _warm_cache(self) -> None:
        await self.warmth.read("start" if not self.warmth.warm else "reload")

    def _watch_eligible(self) -> bool:
        """A server whose prefix a watch keeps read: one on this machine that is not Ollama
        (Ollama's model is kept loaded by preloads and unloaded on purpose after keep_alive)."""
        from .backend import is_local

        info = self.server_info
        return bool(info.get("model_present")) and not info.get("ollama") and is_local(self.settings.base_url)

    async def _reload(self) -> None:
        """Preload again; a reloaded model has lost its prompt cache, so warm that too."""
        if await self.backend.preload():
            await self._warm_cache()

    def _maybe_preload(self, seconds: float) -> None:
        """A slow answer from Ollama usually means the model was evicted and reloaded
        with the default 5-minute keep_alive (a /v1 request cannot set it): preload it
        again in the background, so it stays loaded for `keep_alive`."""
        now = time.monotonic()
        if seconds < RELOAD_SPIKE or now - self._last_preload < RELOAD_SPIKE * 10:
            return
        if not self.server_info.get("ollama"):
            return
        self._last_preload = now
        log.info("the model took %.1f s to answer; preloading it again (keep_alive %s)", seconds, self.settings.keep_alive)
        self._spawn(self._reload())

    async def _cleanup_every(self, period: float) -> None:
        """Forget the conversations of shells that have exited, now and then."""
        while True:
            await asyncio.sleep(period)
            try:
                removed = await self._store.run(None, self._guarded, self.store.cleanup)
            except Exception as exc:  # best effort; the next round tries again
                log.warning("cleanup failed: %s", exc)
                continue
            if removed:
                log.info("removed %d sessions of shells that exited", removed)
            self.pipes.sweep(_alive)
            # A lock can go only with its shell: a live shell may have a request waiting on it.
            for key in [k for k, lock in self._locks.items() if not lock.locked() and not _alive(k.pid)]:
                del self._locks[key]
            for key in [k for k in self.shown if not _alive(k.pid)]:
                del self.shown[key]

    async def _idle_watch(self) -> None:
        period = min(max(self.settings.idle_exit / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(period)
            idle = time.monotonic() - self.last_active
            if self.active == 0 and 0 < self.settings.idle_exit <= idle:
                log.info("idle for %.0f s, exiting", idle)
                self.stopping.set()
                return

    # ---- a changed config file ---------------------------------------------

    def _reread_settings(self) -> None:
        """Read the settings again when the config file changed since they were read (a stat
        per request): use them, and say so in the next reply (or why the file cannot be used)."""
        from .errors import SettingsError
        from .settings import KEYS, load

        path = paths.config_file()
        seen = _config_stamp(path)
        if seen == self._config_seen:
            return
        self._config_seen = seen  # (taken before reading: a change while we read is seen next time)
        try:
            new = load()
        except SettingsError as exc:
            log.warning("the config file changed but cannot be used (%s); keeping the settings the daemon had", exc)
            self._due.append(f"the changed config file is not used, so this daemon keeps its earlier settings: {exc}")
            return
        old = self.settings
        changed = [k.name for k in KEYS if getattr(new, k.name) != getattr(old, k.name)]
        self.settings = new
        self.origin = protocol.settings_origin(os.environ)
        if not changed:
            return
        if any(k in changed for k in ("base_url", "model", "api_key", "timeout")):
            self._use_backend(new)
        else:
            self.backend.settings = new  # (the prompt, max_turns, max_tokens, keep_alive are read at each request)
            self.warmth.use(self.backend, new, cold="system_prompt" in changed)  # a new prefix is read cold
        if hasattr(self.store, "collect_corrections") and {"collect_corrections", "corrections_days"} & set(changed):
            self._in_background(_keep_corrections, self.store, new)
        if new.idle_exit > 0 and not self._idle_watching and self.stopping is not None:
            self._idle_watching = True
            self._spawn(self._idle_watch())
        log.info("settings reloaded from %s (%s changed)", path, ", ".join(changed))
        self._due.append(f"settings reloaded from {path}")

    def _use_backend(self, settings) -> None:
        """A new backend for new server settings; the old one closes once no request uses it."""
        from .backend import Backend

        old = self.backend
        self.backend = Backend(settings)
        self.warmth.use(self.backend, settings, cold=True)
        self.server_info = {}
        self._retired.add(old)
        self._release(old, 0)
        if self.stopping is not None:
            self._spawn(self._meet_server())

    def _release(self, backend, uses: int = 1) -> None:
        """uses requests fewer wait for backend; a replaced one closes when none does."""
        self._asking[backend] -= uses
        if self._asking[backend] <= 0:
            del self._asking[backend]
            if backend in self._retired:
                self._retired.discard(backend)
                self._spawn(_close_backend(backend))

    # ---- the store, on a thread of its own ----------------------------------

    def _guarded(self, fn, *args):
        """fn(*args), on the store's thread; a store found damaged is moved aside
        (kept), a new one started, and fn tried once more."""
        from .store import trouble

        try:
            return fn(*args)
        except Exception as exc:
            if trouble(exc) != "damaged":
                raise
            log.warning("the history database is damaged (%s); starting a new one", exc)
        aside = self.store.start_over()
        log.warning("the damaged history database is kept as %s", aside)
        self._due.append(_damaged_note(aside))
        return fn(*args)

    async def _on_store(self, wait: float | None, fn, *args):
        """fn(*args) on the store's thread, waiting at most `wait` s; _Trouble when it cannot be done now."""
        from .store import trouble

        if wait is not None and self._store.stuck(wait):  # stuck on a hung disk: do not queue behind it
            raise _Trouble("slow")
        try:
            return await self._store.run(wait, self._guarded, fn, *args)
        except workers.Late:
            raise _Trouble("slow") from None
        except Exception as exc:
            kind = trouble(exc)
            if kind is None:
                raise
            raise _Trouble(kind, str(exc)) from None

    async def _stored(self, fn, *args):
        """fn(*args) for an operation the user asked for: a clear error when the store cannot do it now."""
        try:
            return await self._on_store(STORE_OP_WAIT, fn, *args)
        except _Trouble as exc:
            raise StoreUnavailable(f"{self._what(exc)}, so this could not be done") from None

    async def _kept(self, notes: list | None, default, fn, *args):
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

    def _what(self, exc: _Trouble) -> str:
        where = self.store.path if hasattr(self.store, "path") else "the history database"
        return {
            "full": "the disk is full",
            "locked": f"another program holds shellper's history database ({where}) locked",
            "slow": f"shellper's history database ({where}) does not answer",
            "unopened": f"shellper's history database could not be opened ({exc.detail})",
        }.get(exc.kind, f"shellper's history database ({where}) cannot be used ({exc.detail})")

    def _in_background(self, fn, *args) -> None:
        """fn(*args) on the store's thread, in its turn; nobody waits for it."""
        if self._store.stuck(STORE_WAIT):
            return
        done = self._store.submit(self._guarded, fn, *args)
        done.add_done_callback(lambda f: f.exception() and log.warning("history: %s", f.exception()))

    # ---- one connection ----------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        self.last_active = time.monotonic()
        try:
            reply = await self._serve_one(reader, writer)
            if reply is not None:
                writer.write(reply)
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except asyncio.TimeoutError:
            log.warning("a client did not read its reply within %.0f s; dropped", WRITE_TIMEOUT)
            writer.transport.abort()  # close() would wait for the unsent bytes
        except Exception:  # one bad request must never kill the daemon
            log.exception("unexpected error while serving a request")
        finally:
            self.active -= 1
            self.last_active = time.monotonic()
            writer.close()
            try:
                await writer.wait_closed()
            except (Exception, asyncio.CancelledError):  # shutting down: the reply went out already
                pass

    async def _serve_one(self, reader, writer) -> bytes | None:
        sock = writer.get_extra_info("socket")
        uid = protocol.peer_uid(sock) if sock is not None else None
        stranger = uid is not None and uid != self.uid
        try:
            data = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT)
        except asyncio.TimeoutError:
            return protocol.nul_reply(protocol.error(f"no whole request within {READ_TIMEOUT:.0f} s; try again", "bad_request"))
        except ValueError:
            return protocol.nul_reply(protocol.error(protocol.TOO_LARGE, "bad_request"))
        if stranger:
            # Refused after reading the request, so the reply is not lost to a reset.
            log.warning("refused a connection from uid %d", uid)
            denied = protocol.error(
                "permission denied: this daemon serves another user; use your own: set XDG_RUNTIME_DIR to a directory of yours",
                "denied",
            )
            return protocol.encode(denied) if protocol.wants_json(data) else protocol.nul_reply(denied)
        if not data:
            return None
        return await self._answer(data, lambda req: self._translate_unless_gone(req, reader))

    async def _answer(self, data: bytes, translate, pipe: int | None = None) -> bytes | None:
        """The reply to one request; translate(req) runs a translation (None:
        cancelled, no reply). pipe: the PID whose pipe the request came on,
        which takes only that terminal's translate and check requests. Replies
        to translate and check are NUL fields unless the request asks for JSON;
        the others are JSON."""
        try:
            req = protocol.decode_request(data)
            if pipe is not None and (req["op"] not in ("translate", "check") or req["session"] != pipe):
                raise protocol.ProtocolError(f"terminal {pipe}'s pipe takes only its own translate and check requests")
        except protocol.ProtocolError as exc:
            reply = protocol.error(with_action(str(exc), protocol.MISMATCH) if exc.mismatch else str(exc), "bad_request")
            return protocol.encode(reply) if protocol.wants_json(data) else protocol.nul_reply(reply)
        nul = req["op"] in ("translate", "check") and req.get("reply") != "json"
        try:
            if req["op"] == "translate":
                if req["pipes"] and pipe is None and _alive(req["session"]):
                    self.pipes.add(req["session"])  # its next requests come that way
                reply = await translate(req)
                if reply is None:
                    return None
            else:
                reply = await self._dispatch(req)
        except ShellperError as exc:
            reply = protocol.error(str(exc), exc.kind)
        except ProcessLookupError as exc:
            reply = protocol.error(with_action(str(exc), "ask from a running shell, or give the PID of one (`echo $$`)"), "session")
        except Exception as exc:  # a bug must cost one request, never the daemon
            log.exception("unexpected error while serving %s", req["op"])
            reply = protocol.error(
                f"internal error in the shellper daemon ({type(exc).__name__}); try again; if it happens again, see {paths.log_file()}",
                "internal",
            )
        if req["op"] == "translate" and not reply.get("ok"):
            other = self._other_settings(req.get("settings"))
            if other:  # the error may well come from those settings
                reply["error"] = f"{reply['error']}; also, {other}"
        return protocol.nul_reply(reply) if nul else protocol.encode(reply)

    async def _answer_pipe(self, pid: int, line: bytes) -> bytes | None:
        """A request that came on terminal pid's pipe (pipes.py); cancelled by its next line."""
        self.active += 1
        self.last_active = time.monotonic()
        try:
            return await self._answer(line, self._translate, pipe=pid)
        finally:
            self.active -= 1
            self.last_active = time.monotonic()

    async def _translate_unless_gone(self, req, reader) -> dict | None:
        """Run a translation, cancelling it if the client hangs up first."""
        work = asyncio.ensure_future(self._translate(req))
        gone = asyncio.ensure_future(reader.read(1))
        try:
            while True:
                done, _ = await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
                if work in done:
                    return work.result()
                if gone.result() == b"":
                    work.cancel()
                    log.info("client of session %s hung up; request cancelled", req["session"])
                    try:
                        await work
                    except (asyncio.CancelledError, Exception):
                        pass
                    return None
                gone = asyncio.ensure_future(reader.read(1))  # stray bytes after the request
        finally:
            gone.cancel()

    def _key(self, pid: int):
        from .store import session_key

        try:
            return session_key(pid)
        except ProcessLookupError:
            raise ProcessLookupError(f"no shell with PID {pid} is running") from None

    async def _translate(self, req: dict) -> dict:
        from . import turns

        started = time.perf_counter()
        self._reread_settings()
        key = self._key(req["session"])
        lock = self._locks.setdefault(key, asyncio.Lock())
        keyed = time.perf_counter()
        model_seconds = 0.0

        async def ask(history, request):
            nonlocal model_seconds
            deadline, said = await self.warmth.before()  # a warm-up under way is waited for, not raced
            notes.extend(said)
            asked = time.perf_counter()
            answered = False
            backend = self.backend
            self._asking[backend] += 1
            try:
                message = await backend.ask(history, request, timeout=deadline)
                answered = True
                return message
            except BackendTimeout as exc:
                raise self.warmth.timed_out(exc, deadline) from None
            finally:
                self._release(backend)
                model_seconds = time.perf_counter() - asked
                notes.extend(self.warmth.after(model_seconds, answered))

        notes: list = []  # what the user should know about the history, and a cold start
        async with lock:  # one terminal's requests never interleave
            waited = time.perf_counter()
            history = await self._kept(notes, [], self._turns_of, key)
            try:
                s = await turns.suggest(
                    ask,
                    history,
                    req["text"],
                    req["cwd"],
                    req.get("shell", "bash"),
                    self.settings.allow_recursive,
                    cdpath=_cdpath(req),
                )
            except BaseException:
                # The earlier suggestion is off the prompt: a report of the next line must not settle it.
                self.shown.pop(key, None)
                self._in_background(self.store.drop_pending, key)
                raise
            self._maybe_preload(model_seconds)
            # set_pending replaces the earlier suggestion.
            keep = self.store.add_exchange if req.get("commit") else self.store.set_pending
            if await self._kept(notes, False, lambda *a: keep(*a) or True, key, s.request, s.call, s.command):
                self._said -= {"full", "locked", "slow", "io"}  # writes work again: say it anew next time
            # What Enter judges again (check): the suggestion as it was shown.
            self.shown[key] = turns.Shown(s.command, s.call, s.effect, tuple(s.warnings))
        own = (time.perf_counter() - started) - (waited - keyed) - model_seconds
        self.overhead_ms.append(own * 1000)
        while self._due:
            notes.append(self._due.pop(0))
        warnings = list(s.warnings) + notes
        other = self._other_settings(req.get("settings"))
        if other:
            warnings.append(other)
        return protocol.ok(command=s.command, call=s.call.to_dict(), warnings=warnings, effect=s.effect)

    def _turns_of(self, key) -> list:
        return [(ex.request, ex.call) for ex in self.store.history(key, self.settings.max_turns)]

    def _other_settings(self, origin) -> str | None:
        """One line when the requesting terminal's settings are not the ones we started with."""
        if not isinstance(origin, dict):
            return None  # a client that does not say
        origin = {name: protocol.as_utf8(value) for name, value in origin.items()}
        differ = [n for n in (*protocol.SETTINGS_ENV, "config") if origin.get(n) != self.origin.get(n)]
        if not differ:
            return None
        names = ", ".join("the config file" if n == "config" else n for n in differ)
        return (
            f"this daemon started with other settings (this terminal's {names} differ{'s' if len(differ) == 1 else ''}): "
            f"it uses model '{self.settings.model}' at {self.settings.base_url}; "
            "run `shellper stop` and ask again to use this terminal's settings"
        )

    # ---- the other operations: one handler each (translate is served above) ----

    async def _dispatch(self, req: dict) -> dict:
        handler = {
            "ping": self._ping,
            "check": self._check,
            "executed": self._executed,
            "commit": self._commit,
            "history": self._history,
            "reset": self._reset,
            "closed": self._closed,
            "status": self._status,
            "export": self._export,
            "stop": self._stop,
        }.get(req["op"])
        if handler is None:  # pragma: no cover - protocol.OPS is closed
            raise ShellperError(f"operation {req['op']!r} not handled")
        return await handler(req)

    async def _ping(self, req: dict) -> dict:
        return protocol.ok(pid=os.getpid(), version=__version__)

    async def _check(self, req: dict) -> dict:
        """Enter is about to run a line: when it is the suggestion, judge it again on the
        files as they are now (in a worker with a deadline, like every look)."""
        from . import turns, workers

        try:
            key = self._key(req["session"])
        except ProcessLookupError:
            return protocol.ok(changed=False, lines=[])
        shown = self.shown.get(key)
        if shown is None or req["command"].strip() != shown.command.strip():
            return protocol.ok(changed=False, lines=[])
        again = await workers.look(
            turns.recheck, shown, req["command"], req["cwd"], req.get("shell", "bash"), self.settings.allow_recursive, None, _cdpath(req)
        )
        if again.refused:  # (kept: every Enter on it is refused while the files stay so)
            return protocol.error(again.refused, "refused")
        if again.changed:  # shown now as it is: a second Enter runs it
            self.shown[key] = turns.Shown(shown.command, shown.call, again.lines[1], tuple(again.lines[2:]))
        return protocol.ok(changed=again.changed, lines=list(again.lines))

    async def _executed(self, req: dict) -> dict:
        """The line the shell ran after a suggestion: settle it (turns decides, the store writes)."""
        from . import turns

        try:
            key = self._key(req["session"])
        except ProcessLookupError:
            return protocol.ok(recorded="none")
        line, shell = req["command"], req.get("shell", "bash")
        self.shown.pop(key, None)  # the suggestion has run (or was passed over)
        async with self._locks.setdefault(key, asyncio.Lock()):
            recorded = await self._kept(
                None, "none", self.store.settle, key, lambda pending: turns.settle(pending, line, shell), req.get("status")
            )
        return protocol.ok(recorded=recorded)

    async def _commit(self, req: dict) -> dict:
        from . import turns

        key = self._key(req["session"])
        recorded = await self._stored(self.store.settle, key, turns.accept)
        return protocol.ok(recorded="committed" if recorded != "none" else "none")

    async def _history(self, req: dict) -> dict:
        key = self._key(req["session"])

        def read():
            pending = self.store.pending(key)
            return protocol.ok(
                exchanges=[ex.to_dict() for ex in self.store.history(key)],
                pending=None if pending is None else pending.to_dict(),
            )

        return await self._stored(read)

    async def _reset(self, req: dict) -> dict:
        if req.get("all") is True:
            # The locks stay: a translation in flight must still hold its
            # terminal's (the periodic cleanup drops unused ones).
            return protocol.ok(removed=await self._stored(self.store.reset_all))
        return protocol.ok(removed=await self._stored(self.store.reset, self._key(req["session"])))

    async def _closed(self, req: dict) -> dict:
        """A shell's exit hook: forget its conversation now, not at the next sweep.

        bash sends it from a background client, so the shell may be gone
        already; then every session stored under that PID is of a dead shell."""
        from .store import SessionKey

        pid = req["session"]
        try:
            key = self._key(pid)
        except ProcessLookupError:
            key = None
        self.pipes.drop(pid)
        for gone in [k for k in self.shown if k.pid == pid]:
            del self.shown[gone]

        def forget_dead() -> int:
            removed = 0
            for s in self.store.sessions():  # sessions of dead shells that had this PID
                if s["pid"] == pid and (key is None or round(s["start"] * 100) != round(key.start * 100)):
                    removed += self.store.reset(SessionKey(pid, s["start"]))
            return removed

        removed = await self._kept(None, 0, forget_dead)
        if key is not None:  # (its lock goes with the periodic sweep, once the shell is gone)
            async with self._locks.setdefault(key, asyncio.Lock()):
                removed += await self._kept(None, 0, self.store.reset, key)
        return protocol.ok(removed=removed)

    async def _status(self, req: dict) -> dict:
        self._reread_settings()  # (`shellper doctor` asks this first: it shows the settings in use)
        info = await self.backend.server_status()
        self.server_info = info
        return protocol.ok(
            pid=os.getpid(),
            version=__version__,
            uptime=round(time.time() - self.started, 1),
            socket=self.socket_path,
            sessions=await self._kept(None, "unknown (the history database cannot be read now)", lambda: len(self.store.sessions())),
            base_url=self.settings.base_url,
            model=self.settings.model,
            server=info,
            overhead_ms=_percentiles(self.overhead_ms),
        )

    async def _export(self, req: dict) -> dict:
        from .export import training_conversations

        since = _parse_since(req.get("since"))
        return protocol.ok(conversations=training_conversations(await self._stored(self.store.corrections, since)))

    async def _stop(self, req: dict) -> dict:
        asyncio.get_running_loop().call_soon(self.stopping.set)
        return protocol.ok(pid=os.getpid())


# What a translate says when the store could not keep its history.
_NOT_KEPT = {
    "full": "shellper keeps no history until there is room, so follow-up requests lack context; free some space",
    "locked": "this suggestion is not kept in the terminal's history",
    "slow": "history is not kept until it does",
    "io": "history is not kept until it can be",
    "damaged": "history is not kept until it can be",
    "unopened": "no history is kept until the daemon restarts (`shellper stop`; the next request starts it)",
}


def _damaged_note(aside: str) -> str:
    return f"shellper's history database was damaged: it is kept as {aside}, and a new one was started"


def _config_stamp(path: str):
    """What tells a changed config file: its inode, size and times (None: there is none)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _keep_corrections(store, settings) -> None:
    store.corrections_days = float(settings.corrections_days)
    store.collect_corrections = bool(settings.collect_corrections) and store.corrections_days > 0


async def _close_backend(backend) -> None:
    try:
        await backend.aclose()
    except Exception:  # a replaced backend's closing must cost nothing
        pass


def _cdpath(req: dict) -> str | None:
    """The shell's CDPATH when it sent one (cd may go there instead); None: the daemon's own."""
    value = req.get("cdpath")
    return value if isinstance(value, str) else None


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """One whole request (protocol.request_end), or what came before the client
    closed; ValueError past MAX_REQUEST."""
    data = b""
    while True:
        end = protocol.request_end(data)
        if end is not None:
            return data[:end]
        if len(data) > protocol.MAX_REQUEST:
            raise ValueError("too large")
        chunk = await reader.read(65536)
        if not chunk:
            return data
        data += chunk


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    from datetime import datetime

    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise ShellperError(f"--since {value!r} is not a date; give one like 2026-11-01") from None


def main(argv=None) -> int:
    """Run the daemon in the foreground (what `shellper daemon` and auto-start call)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    from .settings import load

    seen = _config_stamp(paths.config_file())  # before reading it: a change while we read is seen at the next request
    try:
        settings = load()
    except ShellperError as exc:
        log.error("%s", exc)
        return 1
    from .backend import Backend
    from .store import SessionStore, StoreError, Unopened

    paths.ensure_private_dir(paths.state_dir())  # without it no daemon can run: that error is the caller's to say
    try:
        store = SessionStore(collect_corrections=settings.collect_corrections, corrections_days=settings.corrections_days)
    except StoreError as exc:  # the file: suggestions still come, without history (the first reply says so)
        log.error("%s", exc)
        store = Unopened(paths.store_file(), str(exc))
    daemon = Daemon(settings, store, Backend(settings), config_seen=seen)
    try:
        _run(daemon.serve_forever())
    except AlreadyRunning as exc:
        log.info("%s; exiting", exc)
        return 0
    except PermissionError as exc:
        log.error("%s", exc)
        return 1
    _exit_despite_stuck_threads()
    return 0


def _run(main) -> None:
    """asyncio.run(main), except that it waits at most EXIT_WAIT for the default
    executor's threads: asyncio.run would wait for good on one stuck in a read."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main)
    finally:
        try:
            rest = asyncio.all_tasks(loop)
            for task in rest:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), EXIT_WAIT))
        except asyncio.TimeoutError:
            log.warning("a thread did not finish within %.0f s of stopping; leaving it", EXIT_WAIT)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _exit_despite_stuck_threads() -> None:
    """Exit now if a thread that is not a daemon one is still running (stuck in a
    read that never returns): the interpreter would wait for it for good."""
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        log.warning("a thread is stuck; exiting without it")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
