"""Machinery of tests/test_claims.py: the effect line's claims checked against what happened.

For each case a small tree is built in a throwaway folder, owned by an
unprivileged user (as root: nobody, 65534; else the user running the tests);
the verdict (turns.vet: the command, the notes, the effect line) is computed
as that user in a worker Python process (permissions matter); the exact
command then runs as that user in a real shell (`bash -c`, `zsh -fc`,
`fish -c`, the command rendered for that shell) with stdin a pty to which
"n\\n" answers are written (rm and mv ask about write-protected files as they
would at a terminal), and the tree is snapshotted before and after (paths,
kinds, sizes, content hashes, link targets; as root, so even unreadable files
are seen). judge() then compares every claim of the line with the exit
status, the output and the change of the tree. A line is false when any of
its claims disagrees.

One runner per shell works through all cases, each with its own throwaway
root and worker, the three in parallel.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOBODY = 65534
SHELLS = ("bash", "zsh", "fish")
ANSWERS = b"n\n" * 32  # "no" to every question rm or mv asks at the terminal
TIMEOUT = 20.0  # seconds one command may take (a 12,000-file rm -r takes well under 1 s)
TOOLS = frozenset(
    ("cat", "cd", "cp", "diff", "du", "echo", "find", "grep", "ls", "mkdir", "mv", "pwd", "rm", "rmdir", "sort", "tail", "touch", "wc")
)
READERS = frozenset(("cat", "diff", "du", "find", "grep", "ls", "pwd", "sort", "tail", "wc"))
# A failure's reason as a line says it -> what the tools print for it (any of; lower case).
REASONS = (
    (r"no permission|not writable|cannot read", ("permission denied", "operation not permitted")),
    (r"ends with / but is not a folder", ("no such file", "not a directory")),
    (r"same (file|folder)", ("same file",)),
    (r"into itself", ("into itself", "subdirectory of itself")),
    (r"not empty", ("not empty",)),
    (r"already exists", ("file exists",)),
    (r"dangling link", ("dangling",)),
    (r"is not there|there is no folder", ("no such file", "does not exist", "not a directory")),
    (r"is a folder", ("is a directory", "directory", "not a directory")),
    (r"is a file, and a folder", ("non-directory", "not a directory")),
    (r"not a folder|is a link", ("not a directory", "is not a directory", "symbolic link not followed")),
)
PATH_KEYS = ("file_name", "folder", "source", "destination", "file_name1", "file_name2", "dir_name", "path")


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    """One probe: a call run in a tree of its own.

    files: relative path -> content (str); dirs: folders; links: path -> target;
    hard: path -> an existing file it is a hard link to; modes: path -> mode,
    applied last (deepest first); many: (folder, folders, files per folder) of
    generated files; cwd: where the shell and the look stand, relative to the
    top; recursive: allow_recursive (None: True for rm of a folder)."""

    name: str
    tool: str
    args: dict
    files: dict = field(default_factory=dict)
    dirs: list = field(default_factory=list)
    links: dict = field(default_factory=dict)
    hard: dict = field(default_factory=dict)
    modes: dict = field(default_factory=dict)
    many: tuple = ()
    cwd: str = ""
    recursive: bool | None = None
    owners: dict = field(default_factory=dict)  # path -> uid other than the user's (as root only)
    env: dict = field(default_factory=dict)  # more environment, for the shell and the look

    def allow_recursive(self) -> bool:
        if self.recursive is not None:
            return self.recursive
        if self.tool != "rm":
            return False
        target = self.args["file_name"].rstrip("/")
        prefix = os.path.normpath(os.path.join(self.cwd, target))
        return (
            prefix in self.dirs
            or any(p.startswith(prefix + "/") for p in self.files)
            or bool(self.many and self.many[0] == prefix)
            or self.args["file_name"].endswith("/")
        )


def build(top: str, case: Case, owner: int | None) -> None:
    """The case's tree under top (which must not exist), chowned to owner, modes last."""
    os.makedirs(top)
    for d in case.dirs:
        os.makedirs(os.path.join(top, d), exist_ok=True)
    for rel, text in case.files.items():
        path = os.path.join(top, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
    if case.many:
        folder, folders, per = case.many
        for i in range(folders):
            d = os.path.join(top, folder, f"d{i}")
            os.makedirs(d)
            for j in range(per):
                with open(os.path.join(d, f"f{j}"), "w") as fh:
                    fh.write("x")
    for rel, other in case.hard.items():
        os.link(os.path.join(top, other), os.path.join(top, rel))
    for rel, target in case.links.items():
        path = os.path.join(top, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)
    if owner is not None:
        for base, dirs, files in os.walk(top):
            os.lchown(base, owner, owner)
            for name in dirs + files:
                os.lchown(os.path.join(base, name), owner, owner)
    if owner is not None:
        for rel, uid in case.owners.items():
            os.lchown(os.path.join(top, rel), uid, uid)
    for rel in sorted(case.modes, key=lambda r: r.count("/"), reverse=True):
        os.chmod(os.path.join(top, rel), case.modes[rel])


def wipe(path: str) -> None:
    """Remove a tree whatever its modes (as a user: give the owner rwx back first)."""
    if not os.path.lexists(path):
        return
    if os.geteuid() != 0:
        for base, dirs, _ in os.walk(path):
            for name in dirs:
                try:
                    os.chmod(os.path.join(base, name), 0o700, follow_symlinks=False)
                except OSError:
                    pass
        try:
            os.chmod(path, 0o700)
        except OSError:
            pass
        for base, dirs, _ in os.walk(path):
            for name in dirs:
                p = os.path.join(base, name)
                if not os.path.islink(p):
                    os.chmod(p, 0o700)
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- snapshots


def snapshot(top: str) -> dict:
    """relative path -> (kind, size, content hash, link target, mode); links not followed.
    Unreadable content (only when not root) hashes as '?'."""
    out: dict = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            it = os.scandir(os.path.join(top, rel) if rel else top)
        except OSError:
            continue
        with it:
            for e in it:
                r = os.path.join(rel, e.name) if rel else e.name
                st = e.stat(follow_symlinks=False)
                mode = st.st_mode & 0o7777
                if e.is_symlink():
                    out[r] = ("l", 0, "", os.readlink(e.path), 0)
                elif e.is_dir(follow_symlinks=False):
                    out[r] = ("d", 0, "", "", mode)
                    stack.append(r)
                elif e.is_file(follow_symlinks=False):
                    try:
                        with open(e.path, "rb") as fh:
                            digest = hashlib.sha256(fh.read()).hexdigest()[:16]
                    except OSError:
                        digest = "?"
                    out[r] = ("f", st.st_size, digest, "", mode)
                else:
                    out[r] = ("o", 0, "", "", mode)
    return out


def contents(top: str, rels) -> dict:
    """The bytes of some regular files (for line counts), None where there is none."""
    out = {}
    for rel in rels:
        path = os.path.join(top, rel)
        try:
            if os.path.islink(path) or not os.path.isfile(path):
                out[rel] = None
                continue
            with open(path, "rb") as fh:
                out[rel] = fh.read(1 << 20)
        except OSError:
            out[rel] = None
    return out


@dataclass
class Change:
    added: list
    removed: list
    modified: list

    def empty(self) -> bool:
        return not (self.added or self.removed or self.modified)

    def all(self) -> list:
        return self.added + self.removed + self.modified

    def summary(self, limit: int = 6) -> str:
        if self.empty():
            return "tree unchanged"
        parts = []
        for word, items in (("added", self.added), ("removed", self.removed), ("changed", self.modified)):
            if items:
                more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
                parts.append(f"{word} {len(items)}: {', '.join(sorted(items)[:limit])}{more}")
        return "; ".join(parts)


def compare(before: dict, after: dict) -> Change:
    return Change(
        added=sorted(p for p in after if p not in before),
        removed=sorted(p for p in before if p not in after),
        modified=sorted(p for p in before if p in after and before[p] != after[p]),
    )


# ---------------------------------------------------------------- the worker (as the user)


def worker_main() -> None:
    """Runs as the unprivileged user: one JSON request a line in, one verdict a line out."""
    sys.path.insert(0, os.environ.get("SP_ROOT", ROOT))
    from shellper_hook.errors import Refused
    from shellper_hook.look import KINDS, look
    from shellper_hook.tools import ToolCall
    from shellper_hook.turns import vet

    out = sys.stdout
    for row in sys.stdin:
        req = json.loads(row)
        saved = {k: os.environ.get(k) for k in req.get("env", {})}
        os.environ.update(req.get("env", {}))
        try:
            call = ToolCall(req["tool"], req["args"])
            v = vet(call, req["cwd"], req["allow_recursive"], req["home"], req["shell"])
            seen = look(call, req["cwd"], req["home"], req["allow_recursive"], shell=req["shell"])
            answer = {
                "command": v.command,
                "warnings": list(v.warnings),
                "effect": v.effect,
                "kind": seen.kind,
                "text": seen.text,
                "ok": seen.ok,
                "short": seen.short,
                "written": list(seen.written),
                "kinds": list(KINDS),
            }
        except Refused as exc:
            answer = {"refused": str(exc)}
        except Exception as exc:  # noqa: BLE001 - reported, not hidden
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        for k, value in saved.items():
            if value is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = value
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()


def as_user(argv: list) -> list:
    if os.geteuid() == 0:
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    return argv


def python_for_user() -> str:
    """An interpreter the user can run (this one may sit in root's home)."""
    for exe in (sys.executable, shutil.which("python3") or "", "/usr/bin/python3", "/usr/local/bin/python3"):
        if (
            exe
            and subprocess.run(
                as_user([exe, "-c", "import sqlite3, json"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/"
            ).returncode
            == 0
        ):
            return exe
    raise RuntimeError("no Python the unprivileged user can run")


class Worker:
    def __init__(self, env: dict, base: str) -> None:
        # The package and this file, copied where the user can read them (the checkout may not be).
        pkg = os.path.join(base, "pkg")
        shutil.copytree(
            os.path.join(ROOT, "shellper_hook"), os.path.join(pkg, "shellper_hook"), ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copy(os.path.abspath(__file__), os.path.join(pkg, "claims_harness.py"))
        for where, dirs, files in os.walk(pkg):
            for name in dirs + files:
                os.chmod(os.path.join(where, name), 0o755 if name in dirs else 0o644)
        os.chmod(pkg, 0o755)
        self.proc = subprocess.Popen(
            as_user([python_for_user(), os.path.join(pkg, "claims_harness.py"), "worker"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**env, "PYTHONDONTWRITEBYTECODE": "1", "SP_ROOT": pkg},
            cwd="/",
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
        )

    def vet(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the verdict worker died")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


# ---------------------------------------------------------------- running a command


_TRAILER = {
    "bash": '\n__sp_st=$?; builtin printf \'%s\\n%s\\n\' "$__sp_st" "$PWD" > "$SP_TRAILER"\n',
    "zsh": '\n__sp_st=$?; builtin printf \'%s\\n%s\\n\' "$__sp_st" "$PWD" > "$SP_TRAILER"\n',
    "fish": "\nset __sp_st $status; builtin printf '%s\\n%s\\n' $__sp_st $PWD > $SP_TRAILER\n",
}
_ARGV = {"bash": ["bash", "--norc", "--noprofile", "-c"], "zsh": ["zsh", "-fc"], "fish": ["fish", "--no-config", "-c"]}


@dataclass
class Ran:
    status: int | None  # None: it hung and was killed
    stdout: bytes
    stderr: bytes
    pwd: str


def run(shell: str, command: str, cwd: str, env: dict, trailer: str) -> Ran:
    """The command in a real shell as the user, stdin a pty with "n" answers waiting."""
    if os.path.exists(trailer):
        os.unlink(trailer)
    master, slave = os.openpty()
    os.write(master, ANSWERS)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            as_user([*_ARGV[shell], command + _TRAILER[shell]]),
            stdin=slave,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env={**env, "SP_TRAILER": trailer},
            start_new_session=True,
        )
        deadline = time.monotonic() + TIMEOUT
        status = None
        while time.monotonic() < deadline:
            # Keep the pty's echo from filling up.
            ready, _, _ = select.select([master], [], [], 0.002)
            if ready:
                try:
                    os.read(master, 4096)
                except OSError:
                    pass
            if proc.poll() is not None:
                status = proc.returncode
                break
        if status is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
        os.close(slave)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    pwd = ""
    try:
        with open(trailer, encoding="utf-8", errors="surrogateescape") as fh:
            st, pwd = (fh.read().split("\n") + ["", ""])[:2]
        status = int(st) if status is not None else None
    except (OSError, ValueError):
        pass
    return Ran(status, stdout, stderr, pwd)


# ---------------------------------------------------------------- judging


def n_lines(data: bytes | None) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _num(text: str | None) -> int:
    """A count as a line writes it ("1,234"; "none", "empty" and no number are 0)."""
    return int(text.replace(",", "")) if text and text not in ("none", "empty") else 0


def _unq(token: str) -> str:
    """A name as look.q() shows it (bare, or a Python repr)."""
    if token[:1] in "'\"":
        try:
            import ast

            return ast.literal_eval(token)
        except (ValueError, SyntaxError):
            return token.strip("'\"")
    return token


_NAME = r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s,;()]+)"


@dataclass
class Judged:
    shell: str
    case: str
    command: str
    claim: str
    notes: list
    problems: list
    happened: str


class Judge:
    """The claims of one line against one run."""

    def __init__(
        self, case: Case, v: dict, ran: Ran, top: str, home: str, before: dict, after: dict, before_text: dict, after_text: dict
    ) -> None:
        self.case, self.v, self.ran, self.top, self.home = case, v, ran, top, home
        self.before, self.after = before, after
        self.before_text, self.after_text = before_text, after_text
        self.change = compare(before, after)
        self.cwd = os.path.join(top, case.cwd) if case.cwd else top
        self.problems: list = []
        self._links = None
        self._named: dict = {}

    # -- paths
    def rel(self, shown: str) -> str | None:
        """A path as the line shows it (relative to cwd, ~/..., absolute) -> relative to top."""
        shown = shown.rstrip("/") or shown
        if shown.startswith("~"):
            path = self.home + shown[1:]
        else:
            path = os.path.join(self.cwd, shown)
        path = os.path.normpath(path)
        if path == self.top:
            return ""
        if not path.startswith(self.top + "/"):
            return None
        return path[len(self.top) + 1 :]

    def real_rel(self, value: str) -> str | None:
        """A call's path argument, links resolved as they were before the run -> relative to top
        (a leading ~ or ~/ is home: the command leaves it to the shell)."""
        path = self.home + value[1:] if value == "~" or value.startswith("~/") else os.path.join(self.cwd, value)
        parts = os.path.normpath(path)
        # Resolve through the before snapshot's links (the tree may be gone now).
        rel = self.rel(parts)
        if rel is None:
            return None
        out: list = []
        for comp in rel.split("/") if rel else []:
            out.append(comp)
            entry = self.before.get("/".join(out))
            hops = 0
            while entry and entry[0] == "l" and hops < 20:
                target = entry[3]
                base = "/".join(out[:-1])
                joined = os.path.normpath(os.path.join(self.top, base, target))
                if not joined.startswith(self.top + "/"):
                    return None
                out = joined[len(self.top) + 1 :].split("/")
                entry = self.before.get("/".join(out))
                hops += 1
        return "/".join(out)

    def files_under(self, rel: str, snap: dict) -> int:
        return sum(1 for p, e in snap.items() if p.startswith(rel + "/") and e[0] != "d")

    def bad(self, why: str) -> None:
        self.problems.append(why)

    # -- the checks
    def check(self) -> list:
        v, ran, ch = self.v, self.ran, self.change
        kind, text = v["kind"], v["text"]
        tool = self.case.tool
        # diff and grep exit 1 for differences and no match; find exits 1 for folders it cannot read,
        # which a line may say it will report as errors.
        lenient = tool in ("diff", "grep") or (tool == "find" and "reports as errors" in text)
        ok_status = ran.status is not None and (ran.status == 0 or (lenient and ran.status == 1))
        if ran.status is None:
            self.bad("the command hung (killed after the timeout)")
        if v["effect"] != f"{kind}: {text}":
            self.bad(f"the effect line {v['effect']!r} is not the look's {kind}: {text}")
        if kind not in v.get("kinds", ()):
            self.bad(f"{kind!r} is not one of look.KINDS")
        if kind in ("fails", "fails part-way"):
            if ok_status:
                self.bad(f"says it fails, but the exit status is {ran.status}")
            if kind == "fails":
                partial = "partial copy" in text
                if partial:
                    if ch.removed or ch.modified:
                        self.bad("says it fails leaving only a partial copy, but things were removed or changed")
                elif not ch.empty():
                    self.bad("says it fails (nothing done), but the tree changed")
            elif tool in READERS:
                # A reader fails part-way: it shows some and fails on the rest.
                if not ch.empty():
                    self.bad("a reader changed the tree")
                if not ran.stdout:
                    self.bad("says it fails part-way (shows some), but it printed nothing")
            elif ch.empty():
                self.bad("says it fails part-way, but nothing changed")
            self.check_reason(text)
        elif kind == "may fail":
            # A hedge: either outcome, but only the sort of change it names.
            if text.startswith("deletes") and (ch.added or ch.modified):
                self.bad("says it may delete, but things were added or changed")
        else:
            # rm -r answered n: the folders above what stays cannot go, and rm says so (status 1).
            stays = kind == "asks first" and "with the folders it is in" in text
            if not ok_status and ran.status is not None and not stays:
                self.bad(f"says {kind}, but the exit status is {ran.status}")
            if kind in ("reads", "moves the shell"):
                if not ch.empty():
                    self.bad(f"says it {kind}, but the tree changed")
            elif kind == "deletes":
                if ch.added or ch.modified:
                    self.bad("says it deletes, but things were added or changed")
                if not ch.removed:
                    self.bad("says it deletes, but nothing was removed")
            elif kind == "creates":
                if ch.removed or ch.modified:
                    self.bad("says it creates, but things were removed or changed")
                if not ch.added:
                    self.bad("says it creates, but nothing was added")
            elif kind == "changes":
                self.check_changes(text)
            elif kind != "asks first":
                self.bad(f"no rule for the kind {kind!r}")
        if kind == "asks first":
            if b"?" not in ran.stderr:
                self.bad("says it asks first, but no question was asked")
            if "what you answer n to stays" in text:
                # rm -r: the answers n keep the write-protected entries (and the folders above them).
                if ch.added or ch.modified:
                    self.bad("says it asks, then deletes, but things were added or changed")
                kept = [p for p, e in self.before.items() if e[0] != "l" and not e[4] & 0o200]
                gone = [p for p in kept if p in ch.removed]
                if gone:
                    self.bad(f"says what is answered n stays, but {', '.join(gone[:3])} went")
            elif not ch.empty():
                self.bad("says it asks first, but with the answer n the tree changed")
        # What was there and is now different is named itself ("replacing X"), not only a folder above it,
        # unless the line says it merges into that folder.
        merging = re.search(r"merging with the folder " + _NAME, text)
        for p in ch.modified:
            if self.before[p][0] == "d" and self.after[p][0] == "d":
                continue
            if self._names(text, p) or (merging and self.named(text, p)):
                continue
            if re.search(r"has ([\d,]+) other names? \(hard links?\)", text):
                continue  # checked below
            self.bad(f"{p} was there and changed, but the line does not name it")
        if kind != "fails" or "partial copy" in text:
            unnamed = [p for p in ch.all() if not self.named(text, p)]
            # "X has N other names (hard links), which change too": those may change, to X's new content.
            hard = re.search(r"has ([\d,]+) other names? \(hard links?\), which change too", text)
            if hard and unnamed:
                named_new = {self.after[p][2] for p in ch.modified if p not in unnamed and self.after[p][0] == "f"}
                twins = [p for p in unnamed if p in ch.modified and self.after[p][0] == "f" and self.after[p][2] in named_new]
                if len(twins) <= _num(hard.group(1)):
                    unnamed = [p for p in unnamed if p not in twins]
            if unnamed:
                self.bad(f"changed what the line does not name: {', '.join(unnamed[:4])}")
        if tool == "cd" and kind == "moves the shell":
            m = re.match(r"goes to (.+?)(?: \(found through CDPATH, not in [^)]*\))?$", text)
            if not m:
                self.bad("a cd line that does not say where it goes")
            else:
                claimed = m.group(1)
                claimed = self.home + claimed[1:] if claimed.startswith("~") else claimed
                if os.path.realpath(claimed) != os.path.realpath(ran.pwd or "/nonexistent"):
                    self.bad(f"says it goes to {m.group(1)}, but the shell is in {ran.pwd!r}")
        if tool == "cd" and kind.startswith("fails") and ran.pwd and os.path.realpath(ran.pwd) != os.path.realpath(self.cwd):
            self.bad(f"says cd fails, but the shell moved to {ran.pwd!r}")
        self.check_numbers(kind, text)
        self.check_written()
        self.check_notes()
        return self.problems

    def links_to(self, rel: str) -> list:
        """Links of the tree (before) that lead to the entry rel."""
        if self._links is None:
            self._links = {}
            for p, e in self.before.items():
                if e[0] == "l":
                    real = self.real_rel(os.path.relpath(os.path.join(self.top, p), self.cwd))
                    self._links.setdefault(real, []).append(p)
        return self._links.get(rel, [])

    def named(self, text: str, rel: str) -> bool:
        """Is the change at rel (relative to top) named by the text, itself, a folder above it,
        or a link to either?"""
        parts = rel.split("/")
        for i in range(len(parts) + 1):  # from the top down: a named folder answers for all below it
            anc = "/".join(parts[:i])
            if self._named_here(text, anc, i < len(parts)):
                return True
        return False

    def _named_here(self, text: str, anc: str, above: bool) -> bool:
        key = (text, anc, above)
        if key not in self._named:
            self._named[key] = self._names(text, anc, above)
        return self._named[key]

    def _names(self, text: str, anc: str, above: bool = False) -> bool:
        """Is anc named (a link to it counts only for a folder above the change: into ld/)?"""
        absolute = os.path.join(self.top, anc) if anc else self.top
        forms = {os.path.relpath(absolute, self.cwd), absolute}
        for link in self.links_to(anc) if anc and above else []:
            forms.add(os.path.relpath(os.path.join(self.top, link), self.cwd))
        if self.home and (absolute + "/").startswith(self.home + "/"):
            forms.add("~" + absolute[len(self.home) :])
        for form in forms:
            for shown in (form, repr(form), repr(form + "/")):
                if re.search(r"(?<![\w.~/-])" + re.escape(shown) + r"(?![\w.-])", text):
                    return True
        return False

    def check_changes(self, text: str) -> None:
        ch = self.change
        if text.startswith("only the time of"):
            if not ch.empty():
                self.bad("says only the time changes, but the tree changed")
            return
        if ch.empty():
            self.bad("says it changes something, but nothing changed")

    def check_numbers(self, kind: str, text: str) -> None:
        tool, args, ch, ran = self.case.tool, self.case.args, self.change, self.ran
        # "the N files in it", "at least N files", "N files it can see"
        m = re.search(r"the ([\d,]+) files? in it", text)
        m2 = re.search(r"at least ([\d,]+) files?|([\d,]+) files? it can see", text)
        if (m or m2) and tool in ("rm", "cp", "mv"):
            value = args["file_name"] if tool == "rm" else args["source"]
            folder = self.real_rel(value.rstrip("/") + ("/" if value.endswith("/") else ""))
            if folder is not None:
                there = self.files_under(folder, self.before)
                if m:
                    said = _num(m.group(1))
                    if said != there:
                        self.bad(f"says the {said} files in it, but {folder or '.'} holds {there}")
                    if tool == "rm" and kind == "deletes":
                        gone = sum(1 for p in ch.removed if self.before[p][0] != "d")
                        if gone != said:
                            self.bad(f"says it deletes {said} files, but {gone} were removed")
                    if tool == "cp" and kind in ("creates", "changes"):
                        made = sum(1 for p in ch.added if self.after[p][0] != "d")
                        if made != said and "merging" not in text:
                            self.bad(f"says it copies {said} files, but {made} were added")
                else:
                    said = _num(m2.group(1) or m2.group(2))
                    if said > there:
                        self.bad(f"says at least {said} files, but there are {there}")
        p = re.search(r"deletes ([\d,]+) of (?:the )?([\d,]+) files? in ", text)
        if p and tool == "rm":
            folder = self.real_rel(args["file_name"])
            part, total = _num(p.group(1)), _num(p.group(2))
            if folder is not None and total != self.files_under(folder, self.before):
                self.bad(f"says {total} files in {folder}, but it holds {self.files_under(folder, self.before)}")
            gone = sum(1 for q in ch.removed if self.before[q][0] != "d")
            if gone != part:
                self.bad(f"says it deletes {part} files, but {gone} were removed")
        # sizes of regular files: "X (N bytes"
        for m in re.finditer(_NAME + r" \(([\d,]+) bytes?", text):
            name = _unq(m.group(1))
            if name in ("it", "in") or name.endswith(":"):
                continue
            if text[max(0, m.start() - 9) : m.start()] == "the link ":
                continue  # the link's own length
            rel = self.real_rel(name) if not name.startswith("~") else self.rel(name)
            entry = self.before.get(rel) if rel is not None else None
            if entry and entry[0] == "f" and entry[1] != _num(m.group(2)):
                self.bad(f"says {name} is {m.group(2)} bytes, but it is {entry[1]}")
        # "an empty file X" is there after, empty; "X stays" is there after
        for m in re.finditer(r"an empty file " + _NAME, text):
            rel = self.rel(_unq(m.group(1)))
            entry = self.after.get(rel) if rel is not None else None
            if kind == "creates" and (entry is None or entry[0] != "f" or entry[1] != 0):
                self.bad(f"says it makes an empty file {m.group(1)}, but there it is {entry}")
        for m in re.finditer(r"(?:^|[;:] |, )(?:the empty folder |the link |the folder )?" + _NAME + r" stays", text):
            rel = self.rel(_unq(m.group(1)))
            if rel is not None and rel not in self.after and rel != "":
                self.bad(f"says {m.group(1)} stays, but it is gone")
        # echo: "appends N lines to X, which has M (nothing in it is replaced)"
        if tool == "echo" and kind == "changes" and args["file_name"] != "None":
            target = self.real_rel(args["file_name"])
            old = self.before_text.get(target)
            new = self.after_text.get(target)
            content = args["content"]
            added_nl = content.count("\n") + 1
            m = re.search(r"appends ([\d,]+) lines? to .*, which (?:has ([\d,]+)|is (empty))", text)
            g = re.search(
                r"appends to .*?(?:, which has ([\d,]+) lines?|\(([\d,]+) lines? now)[^:;]*[;:] .*"
                r"(?:added onto|goes onto)",
                text,
            )
            more_m = re.search(r"then ([\d,]+) (?:more lines?|lines? more)", text)
            if old is None or new is None:
                if m or g:
                    self.bad(f"says it appends to a file, but {target} is not a regular file before and after")
            elif m:
                said, has = _num(m.group(1)), _num(m.group(2))
                if n_lines(old) != has:
                    self.bad(f"says the file has {has} lines, but it had {n_lines(old)}")
                tail = new[len(old) :]
                if not new.startswith(old) or (old and not old.endswith(b"\n")):
                    self.bad(
                        "says lines are appended (nothing replaced), but the old content did not stay whole "
                        "(its last line had no newline, or it was rewritten)"
                    )
                elif tail.count(b"\n") != said or not tail.endswith(b"\n"):
                    got = tail.count(b"\n")
                    self.bad(f"says it appends {said} lines, but {got} newline-ended lines were added")
            elif g:
                has, more = _num(g.group(1) or g.group(2)), _num(more_m.group(1)) if more_m else 0
                if n_lines(old) != has:
                    self.bad(f"says the file has {has} lines, but it had {n_lines(old)}")
                if old.endswith(b"\n") or not new.startswith(old):
                    self.bad("says the text is glued onto a last line without a newline, but that is not so")
                elif n_lines(new) != has + more:
                    self.bad(f"says the file ends with {has + more} lines, but it has {n_lines(new)}")
                elif added_nl != more + 1:
                    self.bad(f"says {more} more lines, but the content has {added_nl} lines")
            elif "appends" in text:
                self.bad("an append line whose counts the harness cannot read")
        if tool == "echo" and kind == "creates":
            m = re.search(r"writes ([\d,]+) lines? to a new file", text)
            target = self.real_rel(args["file_name"])
            new = self.after_text.get(target)
            if m and (new is None or new.count(b"\n") != _num(m.group(1)) or not new.endswith(b"\n")):
                self.bad(f"says it writes {m.group(1)} lines to a new file, but {target} has {new!r:.60}")
        # tail
        if tool == "tail" and kind == "reads":
            printed = n_lines(ran.stdout)
            path = self.real_rel(args["file_name"])
            has = n_lines(self.before_text.get(path))
            m = re.search(r"shows the last (line|[\d,]+ lines) of .*, which has ([\d,]+)$", text)
            a = re.search(r"shows (?:all ([\d,]+) lines|the (one) line) of ", text)
            if m:
                want, said = (1 if m.group(1) == "line" else _num(m.group(1).split()[0])), _num(m.group(2))
                if printed != want:
                    self.bad(f"says it shows the last {want} lines, but tail printed {printed}")
                if said != has:
                    self.bad(f"says the file has {said} lines, but it has {has}")
            elif a:
                said = 1 if a.group(2) else _num(a.group(1))
                if printed != said:
                    self.bad(f"says it shows all {said} lines, but tail printed {printed}")
                if said != has:
                    self.bad(f"says the file has {said} lines, but it has {has}")
            elif re.search(r"shows nothing: .* is empty", text):
                if printed != 0 or has != 0:
                    self.bad(f"says the file is empty, but it has {has} lines and tail printed {printed}")
            elif "more than" not in text:
                self.bad("a tail line whose counts the harness cannot read")
        # find
        if tool == "find" and kind == "reads":
            printed = n_lines(ran.stdout)
            m = re.search(r"\(([\d,]+|none) (?:right now|it can see)", text)
            mm = re.search(r"\(more than ([\d,]+) right now", text)
            if m and _num(m.group(1)) != printed:
                self.bad(f"says {m.group(1)} names, but find printed {printed}")
            elif mm and _num(mm.group(1)) > printed:
                self.bad(f"says more than {mm.group(1)} names, but find printed {printed}")
        # "replacing X", "the file written is Y"
        via = re.search(r"through the link " + _NAME + r": the file written is " + _NAME + r"\)", text)
        m = re.search(r"replacing (the link |the empty folder )?" + _NAME, text)
        if m and kind in ("changes", "asks first"):
            rel = self.rel(_unq(m.group(2)).rstrip("/") if m.group(2) else "")
            if rel is None:
                self.bad(f"says it replaces {m.group(2)}, outside the tree")
            elif kind == "changes":
                if via:
                    if rel in self.change.modified or rel not in self.after:
                        self.bad(f"says it writes through the link {m.group(2)}, but the link itself changed")
                    written = self.rel(_unq(via.group(2)))
                    if written is None or written not in self.change.modified:
                        self.bad(f"says the file written is {via.group(2)}, but that file did not change")
                else:
                    was, now = self.before.get(rel), self.after.get(rel)
                    if was is None:
                        self.bad(f"says it replaces {m.group(2)}, but that was not there")
                    elif was == now and not (now and now[0] == "d" and any(p.startswith(rel + "/") for p in self.change.added)):
                        self.bad(f"says it replaces {m.group(2)}, but it did not change")

    def check_reason(self, text: str) -> None:
        """The reason a line gives for a failure is the one the tool reports."""
        err = self.ran.stderr.decode("utf-8", "replace").lower()
        for said, reports in REASONS:
            if re.search(said, text):
                if not any(r in err for r in reports):
                    self.bad(f"says it fails because {said!r}, but the error is {err.strip()[:160]!r}")
                return

    def check_written(self) -> None:
        """Seen.written must cover every regular file whose content changed or that was made."""
        written = [os.path.realpath(w) for w in self.v.get("written", [])]
        inodes = set()  # a file written is written under all its names (hard links)
        for w in written:
            try:
                st = os.stat(w)
                inodes.add((st.st_dev, st.st_ino))
            except OSError:
                pass
        for rel in self.change.added + self.change.modified:
            entry = self.after.get(rel)
            if entry is None or entry[0] != "f":
                continue
            if self.before.get(rel, ("",))[0] == "f" and self.before[rel][2] == entry[2]:
                continue
            real = os.path.join(self.top, rel)
            try:
                st = os.lstat(real)
                if (st.st_dev, st.st_ino) in inodes:
                    continue
            except OSError:
                pass
            if not any(real == w or real.startswith(w.rstrip("/") + "/") for w in written):
                # A file moved (mv) keeps its content: it counts through its folder only.
                self.bad(f"{rel} was written, but Seen.written does not list it")

    def check_notes(self) -> None:
        ch, ran = self.change, self.ran
        ok = ran.status is not None and (ran.status == 0 or (self.case.tool in ("diff", "grep") and ran.status == 1))
        for note in self.v.get("warnings", []):
            low = note.lower()
            if "will fail" in low and ok:
                self.bad(f"the note {note!r} says it will fail, but it succeeded")
            if ("overwritten" in low or "will be replaced" in low) and not ch.modified and not ch.removed:
                self.bad(f"the note {note!r} says something is overwritten, but nothing was")


def happened(ran: Ran, change: Change) -> str:
    out = ran.stdout.decode("utf-8", "replace")
    err = ran.stderr.decode("utf-8", "replace").strip().replace("\n", " | ")
    return (
        f"exit {ran.status}; {change.summary()}; stdout {n_lines(ran.stdout)} lines"
        + (f" {out[:120]!r}" if out else "")
        + (f"; stderr {err[:200]!r}" if err else "")
        + (f"; pwd {ran.pwd}" if ran.pwd else "")
    )


# ---------------------------------------------------------------- one shell's runner


@dataclass
class Result:
    shell: str
    checked: int = 0
    false: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (case, why): refused by the policy
    errors: list = field(default_factory=list)
    seen: list = field(default_factory=list)  # every judged line: (case, command, line, what happened, seconds)


def scratch() -> str | None:
    """A memory file system for the throwaway trees when there is one (12,000 files are built
    and removed per shell in a blink there, seconds on a disk); else the usual temp folder."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) and os.stat(shm).st_mode & 0o1777 == 0o1777:
        return shm
    return None


def run_cases(shell: str, cases: list, doctor=None) -> Result:
    """Every case in one shell; doctor(case, verdict) may change a verdict first (to check the judge)."""
    result = Result(shell)
    owner = NOBODY if os.geteuid() == 0 else None
    base = tempfile.mkdtemp(prefix=f"claims-{shell}-", dir=scratch())
    os.chmod(base, 0o755)
    home = os.path.join(base, "home")
    xdg = os.path.join(base, "xdg")
    for d in (home, xdg):
        os.makedirs(d)
        if owner is not None:
            os.chown(d, owner, owner)
    env = {
        "HOME": home,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "XDG_CONFIG_HOME": os.path.join(xdg, "config"),
        "XDG_DATA_HOME": os.path.join(xdg, "data"),
        "XDG_CACHE_HOME": os.path.join(xdg, "cache"),
        "XDG_STATE_HOME": os.path.join(xdg, "state"),
        "XDG_RUNTIME_DIR": xdg,
        "TMPDIR": xdg,
    }
    trailer = os.path.join(xdg, "trailer")
    worker = Worker(env, base)
    top = os.path.join(home, "w")
    try:
        for case in cases:
            started = time.monotonic()
            wipe(top)
            build(top, case, owner)
            cwd = os.path.join(top, case.cwd) if case.cwd else top
            v = worker.vet(
                tool=case.tool,
                args=case.args,
                cwd=cwd,
                home=home,
                allow_recursive=case.allow_recursive(),
                shell=shell,
                env={k: val.replace("{top}", top) for k, val in case.env.items()},
            )
            if "refused" in v:
                result.skipped.append((case.name, v["refused"]))
                continue
            if "error" in v:
                result.errors.append(f"{case.name}: {v['error']}")
                continue
            if doctor is not None:
                doctor(case, v)
            before = snapshot(top)
            # Only echo's and tail's claims count lines.
            texts = case.tool in ("echo", "tail")
            before_text = contents(top, [p for p, e in before.items() if e[0] == "f"]) if texts else {}
            ran = run(shell, v["command"], cwd, {**env, **{k: val.replace("{top}", top) for k, val in case.env.items()}}, trailer)
            after = snapshot(top)
            after_text = contents(top, [p for p, e in after.items() if e[0] == "f"]) if texts else {}
            judge = Judge(case, v, ran, top, home, before, after, before_text, after_text)
            problems = judge.check()
            result.checked += 1
            result.seen.append(
                (
                    case.name,
                    v["command"],
                    v["effect"],
                    v["warnings"],
                    happened(ran, judge.change),
                    time.monotonic() - started,
                    bool(problems),
                )
            )
            if problems:
                result.false.append(
                    Judged(shell, case.name, v["command"], v["effect"], v["warnings"], problems, happened(ran, judge.change))
                )
    finally:
        worker.close()
        wipe(base)
    return result


def _run_one(shell: str, cases: list) -> Result:
    try:
        return run_cases(shell, cases)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        r = Result(shell)
        r.errors.append(f"runner: {type(exc).__name__}: {exc}")
        return r


def run_all(cases: list, shells=SHELLS) -> list:
    """One process per shell (the snapshots are CPU work: threads would share one core), each
    starting at another point of the list so the big trees are not built all at once."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    step = max(1, len(cases) // max(1, len(shells)))
    orders = [cases[i * step :] + cases[: i * step] for i in range(len(shells))]
    with ProcessPoolExecutor(len(shells), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_run_one, shell, order) for shell, order in zip(shells, orders)]
        return [f.result() for f in futures]


def report(results: list, path: str) -> str:
    checked = sum(r.checked for r in results)
    false = [j for r in results for j in r.false]
    lines = [f"lines checked: {checked}, false: {len(false)}", ""]
    for j in false:
        lines.append(f"[{j.shell}] {j.case}")
        lines.append(f"  command:  {j.command}")
        lines.append(f"  claim:    {j.claim}")
        for note in j.notes:
            lines.append(f"  note:     {note}")
        for p in j.problems:
            lines.append(f"  FALSE:    {p}")
        lines.append(f"  happened: {j.happened}")
        lines.append("")
    for r in results:
        for e in r.errors:
            lines.append(f"[{r.shell}] ERROR {e}")
        for name, why in r.skipped:
            lines.append(f"[{r.shell}] refused by the policy (not judged): {name}: {why}")
    text = "\n".join(lines) + "\n"
    every = []
    for r in results:
        for name, command, line, notes, what, took, false in r.seen:
            every.append(
                f"[{r.shell}] {'FALSE ' if false else ''}{name} ({took * 1000:.0f} ms)\n  {command}\n  {line}\n"
                + "".join(f"  note: {n}\n" for n in notes)
                + f"  -> {what}\n"
            )
    for where, body in ((path, text), (os.path.splitext(path)[0] + "_all.txt", "\n".join(every))):
        try:
            with open(where, "w", encoding="utf-8") as fh:
                fh.write(body)
        except OSError:
            pass
    return text


# ---------------------------------------------------------------- the benchmark's calls in their own trees


def _lines(n: int, tag: str, extra: str = "") -> str:
    """n lines, no final newline (as in the benchmark's trees)."""
    rows = [f"{tag} line {i + 1}" for i in range(n)]
    if extra:
        rows[min(1, n - 1)] += f" {extra}"
    return "\n".join(rows)


def _inside(cwd_rel: str, value: str) -> bool:
    if value.startswith(("/", "~")) or "\0" in value:
        return False
    path = os.path.normpath(os.path.join("/T", cwd_rel, value))
    return path == "/T" or path.startswith("/T/")


def bfcl_case(index: int, row: dict) -> Case | None:
    """A tree in which the benchmark's call means what it meant there: the names it reads exist
    (files of a few lines, no final newline), the names it makes do not; None when it is not one
    of the 18 tools or a path leaves the tree."""
    name, args = row["name"], dict(row["arguments"])
    if name not in TOOLS:
        return None
    cwd = "ws"
    for key in PATH_KEYS:
        value = args.get(key)
        if isinstance(value, str) and not (name == "echo" and value == "None") and not _inside(cwd, value):
            return None
    files: dict = {"ws/readme.txt": _lines(3, "readme"), "ws/.hidden": _lines(1, "hidden")}
    dirs: list = ["ws"]

    def at(value: str) -> str:
        return os.path.normpath(os.path.join(cwd, value))

    def folder(value: str, full: bool = True) -> None:
        rel = at(value)
        dirs.append(rel)
        if full:
            files[f"{rel}/one.txt"] = _lines(2, f"{rel} one")
            files[f"{rel}/sub/two.txt"] = _lines(2, f"{rel} two")

    def a_file(value: str, n: int = 5, extra: str = "") -> None:
        files[at(value)] = _lines(n, at(value), extra)

    def looks_like_file(value: str) -> bool:
        return "." in os.path.basename(value.rstrip("/")).lstrip(".")

    if name in ("cat", "sort", "wc"):
        a_file(args["file_name"])
    elif name == "grep":
        a_file(args["file_name"], 6, args.get("pattern", ""))
    elif name == "tail":
        a_file(args["file_name"], 15)
    elif name == "diff":
        a_file(args["file_name1"], 4)
        if at(args["file_name2"]) != at(args["file_name1"]):
            a_file(args["file_name2"], 5)
    elif name == "cd":
        if at(args["folder"]) not in ("ws", "."):
            folder(args["folder"])
    elif name in ("mkdir", "touch"):
        parent = os.path.dirname(at(args["dir_name" if name == "mkdir" else "file_name"]))
        if parent:
            dirs.append(parent)
    elif name == "echo":
        if args.get("file_name", "None") != "None":
            a_file(args["file_name"], 3)
    elif name == "rm":
        (a_file if looks_like_file(args["file_name"]) else folder)(args["file_name"])
    elif name == "rmdir":
        folder(args["dir_name"], full=False)
    elif name in ("cp", "mv"):
        (a_file if looks_like_file(args["source"]) else folder)(args["source"])
        dst = at(args["destination"])
        if not looks_like_file(args["destination"]) and dst not in ("ws", "."):
            folder(args["destination"], full=False)
        elif os.path.dirname(dst):
            dirs.append(os.path.dirname(dst))
    elif name == "find":
        start = at(args.get("path", "."))
        pat = args.get("name", "None")
        pat = "x" if pat == "None" else pat
        if "/" in pat or "\0" in pat:
            return None
        if start not in ("ws", "."):
            dirs.append(start)
        files[f"{start}/{pat}_a.txt"] = _lines(2, "found a")
        files[f"{start}/deeper/b_{pat}.md"] = _lines(2, "found b")
        files[f"{start}/deeper/other.txt"] = _lines(2, "other")
    dirs = [d for d in dirs if d and d != "."]
    return Case(
        f"bfcl {index} {row['source']}: {name} {json.dumps(args, ensure_ascii=False)[:80]}", name, args, files=files, dirs=dirs, cwd=cwd
    )


def bfcl_cases(path: str) -> list:
    out = []
    with open(path, encoding="utf-8") as fh:
        for i, row in enumerate(fh):
            case = bfcl_case(i, json.loads(row))
            if case is not None:
                out.append(case)
    return out


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    worker_main()
