"""One terminal's slow or hostile request never holds up another terminal's."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from daemon_helpers import fake_shell, in_process_daemon, wait_until

from shellper_hook import client


def _timed(req, timeout=10.0):
    started = time.monotonic()
    reply = client.request(req, autostart=False, timeout=timeout)
    return reply, time.monotonic() - started


def _answer_with_content(fake, text):
    """Make the stand-in server answer every chat request with `text` as the message content."""
    real = fake.completion

    def completion(body):
        status, payload = real(body)
        if status == 200:
            payload["choices"][0]["message"] = {"role": "assistant", "content": text}
            payload["choices"][0]["finish_reason"] = "stop"
        return status, payload

    fake.completion = completion


@pytest.mark.parametrize(
    "hostile", ["<function=" * 13_000, "<function=ls>" + "<parameter=" * 12_000], ids=["unclosed-functions", "unclosed-parameters"]
)
def test_a_hostile_answer_does_not_freeze_other_terminals(daemon_env, fake, tmp_path, hostile):
    """A 128 KB answer the old parser needed ~15 s for, on the daemon's only loop."""
    _answer_with_content(fake, hostile)
    assert client.request({"op": "ping"})["ok"]
    with fake_shell() as shell, ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        work = pool.submit(client.request, {"op": "translate", "session": shell, "cwd": str(tmp_path), "text": "list files"}, False, 30)
        wait_until(lambda: len(fake.requests) == 1, 10)
        slowest = 0.0
        for _ in range(5):  # while the answer arrives and is read
            for op in ("status", "ping"):
                reply, took = _timed({"op": op}, timeout=5)
                assert reply["ok"], reply
                slowest = max(slowest, took)
        reply = work.result(30)
        took = time.monotonic() - started
    assert slowest < 1.0, f"another terminal waited {slowest:.1f} s"
    assert reply["ok"] or reply["kind"] == "answer", reply  # read to the end, whatever it says
    assert took < 5, f"the hostile answer took {took:.1f} s to refuse"


@pytest.mark.parametrize("step", ["parse", "policy"])
def test_a_slow_step_for_one_terminal_never_delays_another(shellper_env, fake, monkeypatch, tmp_path, step):
    """Whatever blocks while one request is read or checked, ping and status answer at once."""
    from shellper_hook import policy, turns

    entered, release = threading.Event(), threading.Event()

    def slow(real):
        def wrapper(*args, **kw):
            entered.set()
            release.wait(10)  # blocks whatever thread runs it, as a long parse or stat would
            return real(*args, **kw)

        return wrapper

    if step == "parse":
        monkeypatch.setattr(turns, "parse_message", slow(turns.parse_message))
    else:
        monkeypatch.setattr(policy, "judge", slow(policy.judge))
    _, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shell() as shell, ThreadPoolExecutor(1) as pool:
            work = pool.submit(client.request, {"op": "translate", "session": shell, "cwd": str(tmp_path), "text": "where am I"}, False, 30)
            assert entered.wait(10), f"the {step} step never ran"
            try:
                for op in ("ping", "status"):
                    reply, took = _timed({"op": op}, timeout=5)
                    assert reply["ok"] and took < 1.0, f"{op} waited {took:.1f} s behind another terminal"
            finally:
                release.set()
            reply = work.result(20)
        assert reply["ok"] and reply["command"] == "pwd", reply
    finally:
        release.set()
        stop()
