"""The general model's answer: one command line, alone or in a shell fence; anything else said plainly."""

from __future__ import annotations

import os

import pytest

from shellper_hook.general import MAX_ANSWER, GeneralAnswer, command_of, messages

PATH = os.defpath + ":/usr/bin:/bin"


@pytest.mark.parametrize(
    "answer, command",
    [
        ("tar czf logs.tgz logs", "tar czf logs.tgz logs"),
        ("```bash\ntar czf logs.tgz logs\n```", "tar czf logs.tgz logs"),
        ("```sh\nls -la | sort\n```", "ls -la | sort"),
        ("```zsh\nmkdir -p a && cd a\n```", "mkdir -p a && cd a"),
        ("```fish\nset -x A 1\n```", "set -x A 1"),
        ("```\ndu -sh .\n```", "du -sh ."),
        ("Here it is:\n```bash\n$ ps aux\n```\nThis lists processes.", "ps aux"),
        ("<think>\nthe user wants...\n</think>\n```bash\nls\n```", "ls"),
        ("`uname -a`", "uname -a"),
        ("```bash\n# list them\nls -l\n```", "ls -l"),
        ("```bash\ngrep -r 'TODO' .\n", "grep -r 'TODO' ."),  # a fence left open at the end
        ("frobnicate-the-disk --now", "frobnicate-the-disk --now"),  # a program this machine lacks is still a command
    ],
)
def test_the_one_command_line_is_read_out_of_the_answer(answer, command):
    assert command_of(answer, PATH) == command


@pytest.mark.parametrize(
    "answer, said",
    [
        ("", "an empty answer"),
        ("   \n  ", "an empty answer"),
        (None, "an empty answer"),
        ("To compress the logs folder, use tar with the czf options.", "prose, not a command"),
        ("You can run:\nls -la\nto list the files.", "prose, not a command"),
        ("```bash\ncd src\nmake\n```", "2 lines, not one command line"),
        ("```bash\nls\n```\nor\n```bash\nls -a\n```", "2 commands, not one"),
        ("```python\nimport os\nprint(os.listdir())\n```", "prose"),
        ("use tar with the czf options", "prose, not a command"),
        ("run ls in the folder", "prose, not a command"),
        ("```bash\n# nothing to do\n```", "no command"),
        ("echo " + "x" * MAX_ANSWER, "characters long"),
    ],
)
def test_what_is_not_one_command_line_is_said_plainly(answer, said):
    with pytest.raises(GeneralAnswer) as info:
        command_of(answer, PATH)
    assert said in str(info.value) and str(info.value).startswith("the general model")


def test_the_model_is_told_the_shell_and_os_and_sees_the_commands_that_ran():
    got = messages([("list the files", "ls"), ("show the big ones", "du -sh * | sort -h")], "pack the logs", "fish", "Linux")
    assert [m["role"] for m in got] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "one fish command line for Linux" in got[0]["content"]
    assert got[2]["content"] == "```fish\nls\n```" and got[-1] == {"role": "user", "content": "pack the logs"}


def test_a_fence_closed_on_the_commands_own_line_is_not_part_of_it():
    assert command_of("```bash\nls -la```", PATH) == "ls -la"
    assert command_of("```bash\ntar czf a.tgz a ```\nThis packs it.", PATH) == "tar czf a.tgz a"
