"""The daemon: per-terminal conversations behind a private Unix socket.

Lifecycle, framing and per-terminal locks; the operations are in ops.py,
the store on its thread in keeper.py, the sweeps in sweeps.py, the model kept
warm in warmth.py. One asyncio loop serves every terminal; each connection carries one
request (see protocol.py). A translate request is one turn (turns.py: the
model, then parse, policy and render off the loop) between reading the
terminal's history and writing its pending suggestion; it is cancelled at
the backend when its client disconnects (the user pressed Ctrl-C).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import importlib
import logging
import os
import signal
import socket
import stat
import sys
import threading
import time

from . import __version__, paths, protocol, sweeps, undo
from .errors import ShellperError, with_action
from .forward import Forwards
from .keeper import Keeper
from .ops import Ops
from .pipes import TerminalPipes
from .undo_store import UndoStore
from .warmth import Warmth, watch_period

log = logging.getLogger("shellper.daemon")

READ_TIMEOUT = 5.0  # a client must send its request line within this
WRITE_TIMEOUT = 10.0  # and take its reply within this (a stuck reader would keep us awake forever)
CLEANUP_PERIOD = 600.0  # seconds between sweeps for sessions of exited shells
RELOAD_SPIKE = 3.0  # an answer slower than this (s) suggests the model was reloaded
EXIT_WAIT = 2.0  # seconds a stopping daemon waits for its threads (one may be stuck for good)


class AlreadyRunning(Exception):
    pass


class Daemon:
    def __init__(self, settings, store, backend, socket_path: str | None = None, uid: int | None = None, config_seen=..., lazy=False):
        self.settings = settings
        self.store = store
        self.backend = backend  # None: made once the socket listens (importing openai takes about a second)
        self._backend_ready: asyncio.Event | None = None
        self._backend_failed: str | None = None
        # Started by a prompt after the daemon exited: the model server is left alone (no
        # preload, no warm-up) until a translate comes, so an idle exit is not undone.
        self.lazy = lazy
        self.socket_path = socket_path or paths.socket_path()
        self.uid = os.getuid() if uid is None else uid
        self.started = time.time()
        self.last_active = time.monotonic()
        self.active = 0
        self.server: asyncio.AbstractServer | None = None
        self.stopping: asyncio.Event | None = None
        self.locks: dict = {}  # session key -> its asyncio.Lock: one terminal's requests never interleave
        self.warmth = Warmth(backend, settings)  # the server's prompt prefix, kept read
        self.shown: dict = {}  # session key -> turns.Shown (or undo's Shown): what is on its prompt, for the check at Enter
        self.undo = UndoStore(paths.undo_dir())
        self.forwards = Forwards(self)  # one listener per `shellper ssh` connection
        self.keeping: dict = {}  # session key -> the change kept at Enter, until the shell says what ran
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
        self.due: list = []  # notes for the next translate's reply (from any thread)
        self.keeper = Keeper(store, self.due.append)
        self.ops = Ops(self)

    def undo_limits(self) -> undo.Limits:
        return undo.Limits(self.settings.undo_days, self.settings.undo_max_mb << 20, self.undo.root)

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
        self._backend_ready = asyncio.Event()
        self._spawn(self._warm_up())
        period = watch_period()
        if period > 0:
            self._spawn(self.warmth.watch(period, lambda: self.active > 0, self._watch_eligible))
        self._spawn(sweeps.cleanup_every(self, CLEANUP_PERIOD))
        self._idle_watching = self.settings.idle_exit > 0
        if self._idle_watching:
            self._spawn(sweeps.idle_watch(self))

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
        await self.forwards.close()
        try:
            if self.backend is not None:
                await self.backend.aclose()
        except Exception:  # closing must not fail the shutdown
            pass
        await self.keeper.close(EXIT_WAIT)
        if self._lockfile is not None:
            self._lockfile.close()
        log.info("shellper daemon stopped")

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _make_backend(self) -> None:
        """The backend, its module imported on a thread while the socket already serves:
        a shell that started the daemon at its prompt has it ready by its first Ctrl-G,
        and the requests that need no model are answered meanwhile."""
        try:
            if self.backend is None:
                module = await asyncio.get_running_loop().run_in_executor(None, importlib.import_module, "shellper_hook.backend")
                self.backend = module.Backend(self.settings)
                self.warmth.use(self.backend, self.settings, cold=False)
        except Exception as exc:  # (openai missing or broken): every translate says so
            log.exception("the model client could not be loaded")
            self._backend_failed = f"the model client could not be loaded ({type(exc).__name__}: {exc}); reinstall shellper (./install.sh)"
        self._backend_ready.set()

    async def backend_ready(self):
        """The backend, once made (ShellperError if it cannot be)."""
        if self._backend_ready is not None:
            await self._backend_ready.wait()
        if self._backend_failed:
            raise ShellperError(self._backend_failed)
        return self.backend

    async def _warm_up(self) -> None:
        """Make the backend, clean up dead shells' sessions, check the server, preload the
        model and have it read the prompt prefix every request shares."""
        await self._make_backend()
        if self._backend_failed:
            return
        try:
            removed = await self.keeper.run(None, self.store.cleanup)
            if removed:
                log.info("removed %d sessions of shells that exited", removed)
        except Exception as exc:  # the model's warm-up goes on without it
            log.warning("cleanup failed: %s", exc)
        await sweeps.prune_undo(self)
        if not self.lazy:
            await self._meet_server()

    def wake(self) -> None:
        """A translate came to a lazy daemon: now check the server and warm it up."""
        if self.lazy:
            self.lazy = False
            self._spawn(self._meet_server())

    async def _meet_server(self) -> None:
        """Check the server, preload the model and have the prompt prefix read (best effort)."""
        try:
            await self.backend_ready()
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

    def maybe_preload(self, seconds: float) -> None:
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

    # ---- a changed config file ---------------------------------------------

    def reread_settings(self) -> None:
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
            self.due.append(f"the changed config file is not used, so this daemon keeps its earlier settings: {exc}")
            return
        old = self.settings
        changed = [k.name for k in KEYS if getattr(new, k.name) != getattr(old, k.name)]
        self.settings = new
        self.origin = protocol.settings_origin(os.environ)
        if not changed:
            return
        if any(k in changed for k in ("base_url", "model", "api_key", "timeout")):
            self._use_backend(new)
        elif self.backend is not None:
            self.backend.settings = new  # (the prompt, max_turns, max_tokens, keep_alive are read at each request)
            self.warmth.use(self.backend, new, cold="system_prompt" in changed)  # a new prefix is read cold
        if hasattr(self.store, "collect_corrections") and {"collect_corrections", "corrections_days"} & set(changed):
            self.keeper.in_background(_keep_corrections, self.store, new)
        if new.idle_exit > 0 and not self._idle_watching and self.stopping is not None:
            self._idle_watching = True
            self._spawn(sweeps.idle_watch(self))
        log.info("settings reloaded from %s (%s changed)", path, ", ".join(changed))
        self.due.append(f"settings reloaded from {path}")

    def _use_backend(self, settings) -> None:
        """A new backend for new server settings; the old one closes once no request uses it."""
        from .backend import Backend  # (not at the top: openai takes a second; see _make_backend)

        old = self.backend
        if old is None:  # not made yet: _make_backend makes it with these settings
            return
        self.backend = Backend(settings)
        self.warmth.use(self.backend, settings, cold=True)
        self.server_info = {}
        self._retired.add(old)
        self._release(old, 0)
        if self.stopping is not None:
            self._spawn(self._meet_server())

    @contextlib.contextmanager
    def using_backend(self):
        """The backend for one model call; one replaced meanwhile closes once no call uses it."""
        backend = self.backend
        self._asking[backend] += 1
        try:
            yield backend
        finally:
            self._release(backend)

    def _release(self, backend, uses: int = 1) -> None:
        self._asking[backend] -= uses
        if self._asking[backend] <= 0:
            del self._asking[backend]
            if backend in self._retired:
                self._retired.discard(backend)
                self._spawn(_close_backend(backend))

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
            data = await asyncio.wait_for(protocol.read_request(reader), READ_TIMEOUT)
        except asyncio.TimeoutError:
            return protocol.nul_reply(protocol.error(f"no whole request within {READ_TIMEOUT:.0f} s; try again", "bad_request"))
        except protocol.TooLarge as exc:
            large = protocol.error(protocol.TOO_LARGE, "bad_request")
            return protocol.encode(large) if protocol.wants_json(exc.start) else protocol.nul_reply(large)
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
                if req["pipes"] and pipe is None and sweeps.alive(req["session"]):
                    self.pipes.add(req["session"])  # its next requests come that way
                reply = await translate(req)
                if reply is None:
                    return None
            else:
                reply = await self.ops.table[req["op"]](req)
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
            other = self.other_settings(req.get("settings"))
            if other:  # the error may well come from those settings
                reply["error"] = f"{reply['error']}; also, {other}"
        return protocol.nul_reply(reply) if nul else protocol.encode(reply)

    async def _answer_pipe(self, pid: int, line: bytes) -> bytes | None:
        """A request that came on terminal pid's pipe (pipes.py); cancelled by its next line."""
        self.active += 1
        self.last_active = time.monotonic()
        try:
            return await self._answer(line, self.ops.translate, pipe=pid)
        finally:
            self.active -= 1
            self.last_active = time.monotonic()

    async def _translate_unless_gone(self, req, reader) -> dict | None:
        """Run a translation, cancelling it if the client hangs up first."""
        work = asyncio.ensure_future(self.ops.translate(req))
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

    def other_settings(self, origin) -> str | None:
        """One line when the requesting terminal's settings are not the ones we started with."""
        if not isinstance(origin, dict):
            return None  # a client that does not say
        origin = {name: protocol.as_utf8(value) for name, value in origin.items()}
        differ = [n for n in (*protocol.settings_names(), "config") if origin.get(n) != self.origin.get(n)]
        if not differ:
            return None
        names = ", ".join("the config file" if n == "config" else n for n in differ)
        return (
            f"this daemon started with other settings (this terminal's {names} differ{'s' if len(differ) == 1 else ''}): "
            f"it uses model '{self.settings.model}' at {self.settings.base_url}; "
            "run `shellper stop` and ask again to use this terminal's settings"
        )


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
    from .store import SessionStore, StoreError, Unopened

    paths.ensure_private_dir(paths.state_dir())  # without it no daemon can run: that error is the caller's to say
    try:
        store = SessionStore(collect_corrections=settings.collect_corrections, corrections_days=settings.corrections_days)
    except StoreError as exc:  # the file: suggestions still come, without history (the first reply says so)
        log.error("%s", exc)
        store = Unopened(paths.store_file(), str(exc))
    daemon = Daemon(settings, store, None, config_seen=seen, lazy="--lazy" in (sys.argv[1:] if argv is None else argv))
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
