"""The daemon never stalls: a look at the files that never returns, a database
locked by another program, a damaged database or a full disk costs the
request it hits at most, never another terminal's answer or the daemon's exit."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from daemon_helpers import fake_shells, in_process_daemon, shellper, wait_until

from shellper_hook import client, paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUCK = "could not finish looking at the files"


def translate(session, cwd, text="where am I", timeout=10.0):
    return client.request({"op": "translate", "session": session, "cwd": str(cwd), "text": text}, autostart=False, timeout=timeout)


def _block_looks_in(monkeypatch, folder):
    """Looks at `folder` block, as a read of a FIFO nobody writes does; returns (entered, release)."""
    from shellper_hook import turns

    entered, release = threading.Semaphore(0), threading.Event()
    real = turns.suggestion

    def suggestion(message, request, cwd, *args, **kw):
        if cwd == str(folder):
            entered.release()
            release.wait(60)
        return real(message, request, cwd, *args, **kw)

    monkeypatch.setattr(turns, "suggestion", suggestion)
    return entered, release


def test_stuck_looks_never_take_another_terminals_answer(shellper_env, fake, monkeypatch, tmp_path):
    """More stuck looks than asyncio's default pool has threads; another terminal is still answered."""
    from shellper_hook import workers

    monkeypatch.setattr(workers, "LOOK_DEADLINE", 0.5)
    stuck, fine = tmp_path / "stuck", tmp_path / "fine"
    stuck.mkdir()
    fine.mkdir()
    entered, release = _block_looks_in(monkeypatch, stuck)
    n = min(32, (os.cpu_count() or 1) + 4) + 1
    _, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shells(n + 1) as pids, ThreadPoolExecutor(n) as pool:
            waiting = [pool.submit(translate, pid, stuck, "where am I", 30) for pid in pids[:n]]
            got = 0
            while got < n and entered.acquire(timeout=5):
                got += 1
            reply = translate(pids[n], fine, timeout=5)
            assert not release.is_set()  # every stuck look is still stuck
            assert reply["ok"] and reply["command"] == "pwd", reply
            for w in waiting:
                r = w.result(10)
                assert r["ok"] is False and STUCK in r["error"] and "nothing was suggested" in r["error"], r
            assert translate(pids[0], fine, timeout=5)["ok"]  # the stuck terminal asks elsewhere: answered
    finally:
        release.set()
        stop()


DAEMON_WITH_A_STUCK_LOOK = """
    import sys, threading
    from shellper_hook import daemon, turns, workers

    workers.LOOK_DEADLINE = 0.5
    turns.suggestion = lambda *args, **kw: threading.Event().wait()  # a read that never returns
    sys.exit(daemon.main())
"""


def test_stop_ends_a_daemon_with_a_stuck_look(daemon_env, tmp_path):
    code = textwrap.dedent(DAEMON_WITH_A_STUCK_LOOK)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=ROOT)
    )
    try:
        wait_until(lambda: os.path.exists(paths.socket_path()), 10)
        with fake_shells(1) as (pid,):
            reply = translate(pid, tmp_path, timeout=10)
        assert reply["ok"] is False and STUCK in reply["error"], reply
        r = shellper("stop")
        assert r.returncode == 0, r.stderr
        proc.wait(10)  # a stuck thread kept it alive for good
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _notes(replies, word):
    return [w for r in replies for w in r.get("warnings", []) if word in w]


