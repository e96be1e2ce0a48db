"""The effect line of a general model's command: what the parse can say for sure, never a guess.

"runs: tar; logs is a folder (3 entries); logs.tgz is not there; what tar does with them:
cannot tell". It names the programs (and the wrappers they run under), each literal path's
kind and size as this user sees it, and what a redirection creates, replaces or appends to;
for the rest it says "cannot tell". It only lstat()s and lists folders (bounded): it opens
no file, so nothing it looks at can block.

Paths are read from the current folder and home as they are before the line runs: after a
cd (pushd, popd, env -C, sudo -D) a relative path is not described, a command that runs on
another computer (ssh HOST) has its paths there, and a path this user cannot look at (a
folder without search permission on the way) is said to be so, never "not there".
"""

from __future__ import annotations

import errno
import os
import re
import stat

from . import shellparse
from .look import size_words

MAX_PATHS = 6  # literal paths described, then "and N more"
MAX_LOOKS = 64  # lstat calls for one line (past them, "and more paths")
MAX_ENTRIES = 10_000  # entries counted in a folder, then "more than"
_WRITES = {">": "replaces", ">|": "replaces", "&>": "replaces", ">>": "appends to", "&>>": "appends to"}
# Not described as a path: a pattern ('*.log' quoted is literal); NAME=VALUE, an operand (dd of=x,
# make CC=gcc) whose ~ bash expands although the parse keeps the word literal (of=~/x); a :~.
_NOT_A_PATH = re.compile(r"[*?\[]|^[A-Za-z_][A-Za-z0-9_]*=|:~")
_PATHLIKE = re.compile(r"/|\.[A-Za-z0-9]{1,8}$")  # a name with a folder or an extension: a path, if anything
_PRIVILEGED = ("sudo", "doas", "su -c", "pkexec")
_MOVES = frozenset(("cd", "pushd", "popd"))  # change the folder the rest of the line runs in
_SUBSHELLS = frozenset(("$( )", "<( )", ">( )"))  # a cd there leaves the line's folder as it was
# env -C DIR and sudo -D DIR run their command in DIR; the parse keeps only "env" and "sudo".
_CHDIR = re.compile(r"\b(?:env|sudo)\s(?:[^|;&]*?\s)?(?:--chdir\b|-[A-Za-z]*[CD])")
_ROOT = " (as root, through sudo or the like: cannot tell)"
_MISSING = (errno.ENOENT, errno.ENOTDIR)  # not there; any other error: shellper cannot look


def describe(line: str, cwd: str, home: str) -> str:
    parsed = shellparse.parse(line)
    if not parsed.ok:
        return f"runs: cannot tell ({parsed.reason})"
    looks = _Looks(cwd, home, "assigns HOME" in parsed.features)
    programs, said, paths, seen = [], [], [], set()
    moved = bool(_CHDIR.search(line)) and any(w in ("env", "sudo") for c in parsed.commands for w in c.wrappers)
    first_move = next((i for i, c in enumerate(parsed.commands) if _moves(c)), len(parsed.commands))
    # A redirection after a list or pipeline (cd a && echo x > f) is bash's last command's, but the
    # parse gives it to each command of the list (as it does for { cd a; echo x; } > f): one that a
    # command after a cd has too may be opened in either folder.
    late = {id(r) for c in parsed.commands[first_move:] for r in c.redirects}
    for i, cmd in enumerate(parsed.commands):
        name = cmd.name or "a program shellper cannot name"
        wrapped = [w for w in cmd.wrappers if w in _PRIVILEGED or w.startswith("ssh ")]
        label = f"{name} (through {', '.join(wrapped)})" if wrapped else name
        if label not in programs:
            programs.append(label)
        if any(w.startswith("ssh ") for w in cmd.wrappers):
            continue  # its paths and redirections are on another computer
        root = _as_root(cmd.wrappers)
        for redirect in cmd.redirects:
            where_moved = moved or i > first_move or id(redirect) in late
            said.extend(d for d in _redirect(redirect, looks, where_moved, root, seen) if d not in said)
        # (ssh's words are a host and a command run there)
        for word in cmd.words[1:] if cmd.name != "ssh" else ():
            # (a quoted pattern such as '*.log' is a literal word, not a path)
            if word.literal and not word.text.startswith("-") and _shown(word) not in seen and not _NOT_A_PATH.search(word.text):
                seen.add(_shown(word))
                path = looks.where(word, moved or i > first_move)
                if path is not None:
                    paths.append((word, path))
    described, more = [], 0
    for word, path in paths:
        if not looks.left():
            more = -1  # not looked at: "and more paths"
            break
        if len(described) < MAX_PATHS:
            d = _path(word, path, looks)
            if d:
                described.append(d)
        elif _path(word, path, looks, list_folders=False):
            more += 1  # counted with one lstat each, never listed
    parts = [f"runs: {', '.join(programs) if programs else 'nothing'}", *said, *described]
    if more:
        parts.append("and more paths" if more < 0 else f"and {more} more path{'' if more == 1 else 's'}")
    parts.append(f"what {_them(programs)} does{' with them' if described else ''}: cannot tell")
    return "; ".join(parts)


def _moves(cmd) -> bool:
    """cd, pushd or popd in the line's own shell (not in a $( ) or <( ), which is a subshell)."""
    return cmd.name in _MOVES and not _SUBSHELLS.intersection(cmd.wrappers)


