"""The session store: what a terminal's conversation looks like after each
operation, across PID reuse, daemon restarts, kill -9 and damaged files."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shellper_hook import paths, turns
from shellper_hook.readback import read_back
from shellper_hook.store import (
    Exchange,
    SessionKey,
    SessionStore,
    StoreError,
    session_key,
)
from shellper_hook.tools import ToolCall


def executed(store, key, line, status=0):
    """What the daemon does with a reported line: turns decides, the store writes."""
    return store.settle(key, lambda pending: turns.settle(pending, line), status)


def commit_pending(store, key):
    """Take the pending suggestion as it is; the new exchange, or None."""
    if store.settle(key, turns.accept) == "none":
        return None
    return store.history(key)[-1]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

K1 = SessionKey(4242, 1700000000.12)
K2 = SessionKey(4343, 1700000100.5)

LS_A = ToolCall("ls", {"a": True})
CAT = ToolCall("cat", {"file_name": "notes.txt"})
ECHO = ToolCall("echo", {"content": "it's done", "file_name": "notes.txt"})


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "state" / "sessions.sqlite3")


@pytest.fixture
def store(db_path):
    s = SessionStore(db_path)
    yield s
    s.close()


def rows(store, key) -> list:
    """A terminal's history as the rows stored: (request, call, command, edited, status)."""
    return [(e.request, e.call, e.command, e.edited, e.status) for e in store.history(key)]


def correction_rows(store) -> list:
    """The corrections stored: (request, suggested command, line run, call run, status)."""
    return [(c.request, c.suggested_command, c.ran, c.ran_call, c.status) for c in store.corrections()]


# -- round trips --------------------------------------------------------------


def test_commit_then_history_round_trips_every_field(store):
    before = time.time()
    ex = store.add_exchange(K1, "append it's done to notes", ECHO, "echo 'it'\"'\"'s done' >> notes.txt")
    assert isinstance(ex, Exchange)
    [got] = store.history(K1)
    assert got == ex
    assert got.request == "append it's done to notes"
    assert got.call == ECHO
    assert got.command == "echo 'it'\"'\"'s done' >> notes.txt"
    assert got.edited is False and got.status is None
    assert before <= got.time <= time.time()


def test_history_is_oldest_first_and_limit_keeps_the_newest(store):
    for i in range(7):
        store.add_exchange(K1, f"request {i}", ToolCall("touch", {"file_name": f"f{i}"}), f"touch f{i}")
    assert [e.request for e in store.history(K1)] == [f"request {i}" for i in range(7)]
    assert [e.request for e in store.history(K1, limit=3)] == ["request 4", "request 5", "request 6"]
    assert [e.call.arguments["file_name"] for e in store.history(K1, 2)] == ["f5", "f6"]
    assert len(store.history(K1, limit=100)) == 7
    assert store.history(K1, limit=0) == []
    assert store.history(K2) == []


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_history_rejects_a_bad_limit(store, bad):
    with pytest.raises(ValueError):
        store.history(K1, limit=bad)


def test_pending_round_trip_and_drop(store):
    assert store.pending(K1) is None
    store.set_pending(K1, "show hidden files", LS_A, "ls -a")
    p = store.pending(K1)
    assert (p.request, p.call, p.command) == ("show hidden files", LS_A, "ls -a")
    assert store.history(K1) == []  # a suggestion is not history until it runs
    assert store.pending(K2) is None
    assert store.drop_pending(K1) is True
    assert store.pending(K1) is None
    assert store.drop_pending(K1) is False


def test_a_new_pending_replaces_the_old_one(store):
    store.set_pending(K1, "show hidden files", LS_A, "ls -a")
    store.set_pending(K1, "print notes", CAT, "cat notes.txt")
    assert store.pending(K1).request == "print notes"
    ex = commit_pending(store, K1)
    assert ex.request == "print notes" and ex.call == CAT
    assert [e.request for e in store.history(K1)] == ["print notes"]
    assert commit_pending(store, K1) is None  # the old one did not linger
    assert store.sessions()[0]["pending"] is False


