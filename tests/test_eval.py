"""`shellper eval` against a fake Ollama whose answers the tests control."""

from __future__ import annotations

import collections
import json
import os
import pty
import re
import socket
import subprocess
import sys
import time

import pytest
from fake_ollama import FakeOllama
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from shellper_hook import cli, evaluate, tools
from shellper_hook.settings import DEFAULT_SYSTEM_PROMPT
from shellper_hook.tools import ToolCall

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = os.path.join(ROOT, "shellper_hook", "data", "bfcl_fs_eval.jsonl")


def _raw_rows(path=DATASET) -> list:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


ROWS = _raw_rows()


def _last_user(row) -> str:
    return [m for m in row["messages"] if m["role"] == "user"][-1]["content"]


def _canon(name, args) -> tuple:
    call = ToolCall(name, dict(args)).with_defaults()
    return call.name, call.arguments_json()


def _conversation(row_id: str) -> str:
    return row_id.split("/turn")[0] if re.search(r"/turn\d+$", row_id) else row_id


def _pct(part, whole) -> str:
    return f"{100 * part / whole:.2f}%"


def _answer_all(fake, rows=ROWS):
    for row in rows:
        fake.answer(_last_user(row), row["expected"]["name"], row["expected"]["arguments"])


def run_cli(environ, *argv, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "shellper_hook.cli", "eval", *argv],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=timeout,
    )


