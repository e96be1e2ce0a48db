"""The general model's path, attacked: its effect line's claims against what the line really
does, the answers command_of must not take (or must take), huge answers, and the routes
around it (a second Ctrl-G on an undo or on a general command, a missing model, the
SHELLper model named as the general one, no general model at all).

CLAIMS AGAINST OUTCOMES: each case builds a small tree owned by an unprivileged user (as
root: nobody, 65534) in a throwaway folder, with a throwaway HOME; the effect line
(general_effect.describe, and turns.judge_general's) is computed AS THAT USER (a forked
child that drops its privileges: what it may look at is the user's), then the line runs
for real in bash as that user, and every claim of the effect line is checked against the
tree before and after, and against what bash said. A claim that does not hold fails.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest
from daemon_helpers import fake_shell

from shellper_hook import client, general_effect, general_policy, shellparse, turns
from shellper_hook.errors import Refused
from shellper_hook.general import MAX_ANSWER, GeneralAnswer, command_of
from shellper_hook.look import size_words

ROOT = os.geteuid() == 0
USER = 65534 if ROOT else os.getuid()
GENERAL = "qwen2.5-coder:3b"
PATH = "/usr/local/bin:/usr/bin:/bin"
UNDO = f"; {turns.GENERAL_UNDO}"

needs_setpriv = pytest.mark.skipif(ROOT and not shutil.which("setpriv"), reason="as root, the lines run as nobody through setpriv")


# ---------------------------------------------------------------- the tree and the user


def _as_user(fn, *args):
    """fn(*args) in a forked child that is the unprivileged user (JSON in, JSON out)."""
    shellparse.parse("true")  # tree-sitter loaded here: the child may not read the interpreter's folders
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            if ROOT:
                os.setgroups([])
                os.setresgid(USER, USER, USER)
                os.setresuid(USER, USER, USER)
            try:
                out = {"ok": fn(*args)}
            except Exception as exc:  # noqa: BLE001 - sent back as it is
                out = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    got = json.loads(data)
    assert "error" not in got, got["error"]
    return got["ok"]


def _effects(line: str, cwd: str, home: str) -> dict:
    out = {"describe": general_effect.describe(line, cwd, home)}
    try:
        out["judged"] = turns.judge_general(line, "the request", cwd, "bash", home).effect
    except Refused as exc:
        out["refused"] = str(exc)
    return out


def _errno_of(path: str, follow: bool = False):
    try:
        (os.stat if follow else os.lstat)(path)
    except OSError as exc:
        return exc.errno
    return None


def _lists(path: str) -> bool:
    try:
        os.listdir(path)
    except OSError:
        return False
    return True


def _writable(path: str, folder: bool) -> bool:
    return os.access(path, os.W_OK | (os.X_OK if folder else 0))


@pytest.fixture
def tree():
    """(work, home): a tree owned by the user in a throwaway folder everyone may enter."""
    base = tempfile.mkdtemp(prefix="sp-adv-")
    os.chmod(base, 0o755)
    work, home = os.path.join(base, "work"), os.path.join(base, "home")
    files = {
        "logs/app.log": b"started\n",
        "logs/old.log": b"old\n",
        "notes.txt": b"hello\n",
        "data.csv": b"b\na\nc\n",
        "my file.txt": b"abc",
        "it's here.txt": b"quoted\n",
        "ro.txt": b"keep\n",
        "rodir/kept.txt": b"k\n",
        "locked/inside.txt": b"secret\n",
        "noexec/f.txt": b"12345",
        "sub/inner/x.txt": b"x\n",
        "sub/target.txt": b"the target\n",
    }
    for rel, data in files.items():
        path = os.path.join(work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    os.makedirs(home)
    with open(os.path.join(home, "doc.txt"), "wb") as fh:
        fh.write(b"home doc\n")
    stubs = os.path.join(base, "bin")  # first on the lines' PATH: no line reaches root or the network
    os.makedirs(stubs)
    for name in ("sudo", "doas", "ssh"):
        with open(os.path.join(stubs, name), "w") as fh:
            fh.write(f"#!/bin/sh\necho '{name}: a stub of the test' >&2\nexit 1\n")
        os.chmod(os.path.join(stubs, name), 0o755)
    os.symlink("nowhere", os.path.join(work, "dangling"))
    os.symlink("notes.txt", os.path.join(work, "lnk"))
    os.symlink("logs", os.path.join(work, "dirlink"))
    os.symlink("sub/inner", os.path.join(work, "deep"))  # deep/../target.txt is sub/target.txt
    for where, dirs, names in os.walk(base):
        for name in dirs + names:
            os.lchown(os.path.join(where, name), USER, USER)
    os.lchown(base, USER, USER)
    os.chmod(os.path.join(work, "ro.txt"), 0o444)
    os.chmod(os.path.join(work, "rodir"), 0o555)
    os.chmod(os.path.join(work, "locked"), 0o000)  # no listing, no looking inside
    os.chmod(os.path.join(work, "noexec"), 0o600)  # a listing, but no looking at what it lists
    yield work, home
    for where, dirs, _ in os.walk(base):
        for name in dirs:
            os.chmod(os.path.join(where, name), 0o755)
    shutil.rmtree(base, ignore_errors=True)


def _run(line: str, work: str, home: str) -> subprocess.CompletedProcess:
    argv = ["bash", "-c", line]
    if ROOT:
        argv = ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups", *argv]
    env = {"HOME": home, "PATH": f"{os.path.join(os.path.dirname(work), 'bin')}:{PATH}", "LC_ALL": "C"}
    return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- the claims


class _Claim:
    """One claim of an effect line: before() while the tree is as it was, after() once the line ran."""

    def __init__(self, text: str, where) -> None:
        self.text, self.where = text, where
        self.checks: list = []  # (when, what must hold, the test)

    def before(self, what: str, test) -> None:
        self.checks.append(("before", what, test))

    def after(self, what: str, test) -> None:
        self.checks.append(("after", what, test))


def _read(path: str):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _kind_now(path: str) -> str:
    """What _kind says of path as it is (as root: every kind is seen)."""
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        return "a folder"
    if stat.S_ISLNK(st.st_mode):
        return f"a link to {os.readlink(path)}"
    if stat.S_ISREG(st.st_mode):
        return f"a file ({size_words(st.st_size)})"
    return "a special file (a pipe, socket or device)"


def _is(path: str, kind: str) -> bool:
    if not os.path.lexists(path):
        return False
    m = re.fullmatch(r"a folder \(([\d,]+) entr(?:y|ies)\)", kind)
    if m:
        return stat.S_ISDIR(os.lstat(path).st_mode) and len(os.listdir(path)) == int(m.group(1).replace(",", ""))
    if kind == f"a folder (more than {general_effect.MAX_ENTRIES:,} entries)":
        return stat.S_ISDIR(os.lstat(path).st_mode) and len(os.listdir(path)) > general_effect.MAX_ENTRIES
    if kind == "a folder shellper cannot list":
        return stat.S_ISDIR(os.lstat(path).st_mode) and not _as_user(_lists, path)
    return _kind_now(path) == kind


_NOT_CLAIMS = re.compile(
    r"runs: .*|what .* does( with them)?: cannot tell|and (\d+ )?more paths?|undo: no, .*|writes to .+: where, cannot tell.*"
)


def claims_of(effect: str, work: str, home: str) -> list:
    """The checkable claims of an effect line; AssertionError on a part this does not know."""
    if effect.endswith(UNDO):
        effect = effect[: -len(UNDO)]

    def where(text: str) -> str:
        return home + text[1:] if text.startswith("~") else text if text.startswith("/") else os.path.join(work, text)

    out = []
    for part in effect.split("; "):
        if _NOT_CLAIMS.fullmatch(part):
            continue
        c = None
        if m := re.fullmatch(r"(.+) is not there", part):
            c = _Claim(part, where(m[1]))
            c.before("it was not there", lambda p: not os.path.lexists(p))
        elif m := re.fullmatch(r"shellper cannot look at (.+) \((.+)\)", part):
            c = _Claim(part, where(m[1]))
            c.before("this user could not lstat it", lambda p: _as_user(_errno_of, p) not in (None, errno.ENOENT, errno.ENOTDIR))
        elif m := re.fullmatch(r"(.+) is (a (?:file|folder|link|special file).*)", part):
            c, kind = _Claim(part, where(m[1])), m[2]
            c.before(f"it was {kind}", lambda p, kind=kind: _is(p, kind))
        elif m := re.fullmatch(r"creates (.+)", part):
            c = _Claim(part, where(m[1]))
            c.before("it was not there", lambda p: not os.path.lexists(p))
            c.after("the line made it a file", lambda p, old: os.path.isfile(p) and not os.path.islink(p))
        elif m := re.fullmatch(r"(replaces|appends to) (.+) \((.+)\)", part):
            c, verb, size = _Claim(part, where(m[2])), m[1], m[3]
            c.before(f"it was a file of {size}", lambda p, size=size: os.path.isfile(p) and size_words(os.lstat(p).st_size) == size)
            if verb == "appends to":
                c.after("what was there is still at its start, and more follows", lambda p, old: (_read(p) or b"").startswith(old or b""))
            else:
                c.after("it is a file the line wrote", lambda p, old: os.path.isfile(p))
        elif m := re.fullmatch(r"writes to (.+), in a folder this user has no permission to write in now( \(as root, .*\))?", part):
            c = _Claim(part, where(m[1]))  # (now: an earlier command of the line may change that)
            c.before("this user could not write in its folder", lambda p: not _as_user(_writable, os.path.dirname(p), True))
        elif m := re.fullmatch(r"writes to (.+) \((.+)\), which this user has no permission to write now( \(as root, .*\))?", part):
            c = _Claim(part, where(m[1]))
            c.before("this user could not write it", lambda p: not _as_user(_writable, p, False))
        elif m := re.fullmatch(r"writes to (.+), whose folder is not (there|a folder) now", part):
            c, how = _Claim(part, where(m[1])), m[2]
            if how == "there":
                c.before("its folder was not there", lambda p: not os.path.lexists(os.path.dirname(p)))
            else:
                c.before(
                    "its folder was not a folder", lambda p: os.path.lexists(os.path.dirname(p)) and not os.path.isdir(os.path.dirname(p))
                )
        elif m := re.fullmatch(r"writes to (.+), which shellper cannot look at \((.+)\)", part):
            c = _Claim(part, where(m[1]))
            c.before("this user could not lstat it", lambda p: _as_user(_errno_of, p) not in (None, errno.ENOENT, errno.ENOTDIR))
        elif m := re.fullmatch(r"writes to (.+), in a folder shellper cannot look at \((.+)\)", part):
            c = _Claim(part, where(m[1]))
            c.before("this user could not look at its folder", lambda p: _as_user(_errno_of, os.path.dirname(p), True) not in (None,))
        elif m := re.fullmatch(r"writes to (.+?), (a (?:folder|link|special file).*)", part):
            c, kind = _Claim(part, where(m[1])), m[2]
            c.before(f"it was {kind}", lambda p, kind=kind: _is(p, kind))
        assert c is not None, f"a part of the effect line this test cannot check: {part!r} (in {effect!r})"
        out.append(c)
    return out


def false_claims(line: str, work: str, home: str) -> tuple:
    """(the effect lines, the run, [what was claimed and did not hold])."""
    got = _as_user(_effects, line, work, home)
    effects = [got["describe"]] + ([got["judged"]] if "judged" in got else [])
    claims = [c for e in effects for c in claims_of(e, work, home)]
    wrong = []
    olds = {}
    for c in claims:
        olds[c.where] = _read(c.where) if os.path.isfile(c.where) else None
        wrong += [f"{c.text!r}: {what}" for when, what, test in c.checks if when == "before" and not test(c.where)]
    ran = _run(line, work, home)
    for c in claims:
        wrong += [f"{c.text!r}: {what}" for when, what, test in c.checks if when == "after" and not test(c.where, olds[c.where])]
    return got, ran, wrong


# The lines, and what their effect line must say (so that it is not true by saying nothing).
CASES = [
    ("tar czf logs.tgz logs", ["logs is a folder (2 entries)", "logs.tgz is not there"]),
    ("chmod 600 notes.txt", ["notes.txt is a file (6 bytes)"]),
    ("chmod -R go-w logs", ["logs is a folder (2 entries)"]),
    ("sort data.csv > sorted.csv", ["creates sorted.csv", "data.csv is a file (6 bytes)"]),
    ("sort data.csv >> notes.txt", ["appends to notes.txt (6 bytes)"]),
    ("echo hi > notes.txt", ["replaces notes.txt (6 bytes)"]),
    ("echo hi >| notes.txt", ["replaces notes.txt (6 bytes)"]),
    ("echo hi &> both.log", ["creates both.log"]),
    ("ls notes.txt >& listed.txt", ["creates listed.txt"]),
    ("ls notes.txt 2>&1 >> notes.txt", ["appends to notes.txt (6 bytes)"]),
    ("echo hi >> ~/log.txt", ["creates ~/log.txt"]),
    ("cp -r logs logs-copy", ["logs is a folder (2 entries)"]),
    ("mv notes.txt ~/moved.txt", ["notes.txt is a file (6 bytes)", "~/moved.txt is not there"]),
    ("ln -s notes.txt notes-link.txt", ["notes.txt is a file (6 bytes)", "notes-link.txt is not there"]),
    ("mkdir -p a/b/c.d", ["a/b/c.d is not there"]),
    ("touch new.txt 'my file.txt'", ["new.txt is not there", "my file.txt is a file (3 bytes)"]),
    ("rm -f notes.txt 'my file.txt' missing.txt", ["missing.txt is not there", "my file.txt is a file (3 bytes)"]),
    ("find logs -name '*.log' -delete", ["logs is a folder (2 entries)"]),
    ("env LC_ALL=C sort data.csv > env-sorted.txt", ["creates env-sorted.txt"]),
    ("nice -n 5 cat notes.txt > nice.txt", ["creates nice.txt"]),
    ("timeout 5 cp notes.txt ~/copy.txt", ["~/copy.txt is not there"]),
    ("cat \"it's here.txt\" > 'quoted out.txt'", ["creates quoted out.txt", "it's here.txt is a file (7 bytes)"]),
    ("ls ~/ ~/doc.txt ~/none.txt", ["~/doc.txt is a file (9 bytes)", "~/none.txt is not there", "~/ is a folder (1 entry)"]),
    ("cat lnk > via-link.txt", ["lnk is a link to notes.txt"]),
    ("cat '~/doc.txt' ~/doc.txt", ["./~/doc.txt is not there", "~/doc.txt is a file (9 bytes)"]),
    ("echo hi > '~/quoted.txt'", ["writes to ./~/quoted.txt, whose folder is not there now"]),
    ("dd if=notes.txt of=~/dd.txt", ["runs: dd; what dd does: cannot tell"]),
    ("echo x > dangling", ["writes to dangling, a link to nowhere"]),
    ("ls dangling dirlink/", ["dangling is a link to nowhere", "dirlink/ is a folder (2 entries)"]),
    ("ls locked", ["locked is a folder shellper cannot list"]),
    ("cat noexec/f.txt", ["shellper cannot look at noexec/f.txt (permission denied)"]),
    ("touch locked/new.txt", ["shellper cannot look at locked/new.txt (permission denied)"]),
    ("echo hi > locked/x.txt", ["writes to locked/x.txt, which shellper cannot look at (permission denied)"]),
    ("echo hi > nodir/x.txt", ["writes to nodir/x.txt, whose folder is not there now"]),
    ("echo hi > notes.txt/x", ["writes to notes.txt/x, whose folder is not a folder now"]),
    ("echo hi > ro.txt", ["writes to ro.txt (5 bytes), which this user has no permission to write now"]),
    ("chmod u+w ro.txt && echo hi > ro.txt", ["which this user has no permission to write now"]),
    ("echo hi > rodir/new.txt", ["writes to rodir/new.txt, in a folder this user has no permission to write in now"]),
    ("echo hi > /etc/shellper-adversarial.conf", ["writes to /etc/shellper-adversarial.conf, in a folder this user has no permission"]),
    (
        "sudo echo hi > /etc/shellper-adversarial.conf",
        ["writes to /etc/shellper-adversarial.conf, in a folder this user has no permission to write in now;"],
    ),
    ("sudo sh -c 'echo hi > /etc/shellper-adversarial.conf'", ["write in now (as root, through sudo or the like: cannot tell)"]),
    ("cd logs && echo hi > notes.txt", ["writes to notes.txt: where, cannot tell (the line changes folder first)"]),
    ("{ cd logs; echo hi; } > out.txt", ["writes to out.txt: where, cannot tell (the line changes folder first)"]),
    ("mkdir -p made.d && cd made.d && echo hi > y.txt", ["made.d is not there"]),
    ("pushd logs && cat app.log", ["logs is a folder (2 entries)"]),
    ("env -C logs sh -c 'echo x > app.log'", ["writes to app.log: where, cannot tell (the line changes folder first)"]),
    ("echo a > b.txt; cd logs && ls", ["creates b.txt"]),
    ("echo $(cd logs; pwd) > where.txt", ["creates where.txt"]),
    ("cat deep/../target.txt", ["deep/../target.txt is a file (11 bytes)"]),
    ("cat <<< 'hi' > here.txt", ["creates here.txt"]),
    ('for f in logs/*.log; do cp "$f" "$f.bak"; done', []),
    ("ssh nohost.invalid cat notes.txt > remote.txt", ["creates remote.txt"]),
    ("HOME=/ ; ls ~/etc", []),
    ("ls -la  # lists the files", []),
]


@needs_setpriv
@pytest.mark.parametrize("line, said", CASES, ids=[c[0][:60] for c in CASES])
def test_every_claim_of_the_effect_line_holds_when_the_line_runs(line, said, tree):
    work, home = tree
    got, ran, wrong = false_claims(line, work, home)
    assert "refused" not in got, got
    for part in said:
        assert part in got["describe"], (part, got["describe"])
    if not re.search(r"&&|;|\|", line):  # one command: nothing of the line changed the files before it
        if "has no permission to write" in got["describe"] and "as root" not in got["describe"]:
            assert "Permission denied" in ran.stderr, ran
        if "whose folder is not" in got["describe"]:
            assert re.search(r"No such file|Not a directory", ran.stderr), ran
    said_false = "".join(f"\n  false: {w}" for w in wrong)
    assert not wrong, f"{line}\n  effect: {got['describe']}\n  bash: {ran.returncode} {ran.stderr.strip()}{said_false}"


@needs_setpriv
def test_the_paths_after_a_cd_are_not_described_from_the_folder_the_line_starts_in(tree):
    work, home = tree
    got, ran, wrong = false_claims("cd logs && echo hi > notes.txt && cat app.log", work, home)
    assert not wrong and ran.returncode == 0
    assert "notes.txt (6 bytes)" not in got["describe"] and "app.log" not in got["describe"].split("; what")[0].replace("notes.txt", "")
    assert _read(os.path.join(work, "logs", "notes.txt")) == b"hi\n" and _read(os.path.join(work, "notes.txt")) == b"hello\n"


def test_a_command_run_on_another_computer_has_no_local_paths(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    got = general_effect.describe("ssh host cat notes.txt", str(tmp_path), str(tmp_path))
    assert got == "runs: ssh, cat (through ssh host); what the command does: cannot tell"
    got = general_effect.describe("ssh host 'echo hi > remote.txt' > local.txt", str(tmp_path), str(tmp_path))
    assert "creates local.txt" in got and "remote.txt" not in got


def test_a_line_that_changes_home_has_no_home_paths(tmp_path):
    (tmp_path / "doc.txt").write_text("x")
    for line in ("HOME=/ ; ls ~/doc.txt", "export HOME=/etc; cat ~/doc.txt"):
        assert "doc.txt" not in general_effect.describe(line, str(tmp_path), str(tmp_path)), line


def test_many_big_folders_are_not_all_listed(tmp_path, monkeypatch):
    """A line of 2,000 characters naming one big folder in many spellings: listed at most
    MAX_PATHS times, and at most MAX_LOOKS lstat calls in all ("and more paths")."""
    big = tmp_path / "big"
    big.mkdir()
    for i in range(general_effect.MAX_ENTRIES + 5):
        (big / str(i)).touch()
    words = ["big", "big/", "./big", "./big/", "big/.", "big//", "./big/.", "big/./", ".//big", "big/./."]
    words += [f"big/{i}" for i in range(400)]
    line = ("ls " + " ".join(words))[:MAX_ANSWER].rsplit(" ", 1)[0]
    listed, looked = [], []
    scandir, lstat = os.scandir, os.lstat
    monkeypatch.setattr(general_effect.os, "scandir", lambda path: listed.append(path) or scandir(path))
    monkeypatch.setattr(general_effect.os, "lstat", lambda path: looked.append(path) or lstat(path))
    started = time.monotonic()
    got = general_effect.describe(line, str(tmp_path), str(tmp_path))
    monkeypatch.undo()
    assert len(listed) <= general_effect.MAX_PATHS and len(looked) <= general_effect.MAX_LOOKS and time.monotonic() - started < 5
    assert "big is a folder (more than 10,000 entries)" in got and got.endswith("and more paths; what ls does with them: cannot tell")


# ---------------------------------------------------------------- what command_of takes


@pytest.mark.parametrize(
    "answer",
    [
        "1. run ls",
        "1. ls -la",
        "- ls -la",
        "* ls -la",
        "Command: ls",
        "Here is the command: `ls -la`",
        "**ls -la**",
        "> ls -la",
        "bash: ls -la",
        "Sure! ls -la",
        "ls -la — lists every file",
        "rm -rf build – the build folder",
        "The command is:\n\n    ls -la",
        "(Note: this lists the files)",
        '```json\n{"cmd": "ls"}\n```',
    ],
)
def test_prose_lists_and_labels_are_not_commands(answer):
    with pytest.raises(GeneralAnswer) as info:
        command_of(answer, PATH)
    assert "prose, not a command" in str(info.value)


@pytest.mark.parametrize(
    "answer, code",
    [
        ("\x1b[31mls\x1b[0m", "U+001B"),  # ANSI colours
        ("ls \x1b[2J", "U+001B"),  # clears the screen as the line is drawn
        ("ls \x9b2J", "U+009B"),  # the 8-bit CSI
        ("```bash\nls\x07\n```", "U+0007"),
        ("ls\rrm -rf ~", "U+000D"),  # a carriage return hides what comes before it
        ("ls \u202erm", "U+202E"),  # reversed text
        ("ls \u2066x\u2069", "U+2066"),
        ("cat notes\u200b.txt", "U+200B"),  # zero-width: shown as notes.txt, runs another name
        ("ls\ufeff -la", "U+FEFF"),
        ("ls \U000e0041", "U+E0041"),  # a tag character: invisible
        ("echo hi\u2028rm -rf ~", "U+2028"),  # a line separator
        ("ls\u00a0-la", "U+00A0"),  # a no-break space: looks like two words, is one
        ("ls \U0010fffd", "U+10FFFD"),  # private use
    ],
)
def test_characters_that_do_not_show_as_they_run_never_reach_the_line(answer, code):
    with pytest.raises(GeneralAnswer) as info:
        command_of(answer, PATH)
    assert code in str(info.value), str(info.value)
    # and the policy, on its own, refuses the controls and bidi characters too
    raw = answer.split("\n")[1] if answer.startswith("```") else answer
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u202e\u2066" for ch in raw):
        assert general_policy.judge(raw, "bash", "/tmp", "/tmp").refused


@pytest.mark.parametrize(
    "answer, line",
    [
        ("ls -la  # lists the files", "ls -la"),
        ("```bash\nrm -rf build # removes the build folder\n```", "rm -rf build"),
        ("find . -name '*.log' -delete  # careful", "find . -name '*.log' -delete"),
        ("echo 'a # b' \"#c\" $# ${#x} a#b # note", "echo 'a # b' \"#c\" $# ${#x} a#b"),
        ("echo $'it\\'s' # x", "echo $'it\\'s'"),
        ("echo \\# y # z", "echo \\# y"),
        ("echo a; echo b", "echo a; echo b"),
        ("ls;pwd", "ls;pwd"),
        ("ls|wc -l", "ls|wc -l"),
        ("sort data.csv>sorted.csv", "sort data.csv>sorted.csv"),
        ("(cd logs && ls)", "(cd logs && ls)"),
        ("cat <<< 'hello'", "cat <<< 'hello'"),
        ('for f in *.txt; do echo "$f"; done', 'for f in *.txt; do echo "$f"; done'),
        ('while read -r l; do echo "$l"; done < notes.txt', 'while read -r l; do echo "$l"; done < notes.txt'),
        ("ls -la\tlogs", "ls -la\tlogs"),
        ("```bash\ntar czf logs.tgz \\\n    logs\n```", "tar czf logs.tgz logs"),  # one line written on two
        ("find . -name '*.log' \\\n  -mtime +7 \\\n  -delete", "find . -name '*.log' -mtime +7 -delete"),
        ("ls -la \\", "ls -la"),
        ("```fish\nfor f in *.txt; echo $f; end\n```", "for f in *.txt; echo $f; end"),
    ],
)
def test_real_one_liners_are_taken_and_a_trailing_comment_is_left_off(answer, line):
    assert command_of(answer, PATH) == line


def test_a_comment_left_on_the_line_would_run_as_arguments_in_zsh(tmp_path):
    """Why the comment is left off: interactive zsh without interactive_comments (its default)
    passes the words after # to the command: rm -rf build # the build folder also removes ./the."""
    if not shutil.which("zsh"):
        pytest.skip("needs zsh")

    def at_the_prompt(line):  # typed at an interactive zsh -f (no rc files: the defaults)
        subprocess.run(["zsh", "-f", "-i"], input=f"{line}\nexit\n", cwd=tmp_path, text=True, capture_output=True, timeout=20)

    for name in ("build", "the", "keep"):
        (tmp_path / name).mkdir(exist_ok=True)
    at_the_prompt("rm -rf build # the build folder")
    assert not (tmp_path / "the").exists() and (tmp_path / "keep").exists()  # what the comment would do
    for name in ("build", "the"):
        (tmp_path / name).mkdir()
    at_the_prompt(command_of("rm -rf build # the build folder", PATH))
    assert (tmp_path / "the").exists() and not (tmp_path / "build").exists()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_fish_syntax_is_refused_on_the_bash_parse_whatever_the_shell(shell, tmp_path):
    """Known limit: a fish block or (cmd) substitution does not parse as bash, so it is refused
    (fails closed), also for fish; fish's && chains and $(cmd) pass."""
    for line in ("for f in *.txt; echo $f; end", "echo (pwd)", "if test -f x; echo y; end"):
        judged = general_policy.judge(line, shell, str(tmp_path), str(tmp_path))
        assert judged.refused.startswith("refused: shellper could not parse the command"), (line, judged)
    assert not general_policy.judge("ls *.txt && echo $(pwd)", shell, str(tmp_path), str(tmp_path)).refused


