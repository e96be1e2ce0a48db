"""The session store: rows of each terminal's conversation, on disk. Rows only:
what a line means is decided in turns.py; this module reads and writes.

A session is one shell process, keyed by (PID, process start time) so a
recycled PID never inherits another shell's history. Only exchanges the
user actually ran are history; the latest unanswered suggestion is the
session's single "pending" row until the shell reports what it ran
(settle()). Corrections (an edited suggestion, for retraining) are kept for
corrections_days unless collect_corrections is off. The schema grows by
append-only migrations.

SQLite (stdlib) in WAL mode. Only the daemon imports this module, so psutil
is allowed here.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import stat
import threading
import time
from dataclasses import dataclass

import psutil

from . import paths
from .errors import ShellperError
from .tools import ToolCall

BUSY_TIMEOUT = 5.0  # seconds another process may hold the write lock
# A correction keeps this many earlier exchanges: more than the model is ever
# shown, and it bounds the row size in very long sessions.
CORRECTION_HISTORY = 20
CORRECTIONS_DAYS = 90  # how long a correction is kept unless told otherwise
DAY = 86400.0

_TABLES = ("exchanges", "pending", "corrections")
# Append-only: migration N (counting from 1) takes a store from user_version
# N-1 to N, so a store written by any earlier shellper is brought up to date,
# never set aside. Never edit a released entry; add one.
_MIGRATIONS = (
    """
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    start_cs INTEGER NOT NULL,
    request TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    command TEXT NOT NULL,
    edited INTEGER NOT NULL,
    status INTEGER,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS exchanges_session ON exchanges (pid, start_cs, id);
CREATE TABLE IF NOT EXISTS pending (
    pid INTEGER NOT NULL,
    start_cs INTEGER NOT NULL,
    request TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    command TEXT NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (pid, start_cs)
);
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request TEXT NOT NULL,
    history TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    command TEXT NOT NULL,
    ran TEXT NOT NULL,
    ran_tool TEXT,
    ran_arguments TEXT,
    status INTEGER,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_time ON corrections (time);
""",
)
SCHEMA_VERSION = len(_MIGRATIONS)


class StoreError(ShellperError):
    """The session store cannot be opened or used."""

    kind = "store"


class _Unusable(Exception):
    """The file is not a shellper store we can use: move it aside."""


# SQLite's primary result codes for what trouble() tells apart.
_BUSY, _LOCKED, _CORRUPT, _FULL, _NOTADB = 5, 6, 11, 13, 26


def trouble(exc: BaseException) -> str | None:
    """What a failed store operation ran into: "damaged" (start over), "full"
    (the disk), "locked" (by another program), "io" (any other reason the
    file cannot be used now), or None (a bug, not the file)."""
    if isinstance(exc, OSError):
        return "full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "io"
    if isinstance(exc, Unopened.Error):
        return "unopened"
    if isinstance(exc, StoreError):  # closed, or no new one could be made
        return "io"
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
        return None
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc)
    if code in (_CORRUPT, _NOTADB) or "malformed" in text or "not a database" in text:
        return "damaged"
    if code == _FULL or "disk is full" in text:
        return "full"
    if code in (_BUSY, _LOCKED) or "locked" in text:
        return "locked"
    return "io" if isinstance(exc, sqlite3.OperationalError) else None


class Unopened:
    """Stands in for a store that could not be opened (a full disk, a folder at
    its path...): every operation fails with why, so the daemon still serves
    suggestions, without history."""

    class Error(StoreError):
        pass

    recovered_from = None

    def __init__(self, path: str, why: str):
        self.path, self.why = path, why

    def close(self) -> None:
        pass

    def set_busy_timeout(self, seconds: float) -> None:
        pass

    def __getattr__(self, name):
        def fail(*args, **kw):
            raise Unopened.Error(self.why)

        return fail


@dataclass(frozen=True)
class SessionKey:
    pid: int
    start: float  # process create_time, rounded to 2 decimals


@dataclass
class Exchange:
    request: str
    call: ToolCall
    command: str
    edited: bool
    status: int | None
    time: float

    def to_dict(self) -> dict:
        return {
            "request": self.request,
            "call": self.call.to_dict(),
            "command": self.command,
            "edited": self.edited,
            "status": self.status,
            "time": self.time,
        }


@dataclass
class Pending:
    request: str
    call: ToolCall
    command: str
    time: float

    def to_dict(self) -> dict:
        return {"request": self.request, "call": self.call.to_dict(), "command": self.command, "time": self.time}


@dataclass
class Correction:
    request: str
    history: list  # list[Exchange], oldest first, before this request
    suggested: ToolCall
    suggested_command: str
    ran: str
    ran_call: ToolCall | None
    status: int | None
    time: float


def _alive_start(pid: int) -> float | None:
    """The rounded start time of live process `pid`, or None if it is gone."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return None
    try:
        proc = psutil.Process(pid)
        # A zombie has exited; its shell will never ask again.
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return round(proc.create_time(), 2)
    except (psutil.NoSuchProcess, ValueError, OverflowError):  # gone, or no such PID can exist
        return None


