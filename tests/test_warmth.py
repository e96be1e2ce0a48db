"""The model server's prompt prefix is never read cold in front of a person (issue 25):
a request waits for a warm-up under way and says so, a watch reads it again while no
terminal waits (a llama.cpp server restarted), and a cold first request gets time and a note."""

from __future__ import annotations

import threading
import time

import pytest
from daemon_helpers import fake_shell, in_process_daemon, wait_until

from shellper_hook import client, warmth


@pytest.fixture(autouse=True)
def quick_cold_reads(monkeypatch):
    """A cold read is anything over 0.3 s here (1.5 s for real), so the tests wait less."""
    monkeypatch.setattr(warmth, "COLD", 0.3)


def translate(session, text, cwd):
    return client.request({"op": "translate", "session": session, "cwd": cwd, "text": text})


def test_a_request_during_the_warm_up_waits_for_it_and_says_so(shellper_env, fake, monkeypatch, tmp_path):
    fake.warmup_delay = 0.8  # the prefix read cold at start
    fake.answer("list", "ls", {"a": False})
    d, stop = in_process_daemon(monkeypatch, fake)
    try:
        wait_until(lambda: len(fake.warmups) == 1, 10)
        with fake_shell() as shell:
            reply = translate(shell, "list the files", str(tmp_path))
        assert reply["ok"], reply
        assert any("reading its instructions first" in w for w in reply["warnings"]), reply["warnings"]
        assert len(fake.requests) == 1 and len(fake.warmups) == 1  # after the warm-up, not beside it
    finally:
        stop()


def test_a_restarted_server_is_warmed_again_while_no_one_waits(shellper_env, monkeypatch, tmp_path):
    from fake_ollama import FakeOllama

    monkeypatch.setenv("SHELLPER_WARM_WATCH", "0.2")
    with FakeOllama(ollama=False) as server:  # llama.cpp's server: no preload, only its prompt cache
        d, stop = in_process_daemon(monkeypatch, server)
        try:
            wait_until(lambda: len(server.warmups) >= 3, 10, what="the watch to warm the model again")
            server.warmup_delay = 0.5  # restarted: the next warm-up reads the prefix cold
            wait_until(lambda: d.warmth.cold_seconds is not None, 10)
            server.warmup_delay = 0.0
            with fake_shell() as shell:
                started = time.monotonic()
                assert translate(shell, "where am i", str(tmp_path))["ok"]
                assert time.monotonic() - started < 0.4  # read before the person asked
        finally:
            stop()


def test_a_busy_daemon_is_not_warmed_beside_a_request(shellper_env, monkeypatch, tmp_path):
    from fake_ollama import FakeOllama

    monkeypatch.setenv("SHELLPER_WARM_WATCH", "0.1")
    with FakeOllama(ollama=False) as server:
        d, stop = in_process_daemon(monkeypatch, server)
        try:
            wait_until(lambda: len(server.warmups) >= 1, 10)
            server.delay = 0.9
            with fake_shell() as shell:
                done = []
                t = threading.Thread(target=lambda: done.append(translate(shell, "where", str(tmp_path))))
                t.start()
                time.sleep(0.2)
                during = len(server.warmups)
                time.sleep(0.5)
                assert len(server.warmups) == during  # no warm-up while a terminal waits
                t.join(10)
            assert done and done[0]["ok"]
        finally:
            stop()


def test_a_cold_first_request_gets_time_and_a_note(shellper_env, fake, monkeypatch, tmp_path):
    monkeypatch.setenv("SHELLPER_TIMEOUT", "0.4")
    fake.mode = "500"  # the warm-up at start fails: the prefix was never read
    d, stop = in_process_daemon(monkeypatch, fake)
    try:
        wait_until(lambda: len(fake.warmups) == 1, 10)
        fake.mode = "ok"
        fake.delay = 0.7  # past the 0.4 s timeout: the cold read of the first request
        with fake_shell() as shell:
            reply = translate(shell, "where am i", str(tmp_path))
            assert reply["ok"], reply
            assert any("read its instructions for the first time" in w for w in reply["warnings"]), reply
            again = translate(shell, "where am i now", str(tmp_path))  # warm now: the usual deadline
            assert not again["ok"] and again["kind"] == "backend" and "0.4 s" in again["error"], again
    finally:
        stop()
