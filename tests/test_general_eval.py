"""`shellper eval --general`: the packaged set proven by its own reference commands, the
runner kept in its throwaway folder, and the report, against the stand-in Ollama."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from fake_ollama import FakeOllama

from shellper_hook import cli, general, general_eval
from shellper_hook.general_eval import Runner, load_cases, trial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = load_cases(general_eval.DEFAULT_DATASET)
BY_ID = {c.id: c for c in CASES}
RUNNER = Runner.detect()
AS_ROOT = os.geteuid() == 0


def _judge():
    judge, why = general_eval.policy_judge()
    assert judge is not None, why
    return judge


def _needs(case) -> None:
    missing = RUNNER.missing(case)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def run_inproc(capsys, *argv) -> tuple:
    code = cli.main(["eval", "--general", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(environ, *argv, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "shellper_hook.cli", "eval", "--general", *argv],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=timeout,
    )


def _write(tmp_path, rows, name="set.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _fenced(command: str) -> str:
    return f"Here you go:\n```bash\n{command}\n```"


# ---------------------------------------------------------------- the packaged set


def test_the_packaged_set_has_at_least_100_requests_in_many_categories_each_with_a_reference():
    assert len(CASES) >= 100
    categories = {c.category for c in CASES}
    for wanted in (
        "archives",
        "permissions",
        "text",
        "find",
        "disk",
        "dates",
        "environment",
        "processes",
        "checksums",
        "links",
        "encoding",
    ):
        assert wanted in categories
    assert all(c.reference for c in CASES)
    # Requests in plain words, each its own: the stand-in answers by the words of the request.
    requests = [c.request.lower() for c in CASES]
    assert len(set(requests)) == len(requests)
    assert not [(a, b) for a in requests for b in requests if a != b and a in b]
    # No request is about the network: the runner does not fence it off.
    assert not [c.id for c in CASES if re.search(r"\b(curl|wget|http|download|ping|ssh)\b", c.request + " " + c.reference)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_reference_command_has_the_expected_effect_and_passes_the_policy(case):
    _needs(case)
    got = trial(case, case.reference, RUNNER, _judge())
    assert (got.status, got.reason) == ("correct", ""), got


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_doing_nothing_is_wrong_for_every_case(case):
    _needs(case)
    got = trial(case, "true", RUNNER)
    assert got.status == "wrong" and got.reason


WRONG = {
    "archives/tar-gz-folder": "tar cf logs.tar.gz logs",  # not compressed
    "archives/tar-exclude": "tar czf project.tar.gz project",
    "permissions/private-key": "chmod 644 secret.key",
    "permissions/read-only": "chmod 666 notes.txt",
    "text/count-todo": "grep -c TODO main.py",  # lines, not occurrences
    "text/sort-numbers-desc": "sort -r numbers.txt",  # not numerically
    "text/join-commas": "tr '\\n' ',' < ids.txt",  # a trailing comma
    "find/delete-old-tmp": "find . -name '*.tmp' -delete",  # the new one too
    "links/repoint": "ln -sf versions/v3 current",  # a link inside versions/v2
    "git/commit-all": "git commit -am 'save work'",  # the new file left out
    "find/largest-three": "du -a | sort -rn | head -n 3",  # folders count
    "files/newest": "ls -lt",
    "text/count-error-lines": "grep ERROR app.log",
    "disk/folder-sizes-sorted": "du -sh */ | sort -h",  # smallest first
    "dates/weekday": "date -d 2024-02-28 +%A",
    "environment/home": "pwd",
    "checksums/sha256": "md5sum release.bin",
    "json/minify": "cp config.json config.min.json",
    "math/percent": "echo $((240 * 15))",
    "processes/top-memory": "ps aux",
}


@pytest.mark.parametrize("case_id", sorted(WRONG))
def test_a_plausible_wrong_command_fails_with_the_predicate_it_broke(case_id):
    case = BY_ID[case_id]
    _needs(case)
    got = trial(case, WRONG[case_id], RUNNER)
    assert got.status == "wrong"
    assert got.reason.startswith("{") and ": " in got.reason  # which predicate, then why


def test_an_alternative_spelling_of_a_right_command_is_right_too():
    for case_id, command in {
        "archives/tar-gz-folder": "tar -C logs -czf logs.tar.gz .",
        "text/head": "sed -n 1,5p server.log",
        "text/count-each-code": "awk '{n[$1]++} END {for (c in n) print c, n[c]}' codes.txt",
        "links/repoint": "rm current && ln -s versions/v3 current",
        "permissions/read-only": "chmod 444 notes.txt",
        "files/make-big-file": "head -c 5000000 /dev/zero > blob.bin",
    }.items():
        got = trial(BY_ID[case_id], command, RUNNER)
        assert got.status == "correct", (case_id, got)


# ---------------------------------------------------------------- the runner stays in its folder


HOSTILE = {
    "id": "hostile",
    "category": "hostile",
    "request": "x",
    "setup": {"files": {"a.txt": "a\n"}},
    "expect": [{"exists": "a.txt"}],
}


def test_a_hostile_command_does_not_touch_the_real_home_or_the_folders_around(tmp_path, monkeypatch):
    home = tmp_path / "realhome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    case = general_eval.parse_row(HOSTILE, 1)
    line = 'touch ../escaped; touch ~/x; cd .. && touch up; echo "$HOME"; ls -a ~'
    got = trial(case, line, RUNNER)
    assert got.status == "correct"
    throwaway_home = got.stdout.splitlines()[0]
    assert throwaway_home != str(home) and "shellper-general-eval-" in throwaway_home
    assert "x" in got.stdout.split()  # ~/x went to the throwaway home...
    assert os.listdir(home) == []  # ...not to the real one
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
    assert not os.path.exists(os.path.dirname(throwaway_home))  # the whole throwaway folder is gone


@pytest.mark.skipif(not AS_ROOT or RUNNER.uid is None, reason="runs as root with setpriv")
def test_as_root_the_command_runs_as_nobody_and_cannot_write_beside_its_folder():
    case = general_eval.parse_row(HOSTILE, 1)
    got = trial(case, "id -u; id -G; touch ../escaped || echo denied", RUNNER)
    assert got.stdout.split() == [str(general_eval.NOBODY), str(general_eval.NOBODY), "denied"]


def test_predicates_never_look_outside_the_folder():
    secret = "/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd"
    with open(secret, "rb") as fh:
        first = fh.read(20).decode("utf-8", "replace").strip().split(":")[0]
    row = dict(
        HOSTILE,
        expect=[
            {
                "any": [
                    {"contains": ["leak", first]},
                    {"exists": "up/etc"},
                    {"count": ["up/*", 1]},
                    {"count": ["up/**", 1]},
                    {"absent": "up/zzz"},
                ]
            }
        ],
    )
    got = trial(general_eval.parse_row(row, 1), f"ln -s {secret} leak; ln -s / up", RUNNER)
    assert got.status == "wrong"
    assert "leak leads outside the folder" in got.reason and "up/etc leads outside the folder" in got.reason
    assert "0 paths match up/*" in got.reason  # a link is not followed by a pattern


@pytest.mark.parametrize(
    "bad",
    [
        {"exists": "../x"},
        {"exists": "/etc/passwd"},
        {"file": ["~/.bashrc", "x"]},
        {"count": ["a/../../*", 1]},
        {"nope": "a"},
        {"mode": ["a", "rwx"]},
    ],
)
def test_a_predicate_that_could_leave_the_folder_is_refused_when_the_set_is_read(bad, tmp_path, clean_environ, capsys):
    path = _write(tmp_path, [dict(HOSTILE, expect=[bad])])
    code, out, err = run_inproc(capsys, path, "--model", "m", "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and out == ""
    assert err.startswith(f"shellper eval: {path}, line 1: expect[0]")


def test_a_command_that_runs_too_long_is_stopped_with_what_it_left_behind(monkeypatch):
    fast = Runner.detect(timeout=1.0)
    marker = f"{os.getpid()}{int(time.time() * 1000) % 100000}"
    case = general_eval.parse_row(HOSTILE, 1)
    start = time.monotonic()
    got = trial(case, f"sleep 1{marker} & sleep 30", fast)
    assert got.status == "timeout" and time.monotonic() - start < 10
    got = trial(case, f"sleep 2{marker} & echo started", fast)
    assert got.status == "correct" and got.stdout == "started\n"
    time.sleep(0.2)
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if marker.encode() in fh.read():
                    alive.append(pid)
        except OSError:
            pass
    assert alive == []


def test_stdin_is_empty_and_the_environment_fixed():
    case = general_eval.parse_row(dict(HOSTILE, setup={"env": {"APP_MODE": "x"}}), 1)
    got = trial(case, 'cat; echo "[$LC_ALL $TZ $APP_MODE $(umask)]"', RUNNER)
    assert got.stdout == "[C.UTF-8 UTC x 0022]\n"


# ---------------------------------------------------------------- against the stand-in Ollama

SMALL = [
    {
        "id": "arch/tgz",
        "category": "archives",
        "request": "compress the logs folder into logs.tar.gz",
        "setup": {"files": {"logs/app.log": "started\n"}},
        "expect": [{"format": ["logs.tar.gz", "gzip"]}, {"tar_has": ["logs.tar.gz", "logs/app.log"]}],
        "reference": "tar czf logs.tar.gz logs",
    },
    {
        "id": "perm/x",
        "category": "permissions",
        "request": "make deploy.sh executable",
        "setup": {"files": {"deploy.sh": "#!/bin/sh\n"}},
        "expect": [{"mode_has": ["deploy.sh", "100"]}],
        "reference": "chmod +x deploy.sh",
    },
    {
        "id": "text/count",
        "category": "text",
        "request": "how many lines in app.log contain ERROR",
        "setup": {"files": {"app.log": "ERROR a\nok\nERROR b\n"}},
        "expect": [{"stdout_word": "2"}],
        "reference": "grep -c ERROR app.log",
    },
    {
        "id": "text/slow",
        "category": "text",
        "request": "wait for the lock",
        "expect": [{"exit": 0}],
        "reference": "true",
    },
]


def _small(tmp_path) -> str:
    return _write(tmp_path, SMALL)


def _mixed(fake, model=None):
    """arch/tgz right, perm/x refused, text/count not a command, text/slow times out."""
    fake.say("compress the logs", _fenced("tar czf logs.tar.gz logs"), model=model)
    fake.say("deploy.sh", _fenced("chmod -R 777 /"), model=model)
    fake.say("contain error", "You could use grep for that, counting the lines.\nIt prints a number.", model=model)
    fake.say("wait for the lock", "sleep 30", model=model)


def test_all_right_on_the_packaged_set_through_the_real_cli(clean_environ):
    with FakeOllama(models=("qwen2.5-coder:3b",)) as fake:
        for case in CASES:
            fake.say(case.request, _fenced(case.reference))
        proc = run_cli(clean_environ, "--base-url", fake.base_url, "--model", "qwen2.5-coder:3b", timeout=600)
    assert proc.returncode == 0, proc.stderr
    scored = [c for c in CASES if not RUNNER.missing(c)]
    assert f"100.00% ({len(scored)}/{len(scored)})" in proc.stdout
    assert "Failures: none" in proc.stdout
    assert proc.stderr == ""
    assert len(fake.requests) == len(scored) + 1  # and one untimed warm-up
    assert "policy:  general_policy judged each command" in proc.stdout


def test_each_kind_of_failure_is_counted_and_shown_with_its_reason(clean_environ, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(general_eval, "RUN_TIMEOUT", 1.0)
    with FakeOllama(models=("gm",)) as fake:
        _mixed(fake)
        code, out, err = run_inproc(capsys, _small(tmp_path), "--base-url", fake.base_url, "--model", "gm")
    assert code == 0, err
    header = next(ln for ln in out.splitlines() if ln.startswith("| Model"))
    row = next(ln for ln in out.splitlines() if ln.startswith("| gm "))
    cells = dict(zip([c.strip() for c in header.split("|")[1:-1]], [c.strip() for c in row.split("|")[1:-1]]))
    assert cells["Effect correct"] == "25.00% (1/4)"
    assert (cells["Refused by the policy"], cells["Not a command"], cells["Wrong effect"], cells["Timed out"], cells["No answer"]) == (
        "1",
        "1",
        "0",
        "1",
        "0",
    )
    assert cells["Median latency"].endswith(" ms")
    assert "Failures (3):" in out
    assert '- perm/x: "make deploy.sh executable"' in out
    assert "    command: chmod -R 777 /" in out
    assert "    refused by the policy: refused:" in out
    assert "    not a command: the general model answered with" in out
    assert "    timed out: still running after 1 s" in out
    assert re.search(r"\| archives +\| 1/1 \(100\.00%\) +\|", out)
    assert re.search(r"\| text +\| 0/2 \(0\.00%\) +\|", out)


def test_a_wrong_effect_says_which_predicate_failed(clean_environ, tmp_path, capsys):
    with FakeOllama(models=("gm",)) as fake:
        fake.say("compress the logs", "tar cf logs.tar.gz logs")
        code, out, _ = run_inproc(capsys, _small(tmp_path), "--base-url", fake.base_url, "--model", "gm")
    assert code == 0
    assert '    wrong effect: {"format": ["logs.tar.gz", "gzip"]}: logs.tar.gz is not gzip data' in out


def test_json_report_shape(clean_environ, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(general_eval, "RUN_TIMEOUT", 1.0)
    with FakeOllama(models=("gm",)) as fake:
        _mixed(fake)
        code, out, _ = run_inproc(capsys, _small(tmp_path), "--base-url", fake.base_url, "--model", "gm", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["base_url"] == fake.base_url and data["shell"] == "bash" and data["policy"] == "general_policy"
    assert data["runner"]["timeout_s"] == 1.0
    (m,) = data["models"]
    assert (m["model"], m["requests"], m["correct"], m["accuracy"]) == ("gm", 4, 1, 0.25)
    assert (m["refused"], m["not_command"], m["wrong"], m["timeout"], m["no_answer"]) == (1, 1, 0, 1, 0)
    assert m["latency_ms"]["requests"] == 4 and m["latency_ms"]["median"] > 0
    assert m["per_category"]["text"] == {"total": 2, "correct": 0, "accuracy": 0.0}
    by_id = {f["id"]: f for f in m["failures"]}
    assert set(by_id) == {"perm/x", "text/count", "text/slow"}
    assert by_id["perm/x"]["status"] == "refused" and by_id["perm/x"]["command"] == "chmod -R 777 /"
    assert by_id["text/count"]["command"] is None and "grep" in by_id["text/count"]["answer"]
    assert m["vs_first"] is None


def test_two_models_side_by_side_with_differences_from_the_first(clean_environ, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(general_eval, "RUN_TIMEOUT", 1.0)
    with FakeOllama(models=("small", "big")) as fake:
        _mixed(fake, model="small")
        for row in SMALL[:3]:
            fake.say(row["request"], row["reference"], model="big")
        fake.model_delays["big:latest"] = 0.15
        code, out, err = run_inproc(capsys, _small(tmp_path), "--base-url", fake.base_url, "--model", "small", "--model", "big")
        assert code == 0, err
        assert [b["model"] for b in fake.requests] == ["small"] * 5 + ["big"] * 5  # one after the other, each with a warm-up
    assert "Each row after the first also shows its difference from small." in out
    assert re.search(r"\| small +\| 25\.00% \(1/4\) +\|", out)
    big = next(ln for ln in out.splitlines() if ln.startswith("| big "))
    assert "75.00% (3/4) +50.00 pts" in big
    median = int(re.search(r"\| (\d+) ms \(\+\d+ ms, [\d.]+x\)", big).group(1))
    assert median >= 150
    assert re.search(r"\| text +\| 0/2 \(0\.00%\) +\| 1/2 \(50\.00%\) +\|", out)
    assert "- small: 3 (perm/x, text/count, text/slow)" in out
    assert "- big: 1 (text/slow)" in out


def test_the_configured_general_model_is_scored_by_default_and_asked_as_the_daemon_asks(clean_environ, tmp_path, capsys, monkeypatch):
    with FakeOllama(models=("distil_model", "qwen2.5-coder:3b")) as fake:
        monkeypatch.setenv("SHELLPER_GENERAL_MODEL", "qwen2.5-coder:3b")
        fake.say("deploy.sh", "chmod +x deploy.sh")
        code, out, _ = run_inproc(capsys, _small(tmp_path), "--base-url", fake.base_url, "--json")
        assert code == 0
        assert {b["model"] for b in fake.requests} == {"qwen2.5-coder:3b"}
        sent = next(b for b in fake.requests if b["messages"][-1]["content"] == "make deploy.sh executable")
    assert "tools" not in sent
    assert sent["messages"] == general.messages([], "make deploy.sh executable", "bash")
    assert json.loads(out)["models"][0]["model"] == "qwen2.5-coder:3b"


def test_no_general_model_configured_and_none_given_exits_2(clean_environ, tmp_path, capsys):
    code, out, err = run_inproc(capsys, _small(tmp_path))
    assert code == 2 and out == ""
    assert "no general model to score" in err and "--model NAME" in err


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_server_down_exits_1_and_nothing_is_run(clean_environ, tmp_path):
    url = _closed_port_url()
    proc = run_cli(clean_environ, _small(tmp_path), "--base-url", url, "--model", "gm")
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("shellper eval: nothing was scored:") and "--base-url" in line


def test_a_missing_model_exits_1_before_any_request(clean_environ, tmp_path, capsys):
    with FakeOllama(models=("gm",)) as fake:
        code, out, err = run_inproc(capsys, _small(tmp_path), "--base-url", fake.base_url, "--model", "gm", "--model", "nope")
        assert fake.requests == []
    assert code == 1 and out == ""
    assert "nope" in err and "--model NAME" in err


def test_a_bad_set_exits_2_naming_file_and_line(clean_environ, tmp_path, capsys):
    rows = [SMALL[0], {"id": "x", "request": "y", "expect": []}]
    path = _write(tmp_path, rows)
    code, out, err = run_inproc(capsys, path, "--model", "gm")
    assert code == 2 and out == ""
    assert err.startswith(f"shellper eval: {path}, line 2: 'expect' must be a non-empty list of predicates")
    assert len(err.splitlines()) == 1
    code, _, err = run_inproc(capsys, str(tmp_path / "absent.jsonl"), "--model", "gm")
    assert code == 2 and "cannot read the test set" in err


def test_a_case_whose_program_is_missing_is_skipped_and_said(clean_environ, tmp_path, capsys):
    rows = [*SMALL[:2], dict(SMALL[2], needs=["no-such-program-here"])]
    with FakeOllama(models=("gm",)) as fake:
        fake.say("compress the logs", "tar czf logs.tar.gz logs")
        code, out, _ = run_inproc(capsys, _write(tmp_path, rows), "--base-url", fake.base_url, "--model", "gm")
    assert code == 0
    assert "(2 requests in 2 categories; 1 skipped, their programs missing: text/count (no-such-program-here))" in out
    assert "50.00% (1/2)" in out


def test_without_the_policy_the_report_says_it_was_skipped(clean_environ, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "shellper_hook.general_policy", None)  # import fails
    with FakeOllama(models=("gm",)) as fake:
        fake.say("deploy.sh", "chmod -R 777 /tmp/nothing-here")
        code, out, _ = run_inproc(capsys, _small(tmp_path), "--base-url", fake.base_url, "--model", "gm")
    assert code == 0
    assert "policy:  SKIPPED: general_policy cannot be loaded" in out
    assert "Refused by the policy" in out and "refused by the policy:" not in out