def test_commit_pending_moves_the_suggestion_into_history(store):
    assert commit_pending(store, K1) is None
    store.add_exchange(K1, "first", CAT, "cat notes.txt")
    store.set_pending(K1, "show hidden files", LS_A, "ls -a")
    ex = commit_pending(store, K1)
    assert (ex.request, ex.call, ex.command, ex.edited) == ("show hidden files", LS_A, "ls -a", False)
    assert store.pending(K1) is None
    assert [e.request for e in store.history(K1)] == ["first", "show hidden files"]


def test_commit_leaves_a_pending_suggestion_alone(store):
    store.set_pending(K1, "show hidden files", LS_A, "ls -a")
    store.add_exchange(K1, "print notes", CAT, "cat notes.txt")
    assert store.pending(K1).command == "ls -a"


# -- executed -------------------------------------------------------------------


def test_executed_without_pending_is_none(store):
    store.add_exchange(K1, "print notes", CAT, "cat notes.txt")
    assert executed(store, K1, "cat notes.txt", 0) == "none"
    assert len(store.history(K1)) == 1
    assert store.corrections() == []


def test_executed_same_command_commits_with_status(store):
    store.set_pending(K1, "print notes", CAT, "cat notes.txt")
    assert executed(store, K1, "  cat notes.txt \n", 1) == "committed"
    [ex] = store.history(K1)
    assert (ex.request, ex.call, ex.command, ex.edited, ex.status) == ("print notes", CAT, "cat notes.txt", False, 1)
    assert store.pending(K1) is None
    assert store.corrections() == []  # nothing was corrected
    assert executed(store, K1, "cat notes.txt", 0) == "none"  # settled once only


def test_executed_edited_line_commits_the_recovered_call(store):
    line = "ls -a"
    assert read_back(line) is not None and read_back(line).name == "ls"
    store.add_exchange(K1, "print notes", CAT, "cat notes.txt")
    store.set_pending(K1, "list files", ToolCall("ls", {}), "ls")
    assert executed(store, K1, f" {line} ", 0) == "edited"
    history = store.history(K1)
    assert [e.request for e in history] == ["print notes", "list files"]
    ex = history[-1]
    assert ex.call == read_back(line) and ex.edited is True and ex.command == line and ex.status == 0
    assert store.pending(K1) is None
    [c] = store.corrections()
    assert (c.request, c.suggested, c.suggested_command) == ("list files", ToolCall("ls", {}), "ls")
    assert (c.ran, c.ran_call, c.status) == (line, read_back(line), 0)
    assert [e.request for e in c.history] == ["print notes"]  # the history before it, not itself
    assert c.history[0].call == CAT


@pytest.mark.parametrize(
    "line,secret",
    [
        ("git status --short | wc -l", "--short"),
        ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIsecretKEY", "wJalrXUtnFEMIsecretKEY"),
        ("mysql -u root -p'hunter2secret' shop", "hunter2secret"),
        ("ls -a; curl -H 'Authorization: Bearer tok3nsecret' x", "tok3nsecret"),
    ],
)
def test_executed_line_that_is_no_tool_call_is_never_stored(store, db_path, line, secret):
    """A line after a suggestion that is not one of the tool shapes may hold a
    secret: it is neither history nor a correction, anywhere in the file."""
    assert read_back(line) is None
    store.add_exchange(K1, "print notes", CAT, "cat notes.txt")
    store.set_pending(K1, "list files", ToolCall("ls", {}), "ls")
    assert executed(store, K1, line, 2) == "dropped"
    assert [e.command for e in store.history(K1)] == ["cat notes.txt"]
    assert store.pending(K1) is None
    assert store.corrections() == []
    with sqlite3.connect(db_path) as raw:
        for table in ("exchanges", "pending", "corrections"):
            rows = raw.execute(f"SELECT * FROM {table}").fetchall()
            assert secret not in repr(rows), table