@pytest.mark.parametrize(
    "answer, said",
    [
        ("x " * 500_000, "characters long"),  # 1 MB on one line
        ("ls\n" * 10_000, "10000 lines, not one command line"),
        ("```\n" * 250_000, "commands, not one"),
        ("`" * 1_000_000, "characters long"),
        ("<think>" + "x" * 1_000_000, "no command"),
        ("```bash\n" + "echo " + "y" * 1_000_000 + "\n```", "characters long"),
    ],
)
def test_a_huge_answer_is_said_in_one_line_quickly(answer, said):
    started = time.monotonic()
    with pytest.raises(GeneralAnswer) as info:
        command_of(answer, PATH)
    assert time.monotonic() - started < 2
    assert said in str(info.value) and len(str(info.value)) < 200


def test_a_tool_call_is_not_a_command_and_says_what_to_fix():
    for answer in ('<tool_call>\n{"name": "ls", "arguments": {}}\n</tool_call>', '{"name": "ls", "parameters": {}}'):
        with pytest.raises(GeneralAnswer) as info:
            command_of(answer, PATH)
        assert "a tool call, not a command line: general_model must name a chat model" in str(info.value)
    assert command_of("echo '{\"name\": 1}'", PATH) == "echo '{\"name\": 1}'"


# ---------------------------------------------------------------- the routes, through a real daemon


