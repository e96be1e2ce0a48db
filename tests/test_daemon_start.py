"""A daemon starting serves at once: its slow import (the model client) happens while it
listens, not in front of the first request (issue 21: a Ctrl-G after the daemon exited
waited 1.4-3 s, 1.1 s of it `import openai`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from daemon_helpers import alive, daemon_pid, fake_shell, stop_daemon, wait_until

from shellper_hook import client, paths

SLOW_IMPORT = 3.0

# An `openai` that takes SLOW_IMPORT s to import, then is the real one.
SHIM = f"""
import importlib, sys, time
time.sleep({SLOW_IMPORT})
sys.path.remove({{here!r}})
del sys.modules["openai"]
real = importlib.import_module("openai")
sys.modules["openai"] = real
"""


def test_a_starting_daemon_answers_before_its_model_client_is_loaded(daemon_env, tmp_path):
    shim = tmp_path / "shim"
    (shim / "openai").mkdir(parents=True)
    (shim / "openai" / "__init__.py").write_text(SHIM.format(here=str(shim)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), *filter(None, [os.environ.get("PYTHONPATH")])])}
    started = time.monotonic()
    daemon = subprocess.Popen([sys.executable, "-m", "shellper_hook.daemon"], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(paths.socket_path()), 10, what="the daemon's socket")
        with fake_shell() as shell:
            # What needs no model is answered while the model client still loads.
            assert client.request({"op": "ping"}, autostart=False, timeout=5)["ok"]
            reply = client.request({"op": "check", "session": shell, "cwd": "/", "command": "ls"}, autostart=False, timeout=5)
            assert reply["ok"] and reply["changed"] is False
            assert time.monotonic() - started < SLOW_IMPORT, "served only after the slow import"
            # A translate waits for the client, then is served.
            reply = client.request({"op": "translate", "session": shell, "cwd": "/", "text": "where am I"}, timeout=30)
            assert reply["ok"], reply
            assert time.monotonic() - started >= SLOW_IMPORT
    finally:
        stop_daemon()
        daemon.wait(10)
    assert not alive(daemon_pid()) or daemon_pid() != daemon.pid


def test_a_daemon_a_prompt_brought_back_leaves_the_model_alone_until_asked(daemon_env, fake):
    """A prompt after an idle exit starts a lazy daemon (`start` with lazy=1): it loads its
    model client but neither preloads the model nor warms the server until a translate
    comes, so a terminal in use never keeps the model loaded (issue 21's review)."""
    run = subprocess.run(
        [sys.executable, "-m", "shellper_hook.client"], input=b"start\0\0\0\0\0\0lazy=1\0\0", cwd="/", timeout=30, capture_output=True
    )
    assert run.returncode == 0, run.stderr
    assert client.request({"op": "ping"}, autostart=False, timeout=5)["ok"]
    time.sleep(1.5)  # a daemon that warms at start has preloaded by now
    assert fake.preloads == [] and fake.warmups == []
    with fake_shell() as shell:
        assert client.request({"op": "translate", "session": shell, "cwd": "/", "text": "where am I"}, timeout=30)["ok"]
    wait_until(lambda: len(fake.preloads) == 1, 10, what="the preload after the first translate")
    stop_daemon()
