"""The effect line of a general model's command: what the parse can say for sure, never a guess.

"runs: tar; logs is a folder (3 entries); logs.tgz is not there; what tar does with them:
cannot tell". It names the programs (and the wrappers they run under), each literal path's
kind and size as this user sees it, and what a redirection creates, replaces or appends to;
for the rest it says "cannot tell". It only lstat()s and lists folders (bounded): it opens
no file, so nothing it looks at can block.
"""

from __future__ import annotations

import os
import re
import stat

from . import shellparse
from .look import size_words

MAX_PATHS = 6  # literal paths described, then "and N more"
MAX_ENTRIES = 10_000  # entries counted in a folder, then "more than"
_WRITES = {">": "replaces", ">|": "replaces", "&>": "replaces", ">>": "appends to", "&>>": "appends to"}
_GLOBBY = re.compile(r"[*?\[]")
_PATHLIKE = re.compile(r"/|\.[A-Za-z0-9]{1,8}$")  # a name with a folder or an extension: a path, if anything


def describe(line: str, cwd: str, home: str) -> str:
    parsed = shellparse.parse(line)
    if not parsed.ok:
        return f"runs: cannot tell ({parsed.reason})"
    programs, said, paths, seen = [], [], [], set()
    for cmd in parsed.commands:
        name = cmd.name or "a program shellper cannot name"
        wrapped = [w for w in cmd.wrappers if w in ("sudo", "doas", "su -c", "pkexec") or w.startswith("ssh ")]
        label = f"{name} (through {', '.join(wrapped)})" if wrapped else name
        if label not in programs:
            programs.append(label)
        for redirect in cmd.redirects:
            said.extend(d for d in _redirect(redirect, cwd, home, seen) if d not in said)
        for word in cmd.words[1:]:
            # (a quoted pattern such as '*.log' is a literal word, not a path)
            if word.literal and not word.text.startswith("-") and word.text not in seen and not _GLOBBY.search(word.text):
                seen.add(word.text)
                paths.append(word)
    described = [d for d in (_path(w, cwd, home) for w in paths) if d]
    more = len(described) - MAX_PATHS
    parts = [f"runs: {', '.join(programs) if programs else 'nothing'}", *said, *described[:MAX_PATHS]]
    if more > 0:
        parts.append(f"and {more} more paths")
    parts.append(f"what {_them(programs)} does{' with them' if described else ''}: cannot tell")
    return "; ".join(parts)


def _them(programs: list) -> str:
    return programs[0].split(" (")[0] if len(programs) == 1 else "the command"


def _where(word, cwd: str, home: str) -> str:
    if word.home is not None:
        return os.path.normpath(home + word.home)
    return os.path.normpath(os.path.join(cwd, word.text))


def _lstat(path: str):
    try:
        return os.lstat(path)
    except (OSError, ValueError):
        return None


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


def _path(word, cwd: str, home: str) -> str:
    path = _where(word, cwd, home)
    st = _lstat(path)
    if st is not None:
        return f"{word.text} is {_kind(path, st)}"
    if _PATHLIKE.search(word.text) or word.home is not None:
        return f"{word.text} is not there"
    return ""  # an option's value, a pattern, a name: not said to be a path


def _redirect(redirect, cwd: str, home: str, seen: set) -> list:
    verb = _WRITES.get(redirect.op)
    if verb is None or redirect.target is None:
        return []
    target = redirect.target
    if not target.literal:
        return [f"writes to {target.raw}: where, cannot tell"]
    seen.add(target.text)
    if target.text in ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"):
        return []
    path = _where(target, cwd, home)
    st = _lstat(path)
    if st is None:
        return [f"creates {target.text}"]
    if stat.S_ISREG(st.st_mode):
        return [f"{verb} {target.text} ({size_words(st.st_size)})"]
    return [f"writes to {target.text}, {_kind(path, st)}"]
