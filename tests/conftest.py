"""Shared test set-up: every test gets its own HOME and XDG dirs, never the user's.

Every test is marked by what it needs, so `pytest -m core` checks a change in
seconds: core (in-process, no shell, no daemon process), daemon (a real daemon
and socket), shell (real zsh, bash or fish) or model (a real model on llama.cpp's
server, downloaded once: tests/real_model.py). The model tests run only when
asked for, with `-m model` (or a -m expression naming it) or by naming their file.
"""

import os
import shutil
import sys
import tempfile

import pytest
from daemon_helpers import stop_daemon
from fake_ollama import FakeOllama

_CORE = {
    "test_tools",
    "test_parser",
    "test_policy",
    "test_turns",
    "test_store",
    "test_settings",
    "test_backend",
    "test_effect",
    "test_protocol",
    "test_client_keys",
    "test_general",
    "test_general_policy",
    "test_undo",
}
_SHELL = {
    "test_shell_undo",
    "test_shell_general",
    "test_shell_remote",
    "test_ssh",
    "test_ssh_harness",
    "test_shell_zsh",
    "test_shell_bash",
    "test_shell_fish",
    "test_shell_invariants",
    "test_policy_effects",
    "test_policy_findings",
    "test_render",
    "test_secrets",
    "test_install",
    "test_cli_output",
    "test_shell_autostart",
    "test_shell_exit",
    "test_init_static",
    "test_shell_behaviour",
    "test_shell_conventions",
    "test_completion",
    "test_client_isolation",
    "test_shell_settings",
    "test_plugin_managers",
    "test_client_launch",
    "test_bash_pipes",
    "test_claims",
}
# The module-scoped fixtures of the real-shell tests (ollama, tmux, shell_env, work).
pytest_plugins = ["shell_fixtures"]


_MODEL = {"test_real_model", "test_real_general"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        mark = "model" if module in _MODEL else "core" if module in _CORE else "shell" if module in _SHELL else "daemon"
        item.add_marker(getattr(pytest.mark, mark))
    # A plain run leaves the real model out (minutes, and a 500 MB download the first time).
    if "model" in (config.getoption("markexpr") or ""):
        return
    named = {os.path.basename(str(a).split("::")[0]) for a in config.args}
    left = [
        i for i in items if i.module.__name__.rsplit(".", 1)[-1] in _MODEL and f"{i.module.__name__.rsplit('.', 1)[-1]}.py" not in named
    ]
    if left:
        config.hook.pytest_deselected(items=left)
        left_ids = set(map(id, left))
        items[:] = [i for i in items if id(i) not in left_ids]


# The console script of the interpreter running the tests comes first on PATH.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture
def shellper_env(monkeypatch):
    """Private HOME/XDG dirs (short paths: a socket path must stay under 104 bytes)."""
    root = tempfile.mkdtemp(prefix="sp-")
    env = {
        "HOME": os.path.join(root, "home"),
        "XDG_RUNTIME_DIR": os.path.join(root, "run"),
        "XDG_STATE_HOME": os.path.join(root, "state"),
        "XDG_CONFIG_HOME": os.path.join(root, "config"),
        "XDG_DATA_HOME": os.path.join(root, "data"),
    }
    for key, path in env.items():
        os.makedirs(path, mode=0o700)
        monkeypatch.setenv(key, path)
    for key in list(os.environ):
        if key.startswith("SHELLPER_"):
            monkeypatch.delenv(key)
    yield env
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fake():
    """The stand-in Ollama, answering `pwd` until a test adds rules."""
    with FakeOllama() as server:
        yield server


@pytest.fixture
def daemon_env(shellper_env, fake, monkeypatch):
    """Private dirs with the daemon pointed at `fake`; any daemon started is stopped after."""
    monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
    monkeypatch.setenv("SHELLPER_TIMEOUT", "20")
    yield shellper_env
    stop_daemon()


@pytest.fixture
def clean_environ(tmp_path, monkeypatch):
    """os.environ made clean (no user config, no SHELLPER_* overrides), as a dict for a subprocess."""
    for key in list(os.environ):
        if key.startswith("SHELLPER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SHELLPER_CONFIG", str(tmp_path / "absent.toml"))
    return dict(os.environ)
