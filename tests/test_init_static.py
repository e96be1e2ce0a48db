"""`shellper init SHELL --static`: a file the rc sources, so a new shell pays a file read, not a Python start."""

from __future__ import annotations

import os
import subprocess

import pytest
from shellharness import have, hostile_aliases, translate

SHELLS = [s for s in ("zsh", "bash", "fish") if have(s)]


def static_file(shell_env, shell: str) -> str:
    out = subprocess.run(["shellper", "init", shell, "--static"], env=shell_env.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # The settings, a loader and the completion made from the parser, not the script's text.
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell", f"shellper.{shell}")) as fh:
        script = fh.read()
    assert len(out.stdout.splitlines()) < 80 and script.splitlines()[0] not in out.stdout
    path = os.path.join(shell_env.workdir("static"), f"init.{shell}")
    with open(path, "w") as fh:
        fh.write(out.stdout)
    return path


@pytest.mark.parametrize("shell", SHELLS)
def test_a_static_init_file_loads_the_same_integration(shell_env, tmux, ollama, shell):
    path = static_file(shell_env, shell)
    work = shell_env.workdir(f"static-{shell}")
    ollama.answer("static init request", "mkdir", {"dir_name": "made"})
    load = f"source '{path}'"
    pane = getattr(shell_env, shell)(tmux, cwd=work, load=load)
    translate(pane, "static init request")
    pane.wait_line("mkdir made", timeout=20)
    pane.run("")
    assert os.path.isdir(os.path.join(work, "made"))


def test_the_static_zsh_file_is_immune_to_aliases_loaded_before_it(shell_env, tmux, ollama):
    if "zsh" not in SHELLS:
        pytest.skip("zsh not installed")
    path = static_file(shell_env, "zsh")
    work = shell_env.workdir("static-zsh-aliases")
    ollama.answer("static alias request", "mkdir", {"dir_name": "made2"})
    pane = shell_env.zsh(tmux, cwd=work, before=hostile_aliases("zsh"), load=f"'builtin' 'source' '{path}'")
    translate(pane, "static alias request")
    pane.wait_line("mkdir made2", timeout=20)


def test_a_static_file_whose_script_is_gone_falls_back_to_init(shell_env, tmux, ollama, tmp_path):
    path = static_file(shell_env, "bash")
    with open(path) as fh:
        text = fh.read()
    with open(path, "w") as fh:
        fh.write(text.replace("shell/shellper.bash", "shell/gone.bash").replace("shellper.bash'", "gone.bash'"))
    work = shell_env.workdir("static-gone")
    ollama.answer("static fallback request", "mkdir", {"dir_name": "made3"})
    pane = shell_env.bash(tmux, cwd=work, load=f"source '{path}'")
    translate(pane, "static fallback request")
    pane.wait_line("mkdir made3", timeout=20)
