"""A listener of its own for each `shellper ssh` connection: a server's shell asks through it.

Requests that come this way are untrusted. Each forward has its own socket (0600, in the
runtime folder), its own token (every request must carry it), its own conversations (kept in
memory, never in the laptop's history, gone with the forward), a size limit per request and a
rate limit, and serves only translate and facts. Nothing of the laptop's file system is looked
at for them: the server's shell sends the facts (remote.py). A forward closes when `shellper
ssh` asks, or when the process that opened it is gone.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import secrets
import time

from . import errors, paths, protocol, remote, turns, workers
from .errors import ShellperError
from .parser import parse_message
from .render import to_shell

log = logging.getLogger("shellper.forward")

MAX_FORWARDS = 16
RATE = 4.0  # requests a second, on average
BURST = 12
PENDING_FOR = 60.0  # seconds a server's shell has to send the facts it was asked for
READ_TIMEOUT = 10.0


class Forward:
    def __init__(self, daemon, owner: int):
        self.d = daemon
        self.owner = owner
        self.id = secrets.token_hex(8)
        self.token = secrets.token_hex(16)
        self.socket = os.path.join(paths.runtime_dir(), f"fwd-{self.id}.sock")
        self.history: dict = {}  # the server shell's PID -> [(request, call)]
        self.pending: dict = {}  # id -> (call, request, pid, expiry)
        self._allowance, self._checked = float(BURST), time.monotonic()
        self.server = None

    async def start(self) -> None:
        old = os.umask(0o177)  # made 0600, never wider for an instant
        try:
            self.server = await asyncio.start_unix_server(self._handle, path=self.socket, limit=protocol.MAX_REQUEST + 2)
        finally:
            os.umask(old)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        try:
            os.unlink(self.socket)
        except OSError:
            pass

    def _rate_ok(self) -> bool:
        now = time.monotonic()
        self._allowance = min(BURST, self._allowance + (now - self._checked) * RATE)
        self._checked = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    async def _handle(self, reader, writer) -> None:
        try:
            reply = await self._serve(reader, writer)
            writer.write(protocol.nul_reply(reply) if "fields" not in reply else _fields(reply["fields"]))
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
        except (ConnectionError, asyncio.TimeoutError, asyncio.CancelledError):
            pass
        except Exception:  # a bad request costs itself only
            log.exception("forward %s: unexpected error", self.id)
        finally:
            writer.close()

    async def _serve(self, reader, writer) -> dict:
        sock = writer.get_extra_info("socket")
        uid = protocol.peer_uid(sock) if sock is not None else None
        if uid is not None and uid != self.d.uid:
            return protocol.error("permission denied", "denied")
        try:
            data = await asyncio.wait_for(protocol.read_request(reader), READ_TIMEOUT)
            req = protocol.decode_request(data)
        except (asyncio.TimeoutError, protocol.ProtocolError, ValueError) as exc:
            return protocol.error(f"bad request: {errors.one_line(exc, 120)}", "bad_request")
        if not hmac.compare_digest(req.get("token", ""), self.token):
            return protocol.error("this forward does not know that token", "denied")
        if not self._rate_ok():
            return protocol.error("too many requests from the server; wait a moment", "busy")
        if "session" not in req:
            return protocol.error("a request needs the shell's PID", "bad_request")
        try:
            if req["op"] == "translate":
                return await self._translate(req)
            if req["op"] == "facts":
                return await self._facts(req)
        except ShellperError as exc:
            return protocol.error(str(exc), exc.kind)
        return protocol.error(f"{req['op']} is not served to a server's shell", "denied")

    async def _translate(self, req: dict) -> dict:
        d = self.d
        home = req["env"].get("HOME", "")
        if not home.startswith("/") or not req["cwd"].startswith("/"):
            return protocol.error("the server's shell must say its folder and HOME", "bad_request")
        reach = turns.out_of_reach(req["text"])
        if reach:  # (the general model and undo are not served to a server's shell yet)
            return protocol.error(
                f"{reach[0]} is outside what shellper's model does: it knows only 18 file commands; run {reach[1]} yourself",
                "out_of_reach",
            )
        d.wake()
        await d.backend_ready()
        earlier = self.history.get(req["session"], [])[-d.settings.max_turns :] if d.settings.max_turns else []
        with d.using_backend() as backend:
            message = await backend.ask(earlier, req["text"])
        call = await workers.look(parse_message, message)
        to_shell(call, req["shell"], d.settings.allow_recursive)  # (WrongType: refused before asking the server)
        ask_id = secrets.token_hex(8)
        self.pending = {k: v for k, v in self.pending.items() if v[3] > time.monotonic()}
        self.pending[ask_id] = (call, req["text"], req["session"], time.monotonic() + PENDING_FOR, home)
        wanted = remote.wanted(call, os.path.normpath(req["cwd"]), os.path.normpath(home))
        return {"fields": ["facts", ask_id, *(f"{p}{remote.SEP}{1 if deep else 0}" for p, deep in wanted)]}

    async def _facts(self, req: dict) -> dict:
        found = self.pending.pop(req["text"], None)
        if found is None or found[2] != req["session"] or found[3] < time.monotonic():
            return protocol.error("the server's shell answered a question shellper did not ask (or too late); ask again", "bad_request")
        call, request, pid, _, home = found
        seen = remote.facts(req.get("facts", []))
        cwd = os.path.normpath(req["cwd"])
        verdict = await workers.look(
            remote.judge, call, cwd, os.path.normpath(home), req["shell"], seen, self.d.settings.allow_recursive, paths.runtime_dir()
        )
        earlier = self.history.setdefault(pid, [])
        earlier.append((request, call))  # (a server's shell does not report what ran: the suggestion counts)
        del earlier[:-50]
        return protocol.ok(command=verdict.command, call=call.to_dict(), warnings=list(verdict.warnings), effect=verdict.effect)


def _fields(fields: list) -> bytes:
    return "\0".join(f.replace("\0", "") for f in fields).encode("utf-8") + b"\0"


class Forwards:
    """The daemon's forwards: opened for `shellper ssh`, closed by it or when its process is gone."""

    def __init__(self, daemon):
        self.d = daemon
        self.open: dict = {}

    async def add(self, owner: int) -> Forward:
        if len(self.open) >= MAX_FORWARDS:
            raise ShellperError(f"{MAX_FORWARDS} ssh connections already have a forward; close one")
        forward = Forward(self.d, owner)
        await forward.start()
        self.open[forward.id] = forward
        return forward

    async def remove(self, forward_id: str) -> bool:
        forward = self.open.pop(forward_id, None)
        if forward is None:
            return False
        await forward.close()
        return True

    async def sweep(self, alive) -> None:
        for forward_id in [i for i, f in self.open.items() if not alive(f.owner)]:
            await self.remove(forward_id)

    async def close(self) -> None:
        for forward_id in list(self.open):
            await self.remove(forward_id)
