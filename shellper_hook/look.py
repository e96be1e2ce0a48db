"""One look at the files for a call: what the user's tools will do, as this user.

look() is taken once per suggestion (and again at Enter); the effect line
(effect.py) is its prediction in words and the policy (policy.py) judges on its
facts. It predicts the outcome as GNU coreutils and a POSIX shell's `>>` will
do it for the effective user: success, or failure and why; which files are
created, replaced (through a link: the file really written), appended to,
removed. macOS's BSD tools differ in a few places (noted where they do).

It is bounded and never blocks: at most MAX_ENTRIES entries walked and
DEADLINE seconds, no symbolic link followed out of a walk, no other file
system entered, and the only files it opens are regular ones, non-blocking and
without following links, never on a proc, sys or dev file system. What it
could not see it says (`short`), and the policy gets stricter for it.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import time
from dataclasses import dataclass, field

from .tools import Tool

MAX_ENTRIES = 50_000  # entries one look walks (about 0.15 s); past it, "more than N"
# Seconds one look may take (past it, what was seen so far, said so): far past what MAX_ENTRIES
# costs, so counts stop at the same place whatever the load; below workers.LOOK_DEADLINE.
DEADLINE = 1.5
READ_LIMIT = 64 << 20  # bytes of a file read to count its lines
# File systems whose files are not files: never opened, and judged by their type wherever mounted.
PSEUDO_FS = frozenset(
    (
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "debugfs",
        "tracefs",
        "securityfs",
        "cgroup",
        "cgroup2",
        "configfs",
        "efivarfs",
        "bpf",
        "fusectl",
        "pstore",
        "mqueue",
        "hugetlbfs",
    )
)


@dataclass
class Tree:
    """What a walk of a folder found (links and special files count as files)."""

    files: int = 0
    folders: int = 0  # below the top
    size: int = 0
    complete: bool = True
    blocked: list = field(default_factory=list)  # folders that cannot be read or searched
    fixed: list = field(default_factory=list)  # folders whose entries cannot be removed (no write)
    unreadable: list = field(default_factory=list)  # files that cannot be read (a copy fails on them)
    protected: int = 0  # write-protected files (rm asks before each, at a terminal)
    protected_dirs: list = field(default_factory=list)  # write-protected folders (rm asks too)
    removable: int = 0  # files rm -r can remove (their folder is listable and writable)
    # A copy merging into an existing folder (walk's dest): what is already where entries land.
    clashes: list = field(default_factory=list)  # (landing, why cp fails there)
    replaced: list = field(default_factory=list)  # files really written over (links and hard links resolved)
    landed: list = field(default_factory=list)  # every landing inside a folder that was already there
    made: int = 0  # landings there that cp writes or creates
    emptied: bool | None = None  # whether rm -r can remove everything in it (None: the walk stopped short)


@dataclass
class Seen:
    """The look's prediction for one call."""

    kind: str  # the first words of the effect line: the outcome
    text: str
    ok: bool = True  # the command is expected to succeed
    short: str = ""  # what the look could not see ("" when it saw everything it needed)
    written: list = field(default_factory=list)  # absolute paths of files really written (links resolved)
    landed: list = field(default_factory=list)  # where a merged copy's entries land in folders already there
    trees: list = field(default_factory=list)  # (path, Tree) of folders copied, moved or removed

    @property
    def line(self) -> str:
        return f"{self.kind}: {self.text}"