def run_inproc(capsys, *argv) -> tuple:
    code = cli.main(["eval", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write(tmp_path, rows, name="set.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- the dataset


def test_rules_by_last_user_message_pick_each_rows_own_answer(fake):
    # The "all right" test adds one rule per row matched on its last user
    # message; that only works if no two rows with different answers share it.
    by_text = collections.defaultdict(set)
    for row in ROWS:
        by_text[_last_user(row)].add(_canon(row["expected"]["name"], row["expected"]["arguments"]))
    assert all(len(calls) == 1 for calls in by_text.values())
    _answer_all(fake)
    for row in ROWS:
        assert _canon(*fake.choose(_last_user(row))) == _canon(row["expected"]["name"], row["expected"]["arguments"])


def test_packaged_dataset_loads_with_ids_turns_and_history():
    cases = evaluate.load_cases(DATASET)
    assert len(cases) == len(ROWS) == 35
    for case, row in zip(cases, ROWS):
        assert case.id == row["id"]
        assert case.request == _last_user(row)
        assert case.expected == tools.validate(row["expected"]["name"], row["expected"]["arguments"])
        assert len(case.history) == (len(row["messages"]) - 1) // 2


def test_data_readme_names_source_and_licence():
    with open(os.path.join(ROOT, "shellper_hook", "data", "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    for needle in ("bfcl_fs_eval.jsonl", "tools.json", "ShishirPatil/gorilla", "Apache", "35"):
        assert needle in text


# ---------------------------------------------------------------- scoring


def test_all_right_through_the_real_cli(clean_environ, fake):
    _answer_all(fake)
    proc = run_cli(clean_environ, "--base-url", fake.base_url)
    assert proc.returncode == 0, proc.stderr
    conversations = len({_conversation(r["id"]) for r in ROWS})
    assert "100.00% (35/35)" in proc.stdout
    assert f"100.00% ({conversations}/{conversations})" in proc.stdout
    assert "Failures: none" in proc.stdout
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    assert len(fake.requests) == 35


def test_all_wrong_lists_every_failure_with_expected_and_got(clean_environ, fake, capsys):
    fake.default("rmdir", {"dir_name": "nowhere"})
    code, out, err = run_inproc(capsys, "--base-url", fake.base_url)
    assert code == 0
    assert "0.00% (0/35)" in out
    assert "Failures (35):" in out
    for row in ROWS:
        assert f"- {row['id']}:" in out
    assert out.count('got:      rmdir {"dir_name": "nowhere"}') == 35
    assert 'expected: sort {"file_name": "report.txt"}' in out


def _mixed_rules(fake):
    """Answer right for every other conversation, plus the first turn of one
    more, so whole-conversation accuracy differs from per-call accuracy."""
    convs = list(dict.fromkeys(_conversation(r["id"]) for r in ROWS))
    chosen = set(convs[::2])
    partial = next(c for c in convs[1::2] if sum(_conversation(r["id"]) == c for r in ROWS) > 1)
    rows = [r for r in ROWS if _conversation(r["id"]) in chosen or r["id"] == partial + "/turn0"]
    _answer_all(fake, rows)
    fake.default("pwd", {})
    right = {r["id"] for r in ROWS if _canon(*fake.choose(_last_user(r))) == _canon(r["expected"]["name"], r["expected"]["arguments"])}
    return right, partial


def test_mixed_results_exact_percentages_text_and_json(clean_environ, fake):
    right, partial = _mixed_rules(fake)
    k, n = len(right), len(ROWS)
    assert 0 < k < n and partial + "/turn0" in right
    convs = collections.defaultdict(list)
    for r in ROWS:
        convs[_conversation(r["id"])].append(r["id"] in right)
    conv_ok = sum(all(v) for v in convs.values())
    max_turns = max((len(r["messages"]) + 1) // 2 for r in ROWS)

    proc = run_cli(clean_environ, "--base-url", fake.base_url)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"{_pct(k, n)} ({k}/{n})" in out
    assert f"{100 * (k / n) ** 5:.2f}%" in out
    assert f"=> {max_turns}-turn" in out and f"{100 * (k / n) ** max_turns:.2f}%" in out
    assert f"{_pct(conv_ok, len(convs))} ({conv_ok}/{len(convs)})" in out
    assert f"Failures ({n - k}):" in out
    for r in ROWS:
        assert (f"- {r['id']}:" in out) == (r["id"] not in right)
    per_tool = collections.defaultdict(lambda: [0, 0])
    for r in ROWS:
        per_tool[r["expected"]["name"]][0] += r["id"] in right
        per_tool[r["expected"]["name"]][1] += 1
    for name, (ok, total) in per_tool.items():
        assert re.search(rf"\| {name} +\| {ok}/{total} +\| {re.escape(_pct(ok, total))} +\|", out)

    proc = run_cli(clean_environ, "--base-url", fake.base_url, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["requests"], data["correct"]) == (n, k)
    assert data["accuracy"] == pytest.approx(k / n)
    assert {i["turns"]: i["accuracy"] for i in data["implied"]} == pytest.approx({5: (k / n) ** 5, max_turns: (k / n) ** max_turns})
    assert data["conversations"] == {"total": len(convs), "correct": conv_ok, "accuracy": pytest.approx(conv_ok / len(convs))}
    assert {t: (v["correct"], v["total"]) for t, v in data["per_tool"].items()} == {t: tuple(v) for t, v in per_tool.items()}
    assert {f["id"] for f in data["failures"]} == {r["id"] for r in ROWS} - right
    for f in data["failures"]:
        assert f["got"] == {"name": "pwd", "arguments": {}} and f["error"] is None


def test_defaults_are_filled_in_before_comparing(clean_environ, fake, tmp_path, capsys):
    rows = [
        {
            "id": "a",
            "messages": [{"role": "user", "content": "tail of app.log"}],
            "expected": {"name": "tail", "arguments": {"file_name": "app.log"}},
        },
        {
            "id": "b",
            "messages": [{"role": "user", "content": "count lines of x.txt"}],
            "expected": {"name": "wc", "arguments": {"file_name": "x.txt", "mode": "l"}},
        },
        {
            "id": "c",
            "messages": [{"role": "user", "content": "last 11 of b.log"}],
            "expected": {"name": "tail", "arguments": {"file_name": "b.log"}},
        },
        {"id": "d", "messages": [{"role": "user", "content": "find here"}], "expected": {"name": "find", "arguments": {}}},
    ]
    fake.answer("app.log", "tail", {"file_name": "app.log", "lines": 10})
    fake.answer("x.txt", "wc", {"file_name": "x.txt"})
    fake.answer("b.log", "tail", {"file_name": "b.log", "lines": 11})
    fake.answer("find here", "find", {"path": ".", "name": "None"})
    code, out, _ = run_inproc(capsys, _write(tmp_path, rows), "--base-url", fake.base_url, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["correct"] == 3
    assert [f["id"] for f in data["failures"]] == ["c"]


@pytest.mark.parametrize("mode", ["garbage", "500", "empty"])
def test_server_answers_that_are_not_calls_count_as_wrong_with_the_reason(clean_environ, fake, capsys, mode):
    _answer_all(fake)
    fake.mode = mode
    code, out, err = run_inproc(capsys, "--base-url", fake.base_url, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["correct"] == 0 and len(data["failures"]) == 35
    for f in data["failures"]:
        assert f["got"] is None and f["error"]
    assert err == ""
    code, out, _ = run_inproc(capsys, "--base-url", fake.base_url)
    assert code == 0 and out.count("    error:    ") == 35


# ---------------------------------------------------------------- what is sent


def _sent_dialogue(body) -> tuple:
    """A sent request as comparable turns; arguments must travel as JSON strings."""
    out = []
    for msg in body["messages"][1:]:
        if msg["role"] == "assistant":
            (call,) = msg["tool_calls"]
            assert isinstance(call["function"]["arguments"], str)
            out.append(("assistant", call["function"]["name"], json.dumps(json.loads(call["function"]["arguments"]), sort_keys=True)))
        else:
            out.append((msg["role"], msg["content"]))
    return tuple(out)


def _file_dialogue(row) -> tuple:
    out = []
    for msg in row["messages"]:
        if msg["role"] == "system":
            continue
        if msg["role"] == "assistant":
            fn = msg["tool_calls"][0]["function"]
            args = fn["arguments"]
            args = json.loads(args) if isinstance(args, str) else args
            out.append(("assistant", fn["name"], json.dumps(args, sort_keys=True)))
        else:
            out.append((msg["role"], msg["content"]))
    return tuple(out)


def test_history_sent_is_the_datasets_with_arguments_as_json_strings(clean_environ, fake, capsys):
    _answer_all(fake)
    code, _, _ = run_inproc(capsys, "--base-url", fake.base_url, "--concurrency", "6")
    assert code == 0
    assert len(fake.requests) == 35
    for body in fake.requests:
        assert body["messages"][0] == {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
        assert body["model"] == "distil_model" and body["temperature"] == 0
        assert [t["function"]["name"] for t in body["tools"]] == list(tools.names())
    sent = collections.Counter(_sent_dialogue(b) for b in fake.requests)
    assert sent == collections.Counter(_file_dialogue(r) for r in ROWS)


def _long_row(exchanges: int, system: str | None = None, string_args: bool = False) -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    for i in range(exchanges):
        args = {"file_name": f"f{i}.txt"}
        messages += [
            {"role": "user", "content": f"make file number {i}"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"type": "function", "function": {"name": "touch", "arguments": json.dumps(args) if string_args else args}}],
            },
        ]
    messages.append({"role": "user", "content": "now show me where I am"})
    return {"id": "long", "messages": messages, "expected": {"name": "pwd", "arguments": {}}}


def test_whole_history_is_sent_even_beyond_max_turns_and_file_system_prompt_dropped(clean_environ, fake, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SHELLPER_MAX_TURNS", "2")
    monkeypatch.setenv("SHELLPER_SYSTEM_PROMPT", "my own prompt")
    row = _long_row(8, system="PROMPT FROM THE FILE", string_args=True)
    code, out, _ = run_inproc(capsys, _write(tmp_path, [row]), "--base-url", fake.base_url, "--json")
    assert code == 0 and json.loads(out)["correct"] == 1
    (body,) = fake.requests
    assert body["messages"][0] == {"role": "system", "content": "my own prompt"}
    assert "PROMPT FROM THE FILE" not in json.dumps(body)
    assert _sent_dialogue(body) == _file_dialogue(row)
    assert json.loads(out)["max_turns"] == 9


def test_trainer_format_input(clean_environ, fake, tmp_path, capsys):
    # The trainer's lines: no "expected", the answer is the last assistant call
    # (arguments as objects), sometimes after a system message.
    trainer = []
    for row in ROWS:
        messages = list(row["messages"]) + [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"type": "function", "function": {"name": row["expected"]["name"], "arguments": row["expected"]["arguments"]}}
                ],
            }
        ]
        if len(trainer) % 2:
            messages.insert(0, {"role": "system", "content": "trainer prompt"})
        trainer.append({"messages": messages})
    path = _write(tmp_path, trainer)
    _answer_all(fake, ROWS[:30])
    fake.default("pwd", {})
    code, out, _ = run_inproc(capsys, path, "--base-url", fake.base_url, "--json")
    assert code == 0
    data = json.loads(out)
    right = sum(_canon(*fake.choose(_last_user(r))) == _canon(r["expected"]["name"], r["expected"]["arguments"]) for r in ROWS)
    assert (data["requests"], data["correct"]) == (35, right)
    # No ids: each row is its own conversation, named by its line.
    assert data["conversations"]["total"] == 35
    assert {f["id"] for f in data["failures"]} == {
        f"line {i}"
        for i, r in enumerate(ROWS, 1)
        if _canon(*fake.choose(_last_user(r))) != _canon(r["expected"]["name"], r["expected"]["arguments"])
    }
    sent = collections.Counter(_sent_dialogue(b) for b in fake.requests)
    assert sent == collections.Counter(_file_dialogue(r) for r in ROWS)


def test_concurrency_limits_requests_in_flight(clean_environ, tmp_path, capsys):
    starts = []

    def delay():
        starts.append(time.monotonic())
        return 0.3

    rows = [
        {"id": f"r{i}", "messages": [{"role": "user", "content": f"request {i}"}], "expected": {"name": "pwd", "arguments": {}}}
        for i in range(9)
    ]
    with FakeOllama(delay=delay) as server:
        code, out, _ = run_inproc(capsys, _write(tmp_path, rows), "--base-url", server.base_url, "--concurrency", "4", "--json")
    assert code == 0 and json.loads(out)["correct"] == 9
    starts.sort()
    # Each request lasts >= 0.3 s, so starts within 0.25 s of each other overlap.
    busiest = max(sum(1 for t in starts if s <= t < s + 0.25) for s in starts)
    assert busiest == 4


# ---------------------------------------------------------------- unavailable


def _closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"


def test_server_down_exits_1_with_one_message(clean_environ):
    url = _closed_port_url()
    proc = run_cli(clean_environ, "--base-url", url)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert url in lines[0] and "--base-url" in lines[0]
    # Reads as sentences: the outcome first, then the server's own words, then the option.
    assert lines[0].startswith("shellper eval: nothing was scored: cannot reach")
    assert "?," not in lines[0] and "?;" not in lines[0]


def test_missing_model_exits_1_after_one_request(clean_environ, fake, capsys):
    code, out, err = run_inproc(capsys, "--base-url", fake.base_url, "--model", "no_such_model")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no_such_model" in lines[0] and "--model" in lines[0]
    assert len(fake.requests) == 1


# ---------------------------------------------------------------- bad input


GOOD = {"id": "g", "messages": [{"role": "user", "content": "list files"}], "expected": {"name": "ls", "arguments": {}}}
USER = {"role": "user", "content": "do it"}


def _asst(name="ls", arguments=None, n=1):
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments if arguments is not None else {}}}] * n,
    }


BAD_LINES = {
    "not json": "{'messages': []}",
    "truncated json": '{"messages": [',
    "array": "[1, 2]",
    "no messages": json.dumps({"expected": GOOD["expected"]}),
    "empty messages": json.dumps({"messages": [], "expected": GOOD["expected"]}),
    "ends with assistant and expected": json.dumps({"messages": [USER, _asst()], "expected": GOOD["expected"]}),
    "trainer without answer": json.dumps({"messages": [USER]}),
    "unknown expected tool": json.dumps({"messages": [USER], "expected": {"name": "sudo", "arguments": {}}}),
    "missing required argument": json.dumps({"messages": [USER], "expected": {"name": "cat", "arguments": {}}}),
    "wrong argument type": json.dumps({"messages": [USER], "expected": {"name": "ls", "arguments": {"a": "yes please"}}}),
    "two calls in one turn": json.dumps({"messages": [USER, _asst(n=2), USER], "expected": GOOD["expected"]}),
    "arguments string not json": json.dumps({"messages": [USER, _asst(arguments="{a: tru"), USER], "expected": GOOD["expected"]}),
    "tool result message": json.dumps({"messages": [USER, _asst(), {"role": "tool", "content": "x"}, USER], "expected": GOOD["expected"]}),
    "two user turns in a row": json.dumps({"messages": [USER, USER], "expected": GOOD["expected"]}),
    "empty request": json.dumps({"messages": [{"role": "user", "content": "  "}], "expected": GOOD["expected"]}),
    "id is a list": json.dumps({**GOOD, "id": ["x"]}),
    "repeated id": json.dumps(GOOD),
}


@pytest.mark.parametrize("why", sorted(BAD_LINES))
def test_bad_line_exits_2_naming_file_and_line_before_any_request(clean_environ, fake, tmp_path, capsys, why):
    path = tmp_path / "bad.jsonl"
    first = dict(GOOD)
    second = {**GOOD, "id": "h"}
    path.write_text(
        json.dumps(first) + "\n\n" + json.dumps(second) + "\n" + BAD_LINES[why] + "\n" + json.dumps({**GOOD, "id": "later"}) + "\n",
        encoding="utf-8",
    )
    code, out, err = run_inproc(capsys, str(path), "--base-url", fake.base_url)
    assert code == 2 and out == ""
    assert err.startswith(f"shellper eval: {path}, line 4: ")
    assert len(err.strip().splitlines()) == 1
    assert fake.requests == []


def test_unreadable_or_empty_files_exit_2(clean_environ, fake, tmp_path, capsys):
    for path, needle in [
        (tmp_path / "missing.jsonl", "cannot read"),
        (tmp_path / "empty.jsonl", "no rows"),
        (tmp_path / "latin1.jsonl", "line 2: not UTF-8"),
    ]:
        if path.name == "empty.jsonl":
            path.write_text("\n  \n")
        elif path.name == "latin1.jsonl":
            path.write_bytes(json.dumps(GOOD).encode() + b"\n" + '{"x": "caf\xe9"}'.encode("latin-1") + b"\n")
        code, out, err = run_inproc(capsys, str(path), "--base-url", fake.base_url)
        assert code == 2 and str(path) in err and needle in err
    assert fake.requests == []


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--base-url", "localhost:11434"], "--base-url"),
        (["--model", "two words"], "--model"),
    ],
)
def test_bad_options_exit_2(clean_environ, fake, capsys, argv, needle):
    code, out, err = run_inproc(capsys, *(["--base-url", fake.base_url] + argv))
    assert code == 2 and needle in err and out == ""
    assert fake.requests == []