def test_a_line_equal_to_the_suggestion_up_to_quoting_is_not_an_edit(store):
    line = "cat 'notes.txt'"
    store.set_pending(K1, "print notes", CAT, "cat notes.txt")
    assert executed(store, K1, line, 0) == "committed"
    assert rows(store, K1) == [("print notes", CAT, line, False, 0)]
    assert store.corrections() == []


LS = ToolCall("ls", {})

# What the store keeps when a suggested `ls` settles: (line run, outcome, history rows, correction rows).
SETTLED_ROWS = [
    ("ls", "committed", [("list files", LS, "ls", False, 1)], []),
    ("ls | wc -l", "extended", [("list files", LS, "ls", False, 1)], []),
    ("ls -a", "edited", [("list files", LS_A, "ls -a", True, 1)], [("list files", "ls", "ls -a", LS_A, 1)]),
    ("cat notes.txt", "dropped", [], []),  # another command: the suggestion was skipped
    ("export TOKEN=abc", "dropped", [], []),  # no tool call: nothing of it is kept
    ("", "dropped", [], []),
]


@pytest.mark.parametrize("ran,outcome,history,corrections", SETTLED_ROWS)
def test_each_way_a_suggestion_settles_stores_its_rows(store, ran, outcome, history, corrections):
    store.set_pending(K1, "list files", LS, "ls")
    assert executed(store, K1, ran, 1) == outcome
    assert rows(store, K1) == history
    assert correction_rows(store) == corrections
    assert store.pending(K1) is None
    assert executed(store, K1, ran, 0) == "none"  # settled once: a second run of the line adds no row
    assert rows(store, K1) == history and correction_rows(store) == corrections


def test_an_empty_line_drops_without_a_correction(store):
    store.set_pending(K1, "print notes", CAT, "cat notes.txt")
    assert executed(store, K1, "   ", 0) == "dropped"
    assert store.history(K1) == [] and store.pending(K1) is None
    assert store.corrections() == []


def test_no_corrections_when_collection_is_off(db_path):
    with SessionStore(db_path, collect_corrections=False) as s:
        s.set_pending(K1, "list files", ToolCall("ls", {}), "ls")
        assert executed(s, K1, "ls -a", 0) == "edited"
        s.set_pending(K1, "list files", ToolCall("ls", {}), "ls")
        assert executed(s, K1, "git log", 0) == "dropped"
        assert s.corrections() == []
        assert s.history(K1)[0].call == read_back("ls -a")  # history is still kept


def test_corrections_since_filter(store):
    store.set_pending(K1, "one", ToolCall("ls", {}), "ls")
    executed(store, K1, "ls -a", 0)
    time.sleep(0.02)
    cut = time.time()
    time.sleep(0.02)
    store.set_pending(K2, "two", ToolCall("ls", {}), "ls")
    executed(store, K2, "ls -a", 0)
    assert [c.request for c in store.corrections()] == ["one", "two"]
    assert [c.request for c in store.corrections(since=cut)] == ["two"]
    assert store.corrections(since=time.time() + 60) == []
    with pytest.raises(TypeError):
        store.corrections(since="yesterday")


# -- sessions, reset, PID reuse ---------------------------------------------------


def test_sessions_lists_counts_pending_and_recency(store):
    store.add_exchange(K1, "a", CAT, "cat notes.txt")
    store.add_exchange(K1, "b", CAT, "cat notes.txt")
    time.sleep(0.01)
    store.set_pending(K2, "c", LS_A, "ls -a")
    rows = store.sessions()
    assert [(r["pid"], r["start"], r["exchanges"], r["pending"]) for r in rows] == [
        (K2.pid, K2.start, 0, True),
        (K1.pid, K1.start, 2, False),
    ]
    assert rows[0]["last_used"] >= rows[1]["last_used"]