class _Eyes:
    """File-system access for one look: bounded, non-blocking, as this user."""

    def __init__(self, cwd: str, home: str, max_entries: int, deadline: float, shell: str = "bash", cdpath: str | None = None) -> None:
        self.cwd, self.home = cwd, (home.rstrip("/") or "/")
        self.shell, self.cdpath = shell, cdpath
        self.left = max_entries
        self.max_entries = max_entries
        self.known_lines: dict | None = None  # line counts from elsewhere (remote.py): no content read
        self.until = time.monotonic() + deadline
        self.short = ""

    def at(self, value: str) -> str:
        if value == "~" or value.startswith("~/"):  # rendered unquoted: the shell expands it
            return self.home + value[1:]
        return os.path.join(self.cwd, value)

    def lstat(self, path: str):
        try:
            return os.lstat(path)
        except (OSError, ValueError):
            return None

    def stat(self, path: str):
        try:
            return os.stat(path)
        except (OSError, ValueError):
            return None

    def reason(self, path: str, follow: bool = True) -> str:
        """Why path cannot be reached: "" if it can."""
        try:
            os.stat(path) if follow else os.lstat(path)
        except PermissionError:
            return "no permission to reach it"
        except FileNotFoundError:
            return "not there"
        except NotADirectoryError:
            return "a part of the path is not a folder"
        except OSError as exc:
            return exc.strerror or "cannot be reached"
        except ValueError:
            return "not a valid name"
        return ""

    def can(self, path: str, mode: int) -> bool:
        try:
            if os.access in os.supports_effective_ids:
                return os.access(path, mode, effective_ids=True)
            return os.access(path, mode)
        except (OSError, ValueError):
            return False

    def show(self, path: str) -> str:
        """A path as the user knows it (~/project/src)."""
        path = os.path.normpath(path)
        if self.home != "/" and (path == self.home or path.startswith(self.home + "/")):
            return "~" + path[len(self.home) :]
        return path

    def out_of_time(self) -> bool:
        if time.monotonic() > self.until:
            self.short = self.short or "shellper ran out of time looking at the files"
            return True
        return False

    def fs_type(self, path: str) -> str:
        real = os.path.realpath(path)
        for point, kind in mounts():
            if real == point or real.startswith(point.rstrip("/") + "/"):
                return kind
        return ""

    def walk(self, top: str, copy: bool = False, dest: str | None = None) -> Tree:
        """Count what is under the folder top (not following links, one file system),
        and what `rm -r` would leave of it, as this user (see Tree). dest: the existing
        folder a copy of top's contents merges into, looked at where each entry lands."""
        tree = Tree()
        try:
            device = os.lstat(top).st_dev
        except OSError:
            tree.complete = False
            return tree
        # folder -> [parent, its files, listable, writable, child folders]
        folders: dict = {}
        stuck_names: set = set()  # entries in sticky folders that this user may not remove
        stack = [(top, None, dest)]
        left, size = self.left, 0
        isdir, isreg, islnk = stat.S_ISDIR, stat.S_ISREG, stat.S_ISLNK
        uid = os.geteuid()

        def may(st, bit):
            return _may(st, bit, uid)

        while stack:
            folder, parent, into = stack.pop()
            into_ok = into is None or (self.can(into, os.W_OK) and self.can(into, os.X_OK))
            listable = self.can(folder, os.R_OK) and self.can(folder, os.X_OK)
            writable = self.can(folder, os.W_OK) and self.can(folder, os.X_OK)
            record = folders[folder] = [parent, 0, listable, writable, [], 0]
            # A sticky folder of someone else's: only the owner of an entry may remove it.
            fst = self.lstat(folder)
            sticky = fst is not None and fst.st_mode & stat.S_ISVTX and uid not in (0, fst.st_uid)
            if parent is not None:
                folders[parent][4].append(folder)
            if not listable:
                tree.blocked.append(folder)
                if not writable:
                    tree.protected_dirs.append(folder)
                tree.complete = False
                continue
            if not writable:
                tree.protected_dirs.append(folder)  # rm asks; its entries cannot be removed
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        left -= 1
                        if left < 0:
                            self.left = left
                            self.short = self.short or f"too many files to check: more than {self.max_entries:,}"
                            tree.complete = False
                            return tree
                        if not left & 511 and self.out_of_time():
                            self.left = left
                            tree.complete = False
                            return tree
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            record[1] += 1
                            tree.complete = False
                            continue
                        mode = st.st_mode
                        if sticky and st.st_uid != uid:
                            record[5] += 1
                            stuck_names.add(entry.path)
                        below = None
                        if into is not None:
                            below = self._landing(tree, into, entry.name, isdir(mode), into_ok)
                        if isdir(mode):
                            tree.folders += 1
                            if st.st_dev == device:
                                stack.append((entry.path, folder, below))
                            else:
                                tree.complete = False
                            continue
                        record[1] += 1
                        if isreg(mode):
                            size += st.st_size
                            if copy and not may(st, 4):
                                tree.unreadable.append(entry.path)
                        elif islnk(mode):
                            continue
                        if not may(st, 2):
                            tree.protected += 1
            except OSError:
                tree.blocked.append(folder)
                tree.complete = False
            finally:
                tree.files += record[1]
                tree.size, size = tree.size + size, 0
        self.left = left
        # What rm -r removes: a file where its folder can be listed and written; a
        # folder once all in it is gone (deepest first: children come after parents).
        gone: dict = {}
        for folder in reversed(list(folders)):
            parent, files, listable, writable, children, stuck = folders[folder]
            stuck_files = sum(1 for name in stuck_names if os.path.dirname(name) == folder and name not in folders) if stuck else 0
            if listable and writable:
                tree.removable += files - stuck_files
            empty = listable and not files and not children
            gone[folder] = (
                listable and (writable or empty) and not stuck and folder not in stuck_names and all(gone.get(c, False) for c in children)
            )
        tree.emptied = gone.get(top, False)
        tree.fixed = [f for f in tree.protected_dirs if folders[f][1] or folders[f][4]]
        return tree

    def _landing(self, tree: Tree, into: str, name: str, is_dir: bool, into_ok: bool) -> str | None:
        """What cp -r meets where an entry lands in the existing folder into; the folder
        to go on into for a folder entry (None when nothing is there yet)."""
        landing = os.path.join(into, name)
        tree.landed.append(landing)
        try:
            there = os.lstat(landing)
        except FileNotFoundError:
            if not into_ok:
                tree.clashes.append((landing, f"cannot be made (no permission to write in {into})"))
            else:
                tree.made += 1
            return None
        except OSError:
            tree.clashes.append((landing, "cannot be reached"))
            return None
        kind = there.st_mode
        if stat.S_ISLNK(kind):
            target = self.stat(landing)
            if target is None:
                tree.clashes.append((landing, "is a dangling link, which cp does not write through"))
            elif is_dir or stat.S_ISDIR(target.st_mode):
                tree.clashes.append((landing, "is a file, and a folder cannot replace it (a link counts as a file here)"))
            elif not self.can(landing, os.W_OK):
                tree.clashes.append((landing, "is a link to a file this user may not write"))
            else:
                tree.replaced.append(os.path.realpath(landing))  # cp writes through the link
                tree.made += 1
            return None
        if stat.S_ISDIR(kind):
            if not is_dir:
                tree.clashes.append((landing, "is a folder, which a file cannot replace"))
                return None
            return landing
        if is_dir:
            tree.clashes.append((landing, "is a file, which a folder cannot replace"))
        elif not _may(there, 2, os.geteuid()):
            tree.clashes.append((landing, "is a file this user may not write"))
        else:
            tree.replaced.append(landing)
            tree.made += 1
        return None

    def content(self, path: str):
        """(lines, ends with a newline, complete) of a regular file, or None.
        Opened non-blocking and without following a link; never on a pseudo file system."""
        if self.known_lines is not None:
            known = self.known_lines.get(os.path.normpath(path))
            return None if known is None else (known[0], known[1], True)
        if self.fs_type(path) in PSEUDO_FS:
            return None
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)
        try:
            fd = os.open(path, flags)
        except (OSError, ValueError):
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None  # swapped for a FIFO or device since it was looked at: not read
            if st.st_size == 0:
                return 0, True, True
            last = os.pread(fd, 1, st.st_size - 1)
            newline_end = last == b"\n"
            count, read = 0, 0
            while read < READ_LIMIT:
                if self.out_of_time():
                    return count, newline_end, False
                block = os.read(fd, 1 << 20)
                if not block:
                    break
                count += block.count(b"\n")
                read += len(block)
            else:
                return count, newline_end, False
            return count + (0 if newline_end else 1), newline_end, True
        except OSError:
            return None
        finally:
            os.close(fd)


def _may(st, bit: int, uid: int) -> bool:
    """Whether user uid may read (4), write (2) or run (1) a file, from its mode (as the kernel
    decides without ACLs; root may read and write anything)."""
    if uid == 0:
        return bit != 1 or bool(st.st_mode & 0o111)
    if st.st_uid == uid:
        return bool(st.st_mode & (bit << 6))
    if st.st_gid == os.getegid() or st.st_gid in _groups():
        return bool(st.st_mode & (bit << 3))
    return bool(st.st_mode & bit)


_GROUPS: list = []


def _groups() -> list:
    if not _GROUPS:
        try:
            _GROUPS.extend(os.getgroups() or [-1])
        except OSError:
            _GROUPS.append(-1)
    return _GROUPS


