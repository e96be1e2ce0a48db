"""A request from a server's shell (shellper ssh): judged on the facts its shell sent, never on
the laptop's files.

wanted()   the paths whose facts a call needs (each argument, its folder, where a copy or
           move lands; "deep" for a folder it copies, moves or removes)
facts()    the remote shell's answers, checked (untrusted: bounded, absolute, no ..)
judge()    the same look, policy and effect line as a local request, run on a private
           shadow tree built from those facts (kinds, sizes, modes as the remote user may
           use them, links, counts, line counts) and removed after; the shadow's prefix is
           taken out of every word said. A fact the shell did not send is a path that is
           not there; a folder it could not count in full is said to be seen in part.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass

from . import turns
from .errors import Refused
from .tools import ToolCall
from .undo_store import remove_tree

SEP = "\x1f"  # between the parts of one fact (a path never holds it: such a path gets no fact)
MAX_FACTS = 64
MAX_COUNT = 2000  # entries the remote shell counts in a folder
MAX_SHADOW = 6000  # entries one shadow may hold
MAX_SIZE = 1 << 50
KINDS = {"f": stat.S_IFREG, "d": stat.S_IFDIR, "l": stat.S_IFLNK}


@dataclass(frozen=True)
class Fact:
    path: str
    kind: str  # f d l, or o (a pipe, socket or device)
    size: int = 0
    mode: int = 0o644
    access: str = ""  # what the remote user may do: r, w, x
    link: str = ""  # a link's target
    files: int = 0  # a folder's files, all the way down (deep facts)
    folders: int = 0
    total: int = 0  # their bytes
    complete: bool = True
    lines: int = -1  # a small file's lines (-1: not counted)
    newline_end: bool = True
    mtime: int = 0  # seconds since the epoch


def _absolute(cwd: str, home: str, value: str) -> str:
    if value == "~" or value.startswith("~/"):
        value = home.rstrip("/") + value[1:]
    return os.path.normpath(os.path.join(cwd, value))


def wanted(call: ToolCall, cwd: str, home: str) -> list:
    """[(path, deep)]: the facts judging `call` from cwd needs."""
    out: dict = {cwd: False, home: False}
    tool = call.tool
    values = [call.arguments[k] for k in tool.paths if isinstance(call.arguments.get(k), str) and call.arguments[k] != "None"]
    for i, value in enumerate(values):
        path = _absolute(cwd, home, value)
        deep = call.name in ("rm", "cp", "mv", "du") and i == 0
        out[path] = out.get(path, False) or deep
        out.setdefault(os.path.dirname(path), False)
    if call.name in ("cp", "mv") and len(values) == 2:
        src, dst = (_absolute(cwd, home, v) for v in values)
        out.setdefault(os.path.join(dst, os.path.basename(src)), False)
    return [(p, d) for p, d in out.items() if p.startswith("/")][:MAX_FACTS]


def facts(records: list) -> dict:
    """{path: Fact} from the remote shell's records (path SEP kind SEP size SEP mode SEP access
    SEP link SEP files SEP folders SEP total SEP complete SEP lines SEP newline_end SEP mtime); a
    record that is off in any way is dropped (its path is then not there)."""
    out: dict = {}
    for record in records[:MAX_FACTS]:
        parts = record.split(SEP)
        if len(parts) != 13 or not parts[12].isdigit() or len(parts[12]) > 12:
            continue
        path, kind = parts[0], parts[1]
        if not path.startswith("/") or os.path.normpath(path) != path or "\x00" in path or kind not in ("f", "d", "l", "o"):
            continue
        try:
            size, mode, files, folders, total, lines = (int(parts[i], 8 if i == 3 else 10) for i in (2, 3, 6, 7, 8, 10))
        except ValueError:
            continue
        if not (0 <= size < MAX_SIZE and 0 <= mode <= 0o7777 and 0 <= total < MAX_SIZE and -1 <= lines <= size + 1):
            continue
        access = "".join(c for c in "rwx" if c in parts[4])
        files, folders = min(max(files, 0), MAX_COUNT), min(max(folders, 0), MAX_COUNT)
        complete, newline_end, mtime = parts[9] == "1", parts[11] != "0", int(parts[12])
        out[path] = Fact(path, kind, size, mode, access, parts[5], files, folders, total, complete, lines, newline_end, mtime)
    return out


def _local_mode(fact: Fact) -> int:
    """Mode bits for the shadow, whose owner is the daemon's user: the owner's bits are what the
    remote user may do (the look asks with os.access), the rest as the server has them."""
    bits = (4 if "r" in fact.access else 0) | (2 if "w" in fact.access else 0) | (1 if "x" in fact.access else 0)
    return (fact.mode & 0o7077) | (bits << 6)


class _Shadow:
    def __init__(self, base: str):
        self.base = base
        self.made = 0
        self.modes: list = []  # (path, mode), set last: a folder without w would stop its children
        self.times: list = []  # (path, mtime), set after the modes (entries made inside change a folder's)

    def at(self, remote: str) -> str:
        return self.base + remote

    def _count(self) -> None:
        self.made += 1
        if self.made > MAX_SHADOW:
            raise OverflowError("too many entries")

    def folder(self, remote: str) -> str:
        path = self.at(remote)
        if not os.path.isdir(path):
            os.makedirs(path, exist_ok=True)
            self._count()
        return path

    def put(self, fact: Fact) -> None:
        path = self.at(fact.path)
        self.folder(os.path.dirname(fact.path))
        if os.path.lexists(path) and fact.kind != "d":
            return
        if fact.kind == "d":
            self.folder(fact.path)
            self._fill(path, fact)
        elif fact.kind == "l":
            target = self.at(fact.link) if fact.link.startswith("/") else fact.link
            os.symlink(target, path)
            self._count()
            return
        elif fact.kind == "f":
            with open(path, "wb") as fh:
                # Sparse zeros, then the newlines the remote counted: look counts the same lines.
                tail = b"" if fact.lines < 0 else (b"\n" * fact.lines if fact.newline_end else b"\n" * max(fact.lines - 1, 0) + b"x")
                tail = tail[-fact.size :] if fact.size else b""
                fh.truncate(fact.size - len(tail))
                fh.seek(fact.size - len(tail))
                fh.write(tail)
            self._count()
        else:
            os.mkfifo(path)
            self._count()
        self.modes.append((path, _local_mode(fact)))
        self.times.append((path, fact.mtime))

    def _fill(self, path: str, fact: Fact) -> None:
        """A folder's contents as counted on the server: its folders, then its files, their bytes spread."""
        for i in range(fact.folders):
            os.mkdir(os.path.join(path, f".shellper-remote-folder-{i}"))
            self._count()
        for i in range(fact.files):
            share = fact.total // fact.files + (1 if i < fact.total % fact.files else 0)
            with open(os.path.join(path, f".shellper-remote-file-{i}"), "wb") as fh:
                fh.truncate(share)
            self._count()

    def seal(self) -> None:
        for path, mode in reversed(self.modes):
            os.chmod(path, mode)
        for path, mtime in self.times:
            os.utime(path, (mtime, mtime), follow_symlinks=False)


