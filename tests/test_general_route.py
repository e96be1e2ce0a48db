"""The general model through a real daemon: what goes to it, what it answers, and how that is judged.

With general_model set, a request the 18 file tools cannot serve (and a second Ctrl-G on a
suggestion just made) goes to it as plain chat; its command comes back judged on a real parse
with an effect line of what is sure; file requests still go to the SHELLper model; unset,
nothing changes."""

from __future__ import annotations

import os

import pytest
from daemon_helpers import fake_shell

from shellper_hook import client

GENERAL = "qwen2.5-coder:3b"


@pytest.fixture
def general(daemon_env, fake, monkeypatch):
    fake.models.append(GENERAL)
    monkeypatch.setenv("SHELLPER_GENERAL_MODEL", GENERAL)  # the daemon starts with it
    return fake


def _ask(session, text, cwd, shell="bash"):
    return client.request({"op": "translate", "session": session, "cwd": cwd, "shell": shell, "text": text})


def _enter(session, cwd, line) -> dict:
    return client.request({"op": "check", "session": session, "cwd": cwd, "shell": "bash", "text": line})


def _general_bodies(fake) -> list:
    return [b for b in fake.requests if b.get("model") == GENERAL]


def _logs(tmp_path) -> str:
    os.makedirs(tmp_path / "logs")
    (tmp_path / "logs" / "app.log").write_text("started\n")
    return str(tmp_path)


def test_a_request_the_file_tools_cannot_serve_goes_to_the_general_model(general, tmp_path):
    work = _logs(tmp_path)
    general.say("use tar to compress the logs folder", "```bash\ntar czf logs.tgz logs\n```", model=GENERAL)
    with fake_shell() as shell:
        reply = _ask(shell, "use tar to compress the logs folder", work, shell="zsh")
    assert reply["ok"], reply
    assert reply["command"] == "tar czf logs.tgz logs" and reply["call"] is None
    assert reply["effect"].startswith("runs: tar; ") and "logs is a folder (1 entry)" in reply["effect"]
    assert "logs.tgz is not there" in reply["effect"] and "cannot tell" in reply["effect"]
    assert reply["effect"].endswith("undo: no, shellper keeps nothing for a general model's command")
    (body,) = _general_bodies(general)
    assert "tools" not in body and "one zsh command line" in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": "use tar to compress the logs folder"}


def test_file_requests_still_go_to_the_shellper_model(general, tmp_path):
    general.answer("list the files", "ls", {})
    with fake_shell() as shell:
        reply = _ask(shell, "list the files", str(tmp_path))
    assert reply["ok"] and reply["command"] == "ls", reply
    assert _general_bodies(general) == [] and general.requests[-1]["model"] == "distil_model"
    assert "tools" in general.requests[-1]


def test_a_second_ctrl_g_on_a_suggestion_asks_the_general_model_for_the_same_request(general, tmp_path):
    general.answer("how big is this folder", "du", {"human_readable": True})
    general.say("how big is this folder", "```bash\ndu -sh .\n```", model=GENERAL)
    with fake_shell() as shell:
        first = _ask(shell, "how big is this folder", str(tmp_path))
        assert first["command"] == "du -h"
        again = _ask(shell, first["command"], str(tmp_path))  # Ctrl-G on the line as it was put there
    assert again["ok"] and again["command"] == "du -sh .", again
    assert _general_bodies(general)[-1]["messages"][-1]["content"] == "how big is this folder"


def test_the_general_models_command_is_judged_refused_warned_or_said_to_be_prose(general, tmp_path):
    home = os.environ["HOME"]
    general.say("wipe everything", "```bash\nsudo rm -rf --no-preserve-root /\n```", model=GENERAL)
    general.say("install my alias", "```bash\necho 'alias ll=ls' >> ~/.bashrc\n```", model=GENERAL)
    general.say("compress the notes with zip", "You should use the zip program for that.", model=GENERAL)
    with fake_shell() as shell:
        refused = _ask(shell, "wipe everything with sudo", str(tmp_path))
        warned = _ask(shell, "install my alias with sudo", str(tmp_path))
        prose = _ask(shell, "compress the notes with zip", str(tmp_path))
    assert not refused["ok"] and refused["error"].startswith("refused: "), refused
    assert warned["ok"] and any("~/.bashrc" in w or f"{home}/.bashrc" in w for w in warned["warnings"]), warned
    assert not prose["ok"] and "answered with prose, not a command" in prose["error"], prose


def test_enter_judges_a_general_command_again_on_the_files_as_they_are(general, tmp_path):
    work = _logs(tmp_path)
    general.say("pack the logs with tar", "```bash\ntar czf logs.tgz logs\n```", model=GENERAL)
    with fake_shell() as shell:
        reply = _ask(shell, "pack the logs with tar", work)
        assert _enter(shell, work, reply["command"])["changed"] is False
        (tmp_path / "logs.tgz").write_bytes(b"an older archive")
        got = _enter(shell, work, reply["command"])
    assert got["changed"] is True and "logs.tgz is a file (16 bytes)" in got["lines"][1], got


def test_without_a_general_model_nothing_changes(daemon_env, fake, tmp_path):
    fake.say("use tar to compress the logs folder", "```bash\ntar czf logs.tgz logs\n```")
    with fake_shell() as shell:
        reply = _ask(shell, "use tar to compress the logs folder", str(tmp_path))
    assert not reply["ok"] and "outside what shellper's model does" in reply["error"], reply
    assert fake.requests == []


def test_not_that_on_a_general_command_asks_for_another_way(general, tmp_path):
    general.say("pack the logs with tar", "```bash\ntar czf logs.tgz logs\n```", model=GENERAL)
    general.say("another way than", "```bash\nzip -r logs.zip logs\n```", model=GENERAL)
    with fake_shell() as shell:
        first = _ask(shell, "pack the logs with tar", str(tmp_path))
        again = _ask(shell, first["command"], str(tmp_path))
    assert again["ok"] and again["command"] == "zip -r logs.zip logs", again
    asked = _general_bodies(general)[-1]["messages"][-1]["content"]
    assert asked == "pack the logs with tar (another way than `tar czf logs.tgz logs`)"