def test_reset_one_session_and_reset_all(store):
    store.add_exchange(K1, "a", CAT, "cat notes.txt")
    store.add_exchange(K1, "b", CAT, "cat notes.txt")
    store.set_pending(K1, "c", LS_A, "ls -a")
    store.add_exchange(K2, "d", CAT, "cat notes.txt")
    store.set_pending(K2, "e", ToolCall("ls", {}), "ls")
    executed(store, K2, "ls -a", 0)  # one correction (and an edited exchange)
    assert store.reset(K1) == 3
    assert store.history(K1) == [] and store.pending(K1) is None
    assert len(store.history(K2)) == 2
    assert store.reset(K1) == 0
    assert len(store.corrections()) == 1  # reset of a session keeps training data
    assert store.reset_all() == 3  # K2's two exchanges and the correction
    assert store.sessions() == [] and store.corrections() == []


def test_a_reused_pid_never_sees_another_start_times_history(store):
    old = SessionKey(5000, 1700000000.25)
    new = SessionKey(5000, 1700000999.75)
    store.add_exchange(old, "old shell", CAT, "cat notes.txt")
    store.set_pending(old, "old pending", LS_A, "ls -a")
    assert store.history(new) == []
    assert store.pending(new) is None
    assert commit_pending(store, new) is None
    assert executed(store, new, "ls -a", 0) == "none"
    store.add_exchange(new, "new shell", LS_A, "ls -a")
    assert [e.request for e in store.history(new)] == ["new shell"]
    assert store.reset(new) == 1
    assert [e.request for e in store.history(old)] == ["old shell"]
    assert store.pending(old).request == "old pending"


def test_session_key_of_a_real_process_and_cleanup_after_it_dies(store):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        key = session_key(proc.pid)
        assert key == session_key(proc.pid)  # stable while it lives
        assert key.start == round(psutil.Process(proc.pid).create_time(), 2)
        me = session_key(os.getpid())
        store.add_exchange(key, "from the sleeper", CAT, "cat notes.txt")
        store.add_exchange(me, "from me", CAT, "cat notes.txt")
        # Our PID, but another process's start time: a reused PID.
        impostor = SessionKey(os.getpid(), me.start - 1000)
        store.add_exchange(impostor, "from an earlier owner of my PID", CAT, "cat notes.txt")
        assert store.cleanup() == 1  # only the impostor; the sleeper still lives
        assert store.history(impostor) == []
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(ProcessLookupError, match=f"no process with PID {proc.pid}"):
        session_key(proc.pid)
    assert store.cleanup() == 1
    assert [(r["pid"], r["start"]) for r in store.sessions()] == [(me.pid, me.start)]
    assert store.history(key) == []
    assert [e.request for e in store.history(me)] == ["from me"]
    assert store.cleanup() == 0


def test_a_zombie_counts_as_gone(store):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        key = session_key(proc.pid)
        store.set_pending(key, "from the sleeper", CAT, "cat notes.txt")
        proc.kill()
        deadline = time.time() + 5
        while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE and time.time() < deadline:
            time.sleep(0.01)
        with pytest.raises(ProcessLookupError):
            session_key(proc.pid)
        assert store.cleanup() == 1
        assert store.pending(key) is None
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("pid", [0, -1, 2**31 + 5, 2**70])
def test_session_key_of_impossible_pids(pid):
    with pytest.raises(ProcessLookupError, match=f"no process with PID {pid}"):
        session_key(pid)


# -- hostile input --------------------------------------------------------------


def test_hostile_text_round_trips(store):
    nasty = "x'); DROP TABLE exchanges; --\n$(rm -rf ~)\t`id`\0end \u202e\U0001f600"
    call = ToolCall("echo", {"content": nasty, "file_name": "None"})
    store.add_exchange(K1, nasty, call, nasty)
    store.set_pending(K1, nasty, call, nasty)
    [ex] = store.history(K1)
    assert (ex.request, ex.call, ex.command) == (nasty, call, nasty)
    p = store.pending(K1)
    assert (p.request, p.call, p.command) == (nasty, call, nasty)
    assert executed(store, K1, nasty, 0) == "committed"
    assert len(store.history(K1)) == 2