_MOUNTS: list = [float("-inf"), []]  # when read, and what


def mounts() -> list:
    """(mount point, fs type) of this machine's mounts, longest point first ([] where unknown);
    read again at most once a second (the look and the policy ask at every suggestion)."""
    now = time.monotonic()
    if now - _MOUNTS[0] > 1.0:
        _MOUNTS[:] = [now, _read_mounts()]
    return _MOUNTS[1]


def _read_mounts() -> list:
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            for row in fh:
                fields = row.split()
                if " - " not in row or len(fields) < 5:
                    continue
                after = row.split(" - ", 1)[1].split()
                point = fields[4].encode().decode("unicode_escape") if "\\" in fields[4] else fields[4]
                found.append((point, after[0] if after else ""))
    except OSError:
        return []
    return sorted(found, key=lambda m: len(m[0]), reverse=True)


# ---------------------------------------------------------------- words


def _count(found: int) -> str:
    return "none" if found == 0 else f"{found:,}"


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def size_words(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover - the loop returns


def _ago(mtime: float) -> str:
    seconds = max(0.0, time.time() - mtime)
    for span, name in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= span:
            return f"changed {_n(int(seconds // span), name)} ago"
    return "changed just now"


def q(value: str) -> str:
    """A name as the command has it: quoted unless plain; a leading ~ or ~/ is home, as the
    command has it, and stays outside the quotes (any other ~ is quoted: it is not home)."""
    if value == "~" or value.startswith("~/"):
        rest = value[2:]
        return "~/" + q(rest) if rest else value
    return value if value and all(c.isalnum() or c in "._-/+@" for c in value) else repr(value)


def _qp(shown: str) -> str:
    """A path as eyes.show() gives it, where a leading ~ is home."""
    return shown if shown.startswith("~") and q(shown[1:] or "/") == (shown[1:] or "/") else q(shown)


def _folder(value: str) -> str:
    """A folder's name as the command has it, with one slash to say it is a folder."""
    bare = value.rstrip("/")
    if not bare or bare == "." or bare.endswith(("/.", "/..")) or bare == "..":
        return q(value)
    return q(bare + "/")


def _tree_words(tree: Tree, short: str) -> str:
    """'the 120 files in it (11.7 KB)', or 'more than N files' when the walk stopped."""
    if tree.complete:
        return f"the {_n(tree.files, 'file')} in it ({size_words(tree.size)})"
    if tree.blocked and not short:
        blocked = _n(len(tree.blocked), "folder")
        return f"{_n(tree.files, 'file')} it can see in it ({size_words(tree.size)}) and what is in {blocked} it cannot read"
    return f"at least {_n(tree.files, 'file')} in it ({short or 'not all could be seen'})"


def _gone(eyes: _Eyes, value: str, follow: bool = True) -> str:
    """Why value cannot be reached, in words: not there, no permission, a loop of links,
    or a name with a slash that is not a folder."""
    path = eyes.at(value)
    try:
        os.stat(path) if follow else os.lstat(path.rstrip("/") or "/")
    except PermissionError:
        return f"no permission to reach {q(value)}"
    except NotADirectoryError:
        return f"{q(value)} is not a folder" if value.endswith("/") else f"a part of {q(value)} is not a folder"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{q(value)} is a loop of links"
        if value.endswith("/") and eyes.lstat(path.rstrip("/")) is not None:
            return f"{q(value)} is not there ({q(value.rstrip('/'))} is a link to nothing)"
        return f"{q(value)} is not there"
    except ValueError:
        return f"{q(value)} is not a valid name"
    if value.endswith("/") and value.rstrip("/"):
        st = eyes.stat(path)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            return f"{q(value)} is not a folder"
    return ""


def _dot(value: str) -> bool:
    """Whether a name ends in . or .. (rm and rmdir refuse those)."""
    return os.path.basename(value.rstrip("/")) in (".", "..") or value.rstrip("/") in (".", "..")


def _fail(why: str) -> Seen:
    return Seen("fails", why, ok=False)


def _parent(path: str) -> str:
    return os.path.dirname(path.rstrip("/")) or "/"


def _why_not_in(eyes: _Eyes, folder: str, shown: str, verb: str) -> str:
    """Why a name cannot be made or removed in folder ("" if it can)."""
    st = eyes.stat(folder)
    if st is None:
        why = eyes.reason(folder)
        if why == "no permission to reach it":
            return f"no permission to reach the folder {shown}"
        return f"there is no folder {shown}"
    if not stat.S_ISDIR(st.st_mode):
        return f"{shown} is not a folder"
    if not (eyes.can(folder, os.W_OK) and eyes.can(folder, os.X_OK)):
        return f"no permission to {verb} in {shown}"
    if eyes.fs_type(folder) in PSEUDO_FS:
        return f"{shown} is on a {eyes.fs_type(folder)} file system, not a real folder"
    return ""


def _sticky_blocks(eyes: _Eyes, folder: str, st_entry) -> bool:
    """A sticky folder (/tmp) lets only an entry's owner (or the folder's) remove it."""
    fst = eyes.stat(folder)
    if fst is None or not fst.st_mode & stat.S_ISVTX:
        return False
    uid = os.geteuid()
    return uid != 0 and uid not in (fst.st_uid, st_entry.st_uid)


def _shown_parent(value: str) -> str:
    p = os.path.dirname(value.rstrip("/"))
    return _folder(p) if p else "this folder"


# ---------------------------------------------------------------- per tool


def _what(value: str, st) -> str:
    if stat.S_ISLNK(st.st_mode):
        return f"the link {q(value)} (not what it points to)"
    if not stat.S_ISREG(st.st_mode):
        return f"{q(value)} (a special file)"
    return f"{q(value)} ({size_words(st.st_size)}, {_ago(st.st_mtime)})"


def _rm(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    value = a["file_name"]
    path = eyes.at(value)
    st = eyes.lstat(path.rstrip("/") or "/")
    if _dot(value):
        return _fail(f"rm refuses to remove a name ending in . or .. ({q(value)}); nothing is deleted")
    why = _gone(eyes, value, follow=st is not None and value.endswith("/"))
    if st is None or why:
        return _fail(f"{why}; nothing is deleted")
    is_link = stat.S_ISLNK(st.st_mode)
    target_st = eyes.stat(path) if is_link else st
    via_slash = is_link and value.endswith("/") and target_st is not None and stat.S_ISDIR(target_st.st_mode)
    if stat.S_ISDIR(st.st_mode) or via_slash:
        if not recursive:
            return _fail(f"{_folder(value)} is a folder and rm without -r refuses it; nothing is deleted")
        tree = eyes.walk(path if not via_slash else os.path.realpath(path))
        if via_slash:
            # GNU rm empties the folder the link points to, then cannot remove the link as a folder.
            return Seen(
                "fails part-way",
                f"deletes {_tree_words(tree, eyes.short)} (the folder the link "
                f"{q(value.rstrip('/'))} points to), then fails: {q(value)} is a link, not a folder; "
                "the link and that folder stay",
                ok=False,
                short=eyes.short,
                trees=[(path, tree)],
            )
        why = _why_not_in(eyes, _parent(path), _shown_parent(value), "delete")
        if why or _sticky_blocks(eyes, _parent(path), st):
            why = why or "no permission to delete it (a sticky folder of someone else)"
        total = f"the {_n(tree.files, 'file')}" if tree.complete else f"at least {_n(tree.files, 'file')}"
        trees = [(path, tree)]
        if why:
            if not tree.removable:
                return Seen("fails", f"{why}; {_folder(value)} and what is in it stay", ok=False, short=eyes.short, trees=trees)
            if tree.emptied:
                return Seen(
                    "fails part-way",
                    f"deletes {total} in {_folder(value)}, then stops: {why}; the empty folder {_folder(value)} stays",
                    ok=False,
                    short=eyes.short,
                    trees=trees,
                )
            return Seen(
                "fails part-way",
                f"deletes {tree.removable:,} of {total} in {_folder(value)}, then stops: {why}; the rest stays",
                ok=False,
                short=eyes.short,
                trees=trees,
            )
        if tree.protected or tree.protected_dirs:
            # At a terminal rm asks before each write-protected file and folder.
            what = [_n(tree.protected, "write-protected file")] if tree.protected else []
            if tree.protected_dirs:
                named = ", ".join(_qp(eyes.show(p)) for p in tree.protected_dirs[:2])
                what.append(f"{_n(len(tree.protected_dirs), 'write-protected folder')} ({named})")
            inside = "; answering y for a folder still leaves what is in it (no permission)" if tree.fixed else ""
            each = "each of " if tree.protected + len(tree.protected_dirs) > 1 else ""
            return Seen(
                "asks first",
                f"rm asks before {each}{' and '.join(what)}; what you answer n to stays, "
                f"with the folders it is in, and the rest of {_folder(value)} and {total} in it is deleted"
                f"{inside}",
                short=eyes.short,
                trees=trees,
            )
        if tree.emptied is False and not tree.blocked:
            total = f"the {_n(tree.files, 'file')}" if tree.complete else f"at least {_n(tree.files, 'file')}"
            left = tree.files - tree.removable
            return Seen(
                "fails part-way" if tree.removable else "fails",
                f"deletes {tree.removable:,} of {total} in {_folder(value)}, then stops: {_n(left, 'file')} "
                "in a sticky folder belong to someone else; they stay, with the folders they are in",
                ok=False,
                short=eyes.short,
                trees=trees,
            )
        if tree.blocked and tree.emptied is not None:
            # A folder it cannot read: rm removes it if it is empty, which no one can see.
            unseen = ", ".join(_qp(eyes.show(p)) for p in tree.blocked[:2])
            return Seen(
                "may fail",
                f"deletes {_folder(value)} and {_tree_words(tree, eyes.short)} only if the "
                f"folders it cannot read ({unseen}) are empty; otherwise it stops there and they stay",
                ok=False,
                short=eyes.short,
                trees=trees,
            )
        text = f"{_folder(value)} and {_tree_words(tree, eyes.short)}"
        return Seen("deletes", text, short=eyes.short, trees=trees)
    why = _why_not_in(eyes, _parent(path), _shown_parent(value), "delete")
    if why or _sticky_blocks(eyes, _parent(path), st):
        return _fail(f"{why or 'no permission to delete it (a sticky folder of someone else)'}; {q(value)} stays")
    what = _what(value, st)
    if not is_link and not eyes.can(path, os.W_OK):
        return Seen("asks first", f"rm asks before deleting the write-protected {what}; answer y to delete it")
    return Seen("deletes", what)


def _rmdir(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    value = a["dir_name"]
    path = eyes.at(value)
    st = eyes.lstat(path.rstrip("/") or "/")
    if _dot(value):
        return _fail(f"rmdir cannot remove a name ending in . or .. ({q(value)}); nothing is deleted")
    if st is None:
        return _fail(f"{_folder(value)} is not there")
    if stat.S_ISLNK(st.st_mode):
        return _fail(f"{q(value.rstrip('/'))} is a link, and rmdir does not follow it; nothing is deleted")
    if not stat.S_ISDIR(st.st_mode):
        return _fail(f"{q(value)} is not a folder")
    why = _why_not_in(eyes, _parent(path), _shown_parent(value), "delete")
    if why or _sticky_blocks(eyes, _parent(path), st):
        return _fail(f"{why or 'no permission to delete it'}; {_folder(value)} stays")
    if not eyes.can(path, os.R_OK):
        return Seen(
            "may fail",
            f"deletes the folder {_folder(value)} only if it is empty, which shellper cannot see (no permission to read it)",
            ok=False,
        )
    try:
        with os.scandir(path) as entries:
            inside = next(iter(entries), None)
    except OSError:
        return _fail(f"{_folder(value)} cannot be read")
    if inside is not None:
        return _fail(f"{_folder(value)} is not empty")
    why = _why_not_in(eyes, _parent(path), _shown_parent(value), "delete")
    if why or _sticky_blocks(eyes, _parent(path), st):
        return _fail(f"{why or 'no permission to delete it'}; {_folder(value)} stays")
    return Seen("deletes", f"the empty folder {_folder(value)}")


def _mkdir(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    value = a["dir_name"]
    path = eyes.at(value)
    st = eyes.lstat(path.rstrip("/") or "/")
    if st is not None:
        kind = "folder" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "file"
        return _fail(f"{q(value.rstrip('/') or value)} already exists (a {kind}); nothing is made")
    why = _why_not_in(eyes, _parent(path), _shown_parent(value), "create")
    if why:
        return _fail(f"{why}; nothing is made")
    return Seen("creates", f"the folder {q(value)}")


def _new_file(eyes: _Eyes, value: str, path: str, lst, done: str) -> tuple:
    """(the file touch or >> creates for a name that is not there: through a dangling link,
    the end of its chain; a Seen when it cannot be made, else None)."""
    if value.endswith("/"):
        return path, _fail(f"{q(value)} ends with / but is not a folder; nothing is {done}")
    target = path
    if lst is not None and stat.S_ISLNK(lst.st_mode):
        if "loop" in _gone(eyes, value):
            return path, _fail(f"{q(value)} is a loop of links; nothing is {done}")
        target = os.path.realpath(path)
    shown = _shown_parent(value) if target == path else _qp(eyes.show(_parent(target)))
    why = _why_not_in(eyes, _parent(target), shown, "create")
    return target, (_fail(f"{why}; nothing is {done}") if why else None)


def _touch(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    value = a["file_name"]
    path = eyes.at(value)
    lst = eyes.lstat(path)
    st = eyes.stat(path)
    if st is not None:
        # Setting a file's times to now takes its owner, write permission, or root.
        if os.geteuid() in (0, st.st_uid) or eyes.can(path, os.W_OK):
            return Seen("changes", f"only the time of {q(value)} (its content stays)")
        return _fail(f"no permission to change the time of {q(value)}")
    target, failed = _new_file(eyes, value, path, lst, "made")
    if failed:
        return failed
    if target != path:
        return Seen(
            "creates",
            f"an empty file {_qp(eyes.show(target))}, where the dangling link {q(value)} points",
            written=[os.path.normpath(target)],
        )
    return Seen("creates", f"an empty file {q(value)}", written=[os.path.normpath(path)])


def _echo(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    content, value = a["content"], a["file_name"]
    added = content.count("\n") + 1
    if value == "None":
        return Seen("reads", f"prints {_n(added, 'line')}")
    path = eyes.at(value)
    lst = eyes.lstat(path.rstrip("/") or "/")
    st = eyes.stat(path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        return _fail(f"{q(value)} is a folder; nothing is written")
    if st is None:
        if lst is None and eyes.reason(path, follow=False) == "no permission to reach it":
            return _fail(f"no permission to reach {q(value)}; nothing is written")
        target, failed = _new_file(eyes, value, path, lst, "written")
        if failed:
            return failed
        where = q(value) if target == path else f"{_qp(eyes.show(target))} (where the dangling link {q(value)} points)"
        return Seen("creates", f"writes {_n(added, 'line')} to a new file {where}", written=[os.path.normpath(target)])
    real = os.path.realpath(path)
    via = "" if lst is None or not stat.S_ISLNK(lst.st_mode) else f" (the link {q(value)} points there)"
    shown = q(value) if not via else _qp(eyes.show(real))
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        return Seen("waits", f"{shown}{via} is a named pipe: the shell waits until something reads it (Ctrl-C stops it)", written=[real])
    if real == "/dev/full":
        return _fail(f"{shown}{via} is a device that is always full; nothing is written")
    if not stat.S_ISREG(st.st_mode):
        return Seen("changes", f"writes {_n(added, 'line')} to the special file {shown}{via}", written=[real])
    if not eyes.can(path, os.W_OK):
        return _fail(f"no permission to write to {shown}{via}; nothing is written")
    seen = eyes.content(path if not via else real)
    if seen is None:
        return Seen("changes", f"appends {_n(added, 'line')} to {shown}{via}", written=[real])
    lines, newline_end, complete = seen
    has = f"{'' if complete else 'at least '}{lines:,}"
    others = f"; {shown} has {_n(st.st_nlink - 1, 'other name')} (hard links), which change too" if st.st_nlink > 1 else ""
    if not newline_end and lines:
        more = f", then {_n(added - 1, 'more line')}" if added > 1 else ""
        first = "the first line added" if added > 1 else "the line added"
        return Seen(
            "changes",
            f"appends to {shown}{via} ({has} {'line' if lines == 1 and complete else 'lines'} now, "
            f"the last without a newline): {first} goes onto the end of that last line{more}{others}",
            written=[real],
        )
    now = "which is empty" if has == "0" else f"which has {has} {'line' if has == '1' else 'lines'}"
    return Seen("changes", f"appends {_n(added, 'line')} to {shown}{via}, {now} (nothing in it is replaced){others}", written=[real])


def _cdpath_hit(eyes: _Eyes, value: str) -> str | None:
    """Where cd goes through CDPATH instead of the current folder, or None. bash and fish
    search CDPATH first (an empty entry is the current folder); zsh the current folder first
    unless CDPATH names it. Names starting with /, ./ or ../ never use it."""
    if not eyes.cdpath or value.startswith(("/", "./", "../")) or value in (".", ".."):
        return None
    entries = eyes.cdpath.split(":")
    here = any(e in ("", ".") for e in entries)
    if eyes.shell == "zsh" and not here and os.path.isdir(eyes.at(value)):
        return None
    for entry in entries:
        base = eyes.cwd if entry in ("", ".") else os.path.join(eyes.cwd, entry)
        candidate = os.path.join(base, value)
        st = eyes.stat(candidate)
        if st is not None and stat.S_ISDIR(st.st_mode):
            return None if base == eyes.cwd else candidate
    return None


def _cd(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    value = a["folder"]
    path = _cdpath_hit(eyes, value) or eyes.at(value)
    st = eyes.stat(path)
    if st is None:
        why = eyes.reason(path)
        if why == "no permission to reach it":
            return _fail(f"no permission to reach {_folder(value)}; the shell stays in {eyes.show(eyes.cwd)}")
        if "loop" in _gone(eyes, value):
            return _fail(f"{q(value)} is a loop of links; the shell stays in {eyes.show(eyes.cwd)}")
        return _fail(f"{_folder(value)} is not there; the shell stays in {eyes.show(eyes.cwd)}")
    if not stat.S_ISDIR(st.st_mode):
        return _fail(f"{q(value)} is not a folder; the shell stays in {eyes.show(eyes.cwd)}")
    if not eyes.can(path, os.X_OK):
        return _fail(f"no permission to enter {_folder(value)}; the shell stays in {eyes.show(eyes.cwd)}")
    via = f" (found through CDPATH, not in {eyes.show(eyes.cwd)})" if path != eyes.at(value) else ""
    return Seen("moves the shell", f"goes to {eyes.show(path)}{via}")


def _readable(eyes: _Eyes, value: str) -> str:
    """Why a tool cannot read the file value ("" if it can)."""
    path = eyes.at(value)
    st = eyes.stat(path)
    why = _gone(eyes, value)
    if st is None or why:
        return why or f"{q(value)} is not there"
    if stat.S_ISDIR(st.st_mode):
        return f"{q(value)} is a folder"
    if not eyes.can(path, os.R_OK):
        return f"no permission to read {q(value)}"
    return ""


def _tail(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    value, want = a["file_name"], a["lines"]
    why = _readable(eyes, value)
    if why:
        return _fail(why)
    piped = _pipe(eyes, value, "tail")
    if piped:
        return piped
    path = eyes.at(value)
    seen = eyes.content(path) if stat.S_ISREG(eyes.stat(path).st_mode) else None
    last = "the last line" if want == 1 else f"the last {want:,} lines"
    if seen is None:
        return Seen("reads", f"{last} of {q(value)}")
    lines, newline_end, complete = seen
    if not complete:
        return Seen("reads", f"shows {last} of {q(value)}, a file of more than {lines:,} lines")
    if lines == 0:
        return Seen("reads", f"shows nothing: {q(value)} is empty")
    if lines == 1:
        return Seen("reads", f"shows the one line of {q(value)}")
    if lines <= want:
        return Seen("reads", f"shows all {lines:,} lines of {q(value)}")
    return Seen("reads", f"shows {last} of {q(value)}, which has {lines:,}")


def _find(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    value, name = a["path"], a["name"]
    path = eyes.at(value)
    # find does not follow a link it starts from, unless named with a slash.
    st = eyes.stat(path) if value.endswith("/") else eyes.lstat(path)
    if st is None:
        return _fail(_gone(eyes, value, follow=value.endswith("/")) or f"{q(value)} is not there")
    glob = name != "None" and ("*" in name or "?" in name)
    what = (
        "lists every name under"
        if name == "None"
        else (f"finds names matching {name!r} under" if glob else f"finds names containing {name!r} under")
    )

    def matches(entry_name: str) -> bool:
        return name == "None" or (fnmatch.fnmatchcase(entry_name, name) if glob else name in entry_name)

    # find prints its start point too when it matches (its name as given, trailing slashes aside).
    start = os.path.basename(value.rstrip("/")) or value
    found = 1 if matches(start) else 0
    if not stat.S_ISDIR(st.st_mode):
        return Seen("reads", f"{what} {q(value)} ({_count(found)} right now)")
    left, stack, blocked = eyes.left, [path], 0
    device = st.st_dev
    complete = True
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    eyes.left -= 1
                    if eyes.left < 0 or (not eyes.left % 512 and eyes.out_of_time()):
                        if eyes.left < 0:
                            eyes.short = eyes.short or f"too many files to check: more than {left:,}"
                        complete = False
                        stack = []
                        break
                    if matches(entry.name):
                        found += 1
                    try:
                        if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_dev == device:
                            stack.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            blocked += 1
    if not complete:
        return Seen("reads", f"{what} {q(value)} (more than {found:,} right now; {eyes.short})", short=eyes.short)
    if blocked:
        return Seen(
            "fails part-way",
            f"{what} {q(value)} ({found:,} it can see), then reports {_n(blocked, 'folder')} it cannot read as errors",
            ok=False,
        )
    return Seen("reads", f"{what} {q(value)} ({_count(found)} right now)")


def _pipe(eyes: _Eyes, value: str, tool: str) -> Seen | None:
    """A named pipe or device to read: the command waits, or may never end."""
    st = eyes.stat(eyes.at(value))
    if st is None or stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        return None
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        return Seen("waits", f"{q(value)} is a named pipe: {tool} waits until something writes to it and closes it (Ctrl-C stops it)")
    return Seen("reads", f"the device {q(value)}; it may never end (Ctrl-C stops it)")


def _reader(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    """A tool that shows (what it makes of) the one file it reads."""
    value = a[tool.reads[0]]
    why = _readable(eyes, value)
    return _fail(why) if why else (_pipe(eyes, value, tool.name) or Seen("reads", tool.phrase(a, q)))


def _diff(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    one, two = a["file_name1"], a["file_name2"]
    for value in (one, two):
        path = eyes.at(value)
        st = eyes.stat(path)
        if st is None:
            return _fail(_readable(eyes, value))
        if not eyes.can(path, os.R_OK):
            return _fail(f"no permission to read {q(value)}")
        piped = _pipe(eyes, value, "diff")
        if piped:
            return piped
    dirs = [stat.S_ISDIR(eyes.stat(eyes.at(v)).st_mode) for v in (one, two)]
    if dirs[0] and dirs[1]:
        return Seen("reads", f"compares the folders {_folder(one)} and {_folder(two)}")
    if dirs[0] or dirs[1]:
        folder, file = (one, two) if dirs[0] else (two, one)
        inner = os.path.join(folder, os.path.basename(file.rstrip("/")))
        if eyes.stat(eyes.at(inner)) is None:
            return _fail(f"{q(folder)} is a folder, and diff compares {q(file)} with {q(inner)}, which is not there")
        return Seen("reads", f"compares {q(file)} with {q(inner)} ({q(folder)} is a folder)")
    return Seen("reads", f"compares {q(one)} with {q(two)}")


def _move_copy(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    copy, verb = not tool.removes, tool.whole  # cp leaves its source, mv takes it
    src, dst = a["source"], a["destination"]
    spath, dpath = eyes.at(src), eyes.at(dst)
    sl = eyes.lstat(spath.rstrip("/") or "/")
    done = "copied" if copy else "moved"
    if sl is None:
        return _fail(f"{_gone(eyes, src, follow=False)}; nothing is {done}")
    why = _gone(eyes, src) if src.endswith("/") else ""
    if why:
        return _fail(f"{why}; nothing is {done}")
    if not copy and stat.S_ISLNK(sl.st_mode) and src.endswith("/"):
        return _fail(f"{q(src)} names a link with a slash, and mv cannot move that; nothing is moved")
    # cp -r copies a link as a link (GNU's -r is -P); with a trailing slash it goes through it.
    if stat.S_ISLNK(sl.st_mode) and src.endswith("/"):
        sl = eyes.stat(spath) or sl
    if copy and (stat.S_ISCHR(sl.st_mode) or stat.S_ISBLK(sl.st_mode)) and os.geteuid() != 0:
        return _fail(f"{q(src)} is a device, and cp -r would make a new device, which only root may; nothing is copied")
    src_dir = stat.S_ISDIR(sl.st_mode)
    inner = os.path.basename(src.rstrip("/")) or src
    dst_st = eyes.stat(dpath)
    if dst_st is not None and stat.S_ISDIR(dst_st.st_mode):
        merge = copy and inner in (".", "..")
        tpath = dpath if merge else os.path.join(dpath, inner)
        tshown = dst if merge else dst.rstrip("/") + "/" + inner
        into = f"into {_folder(dst)}"
        if not copy and inner in (".", ".."):
            return _fail(f"{q(src)} cannot be moved (it names a folder by . or ..)")
    else:
        if dst.endswith("/") and not src_dir:
            return _fail(f"there is no folder {_folder(dst)} to put {q(src)} into; nothing is {'copied' if copy else 'moved'}")
        tpath, tshown, into, merge = dpath, dst, f"to {q(dst)}", False
    tl = eyes.lstat(tpath.rstrip("/") or "/")
    # Same file: the tools refuse (mv too when the source is a link to the target).
    if tl is not None and not merge:
        pairs = [(eyes.stat(tpath), eyes.stat(spath))] if copy else [(tl, sl)]
        if not copy and stat.S_ISLNK(sl.st_mode) and not stat.S_ISLNK(tl.st_mode):
            pairs.append((tl, eyes.stat(spath)))
        for one, two in pairs:
            if one is not None and two is not None and (one.st_dev, one.st_ino) == (two.st_dev, two.st_ino):
                return _fail(f"{q(src)} and {q(tshown)} are the same file; nothing is {done}")
    if (
        src_dir
        and tl is not None
        and not stat.S_ISDIR(tl.st_mode)
        and not (copy and eyes.stat(tpath) is not None and stat.S_ISDIR(eyes.stat(tpath).st_mode))
    ):
        return _fail(f"{q(tshown)} is a file, and a folder cannot replace it; nothing is {done}")
    if src_dir:
        real_s = os.path.realpath(spath)
        real_t = os.path.realpath(tpath)
        if real_t == real_s and merge:
            return _fail(f"{q(src)} and {q(tshown)} are the same folder; nothing is {done}")
        if real_t.startswith(real_s.rstrip("/") + "/") or (real_t == real_s and not merge):
            seen = _fail(
                f"{_folder(src)} cannot be {done} into itself ({q(tshown)})" + ("; cp leaves a partial copy there" if copy else "")
            )
            seen.written = [os.path.normpath(tpath)] if copy else []
            return seen
    # The folder the new name goes in.
    where = dpath if merge else _parent(tpath)
    why = _why_not_in(eyes, where, _folder(dst) if tpath != dpath or merge else _shown_parent(dst), "write")
    if why and copy and tl is not None and not merge and not src_dir and eyes.stat(where) is not None:
        why = ""  # cp over a file that is there writes into it: only the file's own permission counts
    if why:
        return _fail(f"{why}; nothing is {done}")
    if not copy:
        why = _why_not_in(eyes, _parent(spath.rstrip("/") or "/"), _shown_parent(src), "move things out")
        if why or _sticky_blocks(eyes, _parent(spath), sl):
            return _fail(f"{why or 'no permission to move it out of a sticky folder of someone else'}; nothing is moved")
        if src_dir and os.path.realpath(_parent(spath)) != os.path.realpath(where) and not eyes.can(spath, os.W_OK):
            return _fail(f"no permission to move the folder {_folder(src)} (it is not writable); nothing is moved")
    elif not src_dir and stat.S_ISREG(sl.st_mode) and not eyes.can(spath, os.R_OK):
        return _fail(f"no permission to read {q(src)}; nothing is copied")
    tree = None
    if src_dir and (copy or (dst_st is not None and eyes.stat(spath).st_dev != dst_st.st_dev)):
        # A copy into a folder that is already there lands on what is in it.
        dest = None
        if copy and merge:
            dest = dpath
        elif copy and tl is not None and stat.S_ISDIR(tl.st_mode):
            dest = tpath
        tree = eyes.walk(os.path.realpath(spath) if src.endswith("/") else spath, copy=True, dest=dest)
    what = _what_source(eyes, src, sl, tree, copy)
    written: list = []
    trees = [(spath, tree)] if tree is not None else []
    # What is at the new name now.
    replaced = ""
    if tl is not None and not merge:
        t_dir = stat.S_ISDIR(tl.st_mode)
        t_follow = eyes.stat(tpath)
        if copy and stat.S_ISLNK(tl.st_mode) and t_follow is None:
            return _fail(f"{q(tshown)} is a dangling link, and cp does not write through it; nothing is copied")
        if copy and t_follow is not None and stat.S_ISDIR(t_follow.st_mode):
            t_dir = True
        if t_dir and not src_dir:
            return _fail(f"{q(tshown)} is a folder, and a file cannot replace it; nothing is {done}")
        if src_dir and not t_dir:
            return _fail(f"{q(tshown)} is a file, and a folder cannot replace it; nothing is {done}")
        if t_dir and not copy:
            try:
                with os.scandir(tpath) as entries:
                    full = next(iter(entries), None) is not None
            except OSError:
                full = True
            if full:
                return _fail(f"{_folder(tshown)} is there and not empty; nothing is moved")
            replaced = f", replacing the empty folder {_folder(tshown)}"
            written.append(os.path.normpath(tpath))
        elif t_dir:
            why = _why_not_in(eyes, tpath, _folder(tshown), "write")
            if why:
                return _fail(f"{why}; nothing is copied")
            merge = True
            written.append(os.path.normpath(tpath))
        elif copy:
            real = os.path.realpath(tpath)
            if not eyes.can(tpath, os.W_OK):
                return _fail(f"no permission to write to {q(tshown)}; nothing is copied")
            if stat.S_ISFIFO(t_follow.st_mode):
                return Seen("waits", f"{q(tshown)} is a named pipe: cp waits until something reads it (Ctrl-C stops it)", written=[real])
            if not stat.S_ISREG(t_follow.st_mode):
                return Seen(
                    "changes",
                    f"copies {what} into the device {_qp(eyes.show(real))}"
                    + (" (what is written there is not kept)" if real == "/dev/null" else ""),
                    written=[real],
                )
            via = (
                ""
                if real == os.path.normpath(tpath) or not stat.S_ISLNK(tl.st_mode)
                else f" (through the link {q(tshown)}: the file written is {_qp(eyes.show(real))})"
            )
            newer = ", newer than " + q(src) if t_follow.st_mtime > sl.st_mtime else ""
            others = f"; it has {_n(t_follow.st_nlink - 1, 'other name')} (hard links), which change too" if t_follow.st_nlink > 1 else ""
            replaced = f", replacing {q(tshown)} ({size_words(t_follow.st_size)}{newer}){via}{others}"
            written.append(real)
        else:
            if _sticky_blocks(eyes, _parent(tpath), tl):
                return _fail(f"no permission to replace {q(tshown)}: it is someone else's, in a sticky folder; nothing is moved")
            newer = ", newer than " + q(src) if tl.st_mtime > sl.st_mtime else ""
            if stat.S_ISLNK(tl.st_mode):
                replaced = f", replacing the link {q(tshown)} (not what it points to)"
            else:
                replaced = f", replacing {q(tshown)} ({size_words(tl.st_size)}{newer})"
            written.append(os.path.normpath(tpath))
            if not stat.S_ISLNK(tl.st_mode) and not eyes.can(tpath, os.W_OK):
                return Seen(
                    "asks first",
                    f"mv asks before replacing the write-protected {q(tshown)}; then {verb} {what} {into}{replaced}",
                    written=written,
                )
    else:
        written.append(os.path.normpath(tpath))
    if tree is not None:
        written += tree.replaced
    if tree is not None and tree.clashes:
        where_, why = tree.clashes[0]
        more = f" (and {_n(len(tree.clashes) - 1, 'other place')})" if len(tree.clashes) > 1 else ""
        if not tree.made:
            return Seen("fails", f"{_qp(eyes.show(where_))} {why}{more}; nothing is copied", ok=False, short=eyes.short, trees=trees)
        return Seen(
            "fails part-way",
            f"{verb} {what} {into}, but {_qp(eyes.show(where_))} {why}{more}: the rest is copied and cp reports an error",
            ok=False,
            short=eyes.short,
            written=written,
            trees=trees,
        )
    if tree is not None and (tree.unreadable or tree.blocked):
        bad = [eyes.show(p) for p in (tree.unreadable + tree.blocked)[:2]]
        return Seen(
            "fails part-way",
            f"{verb} {what} {into}, but cannot read {', '.join(map(_qp, bad))}"
            f"{' and more' if len(tree.unreadable) + len(tree.blocked) > 2 else ''}: a partial copy is left",
            ok=False,
            short=eyes.short,
            written=written,
            trees=trees,
        )
    if merge:
        if os.path.normpath(tpath) not in written:
            written.insert(0, os.path.normpath(tpath))
        line = f"{verb} {what} {into}, merging with the folder {_folder(tshown)}"
        top = os.path.normpath(tpath).rstrip("/") + "/"
        outside = [r for r in (tree.replaced if tree is not None else []) if not r.startswith(top)]
        if outside:
            named = ", ".join(_qp(eyes.show(r)) for r in outside[:2])
            more = f" and {_n(len(outside) - 2, 'more file')}" if len(outside) > 2 else ""
            line += f"; through links in it, it also writes {named}{more}"
        return Seen("changes", line, short=eyes.short, written=written, trees=trees)
    if replaced:
        return Seen("changes", f"{verb} {what} {into}{replaced}", short=eyes.short, written=written, trees=trees)
    if src_dir and (dst_st is None):
        return Seen(
            "creates" if copy else "changes",
            f"{verb} {what} to a new folder {q(dst.rstrip('/'))}",
            short=eyes.short,
            written=written,
            trees=trees,
        )
    return Seen("creates" if copy else "changes", f"{verb} {what} {into}", short=eyes.short, written=written, trees=trees)


def _what_source(eyes: _Eyes, src: str, sl, tree, copy: bool) -> str:
    if stat.S_ISLNK(sl.st_mode):
        return f"the link {q(src)} (not what it points to)"
    if tree is not None:
        return f"{_folder(src)} and {_tree_words(tree, eyes.short)}"
    if not copy or stat.S_ISDIR(sl.st_mode):
        return _folder(src) if stat.S_ISDIR(sl.st_mode) else q(src)
    if not stat.S_ISREG(sl.st_mode):
        return f"{q(src)} (a special file)"
    return f"{q(src)} ({size_words(sl.st_size)}, {_ago(sl.st_mtime)})"


def _here(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    """A tool that reads the current folder (pwd only prints its name)."""
    words = tool.phrase(a, q)
    if not (eyes.can(eyes.cwd, os.R_OK) or words.startswith("prints")):
        return _fail(f"no permission to read this folder ({eyes.show(eyes.cwd)})")
    return Seen("reads", words)


def _du(eyes: _Eyes, tool: Tool, a: dict, recursive: bool) -> Seen:
    words = tool.phrase(a, q)
    tree = eyes.walk(eyes.cwd)
    if tree.blocked:
        named = ", ".join(_qp(eyes.show(p)) for p in tree.blocked[:2])
        return Seen(
            "fails part-way",
            f"{words}, then reports {_n(len(tree.blocked), 'folder')} it cannot read ({named}) as errors",
            ok=False,
            short=eyes.short,
        )
    return Seen("reads", words + (f" ({eyes.short}: some of it was not looked at)" if eyes.short else ""), short=eyes.short)


KINDS = ("reads", "moves the shell", "creates", "changes", "deletes", "fails", "fails part-way", "asks first", "may fail", "waits")


def look(
    call,
    cwd: str,
    home: str | None = None,
    allow_recursive: bool = False,
    max_entries: int = MAX_ENTRIES,
    deadline: float = DEADLINE,
    shell: str = "bash",
    cdpath: str | None = None,
    known_lines: dict | None = None,
) -> Seen:
    """The predicted outcome of call run by this user in `shell` from cwd (with the shell's
    CDPATH; None: this process's); never raises. known_lines: the line counts of files counted
    elsewhere (a server's shell, remote.py): then no file's content is read here."""
    if cdpath is None:
        cdpath = os.environ.get("CDPATH", "")
    eyes = _Eyes(cwd, os.path.expanduser("~") if home is None else home, max_entries, deadline, shell, cdpath)
    eyes.known_lines = known_lines
    tool = call.tool
    try:
        seen = globals()[tool.look](eyes, tool, call.arguments, allow_recursive)
    except Exception as exc:  # looking must never fail a suggestion
        return Seen(
            tool.kind,
            f"runs {call.name} (shellper could not look at the files: {type(exc).__name__})",
            short="shellper could not look at the files",
        )
    if eyes.short and not seen.short:
        seen.short = eyes.short
    for _, tree in seen.trees:
        if tree is not None:
            seen.landed += tree.landed
    return seen
