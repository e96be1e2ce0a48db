"""A folder's Python files never run when shellper is used in that folder.

The shells start the Python client (bash and fish for every request; all
three for reports, the exit hook, the background start, and zsh's first
request). Run from the user's folder with that folder first on sys.path, a
`json.py` there would run in place of the module: a cloned repository could
take over the user's account when they press Ctrl-G in it. This puts such
files in a folder and uses every client path there, in real shells, checking
that none ran and that shellper still worked.
"""

from __future__ import annotations

import os
import time

import pytest
from shellharness import ShellEnv, have, translate, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the client and Python's start-up import, and what Python would look
# up first on the path (extension modules such as _socket and _json too).
HOSTILE_MODULES = (
    "json",
    "_json",
    "socket",
    "_socket",
    "struct",
    "_struct",
    "subprocess",
    "tempfile",
    "runpy",
    "enum",
    "re",
    "fcntl",
    "select",
    "selectors",
    "signal",
    "errno",
    "time",
    "shellper_hook",
)


@pytest.fixture
def autostart_env(ollama):
    """Its own dirs and daemon, started in the background as a new shell does (the plugin's tmux)."""
    e = ShellEnv(ollama.base_url, {"SHELLPER_AUTOSTART": "1"})
    yield e
    e.close()


def hostile_folder(autostart_env, name: str) -> tuple:
    """A folder whose Python files note in a canary file (outside it) that they ran."""
    work = autostart_env.workdir(name)
    canary = os.path.join(autostart_env.root, f"canary-{name}")
    body = f"open({canary!r}, 'a').write(__name__ + '\\n')\n"
    for module in HOSTILE_MODULES:
        if module == "shellper_hook":
            os.makedirs(os.path.join(work, module), exist_ok=True)
            for part in ("__init__", "client"):
                with open(os.path.join(work, module, f"{part}.py"), "w") as fh:
                    fh.write(body)
        else:
            with open(os.path.join(work, f"{module}.py"), "w") as fh:
                fh.write(body)
    return work, canary


def _start(autostart_env, tmux, shell: str, work: str, loaded: str):
    if loaded == "init":
        return getattr(autostart_env, shell)(tmux, cwd=work)
    # The script sourced on its own: no settings, so the client is found as python3 -m.
    script = os.path.join(ROOT, "shell", f"shellper.{shell}")
    load = f"source {script}" if shell == "fish" else f". '{script}'"
    return getattr(autostart_env, shell)(tmux, cwd=work, load=load)


def _daemon_down(autostart_env) -> None:
    """The daemon up now stops (a prompt may start the next one: it then starts from a client too)."""
    pid = autostart_env.daemon_pid()
    autostart_env.shellper("stop")
    wait_until(lambda: pid is None or not os.path.exists(f"/proc/{pid}"), timeout=10)


@pytest.mark.skipif(not (have("tmux") and have("zsh") and have("bash") and have("fish")), reason="needs tmux, zsh, bash, fish")
@pytest.mark.parametrize("loaded", ["init", "sourced"])
@pytest.mark.parametrize("shell", ["zsh", "bash", "fish"])
def test_python_files_in_the_folder_never_run(autostart_env, tmux, ollama, shell, loaded):
    work, canary = hostile_folder(autostart_env, f"{shell}-{loaded}")
    ollama.answer(f"make a folder {shell}", "mkdir", {"dir_name": "made"})
    try:
        _use_every_client_path(autostart_env, tmux, shell, work, loaded)
    finally:  # checked first: a module run in place of the client's breaks it too
        ran = open(canary).read().split() if os.path.exists(canary) else []
        assert not ran, f"ran from the user's folder: {ran}"


def _use_every_client_path(autostart_env, tmux, shell: str, work: str, loaded: str) -> None:
    pane = _start(autostart_env, tmux, shell, work, loaded)  # the background start runs here (with the settings)
    if loaded == "init":
        wait_until(lambda: autostart_env.daemon_pid() is not None, timeout=15)
    # No daemon: the request goes through the client in every shell, which starts one.
    _daemon_down(autostart_env)
    translate(pane, f"make a folder {shell}")
    pane.wait_line("mkdir made", timeout=20)
    # The report goes through the client when zsh cannot reach the daemon.
    if shell == "zsh":
        _daemon_down(autostart_env)
    pane.run("", wait=None)
    wait_until(lambda: os.path.isdir(os.path.join(work, "made")), timeout=10)
    pane.run("true")
    if shell == "zsh":
        _daemon_down(autostart_env)
    # The exit hook: the client tells the daemon to forget this terminal.
    pane.type("exit")
    pane.send("Enter")
    time.sleep(1.0)  # the exit's client is detached: give it time to have run