def test_lone_surrogates_from_json_do_not_break_the_store(store):
    # json.loads('"\\ud800"') yields a lone surrogate; SQLite cannot store it as text.
    call = ToolCall("cat", {"file_name": "a\ud800b"})
    store.set_pending(K1, "req \udfff", call, "cat x\ud800")
    p = store.pending(K1)
    assert p.call == call  # arguments are kept exactly
    assert "\udfff" not in p.request and p.request.startswith("req ")
    assert p.command == "cat x?"  # kept as text SQLite can hold
    assert executed(store, K1, "cat x?", 0) == "committed"
    assert store.history(K1)[0].call == call
    store.set_pending(K1, "req", call, "cat x")
    assert executed(store, K1, "cat x\ud800", 0) in ("edited", "dropped")  # stored without a crash


def test_huge_values_round_trip(store):
    big = "a" * 1_000_000
    store.add_exchange(K1, big, ToolCall("cat", {"file_name": big}), big)
    [ex] = store.history(K1)
    assert ex.request == big and ex.call.arguments["file_name"] == big
    store.set_pending(K1, "r", CAT, "cat notes.txt")
    assert executed(store, K1, "cat notes.txt", 2**70) == "committed"  # clamped, not a crash
    assert store.history(K1)[-1].status == 2**63 - 1


@pytest.mark.parametrize(
    "call_args",
    [
        ("not a key", "r", CAT, "c"),
        (K1, b"bytes", CAT, "c"),
        (K1, "r", {"name": "cat"}, "c"),
        (K1, "r", CAT, None),
    ],
)
def test_wrong_types_are_rejected_and_nothing_is_written(store, call_args):
    with pytest.raises(TypeError):
        store.add_exchange(*call_args)
    with pytest.raises(TypeError):
        store.set_pending(*call_args)
    assert store.sessions() == []


def test_a_bad_status_is_rejected_and_the_pending_survives(store):
    store.set_pending(K1, "r", CAT, "cat notes.txt")
    with pytest.raises(TypeError):
        executed(store, K1, "cat notes.txt", "0")
    assert store.pending(K1) is not None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    request=st.text(),
    command=st.text(),
    arguments=st.fixed_dictionaries({"content": st.text(), "file_name": st.text()}),
    pid=st.integers(1, 2**31),
)
def test_any_text_round_trips(store, request, command, arguments, pid):
    key = SessionKey(pid, 1234.56)
    call = ToolCall("echo", arguments)
    store.add_exchange(key, request, call, command)
    ex = store.history(key, limit=1)[0]
    assert (ex.request, ex.call, ex.command) == (request, call, command)
    store.reset(key)


# -- files on disk -----------------------------------------------------------------


def test_default_location_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    old = os.umask(0)  # a careless umask must not leak the history
    try:
        with SessionStore() as s:
            s.add_exchange(K1, "r", CAT, "cat notes.txt")
            assert s.path == paths.store_file()
            assert stat.S_IMODE(os.stat(os.path.dirname(s.path)).st_mode) == 0o700
            for f in (s.path, s.path + "-wal", s.path + "-shm"):
                if os.path.exists(f):
                    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
            assert os.path.exists(s.path + "-wal")  # WAL mode is on
    finally:
        os.umask(old)


def test_loose_permissions_are_tightened(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    state = paths.state_dir()
    os.makedirs(state, mode=0o755)
    os.chmod(state, 0o755)
    with SessionStore() as s:
        s.add_exchange(K1, "r", CAT, "cat notes.txt")
    os.chmod(paths.store_file(), 0o644)
    with SessionStore() as s:
        assert len(s.history(K1)) == 1
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(paths.store_file()).st_mode) == 0o600