@pytest.fixture
def general(daemon_env, fake, monkeypatch):
    fake.models.append(GENERAL)
    monkeypatch.setenv("SHELLPER_GENERAL_MODEL", GENERAL)
    return fake


def _ask(session, text, cwd, shell="bash"):
    return client.request({"op": "translate", "session": session, "cwd": cwd, "shell": shell, "text": text})


def _enter(session, cwd, line) -> dict:
    return client.request({"op": "check", "session": session, "cwd": cwd, "shell": "bash", "text": line})


def _executed(session, cwd, line, status) -> dict:
    return client.request({"op": "executed", "session": session, "cwd": cwd, "shell": "bash", "text": line, "status": status})


def _bodies(fake, model) -> list:
    return [b for b in fake.requests if b.get("model") == model]


def test_a_huge_or_hostile_answer_through_the_daemon_never_reaches_the_line(general, tmp_path):
    general.say("big", "x " * 500_000, model=GENERAL)
    general.say("many", "ls\n" * 10_000, model=GENERAL)
    general.say("ansi", "```bash\nls \x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07\n```", model=GENERAL)
    general.say("explained", "```bash\ntar czf logs.tgz logs # packs the logs\n```", model=GENERAL)
    with fake_shell() as shell:
        started = time.monotonic()
        big = _ask(shell, "use tar on big", str(tmp_path))
        many = _ask(shell, "use tar on many", str(tmp_path))
        ansi = _ask(shell, "use tar on ansi", str(tmp_path))
        explained = _ask(shell, "use tar on explained", str(tmp_path))
        assert time.monotonic() - started < 15
    assert not big["ok"] and "characters long" in big["error"], big
    assert not many["ok"] and "10000 lines" in many["error"], many
    assert not ansi["ok"] and "U+001B" in ansi["error"] and "\x1b" not in ansi["error"], ansi
    assert explained["ok"] and explained["command"] == "tar czf logs.tgz logs", explained


