"""Fixtures for the test modules that drive real shells in tmux (a pytest plugin: conftest.py loads it).

Per module, one stand-in Ollama (`ollama`), one private tmux server (`tmux`)
and one set of private dirs whose shells share one daemon (`shell_env`);
per test, its own working folder (`work`). The names differ from
conftest's function-scoped `fake` and `env`, which would win over a
plugin's fixtures of the same names.
"""

from __future__ import annotations

import itertools
import re

import pytest
from fake_ollama import FakeOllama
from shellharness import ShellEnv, Tmux

_folders = itertools.count()


@pytest.fixture(scope="module")
def _ollama_server():
    with FakeOllama() as server:
        yield server


@pytest.fixture
def ollama(_ollama_server):
    """The module's stand-in Ollama, answering at once and normally when a test starts and ends."""
    _ollama_server.mode, _ollama_server.delay = "ok", 0.0
    yield _ollama_server
    _ollama_server.mode, _ollama_server.delay = "ok", 0.0


@pytest.fixture(scope="module")
def tmux():
    with Tmux() as t:
        yield t


@pytest.fixture(scope="module")
def shell_env(_ollama_server):
    """Private HOME and XDG dirs for the module's shells, and their daemon (stopped after)."""
    env = ShellEnv(_ollama_server.base_url)
    yield env
    env.close()


@pytest.fixture
def work(shell_env, request):
    """A fresh folder for this test (its name says which test, for a failure's output)."""
    name = re.sub(r"[^\w.-]+", "-", request.node.name)[:50]
    return shell_env.workdir(f"{name}-{next(_folders)}")