def test_persistence_across_reopen(db_path):
    with SessionStore(db_path) as s:
        s.add_exchange(K1, "a", CAT, "cat notes.txt")
        s.set_pending(K1, "b", ToolCall("ls", {}), "ls")
        s.set_pending(K2, "c", LS_A, "ls -a")
        assert executed(s, K2, "ls", 1) == "edited"
        assert s.recovered_from is None
    with SessionStore(db_path) as s:  # the daemon restarted
        assert s.recovered_from is None
        assert [e.request for e in s.history(K1)] == ["a"]
        assert s.pending(K1).request == "b"
        assert executed(s, K1, "ls", 0) == "committed"  # a suggestion survives a restart
        assert [c.request for c in s.corrections()] == ["c"]
    with SessionStore(db_path) as s:
        assert [e.request for e in s.history(K1)] == ["a", "b"]


def _assert_fresh_after_recovery(s, db_path, original: bytes):
    assert s.recovered_from is not None
    assert s.recovered_from.startswith(db_path + ".corrupt-")
    with open(s.recovered_from, "rb") as fh:
        assert fh.read() == original  # kept for inspection, untouched
    assert s.sessions() == []
    s.add_exchange(K1, "r", CAT, "cat notes.txt")
    assert len(s.history(K1)) == 1


def test_a_non_sqlite_file_is_moved_aside(db_path, capfd):
    os.makedirs(os.path.dirname(db_path))
    garbage = b"this is not a database\n" * 500
    with open(db_path, "wb") as fh:
        fh.write(garbage)
    with SessionStore(db_path) as s:
        _assert_fresh_after_recovery(s, db_path, garbage)
    with SessionStore(db_path) as s:
        assert s.recovered_from is None and len(s.history(K1)) == 1
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_damaged_page_is_detected_and_moved_aside(db_path, capfd):
    with SessionStore(db_path) as s:
        for i in range(300):
            s.add_exchange(K1, f"request {i} " + "x" * 200, CAT, "cat notes.txt")
    page = sqlite3.connect(db_path).execute("PRAGMA page_size").fetchone()[0]
    assert not os.path.exists(db_path + "-wal")  # everything is in the main file
    with open(db_path, "r+b") as fh:
        fh.seek(page * 2)  # third page: inside the tables, past the header
        fh.write(b"\xff" * page * 3)
    with open(db_path, "rb") as fh:
        damaged = fh.read()
    with SessionStore(db_path) as s:
        _assert_fresh_after_recovery(s, db_path, damaged)
    assert capfd.readouterr().out == ""


def test_another_programs_sqlite_file_is_moved_aside(db_path):
    os.makedirs(os.path.dirname(db_path))
    other = sqlite3.connect(db_path)
    other.execute("CREATE TABLE contacts (name TEXT)")
    other.execute("INSERT INTO contacts VALUES ('ada')")
    other.commit()
    other.close()
    with SessionStore(db_path) as s:
        assert s.recovered_from is not None
        assert sqlite3.connect(s.recovered_from).execute("SELECT name FROM contacts").fetchall() == [("ada",)]
        s.add_exchange(K1, "r", CAT, "cat notes.txt")


def test_an_empty_file_is_a_fresh_store(db_path):
    os.makedirs(os.path.dirname(db_path))
    open(db_path, "wb").close()
    with SessionStore(db_path) as s:
        assert s.recovered_from is None
        s.add_exchange(K1, "r", CAT, "cat notes.txt")
        assert len(s.history(K1)) == 1


def test_a_directory_at_the_path_is_a_clear_error(db_path):
    os.makedirs(db_path)
    with pytest.raises(StoreError, match="not a regular file"):
        SessionStore(db_path)


def test_a_closed_store_says_so(db_path):
    s = SessionStore(db_path)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        s.history(K1)


# -- several processes ---------------------------------------------------------------


