"""The effect line: what a validated call will do to the real files, in plain words.

describe() looks at the file system from the shell's directory, read-only and
bounded: a time budget for walking folders (past it: "at least N files"), no
symbolic links followed out of a walk, no other file systems entered unless the
path itself is there. It never raises: unreadable folders, vanished files and
special files give an honest line. Every line starts with the kind of effect:
"reads:", "moves the shell:", "creates:", "changes:" or "deletes:".
"""

from __future__ import annotations

import os
import stat
import time

BUDGET = 0.005  # seconds one description may spend looking at files: the prompt must not wait
_READ_LIMIT = 64 << 20  # bytes of a file read to count its lines
KINDS = ("reads", "moves the shell", "creates", "changes", "deletes")


def describe(call, cwd: str, home: str | None = None, allow_recursive: bool = False, budget: float = BUDGET) -> str:
    """One line: the kind of effect, then what happens to which files."""
    look = _Look(cwd, os.path.expanduser("~") if home is None else home, budget)
    try:
        kind, text = _DESCRIBE[call.name](look, call.arguments, allow_recursive)
    except Exception:  # looking must never fail a suggestion
        kind, text = _KIND.get(call.name, "reads"), f"runs {call.name} (shellper could not look at the files)"
    return f"{kind}: {text}"


_KIND = {"rm": "deletes", "rmdir": "deletes", "mv": "changes", "cp": "creates", "echo": "changes",
         "mkdir": "creates", "touch": "creates", "cd": "moves the shell"}


class _Look:
    def __init__(self, cwd: str, home: str, budget: float) -> None:
        self.cwd, self.home = cwd, home.rstrip("/") or "/"
        self.deadline = time.monotonic() + budget

    def path(self, value: str) -> str:
        return os.path.join(self.cwd, value)

    def stat(self, value: str, follow: bool = True):
        try:
            return os.stat(self.path(value)) if follow else os.lstat(self.path(value))
        except (OSError, ValueError):
            return None

    def show_dir(self, value: str) -> str:
        """Where a folder is, as the user knows it (~/project/src)."""
        path = os.path.normpath(self.path(value))
        if self.home != "/" and (path == self.home or path.startswith(self.home + "/")):
            return "~" + path[len(self.home):]
        return path

    def tree(self, value: str):
        """(files, bytes, complete) under a folder: no links followed, no other file system."""
        top = self.path(value)
        try:
            device = os.stat(top).st_dev
        except OSError:
            return 0, 0, False
        files = size = 0
        stack = [top]
        while stack:
            if time.monotonic() > self.deadline:
                return files, size, False
            folder = stack.pop()
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if not files % 256 and time.monotonic() > self.deadline:
                            return files, size, False
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        if stat.S_ISDIR(st.st_mode):
                            if st.st_dev == device:
                                stack.append(entry.path)
                        else:
                            files += 1
                            size += st.st_size if stat.S_ISREG(st.st_mode) else 0
            except OSError:
                if folder == top:
                    return files, size, False
        return files, size, True

    def count_names(self, value: str, part: str | None):
        """(names under a folder containing part, complete), as find sees them; (None, False) if unreadable."""
        top = self.path(value)
        if not os.path.isdir(top):
            return None, False
        device = os.stat(top).st_dev
        found, stack = 0, [top]
        while stack:
            if time.monotonic() > self.deadline:
                return found, False
            try:
                with os.scandir(stack.pop()) as entries:
                    for entry in entries:
                        if not found % 256 and time.monotonic() > self.deadline:
                            return found, False
                        if part is None or part in entry.name:
                            found += 1
                        try:
                            if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_dev == device:
                                stack.append(entry.path)
                        except OSError:
                            continue
            except OSError:
                continue
        return found, True

    def lines(self, value: str):
        """(lines, complete) of a regular file, counted within the budget."""
        st = self.stat(value)
        if st is None or not stat.S_ISREG(st.st_mode):
            return None, False
        count, read = 0, 0
        try:
            with open(self.path(value), "rb") as fh:
                while read < _READ_LIMIT and time.monotonic() <= self.deadline:
                    block = fh.read(1 << 20)
                    if not block:
                        return count, True
                    count += block.count(b"\n")
                    read += len(block)
        except OSError:
            return None, False
        return count, False


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover - the loop returns


def _ago(mtime: float) -> str:
    seconds = max(0.0, time.time() - mtime)
    for span, name in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= span:
            return f"changed {_n(int(seconds // span), name)} ago"
    return "changed just now"


def _q(value: str) -> str:
    return value if value and all(c.isalnum() or c in "._-/+@~" for c in value) else repr(value)


def _what(look: _Look, value: str) -> str:
    """A file or folder with its size and age, as found now."""
    st = look.stat(value, follow=False)
    if st is None:
        return f"{_q(value)} (not there now)"
    if stat.S_ISLNK(st.st_mode):
        return f"the link {_q(value)} (not what it points to)"
    if stat.S_ISDIR(st.st_mode):
        files, size, complete = look.tree(value)
        more = "" if complete else "at least "
        return f"{_q(value.rstrip('/') + '/')} and {more or 'the '}{_n(files, 'file')} in it ({more}{_size(size)})"
    if not stat.S_ISREG(st.st_mode):
        return f"{_q(value)} (a special file)"
    return f"{_q(value)} ({_size(st.st_size)}, {_ago(st.st_mtime)})"