def _as_root(wrappers: tuple) -> bool:
    """Whether the command's own redirections may be opened by a shell that sudo (doas, su -c,
    pkexec) started: `sudo sh -c 'echo x > /etc/f'`. In `sudo echo x > /etc/f` the user's shell
    opens /etc/f, as the user. (The parse gives a command the redirections around it too, so
    under sudo sh -c a write this user may not make is "cannot tell", never "cannot".)"""
    for i, w in enumerate(wrappers):
        if w == "su -c" or (w in _PRIVILEGED and any(v.endswith((" -c", "(stdin)")) or v in ("eval", "env -S") for v in wrappers[i + 1 :])):
            return True
    return False


def _them(programs: list) -> str:
    return programs[0].split(" (")[0] if len(programs) == 1 else "the command"


class _Looks:
    """Where a word is, and lstat calls counted against MAX_LOOKS."""

    def __init__(self, cwd: str, home: str, home_changed: bool) -> None:
        self.cwd, self.home, self.home_changed, self.count = cwd, home, home_changed, 0

    def where(self, word, moved: bool) -> str | None:
        """The path a literal word names, or None when that cannot be told (after a cd, a changed HOME)."""
        if word.home is not None:
            # (no normpath: "a/../b" with a a link is not "b"; the system resolves it as the command will)
            return None if self.home_changed else self.home + word.home
        if word.text.startswith("/"):
            return word.text
        return None if moved else os.path.join(self.cwd, word.text)

    def left(self) -> bool:
        return self.count < MAX_LOOKS

    def lstat(self, path: str):
        """(stat, None), or (None, errno) when it cannot be looked at."""
        self.count += 1
        try:
            return os.lstat(path), None
        except OSError as exc:
            return None, exc.errno
        except ValueError:  # a NUL byte: the shell cannot pass it either
            return None, errno.ENOENT


def _kind(path: str, st) -> str:
    if stat.S_ISDIR(st.st_mode):
        try:
            with os.scandir(path) as entries:
                count = 0
                for count, _ in enumerate(entries, 1):
                    if count > MAX_ENTRIES:
                        return f"a folder (more than {MAX_ENTRIES:,} entries)"
        except OSError:
            return "a folder shellper cannot list"
        return f"a folder ({count:,} {'entry' if count == 1 else 'entries'})"
    if stat.S_ISLNK(st.st_mode):
        try:
            return f"a link to {os.readlink(path)}"
        except OSError:
            return "a link"
    if stat.S_ISREG(st.st_mode):
        return f"a file ({size_words(st.st_size)})"
    return "a special file (a pipe, socket or device)"


def _shown(word) -> str:
    """The word as the effect line names it: a quoted ~ ('~/x') is a folder named ~ here, not home."""
    return f"./{word.text}" if word.home is None and word.text.startswith("~") else word.text


def _why(err) -> str:
    return os.strerror(err).lower() if err else "no access"


def _path(word, path: str, looks: _Looks, list_folders: bool = True) -> str:
    st, err = looks.lstat(path)
    if st is not None:
        return f"{_shown(word)} is {_kind(path, st) if list_folders else 'there'}"
    if err not in _MISSING:
        return f"shellper cannot look at {_shown(word)} ({_why(err)})"  # there or not: this user cannot tell
    if _PATHLIKE.search(word.text) or word.home is not None:
        return f"{_shown(word)} is not there"
    return ""  # an option's value, a pattern, a name: not said to be a path


def _redirect(redirect, looks: _Looks, moved: bool, root: bool, seen: set) -> list:
    verb = _WRITES.get(redirect.op)
    target = redirect.target
    if redirect.op == ">&" and redirect.fd is None and target is not None and not re.fullmatch(r"\d+|-", target.text):
        verb = "replaces"  # `ls >& out.txt` is bash's &>: a file, not a descriptor
    if verb is None or target is None:
        return []
    if not target.literal:
        return [f"writes to {target.raw}: where, cannot tell"]
    name = _shown(target)
    seen.add(name)
    if target.text in ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"):
        return []
    path = looks.where(target, moved)
    if path is None:
        return [f"writes to {name}: where, cannot tell (the line changes folder first)"]
    if not looks.left():
        return [f"writes to {name}"]
    st, err = looks.lstat(path)
    if st is None and err not in _MISSING:
        return [f"writes to {name}, which shellper cannot look at ({_why(err)})"]
    if st is None:
        return [_create(name, os.path.dirname(path), root)]
    if stat.S_ISREG(st.st_mode):
        size = size_words(st.st_size)
        if not os.access(path, os.W_OK):
            return [f"writes to {name} ({size}), which this user has no permission to write now{_ROOT if root else ''}"]
        return [f"{verb} {name} ({size})"]
    return [f"writes to {name}, {_kind(path, st)}"]


def _create(text: str, folder: str, root: bool) -> str:
    """What a redirection to a path that is not there does: a file is made only in a folder
    that is there and that this user may write in."""
    try:
        st = os.stat(folder)  # (a link to a folder is a folder here)
    except OSError as exc:
        if exc.errno in _MISSING:
            # (an earlier command of the line may make it: mkdir -p a && echo x > a/b)
            return f"writes to {text}, whose folder is not there now"
        return f"writes to {text}, in a folder shellper cannot look at ({_why(exc.errno)})"
    if not stat.S_ISDIR(st.st_mode):
        return f"writes to {text}, whose folder is not a folder now"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"writes to {text}, in a folder this user has no permission to write in now{_ROOT if root else ''}"
    return f"creates {text}"
