"""`shellper init SHELL --static`: a file the rc sources, so a new shell pays a file read, not a Python start."""

from __future__ import annotations

import os
import subprocess

import pytest
from fake_ollama import FakeOllama
from shellharness import ShellEnv, Tmux, have, hostile_aliases, translate

SHELLS = [s for s in ("zsh", "bash", "fish") if have(s)]


@pytest.fixture(scope="module")
def fake():
    with FakeOllama() as server:
        yield server


@pytest.fixture(scope="module")
def tmux():
    with Tmux() as t:
        yield t


@pytest.fixture(scope="module")
def env(fake):
    e = ShellEnv(fake.base_url)
    yield e
    e.close()


def static_file(env, shell: str) -> str:
    out = subprocess.run(["shellper", "init", shell, "--static"], env=env.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) < 15  # the settings and a loader, not the script's text
    path = os.path.join(env.workdir("static"), f"init.{shell}")
    with open(path, "w") as fh:
        fh.write(out.stdout)
    return path


@pytest.mark.parametrize("shell", SHELLS)
def test_a_static_init_file_loads_the_same_integration(env, tmux, fake, shell):
    path = static_file(env, shell)
    work = env.workdir(f"static-{shell}")
    fake.answer("static init request", "mkdir", {"dir_name": "made"})
    load = f"source '{path}'"
    pane = getattr(env, shell)(tmux, cwd=work, load=load)
    translate(pane, "static init request")
    pane.wait_line("mkdir made", timeout=20)
    pane.run("")
    assert os.path.isdir(os.path.join(work, "made"))


def test_the_static_zsh_file_is_immune_to_aliases_loaded_before_it(env, tmux, fake):
    if "zsh" not in SHELLS:
        pytest.skip("zsh not installed")
    path = static_file(env, "zsh")
    work = env.workdir("static-zsh-aliases")
    fake.answer("static alias request", "mkdir", {"dir_name": "made2"})
    pane = env.zsh(tmux, cwd=work, before=hostile_aliases("zsh"), load=f"'builtin' 'source' '{path}'")
    translate(pane, "static alias request")
    pane.wait_line("mkdir made2", timeout=20)


def test_a_static_file_whose_script_is_gone_falls_back_to_init(env, tmux, fake, tmp_path):
    path = static_file(env, "bash")
    with open(path) as fh:
        text = fh.read()
    with open(path, "w") as fh:
        fh.write(text.replace("shell/shellper.bash", "shell/gone.bash").replace("shellper.bash'", "gone.bash'"))
    work = env.workdir("static-gone")
    fake.answer("static fallback request", "mkdir", {"dir_name": "made3"})
    pane = env.bash(tmux, cwd=work, load=f"source '{path}'")
    translate(pane, "static fallback request")
    pane.wait_line("mkdir made3", timeout=20)