def _python(code: str, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        **kw,
    )


WRITER = """
    import sys
    from shellper_hook import turns
    from shellper_hook.store import SessionKey, SessionStore
    from shellper_hook.tools import ToolCall

    store = SessionStore(sys.argv[1])
    key = SessionKey(int(sys.argv[2]), 1000.5)
    count = int(sys.argv[3])
    print("ready", flush=True)
    i = 0
    while count < 0 or i < count:
        call = ToolCall("touch", {"file_name": f"f{i}"})
        if i % 2:
            store.add_exchange(key, f"request {i}", call, f"touch f{i}")
        else:  # the widget's path: suggest, then the shell reports the run
            store.set_pending(key, f"request {i}", call, f"touch f{i}")
            assert store.settle(key, lambda p: turns.settle(p, f"touch f{i}"), 0) == "committed"
        print(i, flush=True)
        i += 1
"""


def test_two_processes_can_write_the_same_store(db_path):
    SessionStore(db_path).close()
    writers = [_python(WRITER, db_path, str(pid), "40") for pid in (1, 2)]
    for w in writers:
        out, err = w.communicate(timeout=30)
        assert w.returncode == 0, err
    with SessionStore(db_path) as s:
        for pid in (1, 2):
            got = [e.request for e in s.history(SessionKey(pid, 1000.5))]
            assert got == [f"request {i}" for i in range(40)]


def test_kill_9_never_loses_a_committed_exchange(db_path):
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    for run in range(10):
        writer = _python(WRITER, db_path, str(run + 1), "-1")
        if run < 2:  # kill it while it is still creating or opening the store
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            assert writer.stdout.readline() == "ready\n", writer.stderr.read()
            time.sleep(rng.uniform(0.0, 0.25))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        out = writer.stdout.read()
        writer.stdout.close()
        writer.stderr.close()
        reported = [int(line) for line in out.split("\n")[:-1] if line != "ready"]
        assert reported == list(range(len(reported)))
        with SessionStore(db_path) as s:
            assert s.recovered_from is None, f"seed {seed} run {run}: store was damaged"
            got = [e.request for e in s.history(SessionKey(run + 1, 1000.5))]
            # Everything reported is there, in order; at most the one commit
            # whose report the kill cut off may be there too.
            assert got == [f"request {i}" for i in range(len(got))], f"seed {seed} run {run}"
            assert len(reported) <= len(got) <= len(reported) + 1, f"seed {seed} run {run}"


def test_an_edit_may_change_the_tool_when_it_keeps_the_file(store):
    store.set_pending(K1, "last lines of app.log", CAT_APP := ToolCall("cat", {"file_name": "app.log"}), "cat app.log")
    assert executed(store, K1, "tail -n 5 app.log", 0) == "edited"
    [c] = store.corrections()
    assert c.suggested == CAT_APP and c.ran_call.name == "tail"


def test_an_unrelated_command_after_a_suggestion_is_not_its_correction(store):
    """Ignoring `mkdir backup` and running `ls` is a skip, not training data."""
    store.set_pending(K1, "make a backup folder", ToolCall("mkdir", {"dir_name": "backup"}), "mkdir backup")
    assert executed(store, K1, "ls -a", 0) == "dropped"
    assert store.history(K1) == [] and store.corrections() == []


# -- corrections expire ----------------------------------------------------------


def _age_corrections(db_path, days: float) -> None:
    """Make every saved correction `days` older, as if saved back then."""
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE corrections SET time = time - ?", (days * 86400,))


def _correction_rows(db_path) -> list:
    with sqlite3.connect(db_path) as raw:
        return [r[0] for r in raw.execute("SELECT request FROM corrections ORDER BY id")]


def _edit(s: SessionStore, key: SessionKey, request: str) -> None:
    s.set_pending(key, request, ToolCall("ls", {}), "ls")
    assert executed(s, key, "ls -a", 0) == "edited"