@pytest.mark.parametrize("name", ["a.txt", "tar"])
def test_a_second_ctrl_g_on_an_undo_never_sends_the_undo_folder_to_a_model(general, tmp_path, name):
    """The restore line is shellper's own, not a model's suggestion: a second Ctrl-G on it is not
    "not that", and the undo folder's path is no request for any model."""
    work = str(tmp_path)
    (tmp_path / name).write_text("alpha\n")
    general.answer("delete the file named", "rm", {"file_name": name})
    with fake_shell() as shell:
        made = _ask(shell, f"delete the file named {name}", work)
        assert made["ok"] and made["command"] == f"rm {name}", made
        assert _enter(shell, work, made["command"])["changed"] is False
        subprocess.run(["bash", "-c", made["command"]], cwd=work, check=True)
        _executed(shell, work, made["command"], 0)
        restore = _ask(shell, "undo", work)
        assert restore["ok"] and restore["effect"].startswith("restores: "), restore
        asked = len(general.requests)
        again = _ask(shell, restore["command"], work)  # Ctrl-G again on the restore line
    assert not again["ok"] and "undo's restore" in again["error"], again
    assert len(general.requests) == asked  # no model is asked


def test_a_second_ctrl_g_on_a_general_command_asks_it_again_for_the_request(general, tmp_path):
    general.say("pack the logs with tar", "```bash\ntar czf logs.tgz logs\n```", model=GENERAL)
    with fake_shell() as shell:
        first = _ask(shell, "pack the logs with tar", str(tmp_path))
        again = _ask(shell, first["command"], str(tmp_path))
    assert first["ok"] and again["ok"], (first, again)
    asked = [b["messages"][-1]["content"] for b in _bodies(general, GENERAL)]
    # The same question would get the same answer: the second asks for another way (never the command alone).
    assert asked == ["pack the logs with tar", "pack the logs with tar (another way than `tar czf logs.tgz logs`)"]
    assert all(b["messages"][-1]["content"] != first["command"] for b in general.requests)