def test_a_database_locked_by_another_program_never_holds_up_a_translate(shellper_env, fake, monkeypatch, tmp_path):
    _, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shells(1) as (pid,):
            assert translate(pid, tmp_path)["ok"]
            other = sqlite3.connect(paths.store_file(), isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another program's write transaction, held throughout
            try:
                started = time.monotonic()
                replies = [translate(pid, tmp_path, timeout=4) for _ in range(3)]
                took = time.monotonic() - started
                assert other.in_transaction
            finally:
                other.rollback()
                other.close()
            assert all(r["ok"] and r["command"] == "pwd" for r in replies), replies
            assert took < 2, f"three translates took {took:.1f} s behind a lock (SQLite waited 5 s each)"
            assert len(_notes(replies, "locked")) == 1, replies  # said once, not at every request
            after = translate(pid, tmp_path)
            assert after["ok"] and not _notes([after], "locked"), after
    finally:
        stop()


def _assert_kept_aside(garbage):
    store = paths.store_file()
    aside = [
        f
        for f in os.listdir(os.path.dirname(store))
        if f.startswith(os.path.basename(store) + ".corrupt-") and not f.endswith(("-wal", "-shm"))
    ]
    assert len(aside) == 1, aside
    with open(os.path.join(os.path.dirname(store), aside[0]), "rb") as fh:
        assert fh.read().startswith(garbage)  # kept for inspection
    return aside[0]


def test_a_garbage_database_is_kept_aside_and_said_once(shellper_env, fake, monkeypatch, tmp_path):
    store = paths.store_file()
    os.makedirs(os.path.dirname(store), mode=0o700, exist_ok=True)
    garbage = b"not a database at all\n" * 400
    with open(store, "wb") as fh:
        fh.write(garbage)
    _, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shells(1) as (pid,):
            replies = [translate(pid, tmp_path) for _ in range(2)]
        assert all(r["ok"] and r["command"] == "pwd" for r in replies), replies
        aside = _assert_kept_aside(garbage)
        notes = _notes(replies, "damaged")
        assert len(notes) == 1 and aside in notes[0] and notes[0] in replies[0]["warnings"], replies
    finally:
        stop()


def test_a_database_damaged_while_in_use_is_kept_aside_and_a_new_one_started(shellper_env, fake, monkeypatch, tmp_path):
    _, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shells(1) as (pid,):
            assert translate(pid, tmp_path)["ok"]
            store = paths.store_file()
            other = sqlite3.connect(store, isolation_level=None)  # another program writes: the daemon reads anew
            other.execute("DELETE FROM pending")
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            other.close()
            garbage = b"\xffdamaged" * 20000
            with open(store, "r+b") as fh:
                fh.write(garbage)
            replies = [translate(pid, tmp_path) for _ in range(2)]
            assert all(r["ok"] and r["command"] == "pwd" for r in replies), replies
            aside = _assert_kept_aside(garbage)
            assert len(_notes(replies, "damaged")) == 1 and aside in replies[0]["warnings"][-1], replies
            ran = client.request({"op": "executed", "session": pid, "command": "pwd", "status": 0}, autostart=False)
            assert ran["ok"] and ran["recorded"] == "committed", ran  # the new database keeps the history
            assert len(client.request({"op": "history", "session": pid}, autostart=False)["exchanges"]) == 1
    finally:
        stop()


def test_on_a_full_disk_the_suggestion_still_comes_and_it_is_said_once(shellper_env, fake, monkeypatch, tmp_path):
    from shellper_hook.store import SessionStore

    def full(*args, **kw):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SessionStore, "set_pending", full)
    _, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shells(1) as (pid,):
            replies = [translate(pid, tmp_path) for _ in range(3)]
        assert all(r["ok"] and r["command"] == "pwd" for r in replies), replies
        notes = _notes(replies, "disk is full")
        assert len(notes) == 1 and "history" in notes[0], replies
    finally:
        stop()


def test_a_database_that_does_not_answer_never_holds_up_a_translate(shellper_env, fake, monkeypatch, tmp_path):
    """A history database on a hung disk: the suggestion comes without the history."""
    from shellper_hook import keeper
    from shellper_hook.store import SessionStore

    monkeypatch.setattr(keeper, "STORE_WAIT", 0.2)
    release = threading.Event()
    real = SessionStore.history

    def history(self, *args, **kw):
        release.wait(30)
        return real(self, *args, **kw)

    monkeypatch.setattr(SessionStore, "history", history)
    _, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shells(2) as pids:
            replies = [translate(pid, tmp_path, timeout=5) for pid in pids]
            assert not release.is_set()
        assert all(r["ok"] and r["command"] == "pwd" for r in replies), replies
        assert len(_notes(replies, "does not answer")) == 1, replies
    finally:
        release.set()
        stop()


def test_a_database_that_cannot_be_opened_still_leaves_suggestions(daemon_env, tmp_path):
    """The daemon starts without history (here a folder stands at the database's path), and says so once."""
    os.makedirs(paths.store_file(), mode=0o700)
    with fake_shells(1) as (pid,):
        replies = [
            client.request({"op": "translate", "session": pid, "cwd": str(tmp_path), "text": "where am I"}, timeout=20) for _ in range(2)
        ]
    assert all(r["ok"] and r["command"] == "pwd" for r in replies), replies
    notes = _notes(replies, "could not be opened")
    assert len(notes) == 1 and "not a regular file" in notes[0] and notes[0] in replies[0]["warnings"], replies
