"""The daemon never stalls: a look at the files that never returns, a database
locked by another program, a damaged database or a full disk costs the
request it hits at most, never another terminal's answer or the daemon's exit."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

from daemon_helpers import in_process_daemon, shellper, wait_until

from shellper_hook import client, paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUCK = "could not finish looking at the files"


@contextlib.contextmanager
def shells(n):
    """n live processes standing in for n terminals' shells (their PIDs are the sessions)."""
    procs = [subprocess.Popen(["sleep", "120"]) for _ in range(n)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def translate(session, cwd, text="where am I", timeout=10.0):
    return client.request({"op": "translate", "session": session, "cwd": str(cwd), "text": text},
                          autostart=False, timeout=timeout)


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
        with shells(n + 1) as pids, ThreadPoolExecutor(n) as pool:
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


def test_stop_ends_a_daemon_with_a_stuck_look(env, tmp_path):
    code = textwrap.dedent(DAEMON_WITH_A_STUCK_LOOK)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        assert wait_until(lambda: os.path.exists(paths.socket_path()), 10)
        with shells(1) as (pid,):
            reply = translate(pid, tmp_path, timeout=10)
        assert reply["ok"] is False and STUCK in reply["error"], reply
        r = shellper("stop")
        assert r.returncode == 0, r.stderr
        proc.wait(10)  # a stuck thread kept it alive for good
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