def test_a_missing_general_model_is_named_with_how_to_get_it(daemon_env, fake, monkeypatch, tmp_path):
    monkeypatch.setenv("SHELLPER_GENERAL_MODEL", GENERAL)  # not on the server
    with fake_shell() as shell:
        reply = _ask(shell, "use tar to compress the logs folder", str(tmp_path))
    assert not reply["ok"] and reply["kind"] == "backend", reply
    assert f"the general model '{GENERAL}' is not on" in reply["error"] and f"shellper setup-model --general {GENERAL}" in reply["error"]


def test_the_shellper_model_named_as_the_general_one_says_what_to_fix(daemon_env, fake, monkeypatch, tmp_path):
    monkeypatch.setenv("SHELLPER_GENERAL_MODEL", "distil_model")
    fake.say("compress", '<tool_call>\n{"name": "ls", "arguments": {}}\n</tool_call>', model="distil_model")
    with fake_shell() as shell:
        reply = _ask(shell, "use tar to compress the logs folder", str(tmp_path))
    assert not reply["ok"] and "general_model must name a chat model" in reply["error"], reply
    (body,) = fake.requests
    assert body["model"] == "distil_model" and "tools" not in body


def test_without_a_general_model_the_shown_command_as_a_request_goes_to_the_shellper_model(daemon_env, fake, tmp_path):
    fake.answer("list the files", "ls", {})
    with fake_shell() as shell:
        first = _ask(shell, "list the files", str(tmp_path))
        again = _ask(shell, first["command"], str(tmp_path))
    assert first["command"] == "ls" and again["ok"], again
    assert [b["messages"][-1]["content"] for b in fake.requests] == ["list the files", "ls"]
    assert all("tools" in b and b["model"] == "distil_model" for b in fake.requests)


# ---------------------------------------------------------------- found in files this pass does not edit


@pytest.mark.xfail(
    strict=True,
    reason="shellparse: tree-sitter-bash reads `a && b > f` and `a | b > f` as one redirected statement, and the parse "
    "gives > f to a as well; bash gives it to b alone (general_effect says 'cannot tell' where a cd is involved)",
)
def test_a_redirection_after_a_list_is_the_last_commands_only():
    for line in ("cd logs && echo hi > notes.txt", "ls | sort > out.txt"):
        first, last = shellparse.parse(line).commands
        assert first.redirects == [] and [r.target.text for r in last.redirects] == [line.rsplit(" ", 1)[1]], line