def test_bad_config_exits_2(clean_environ, fake, capsys, monkeypatch):
    monkeypatch.setenv("SHELLPER_TIMEOUT", "soon")
    code, _, err = run_inproc(capsys, "--base-url", fake.base_url)
    assert code == 2 and "SHELLPER_TIMEOUT" in err


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["role", "content", "tool_calls", "function", "name", "arguments", "messages", "expected", "id", "type", "a", "file_name"]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=_json)
def test_any_json_line_either_loads_or_names_its_line(tmp_path, row):
    path = tmp_path / "fuzz.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    try:
        cases = evaluate.load_cases(str(path))
    except evaluate.DatasetError as exc:
        assert str(exc).startswith(f"{path}")
    else:
        (case,) = cases
        assert case.request.strip() and case.expected.name in tools.names()


def test_hostile_text_is_not_echoed_as_terminal_escapes(clean_environ, fake, tmp_path, capsys):
    row = {
        "id": "x\x1b]0;pwned\x07",
        "messages": [{"role": "user", "content": "list \x1b[2J files"}],
        "expected": {"name": "ls", "arguments": {"a": True}},
    }
    fake.default("ls", {"a": False})
    code, out, _ = run_inproc(capsys, _write(tmp_path, [row]), "--base-url", fake.base_url)
    assert code == 0 and "Failures (1):" in out
    assert "\x1b" not in out and "\x07" not in out


