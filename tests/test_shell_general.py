"""The general model in real shells: its command on the line with its effect line, run by Enter in
the user's own shell; refusals said; a second Ctrl-G asks it for the same request."""

from __future__ import annotations

import os
import re
import tarfile

import pytest
from shell_adapters import EVERY
from shellharness import translate, wait_until

GENERAL = "qwen2.5-coder:3b"


@pytest.fixture
def general(ollama):
    if GENERAL not in ollama.models:
        ollama.models.append(GENERAL)
    return ollama


@pytest.mark.parametrize("sh", EVERY)
def test_a_general_command_lands_on_the_line_judged_and_runs_in_the_users_shell(sh, shell_env, tmux, work, general):
    os.makedirs(os.path.join(work, "logs"))
    with open(os.path.join(work, "logs", "app.log"), "w") as fh:
        fh.write("started\n")
    general.say("use tar to compress the logs folder", "```bash\ntar czf logs.tgz logs\n```", model=GENERAL)
    general.say("use dd to wipe the disk", "```bash\nsudo dd if=/dev/zero of=/dev/sda bs=1M\n```", model=GENERAL)
    general.answer("how many lines in the log", "wc", {"file_name": "logs/app.log", "mode": "l"})
    general.say("how many lines in the log", "```bash\ngrep -c '' logs/app.log\n```", model=GENERAL)
    pane = sh.start(shell_env, tmux, work, env={"SHELLPER_GENERAL_MODEL": GENERAL})

    translate(pane, "use tar to compress the logs folder")
    pane.wait_line("tar czf logs.tgz logs", timeout=20)
    pane.wait_for(re.compile(r"shellper: runs: tar; .*logs is a folder"))
    pane.send("Enter")
    archive = os.path.join(work, "logs.tgz")
    wait_until(lambda: os.path.exists(archive) and tarfile.is_tarfile(archive), timeout=10, what="tar to make logs.tgz")
    pane.wait_prompt()
    with tarfile.open(archive) as tar:
        assert "logs/app.log" in tar.getnames()

    translate(pane, "use dd to wipe the disk")
    pane.wait_for(re.compile(r"shellper: refused: "), timeout=20)

    pane.send("C-u")
    translate(pane, "how many lines in the log")
    pane.wait_line("wc -l logs/app.log", timeout=20)
    translate(pane, "", key="C-g")  # "not that": the same request, to the general model
    pane.wait_line("grep -c '' logs/app.log", timeout=20)
    pane.mark()
    pane.send("Enter")
    pane.wait_for(re.compile(r"^1$", re.M), timeout=10)