def test_corrections_older_than_the_setting_are_swept_by_cleanup(db_path):
    with SessionStore(db_path, corrections_days=30) as s:
        _edit(s, K1, "old one")
        _age_corrections(db_path, 31)
        _edit(s, K1, "recent one")
        _age_corrections(db_path, 29)  # "old one" is now 60 days old, "recent one" 29
        _edit(s, K1, "new one")
        # Past its time a correction is never exported, even before the sweep.
        assert [c.request for c in s.corrections()] == ["recent one", "new one"]
        s.cleanup()
        assert _correction_rows(db_path) == ["recent one", "new one"]  # gone from the file


def test_the_default_keeps_corrections_90_days(db_path):
    with SessionStore(db_path) as s:
        _edit(s, K1, "a")
        _age_corrections(db_path, 89)
        s.cleanup()
        assert _correction_rows(db_path) == ["a"]
        _age_corrections(db_path, 2)
        s.cleanup()
        assert _correction_rows(db_path) == []


def test_a_restarted_daemon_with_a_shorter_setting_sweeps_at_once(db_path):
    with SessionStore(db_path, corrections_days=90) as s:
        _edit(s, K1, "a")
    _age_corrections(db_path, 10)
    with SessionStore(db_path, corrections_days=7) as s:
        assert s.corrections() == []
        s.cleanup()  # what the daemon does when it starts
    assert _correction_rows(db_path) == []


def test_corrections_days_zero_keeps_none_and_collects_none(db_path):
    with SessionStore(db_path) as s:
        _edit(s, K1, "kept before")
    with SessionStore(db_path, corrections_days=0) as s:
        assert s.corrections() == []
        _edit(s, K1, "not collected")  # still history: the model sees what ran
        assert [e.request for e in s.history(K1)] == ["kept before", "not collected"]
        s.cleanup()
    assert _correction_rows(db_path) == []


def test_a_non_tool_correction_left_by_an_older_version_is_swept(db_path):
    with SessionStore(db_path) as s:
        with sqlite3.connect(db_path) as raw:
            raw.execute(
                "INSERT INTO corrections (request, history, tool, arguments, command, ran, ran_tool,"
                " ran_arguments, status, time) VALUES ('r', '[]', 'ls', '{}', 'ls', 'export TOKEN=x', NULL, NULL, 0, ?)",
                (time.time(),),
            )
        assert s.corrections() == []
        s.cleanup()
    assert _correction_rows(db_path) == []


@pytest.mark.parametrize("bad", [-1, float("nan"), "90", True, None])
def test_a_bad_corrections_days_is_refused(db_path, bad):
    with pytest.raises(ValueError):
        SessionStore(db_path, corrections_days=bad)


def test_a_later_schema_migrates_an_existing_store_without_losing_history(db_path, monkeypatch):
    """Migrations are append-only: a store written today opens in a later
    version (one more migration) with its history, not set aside."""
    from shellper_hook import store as store_module

    with SessionStore(db_path) as s:
        s.add_exchange(K1, "print notes", CAT, "cat notes.txt")
    later = store_module._MIGRATIONS + ("ALTER TABLE exchanges ADD COLUMN shell TEXT",)
    monkeypatch.setattr(store_module, "_MIGRATIONS", later)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(later))
    with SessionStore(db_path) as s:
        assert s.recovered_from is None
        assert [e.request for e in s.history(K1)] == ["print notes"]
        s.add_exchange(K1, "list files", LS_A, "ls -a")
    with SessionStore(db_path) as s:  # opened again: migrated once, nothing set aside
        assert s.recovered_from is None
        assert rows(s, K1) == [("print notes", CAT, "cat notes.txt", False, None), ("list files", LS_A, "ls -a", False, None)]
    with sqlite3.connect(db_path) as db:  # the later version's column is in the rows
        assert db.execute("SELECT request, shell FROM exchanges ORDER BY id").fetchall() == [("print notes", None), ("list files", None)]