# ---------------------------------------------------------------- progress


def test_progress_bar_on_a_terminal_only(clean_environ, fake):
    _answer_all(fake)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shellper_hook.cli", "eval", "--base-url", fake.base_url],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=clean_environ,
        cwd=ROOT,
        text=True,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    assert b"35/35" in seen and b"[" + b"#" * evaluate.Progress.WIDTH + b"]" in seen
    assert seen.endswith(b"\r")  # the bar is wiped before the report
    assert "100.00% (35/35)" in out and "35/35]" not in out


# ---------------------------------------------------------------- comparing models
# Two models on one stand-in server: "distil_model" always right, with latencies of
# 7 x 30 ms, 2 x 300 ms and 1 x 3 s; "distil_model:q4_K_M" right on 6 of 10 rows,
# 120 ms each. Median 30 ms (the mean would be 381 ms), p90 by nearest rank 300 ms
# (interpolated it would be 570 ms, the maximum 3 s). Measured times add HTTP (more on
# a loaded machine) on top of each delay, so each figure is checked within a band above it.

SMALL = "distil_model:q4_K_M"
COMPARE_ROWS = [
    {
        "id": f"r{i}",
        "messages": [{"role": "user", "content": f"make folder number {i}"}],
        "expected": {"name": "mkdir", "arguments": {"dir_name": f"d{i}"}},
    }
    for i in range(10)
]


