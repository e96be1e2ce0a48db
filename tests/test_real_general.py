"""The general model against a real one (issue 23): Qwen2.5-Coder-1.5B-Instruct on llama.cpp's server.

Marked `model` (conftest.py), like test_real_model.py. A stock model, not one a user would pick
for this (qwen2.5-coder:3b): the tests check what shellper does with a real model's plain-text
answer (one command line, judged on a real parse, with what the parse can say for sure, then run
by Enter in the user's shell), not how good the model is. The file model is left unset on the
server (its warm-up fails at once), so the one slot serves the general requests alone.
"""

from __future__ import annotations

import os
import re
import tarfile
import time

import pytest
import real_model
from daemon_helpers import fake_shell
from shellharness import ShellEnv, have, start_daemon, translate, wait_until

from shellper_hook import client

pytestmark = pytest.mark.model

MODEL = real_model.MODELS["1.5b"]
TIMEOUT = 240  # a 1.5B model reads its first prompt cold on 2 busy CPUs


@pytest.fixture(scope="module")
def llama():
    try:
        real_model.engine()
        gguf = real_model.fetch(MODEL.name)
    except real_model.Unavailable as exc:
        pytest.skip(f"no real 1.5B model here: {exc}")
    server = real_model.LlamaServer(gguf, MODEL.alias)
    try:
        server.start()
    except real_model.Unavailable as exc:
        pytest.skip(f"llama.cpp's server did not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def real(llama):
    env = ShellEnv(
        llama.base_url,
        {"SHELLPER_MODEL": "no-file-model-here", "SHELLPER_GENERAL_MODEL": MODEL.alias, "SHELLPER_TIMEOUT": str(TIMEOUT)},
    )
    try:
        start_daemon(env)
        yield env
    finally:
        env.close()


def _logs(folder: str) -> None:
    os.makedirs(os.path.join(folder, "logs"), exist_ok=True)
    for name in ("app.log", "db.log"):
        with open(os.path.join(folder, "logs", name), "w") as fh:
            fh.write(f"{name} started\n")


def test_a_real_general_models_answer_becomes_one_judged_command(real):
    folder = real.workdir("general-ask")
    _logs(folder)
    old = dict(os.environ)
    os.environ.update(real.env)
    try:
        with fake_shell() as shell:
            began = time.monotonic()
            reply = client.request(
                {"op": "translate", "session": shell, "cwd": folder, "shell": "bash", "text": "use tar to compress the logs folder"},
                timeout=TIMEOUT + 20,
            )
            seconds = time.monotonic() - began
    finally:
        os.environ.clear()
        os.environ.update(old)
    print(f"\n[real general model] {seconds:.1f} s: {reply}")
    if not reply.get("ok"):  # a stock model may answer badly: then it is said plainly
        assert reply["error"].startswith(("the general model", "refused: ")), reply
        return
    assert reply["call"] is None and reply["command"].split()[0] == "tar", reply
    assert reply["effect"].startswith("runs: tar") and "logs is a folder (2 entries)" in reply["effect"], reply
    assert reply["effect"].endswith("undo: no, shellper keeps nothing for a general model's command")


@pytest.mark.skipif(not (have("zsh") and have("tmux")), reason="needs zsh and tmux")
def test_ctrl_g_and_enter_in_zsh_make_the_archive(real, tmux):
    folder = real.workdir("general-zsh")
    _logs(folder)
    pane = real.zsh(tmux, cwd=folder)
    translate(pane, "use tar to compress the logs folder into logs.tgz")
    found = pane.wait_for(re.compile(r"shellper: (runs: tar|refused|the general model)[^\n]*"), timeout=TIMEOUT)
    if not found.group(0).startswith("shellper: runs: tar"):
        pytest.skip(f"the stock model's answer was not a tar command: {found.group(0)}")
    pane.send("Enter")
    archive = os.path.join(folder, "logs.tgz")
    wait_until(lambda: os.path.exists(archive) and tarfile.is_tarfile(archive), timeout=20, what="the archive")
    with tarfile.open(archive) as tar:
        assert {"logs/app.log", "logs/db.log"} <= set(tar.getnames())