# A server's system folders: the shadow cannot stand in for what the policy knows of them.
SYSTEM = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/proc", "/sys", "/dev", "/var/lib", "/root", "/opt")


def out_of_scope(call: ToolCall, cwd: str, home: str) -> str:
    """Why shellper does not judge this call for a server yet ("" when it does): every path must
    lie under the shell's folder or home, and a change outside a system folder."""
    tool = call.tool
    for key in tool.paths:
        value = call.arguments.get(key)
        if not isinstance(value, str) or value == "None":
            continue
        path = _absolute(cwd, home, value)
        if not any(path == top or path.startswith(top.rstrip("/") + "/") for top in (cwd, home)):
            return f"{value} is outside this folder and your home on the server, where shellper judges files for now"
        if tool.kind not in ("reads", "moves the shell") and any(path == top or path.startswith(top + "/") for top in SYSTEM):
            return f"{value} is in a system folder of the server, whose rules shellper does not judge remotely"
    return ""


def judge(call: ToolCall, cwd: str, home: str, shell: str, seen: dict, allow_recursive: bool, runtime: str) -> turns.Verdict:
    """The verdict on `call` for a remote shell in cwd, from its facts `seen` (Refused when it
    cannot be judged)."""
    why = out_of_scope(call, cwd, home)
    if why:
        raise Refused(f"refused: {why}")
    base = os.path.realpath(tempfile.mkdtemp(prefix="shellper-remote-", dir=runtime))
    try:
        shadow = _Shadow(base)
        for path in sorted(seen, key=len):  # folders before what is in them
            shadow.put(seen[path])
        shadow.folder(cwd)
        shadow.folder(home)
        shadow.seal()
        partial = [f.path for f in seen.values() if f.kind == "d" and not f.complete]
        counted = {shadow.at(p): (f.lines, f.newline_end) for p, f in seen.items() if f.kind == "f" and f.lines >= 0}
        verdict = turns.vet(call, shadow.at(cwd), allow_recursive, shadow.at(home), shell, "", None, known_lines=counted)
    except OverflowError:
        raise Refused("refused: the server's files are more than shellper judges for one request") from None
    finally:
        remove_tree(base)

    def said(text: str) -> str:
        return text.replace(base, "").replace(".shellper-remote-folder-", "folder ").replace(".shellper-remote-file-", "file ")

    notes = [said(w) for w in verdict.warnings]
    for path in partial:
        notes.append(f"warning: shellper saw only part of {path} on the server (more than {MAX_COUNT:,} entries)")
    return turns.Verdict(call, verdict.command, notes, said(verdict.effect))