def session_key(pid: int) -> SessionKey:
    """The key of the running process `pid`; ProcessLookupError if there is none."""
    try:
        start = _alive_start(pid)
    except psutil.AccessDenied:
        raise PermissionError(f"cannot read the start time of PID {pid}") from None
    if start is None:
        raise ProcessLookupError(f"no process with PID {pid}")
    return SessionKey(pid, start)


def _cs(key: SessionKey) -> tuple:
    """(pid, start in centiseconds): integers compare exactly, floats might not."""
    if not isinstance(key, SessionKey):
        raise TypeError(f"expected a SessionKey, got {type(key).__name__}")
    if isinstance(key.pid, bool) or not isinstance(key.pid, int):
        raise TypeError("SessionKey.pid must be an int")
    return key.pid, int(round(float(key.start) * 100))


def _text(value, what: str) -> str:
    """A string SQLite can store: lone surrogates (from hostile JSON) become '?'."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")


def _status(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("status must be an int or None")
    # SQLite integers are 64-bit; a shell status is far smaller anyway.
    return max(-(2**63), min(value, 2**63 - 1))


def _call_columns(call: ToolCall) -> tuple:
    if not isinstance(call, ToolCall):
        raise TypeError(f"expected a ToolCall, got {type(call).__name__}")
    # ensure_ascii keeps lone surrogates as \\u escapes, so any str round-trips.
    return _text(call.name, "tool name"), json.dumps(call.arguments, ensure_ascii=True, sort_keys=True)


def _call(tool: str, arguments: str) -> ToolCall | None:
    """The call a row holds, validated again; None for one no tool takes now."""
    try:
        args = json.loads(arguments)
        return ToolCall(tool, args if isinstance(args, dict) else {})
    except (ValueError, ShellperError):
        return None


def _exchange_from_json(d: dict) -> Exchange | None:
    call = d.get("call") or {}
    try:
        valid = ToolCall(call.get("name", ""), dict(call.get("arguments") or {}))
    except ShellperError:
        return None
    return Exchange(
        request=d.get("request", ""),
        call=valid,
        command=d.get("command", ""),
        edited=bool(d.get("edited")),
        status=d.get("status"),
        time=float(d.get("time", 0.0)),
    )


class SessionStore:
    """Per-terminal conversations. Any thread may call, one at a time (a lock
    makes sure); several processes may open the same file at once."""

    def __init__(
        self,
        path: str | None = None,
        collect_corrections: bool = True,
        corrections_days: float = CORRECTIONS_DAYS,
        busy_timeout: float = BUSY_TIMEOUT,
    ):
        self.path = os.path.abspath(os.path.expanduser(path)) if path else paths.store_file()
        if isinstance(corrections_days, bool) or not isinstance(corrections_days, (int, float)) or not (corrections_days >= 0):
            raise ValueError("corrections_days must be a number of days >= 0")
        self.corrections_days = float(corrections_days)
        # Keeping none means collecting none.
        self.collect_corrections = bool(collect_corrections) and self.corrections_days > 0
        self.recovered_from: str | None = None  # where a corrupt file was moved, if any
        self.busy_timeout = float(busy_timeout)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._prepare_dir(path is None)
        try:
            self._db = self._open()
        except _Unusable:
            self.recovered_from = self._move_aside()
            try:
                self._db = self._open()
            except _Unusable as exc:
                raise StoreError(f"cannot create a fresh session store at {self.path}: {exc}") from None

    # -- opening -------------------------------------------------------------

    def _prepare_dir(self, default: bool) -> None:
        parent = os.path.dirname(self.path)
        try:
            if default:
                paths.ensure_private_dir(parent)
            elif not os.path.isdir(parent):
                os.makedirs(parent, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {parent}: {exc.strerror or exc}") from None

    def _create_private_file(self) -> None:
        """Create the db file 0600 before SQLite does (it would use the umask);
        SQLite gives its -wal and -shm files the db file's mode."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            return
        except OSError as exc:
            raise StoreError(f"cannot open the session store {self.path}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):
            raise StoreError(f"the session store {self.path} is not a regular file; remove it and retry")
        if st.st_mode & 0o077:
            os.chmod(self.path, 0o600)

    def _open(self) -> sqlite3.Connection:
        self._create_private_file()
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer
            # waits for the lock (busy timeout) instead of failing on upgrade.
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the session store {self.path}: {exc}") from None
        try:
            self._setup(db)
        except _Unusable:
            db.close()
            raise
        except sqlite3.OperationalError as exc:  # locked, I/O, read-only: not corruption
            db.close()
            raise StoreError(f"cannot open the session store {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
            db.close()
            raise _Unusable(str(exc)) from None
        db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        return db

    def _setup(self, db: sqlite3.Connection) -> None:
        self._retry_locked(lambda: db.execute("PRAGMA journal_mode=WAL").fetchone())
        # WAL + synchronous=NORMAL: a COMMIT has written the transaction into the
        # WAL file before it returns; the kernel keeps that write even if the
        # daemon is killed with SIGKILL, so every committed exchange survives a
        # crash of the process. Only an OS crash or power cut could lose the last
        # few commits (never corrupt the file). FULL would add an fsync to every
        # suggestion on the key-press path for that rare case: not worth it.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")  # while opening; then self.busy_timeout
        check = db.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            raise _Unusable("; ".join(str(r[0]) for r in check[:3]))
        with self._write(db):
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            tables.discard("sqlite_sequence")
            if version == 0 and tables:
                raise _Unusable(f"it holds tables that are not shellper's: {', '.join(sorted(tables))}")
            if not 0 <= version <= SCHEMA_VERSION:
                raise _Unusable(f"unknown store version {version} (from a newer shellper?)")
            if version >= 1 and not set(_TABLES) <= tables:
                raise _Unusable("tables are missing")
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={number}")

    @staticmethod
    def _retry_locked(fn):
        # Switching a brand-new file to WAL can race another process doing the same.
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def set_busy_timeout(self, seconds: float) -> None:
        """How long a write waits for a lock another program holds, from now on."""
        with self._lock:
            self.busy_timeout = float(seconds)
            self._conn().execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")

    def start_over(self) -> str:
        """Move a store found damaged while in use aside (kept as it is) and
        start a new one; returns where the old one went."""
        with self._lock:
            if self._db is not None:
                try:
                    self._db.close()
                except sqlite3.Error:
                    pass
                self._db = None
            self.recovered_from = self._move_aside()
            try:
                self._db = self._open()
            except _Unusable as exc:
                raise StoreError(f"cannot create a fresh session store at {self.path}: {exc}") from None
            return self.recovered_from

    def _move_aside(self) -> str:
        base = f"{self.path}.corrupt-{int(time.time())}"
        aside, n = base, 0
        while os.path.lexists(aside):
            n += 1
            aside = f"{base}-{n}"
        os.replace(self.path, aside)
        # The WAL and shared-memory files belong with the file they came from.
        for suffix in ("-wal", "-shm"):
            if os.path.lexists(self.path + suffix):
                os.replace(self.path + suffix, aside + suffix)
        return aside

    # -- transactions ----------------------------------------------------------

    class _write:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""

        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                self.db.execute("COMMIT")
            elif self.db.in_transaction:  # SQLite may have rolled back already
                self.db.execute("ROLLBACK")
            return False

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the session store is closed")
        return self._db

    # -- reading ---------------------------------------------------------------

    @staticmethod
    def _exchange(row) -> Exchange | None:
        request, tool, arguments, command, edited, status, t = row
        call = _call(tool, arguments)
        return None if call is None else Exchange(request, call, command, bool(edited), status, t)

    def _history(self, db, pid: int, start_cs: int, limit: int | None) -> list:
        sql = "SELECT request, tool, arguments, command, edited, status, time FROM exchanges WHERE pid=? AND start_cs=? ORDER BY id DESC"
        params: tuple = (pid, start_cs)
        if limit is not None:
            sql += " LIMIT ?"
            params += (min(limit, 2**62),)  # SQLite integers are 64-bit
        rows = db.execute(sql, params).fetchall()
        return [ex for ex in map(self._exchange, reversed(rows)) if ex is not None]

    def history(self, key: SessionKey, limit: int | None = None) -> list:
        """The session's exchanges, oldest first; with `limit`, only the newest `limit`."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError("limit must be a non-negative integer or None")
        pid, start_cs = _cs(key)
        with self._lock:
            return self._history(self._conn(), pid, start_cs, limit)

    def _pending(self, db, pid: int, start_cs: int) -> Pending | None:
        row = db.execute(
            "SELECT request, tool, arguments, command, time FROM pending WHERE pid=? AND start_cs=?",
            (pid, start_cs),
        ).fetchone()
        call = None if row is None else _call(row[1], row[2])
        return None if call is None else Pending(row[0], call, row[3], row[4])

    def pending(self, key: SessionKey) -> Pending | None:
        pid, start_cs = _cs(key)
        with self._lock:
            return self._pending(self._conn(), pid, start_cs)

    # -- writing ---------------------------------------------------------------

    def set_pending(self, key: SessionKey, request: str, call: ToolCall, command: str) -> None:
        """Remember the suggestion now on the prompt; it replaces any earlier one."""
        pid, start_cs = _cs(key)
        tool, arguments = _call_columns(call)
        row = (pid, start_cs, _text(request, "request"), tool, arguments, _text(command, "command"), time.time())
        with self._lock, self._write(self._conn()) as db:
            db.execute("INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def drop_pending(self, key: SessionKey) -> bool:
        pid, start_cs = _cs(key)
        with self._lock, self._write(self._conn()) as db:
            return db.execute("DELETE FROM pending WHERE pid=? AND start_cs=?", (pid, start_cs)).rowcount > 0

    @staticmethod
    def _insert(db, pid, start_cs, request, call, command, edited, status) -> Exchange:
        tool, arguments = _call_columns(call)
        ex = Exchange(_text(request, "request"), call, _text(command, "command"), bool(edited), _status(status), time.time())
        db.execute(
            "INSERT INTO exchanges (pid, start_cs, request, tool, arguments, command, edited, status, time)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (pid, start_cs, ex.request, tool, arguments, ex.command, int(ex.edited), ex.status, ex.time),
        )
        return ex

    def add_exchange(
        self, key: SessionKey, request: str, call: ToolCall, command: str, edited: bool = False, status: int | None = None
    ) -> Exchange:
        """Append an exchange directly (no pending suggestion involved)."""
        pid, start_cs = _cs(key)
        with self._lock, self._write(self._conn()) as db:
            return self._insert(db, pid, start_cs, request, call, command, edited, status)

    def settle(self, key: SessionKey, decide, status: int | None = None) -> str:
        """Settle the pending suggestion: decide(pending) says what the history
        keeps (a turns.Settlement); this writes it. Returns its outcome, or
        "none" when nothing was pending. One write transaction from read to
        write, so two reports can never settle the same suggestion twice."""
        pid, start_cs = _cs(key)
        status = _status(status)
        with self._lock, self._write(self._conn()) as db:
            p = self._pending(db, pid, start_cs)
            db.execute("DELETE FROM pending WHERE pid=? AND start_cs=?", (pid, start_cs))
            if p is None:
                return "none"
            kept = decide(p)
            if kept.correction and self.collect_corrections:
                earlier = self._history(db, pid, start_cs, CORRECTION_HISTORY)
                self._save_correction(db, p, earlier, kept.command, kept.call, status)
            if kept.call is not None:
                self._insert(db, pid, start_cs, p.request, kept.call, kept.command, kept.outcome == "edited", status)
            return kept.outcome

    def _save_correction(self, db, p: Pending, earlier: list, ran: str, ran_call: ToolCall, status) -> None:
        tool, arguments = _call_columns(p.call)
        ran_tool, ran_arguments = _call_columns(ran_call)
        history = json.dumps([e.to_dict() for e in earlier], ensure_ascii=True)
        db.execute(
            "INSERT INTO corrections (request, history, tool, arguments, command, ran, ran_tool, ran_arguments,"
            " status, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (p.request, history, tool, arguments, p.command, _text(ran, "command line"), ran_tool, ran_arguments, status, time.time()),
        )

    # -- corrections and sessions ------------------------------------------------

    def _corrections_cutoff(self) -> float:
        """Corrections saved before this time have expired."""
        return time.time() - self.corrections_days * DAY

    def corrections(self, since: float | None = None) -> list:
        """Saved corrections, oldest first; with `since`, those at or after that time.
        Expired ones are never returned, even before the next sweep removes them."""
        sql = (
            "SELECT request, history, tool, arguments, command, ran, ran_tool, ran_arguments, status, time"
            " FROM corrections WHERE time >= ? AND ran_tool IS NOT NULL"
        )
        params: tuple = (self._corrections_cutoff(),)
        if since is not None:
            if isinstance(since, bool) or not isinstance(since, (int, float)):
                raise TypeError("since must be a time in seconds (float) or None")
            sql += " AND time >= ?"
            params += (float(since),)
        with self._lock:
            rows = self._conn().execute(sql + " ORDER BY id", params).fetchall()
        out = []
        for request, history, tool, arguments, command, ran, ran_tool, ran_arguments, status, t in rows:
            try:
                earlier = [ex for ex in map(_exchange_from_json, json.loads(history)) if ex is not None]
            except (ValueError, TypeError, AttributeError):
                earlier = []
            suggested, ran_call = _call(tool, arguments), _call(ran_tool, ran_arguments)
            if suggested is not None and ran_call is not None:
                out.append(Correction(request, earlier, suggested, command, ran, ran_call, status, t))
        return out

    def sessions(self) -> list:
        """Every session with history or a pending suggestion, most recently used first."""
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    "SELECT pid, start_cs, SUM(n), MAX(p), MAX(t) FROM ("
                    " SELECT pid, start_cs, 1 AS n, 0 AS p, time AS t FROM exchanges"
                    " UNION ALL SELECT pid, start_cs, 0, 1, time FROM pending)"
                    " GROUP BY pid, start_cs ORDER BY MAX(t) DESC"
                )
                .fetchall()
            )
        return [{"pid": pid, "start": cs / 100, "exchanges": n, "pending": bool(p), "last_used": t} for pid, cs, n, p, t in rows]

    def _delete_session(self, db, pid: int, start_cs: int) -> int:
        n = db.execute("DELETE FROM exchanges WHERE pid=? AND start_cs=?", (pid, start_cs)).rowcount
        return n + db.execute("DELETE FROM pending WHERE pid=? AND start_cs=?", (pid, start_cs)).rowcount

    def reset(self, key: SessionKey) -> int:
        """Forget one session (its exchanges and pending suggestion); rows removed."""
        pid, start_cs = _cs(key)
        with self._lock, self._write(self._conn()) as db:
            return self._delete_session(db, pid, start_cs)

    def reset_all(self) -> int:
        """Forget everything, corrections included; rows removed."""
        with self._lock, self._write(self._conn()) as db:
            return sum(db.execute(f"DELETE FROM {t}").rowcount for t in _TABLES)

    def expire_corrections(self) -> int:
        """Delete corrections older than corrections_days (all of them when it
        is 0) and any that are not a tool call (kept by older versions)."""
        with self._lock, self._write(self._conn()) as db:
            return db.execute("DELETE FROM corrections WHERE time < ? OR ran_tool IS NULL", (self._corrections_cutoff(),)).rowcount

    def cleanup(self) -> int:
        """Remove sessions whose shell is gone (or whose PID now names another
        process), and expired corrections; returns how many sessions were removed."""
        self.expire_corrections()
        with self._lock:
            db = self._conn()
            keys = db.execute("SELECT pid, start_cs FROM exchanges UNION SELECT pid, start_cs FROM pending").fetchall()
            dead = []
            for pid, start_cs in keys:
                try:
                    start = _alive_start(pid)
                except psutil.AccessDenied:
                    continue  # cannot tell: keep it
                if start is None or int(round(start * 100)) != start_cs:
                    dead.append((pid, start_cs))
            if not dead:
                return 0
            with self._write(db):
                for pid, start_cs in dead:
                    self._delete_session(db, pid, start_cs)
            return len(dead)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