def _rm(look, a, recursive):
    st = look.stat(a["file_name"], follow=False)
    if st is not None and stat.S_ISDIR(st.st_mode) and not recursive:
        return "deletes", f"nothing: {_q(a['file_name'])} is a folder and rm without -r refuses it"
    return "deletes", _what(look, a["file_name"])


def _rmdir(look, a, recursive):
    return "deletes", f"the folder {_q(a['dir_name'].rstrip('/') + '/')} if it is empty"


def _mv_cp(verb_word):
    def describe_move(look, a, recursive):
        src, dst = a["source"], a["destination"]
        dst_st = look.stat(dst)
        inner = os.path.basename(src.rstrip("/"))
        if dst_st is not None and stat.S_ISDIR(dst_st.st_mode):
            where = dst.rstrip("/") + "/" + inner if inner not in ("", ".", "..") else dst
            into = f"into {_q(dst.rstrip('/') + '/')}"
        else:
            where, into = dst, f"to {_q(dst)}"
        replaced = look.stat(where, follow=False)
        src_st = look.stat(src, follow=False)
        what = _what(look, src) if verb_word == "copies" else _q(src)
        line = f"{verb_word} {what} {into}"
        if replaced is not None and where != src:
            newer = ""
            if src_st is not None and replaced.st_mtime > src_st.st_mtime:
                newer = f", newer than {_q(src)}"
            if stat.S_ISDIR(replaced.st_mode):
                line += f", merging with the folder {_q(where)}"
            else:
                line += f", replacing {_q(where)} ({_size(replaced.st_size)}{newer})"
            return "changes", line
        if dst_st is None and src_st is not None and stat.S_ISDIR(src_st.st_mode):
            line = f"{verb_word} {what} to a new folder {_q(dst)}"
        return ("creates" if verb_word == "copies" else "changes"), line

    return describe_move


def _echo(look, a, recursive):
    content, target = a["content"], a["file_name"]
    added = content.count("\n") + 1
    if target == "None":
        return "reads", f"prints {_n(added, 'line')}"
    lines, complete = look.lines(target)
    if look.stat(target) is None:
        return "creates", f"writes {_n(added, 'line')} to a new file {_q(target)}"
    if lines is None:
        return "changes", f"appends {_n(added, 'line')} to {_q(target)}"
    has = f"{'at least ' if not complete else ''}{lines:,}"
    return "changes", f"appends {_n(added, 'line')} to {_q(target)}, which has {has} (nothing in it is replaced)"


def _touch(look, a, recursive):
    if look.stat(a["file_name"]) is not None:
        return "changes", f"only the time of {_q(a['file_name'])} (its content stays)"
    return "creates", f"an empty file {_q(a['file_name'])}"


def _mkdir(look, a, recursive):
    return "creates", f"the folder {_q(a['dir_name'])}"


def _cd(look, a, recursive):
    return "moves the shell", f"goes to {look.show_dir(a['folder'])}"


def _tail(look, a, recursive):
    lines, complete = look.lines(a["file_name"])
    if lines is None:
        return "reads", f"the last {a['lines']:,} lines of {_q(a['file_name'])}"
    has = f"{'at least ' if not complete else ''}{lines:,}"
    return "reads", f"shows the last {a['lines']:,} of {_q(a['file_name'])}'s {has} lines"


def _find(look, a, recursive):
    path, name = a["path"], a["name"]
    found, complete = look.count_names(path, None if name == "None" else name)
    now = "" if found is None else f" ({'at least ' if not complete else ''}{found:,} right now)"
    if name == "None":
        return "reads", f"lists every name under {_q(path)}{now}"
    return "reads", f"finds names containing {name!r} under {_q(path)}{now}"


def _grep(look, a, recursive):
    return "reads", f"shows the lines of {_q(a['file_name'])} that contain {a['pattern']!r}"


def _simple(text):
    return lambda look, a, recursive: ("reads", text(a))


_DESCRIBE = {
    "rm": _rm,
    "rmdir": _rmdir,
    "mv": _mv_cp("moves"),
    "cp": _mv_cp("copies"),
    "echo": _echo,
    "touch": _touch,
    "mkdir": _mkdir,
    "cd": _cd,
    "tail": _tail,
    "find": _find,
    "grep": _grep,
    "cat": _simple(lambda a: f"shows {_q(a['file_name'])}"),
    "sort": _simple(lambda a: f"shows the lines of {_q(a['file_name'])} sorted (the file stays as it is)"),
    "wc": _simple(lambda a: f"counts the {dict(l='lines', w='words', c='bytes')[a['mode']]} of {_q(a['file_name'])}"),
    "diff": _simple(lambda a: f"compares {_q(a['file_name1'])} with {_q(a['file_name2'])}"),
    "ls": _simple(lambda a: "lists this folder" + (", hidden names too" if a["a"] else "")),
    "du": _simple(lambda a: "shows the disk space of this folder" + (" in KB/MB/GB" if a["human_readable"] else "")),
    "pwd": _simple(lambda a: "prints the current folder"),
}