@pytest.fixture
def two_models(clean_environ, tmp_path):
    delays = [0.03] * 7 + [0.3] * 2 + [3.0]
    with FakeOllama(models=("distil_model", SMALL)) as server:
        for i, row in enumerate(COMPARE_ROWS):
            server.answer(row["messages"][0]["content"], "mkdir", {"dir_name": f"d{i}"}, model="distil_model")
            if i < 6:
                server.answer(row["messages"][0]["content"], "mkdir", {"dir_name": f"d{i}"}, model=SMALL)
        server.default("rmdir", {"dir_name": "x"}, model=SMALL)
        server.default("pwd", {})
        server.model_delays["distil_model:latest"] = lambda: delays.pop()
        server.model_delays[SMALL] = 0.12
        yield server, _write(tmp_path, COMPARE_ROWS), delays


SLACK = 80  # ms a loaded machine adds to a request (the p90's band ends where interpolating would put it)


def _between(value: float, low: float, high: float) -> bool:
    return low <= value < high


def test_comparing_two_models_prints_accuracy_latency_and_the_difference(two_models, capsys):
    server, path, delays = two_models
    code, out, err = run_inproc(capsys, path, "--base-url", server.base_url, "--model", "distil_model", "--model", SMALL)
    assert code == 0, err
    assert delays == []  # every timed request of the first model took its delay
    # Each model: one untimed warm-up, then its rows one at a time.
    order = [(json.loads(raw)["model"], json.loads(raw).get("max_tokens")) for raw in server.raw_bodies]
    assert order == [("distil_model", 1)] + [("distil_model", 256)] * 10 + [(SMALL, 1)] + [(SMALL, 256)] * 10
    rows = {
        cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| "))
    }
    assert rows["Model"][1:] == ["Tool call accuracy", "Whole conversations", "Median latency", "p90 latency"]
    first, second = rows["distil_model"], rows[SMALL]
    assert first[1] == "100.00% (10/10)" and first[2] == "100.00% (10/10)"
    assert second[1] == "60.00% (6/10) -40.00 pts" and second[2] == "60.00% (6/10) -40.00 pts"

    def ms(cell):
        return [int(x) for x in re.findall(r"[-+]?\d+(?= ms)", cell)]

    (median1,), (p90_1,) = ms(first[3]), ms(first[4])
    assert _between(median1, 30, 120 + SLACK) and _between(p90_1, 300, 570)
    (median2, dmedian), (p90_2, dp90) = ms(second[3]), ms(second[4])
    assert _between(median2, 120, 210 + SLACK) and _between(p90_2, 120, 210 + SLACK)
    assert abs(dmedian - (median2 - median1)) <= 1 and abs(dp90 - (p90_2 - p90_1)) <= 1
    assert dp90 < 0 < dmedian
    assert "- distil_model: 0" in out and f"- {SMALL}: 4 (r6, r7, r8, r9)" in out
    assert "one request at a time" in out


