"""Tab completion for the `shellper` command, loaded with the integration.

Typed in real zsh, bash and fish (tmux): subcommands, the shells of `init`,
files where a file is expected. The lists in the scripts are static (no
Python at shell start), so they are checked against `shellper --help`'s own
parser: bash's completion function and fish's `complete -C` are asked for
every subcommand's options, zsh's through its real completion in tmux.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import pytest
from shellharness import have

from shellper_hook.cli import build_parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHELLS = [pytest.param(s, marks=pytest.mark.skipif(not have(s), reason=f"needs {s}")) for s in ("zsh", "bash", "fish")]
pytestmark = pytest.mark.skipif(not have("tmux"), reason="needs tmux")
COMPINIT = "autoload -Uz compinit && compinit -u -D"


def commands() -> dict:
    """Subcommand -> its option strings (-h aside), from the real parser."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sorted(o for a in sp._actions for o in a.option_strings if o not in ("-h", "--help")) for name, sp in sub.choices.items()}


def start(shell_env, tmux, shell, work, compinit="before"):
    if shell == "zsh":
        if compinit == "before":
            return shell_env.zsh(tmux, before=COMPINIT, cwd=work)
        return shell_env.zsh(tmux, after=COMPINIT, cwd=work)
    if shell == "fish":
        return shell_env.fish(tmux, before="set -g fish_autosuggestion_enabled 0", cwd=work)
    return shell_env.bash(tmux, cwd=work)


def tab(pane, shell) -> None:
    """Ask for completion; bash lists the candidates on a second Tab."""
    pane.send("Tab")
    if shell == "bash":
        time.sleep(0.2)
        pane.send("Tab")


@pytest.mark.parametrize("shell", SHELLS)
def test_subcommands_and_the_shells_of_init_complete(shell_env, tmux, work, shell):
    pane = start(shell_env, tmux, shell, work)
    pane.mark()
    pane.type("shellper in")
    pane.send("Tab")
    pane.wait_line("shellper init")
    tab(pane, shell)
    for name in ("zsh", "bash", "fish"):
        pane.wait_for(name)
    pane.send("C-u")
    pane.mark()
    pane.type("shellper setup-m")
    pane.send("Tab")
    pane.wait_line("shellper setup-model")


@pytest.mark.parametrize("shell", SHELLS)
def test_a_file_argument_completes_file_names(shell_env, tmux, work, shell):
    open(os.path.join(work, "uniquely-named.jsonl"), "w").close()
    pane = start(shell_env, tmux, shell, work)
    pane.type("shellper export -o uniq")
    pane.send("Tab")
    pane.wait_line("shellper export -o uniquely-named.jsonl")
    pane.send("C-u")
    pane.type("shellper eval uniq")
    pane.send("Tab")
    pane.wait_line("shellper eval uniquely-named.jsonl")


@pytest.mark.skipif(not have("zsh"), reason="needs zsh")
def test_zsh_completion_works_when_compinit_runs_after_shellper(shell_env, tmux, work):
    pane = start(shell_env, tmux, "zsh", work, compinit="after")
    pane.type("shellper in")
    pane.send("Tab")
    pane.wait_line("shellper init")


@pytest.mark.skipif(not have("bash"), reason="needs bash")
def test_bash_offers_every_subcommand_and_option_of_the_parser(tmp_path):
    from shellper_hook.completion import script as completion

    (tmp_path / "completion.bash").write_text(completion("bash"))  # what `shellper init bash` prints
    script = (
        f"source {tmp_path}/completion.bash\n"
        'c() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); __shellper_complete;'
        " printf '%s ' \"${COMPREPLY[@]}\"; echo; }\n"
        "c shellper ''\n"
    )
    table = commands()
    for name in table:
        script += f"c shellper {name} -\n"
    out = subprocess.run(
        ["bash", "-i", "-c", script], capture_output=True, text=True, timeout=20, env=dict(os.environ, HOME="/nonexistent")
    ).stdout.splitlines()[-(len(table) + 1) :]
    assert sorted(out[0].split()) == sorted([*table, "--help", "--version"])
    for line, (name, options) in zip(out[1:], table.items()):
        assert sorted(set(line.split()) - {"--help"}) == options, name


@pytest.mark.skipif(not have("fish"), reason="needs fish")
def test_fish_offers_every_subcommand_and_option_of_the_parser(tmp_path):
    from shellper_hook.completion import script as completion

    table = commands()
    (tmp_path / "completion.fish").write_text(completion("fish"))  # what `shellper init fish` prints
    script = f"source {tmp_path}/completion.fish\ncomplete -C 'shellper '; echo @@\n"
    for name in table:
        script += f"complete -C 'shellper {name} -'; echo @@\n"
    out = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True, timeout=20).stdout
    blocks = [[ln.split("\t")[0] for ln in b.strip().splitlines()] for b in out.split("@@")[:-1]]
    assert sorted(w for w in blocks[0] if not w.startswith("-")) == sorted(table)
    for block, (name, options) in zip(blocks[1:], table.items()):
        assert sorted(set(block) - {"-h", "--help"}) == options, name


@pytest.mark.skipif(not have("zsh"), reason="needs zsh")
def test_zsh_offers_every_option_of_the_parser(shell_env, tmux, work):
    pane = start(shell_env, tmux, "zsh", work)
    for name, options in commands().items():
        if name == "explain" or not options:
            continue
        pane.mark()
        pane.type(f"shellper {name} --")
        pane.send("Tab")
        for option in options:
            if option.startswith("--"):
                pane.wait_for(option)
        pane.send("C-u")
        time.sleep(0.1)


@pytest.mark.parametrize("shell", ["zsh", "bash", "fish"])
def test_the_completion_init_prints_is_made_from_the_parser_and_parses(shell, tmp_path):
    """No word list is kept by hand in a shell script: `shellper init` prints one made from
    the parser, so every subcommand and option of --help is in it, and the shell can read it."""
    from shellper_hook.completion import script

    text = script(shell)
    for name, options in commands().items():
        assert name in text
        for option in options:
            fish = f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
            assert (fish if shell == "fish" else option) in text, (name, option)
    path = tmp_path / f"completion.{shell}"
    path.write_text(text)
    if have(shell):
        subprocess.run([shell, "-n", str(path)], check=True)