def test_comparison_json_has_the_same_figures(two_models, capsys):
    server, path, _ = two_models
    code, out, err = run_inproc(capsys, path, "--base-url", server.base_url, "--model", "distil_model", "--model", SMALL, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["base_url"] == server.base_url and data["concurrency"] == 1
    first, second = data["models"]
    assert (first["model"], first["correct"], second["model"], second["correct"]) == ("distil_model", 10, SMALL, 6)
    assert {f["id"] for f in second["failures"]} == {"r6", "r7", "r8", "r9"}
    assert first["latency_ms"]["requests"] == second["latency_ms"]["requests"] == 10
    assert _between(first["latency_ms"]["median"], 30, 120 + SLACK) and _between(first["latency_ms"]["p90"], 300, 570)
    assert _between(second["latency_ms"]["median"], 120, 210 + SLACK) and _between(second["latency_ms"]["p90"], 120, 210 + SLACK)
    assert first["vs_first"] is None
    assert second["vs_first"] == {
        "accuracy": pytest.approx(-0.4),
        "conversation_accuracy": pytest.approx(-0.4),
        "median_ms": pytest.approx(second["latency_ms"]["median"] - first["latency_ms"]["median"]),
        "p90_ms": pytest.approx(second["latency_ms"]["p90"] - first["latency_ms"]["p90"]),
    }


def test_a_missing_model_stops_the_comparison_before_any_request(clean_environ, fake, tmp_path, capsys):
    path = _write(tmp_path, COMPARE_ROWS)
    code, out, err = run_inproc(capsys, path, "--base-url", fake.base_url, "--model", "distil_model", "--model", "distil_model:q4_K_M")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "'distil_model:q4_K_M' not found" in lines[0] and "--model NAME" in lines[0]
    assert fake.requests == [] and fake.warmups == []


@pytest.mark.parametrize(
    "names", [["distil_model", "distil_model"], ["distil_model", "distil_model:latest"], ["distil_model", "Distil_Model"]]
)
def test_the_same_model_twice_is_a_usage_error(clean_environ, fake, capsys, names):
    code, out, err = run_inproc(capsys, "--base-url", fake.base_url, *[a for n in names for a in ("--model", n)])
    assert code == 2 and "given twice" in err and out == ""
    assert fake.requests == []


def test_an_explicit_concurrency_is_kept_and_said(clean_environ, tmp_path, capsys):
    with FakeOllama(models=("a", "b")) as server:
        code, out, _ = run_inproc(
            capsys, _write(tmp_path, COMPARE_ROWS), "--base-url", server.base_url, "--model", "a", "--model", "b", "--concurrency", "3"
        )
    assert code == 0
    assert "3 requests in flight at once, so it includes waiting for the server" in out


def test_p90_is_the_nearest_rank():
    assert evaluate.nearest_rank(list(range(1, 11)), 0.9) == 9
    assert evaluate.nearest_rank(list(range(1, 21)), 0.9) == 18
    assert evaluate.nearest_rank([0.5, 0.1, 0.3], 0.9) == 0.5
    assert evaluate.nearest_rank([7.0], 0.9) == 7.0
