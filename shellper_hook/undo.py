"""Undo: what a suggestion will destroy or change (kept at Enter), and the command that takes it back.

plan()     a changing call + its look -> the steps undo needs (what to keep, what to
           note) or why undo cannot take it back; its words end the effect line.
restore()  a kept change + the files as they are now -> the native command that puts
           things back, its effect line, or why it cannot (never over a file that
           changed since: beside it, as NAME.restored, where that is possible).

Paths are absolute, with the last name not followed (the entry the command acts on);
undo_store.py keeps the bytes. Decisions only: nothing here writes a file.
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass, field

from .look import size_words
from .render import quote

KEEP_ENTRIES = 10_000  # files and folders linked or copied at Enter, at most (about 0.3 s)
COPY_BYTES = 64 << 20  # bytes copied at Enter, at most, when a hard link cannot be made
CHANGING = frozenset(("rm", "rmdir", "mkdir", "touch", "echo", "mv", "cp"))
KINDS = frozenset(("removed", "overwritten", "appended", "created", "moved", "times", "rmdir"))
KEPT = re.compile(r"k[0-9]{1,6}")  # the names undo_store gives what it keeps, in the change's folder

# Only the plain forms: "undo the rename in notes.txt" names what to undo, which undo does not
# judge (it takes back the last change, or change N): such a request goes to the model.
_ASKED = re.compile(
    r"\s*(?:please\s+)?(?:undo|take\s+(?:that|it)\s+back)"
    r"(?:\s+(?:that|it|this|(?:the\s+)?last(?:\s+(?:change|one|command))?))?"
    r"(?:\s+(?:change\s+|number\s+)?#?([0-9]{1,9}))?(?:\s*,?\s*please)?\s*[.!]?\s*",
    re.I,
)


def asked(text: str) -> tuple | None:
    """(change number or None) when a request asks to undo ("undo", "undo that", "take it
    back", "undo 3"); None for any other request (it goes to the model)."""
    m = _ASKED.fullmatch(text)
    if m is None:
        return None
    return (int(m.group(1)) if m.group(1) else None,)


@dataclass(frozen=True)
class Limits:
    days: int = 7  # 0: undo off
    max_bytes: int = 1 << 30
    store: str = ""  # the undo folder (its file system decides: hard link or copy)


@dataclass
class Step:
    """One thing the command does that undo takes back, in the order it happens.

    kind: removed (an entry goes: rm, or mv replacing it; kept whole), overwritten (a file
    written in place by cp; a copy kept), appended (echo >>; its old length noted),
    created (a new file or folder), moved (src -> path), times (touch of an existing
    file), rmdir (an empty folder goes; its mode and times noted)."""

    kind: str
    path: str
    src: str = ""  # moved: where it came from
    folder: bool = False  # the entry is a folder (a tree for removed/created)
    size: int = 0  # bytes kept (removed, overwritten) or the old length (appended)
    entries: int = 1  # files and folders to keep
    mode: int = 0
    atime_ns: int = 0
    mtime_ns: int = 0
    kept: str = ""  # the name under the change's folder (undo_store)
    before: list = field(default_factory=list)  # removed, rmdir: [device, inode] of the entry that goes
    after: list = field(default_factory=list)  # the entry's fingerprint after the command ran

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> Step:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


_NUMBER = (int, float)
_FIELDS = {"id": int, "pid": int, "start": _NUMBER, "made": _NUMBER, "size": int, "command": str, "shell": str, "cwd": str, "state": str}
_STEP = {"kind": str, "path": str, "src": str, "folder": bool, "kept": str, "before": list, "after": list}


def _typed(value, kind) -> bool:
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def valid(change, number: int) -> bool:
    """Whether change (a manifest read from the undo folder) is one undo_store wrote as change
    `number`: the right fields and types, absolute paths, kept names of its own. Anything else
    (edited by hand, by another program, half written) is never acted on."""
    if not isinstance(change, dict) or change.get("id") != number or not isinstance(change.get("steps"), list):
        return False
    if not all(_typed(change.get(k), t) for k, t in _FIELDS.items()):
        return False
    for step in change["steps"]:
        if not isinstance(step, dict) or not all(_typed(step.get(k), t) for k, t in _STEP.items()):
            return False
        if any(not _typed(step.get(k), int) for k in ("size", "entries", "mode", "atime_ns", "mtime_ns")):
            return False
        if step["kind"] not in KINDS or not os.path.isabs(step["path"]) or (step["kind"] == "moved" and not os.path.isabs(step["src"])):
            return False
        if step["kept"] and not KEPT.fullmatch(step["kept"]):
            return False
    return True


@dataclass
class Plan:
    steps: list = field(default_factory=list)
    why_not: str = ""  # "" when undo can take it back
    copy: bool = False  # kept by copying (another file system): the budget is in bytes

    @property
    def words(self) -> str:
        """The effect line's last words ("" for a call that changes nothing)."""
        if not self.steps and not self.why_not:
            return ""
        return f"undo: no, {self.why_not}" if self.why_not else "undo: yes"

    @property
    def size(self) -> int:
        return sum(s.size for s in self.steps if s.kind in ("removed", "overwritten"))


def _no(why: str) -> Plan:
    return Plan(why_not=why)


def _lstat(path: str):
    try:
        return os.lstat(path)
    except (OSError, ValueError):
        return None


def _stat(path: str):
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def entry(cwd: str, home: str, value: str) -> str | None:
    """The absolute path of the entry a command names (links in the folders resolved, the
    last name not), or None for names undo does not judge (a trailing slash, . or ..)."""
    if value.endswith("/") or value in ("", ".", "..") or value.endswith(("/.", "/..")):
        return None
    if value == "~" or value.startswith("~/"):
        value = home.rstrip("/") + value[1:]
    full = os.path.join(cwd, value)
    return os.path.join(os.path.realpath(os.path.dirname(full)), os.path.basename(full))


def _device(folder: str) -> int | None:
    """The device the undo folder is (or will be) on."""
    while folder and folder != "/":
        st = _stat(folder)
        if st is not None:
            return st.st_dev
        folder = os.path.dirname(folder)
    return None


def _linkable(st) -> bool:
    """Whether this user may hard-link the entry (Linux's protected_hardlinks: owner, or read
    and write access to a plain file)."""
    uid = os.geteuid()
    if uid == 0 or st.st_uid == uid or stat.S_ISLNK(st.st_mode):
        return True  # a link of another user's is made anew instead (undo_store)
    return stat.S_ISREG(st.st_mode) and not st.st_mode & stat.S_ISUID and _may(st, 6)


def _may(st, want: int) -> bool:
    """Whether this user has the permissions `want` (4 read, 2 write) on st's entry."""
    uid = os.geteuid()
    if uid == 0:
        return True
    if st.st_uid == uid:
        bits = st.st_mode >> 6
    elif st.st_gid in os.getgroups() or st.st_gid == os.getegid():
        bits = st.st_mode >> 3
    else:
        bits = st.st_mode
    return bits & want == want


def _keepable(path: str, st, dev: int | None, limits: Limits) -> tuple:
    """(copy?, why not): how the entry at path can be kept whole before it goes."""
    same = dev is not None and st.st_dev == dev
    kind = st.st_mode
    if not (stat.S_ISREG(kind) or stat.S_ISLNK(kind) or stat.S_ISDIR(kind)):
        return False, f"{_name(path)} is not a file, link or folder, which is all undo keeps"
    if stat.S_ISREG(kind) and not (same and _linkable(st)):
        # Copied at Enter (another user's file on the same file system too): read, and in the copy budget.
        return True, "" if _may(st, 4) else f"shellper cannot read {_name(path)} to keep a copy"
    return not same, ""


def _copies(top: str, same: bool) -> tuple:
    """(bytes copied, why not) keeping the folder top as a tree (undo_store._keep_entry): every
    file in it this user may not hard-link is copied, so it must be readable; a special file
    can only be linked. look's walk for rm does not judge reading, so this one does."""
    if same and os.geteuid() == 0:
        return 0, ""  # root links anything on the same file system
    copied, stack, seen = 0, [top], 0
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for one in entries:
                    seen += 1
                    if seen > KEEP_ENTRIES:
                        return copied, ""  # (_budget says no: too many entries)
                    st = one.stat(follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(one.path)
                    elif stat.S_ISREG(st.st_mode):
                        if not (same and _linkable(st)):
                            if not _may(st, 4):
                                return copied, f"shellper cannot read {_name(one.path)} in {_name(top)} to keep a copy"
                            copied += st.st_size
                    elif not stat.S_ISLNK(st.st_mode) and not (same and st.st_uid == os.geteuid()):
                        return copied, f"{_name(one.path)} in {_name(top)} is not a file, link or folder, which is all undo keeps"
        except OSError as exc:
            return copied, f"shellper could not look in {_name(top)} ({exc.strerror or exc})"
    return copied, ""


def _tree(seen, path: str):
    """The look's walk of the folder at path (resolved as entry() resolves it: the look names
    it from cwd as given, which may run through a link)."""
    for top, tree in getattr(seen, "trees", ()):
        top = os.path.normpath(top)
        if tree is not None and os.path.join(os.path.realpath(os.path.dirname(top)), os.path.basename(top)) == path:
            return tree
    return None


def _budget(plan: Plan, limits: Limits) -> Plan:
    entries = sum(s.entries for s in plan.steps if s.kind in ("removed", "overwritten"))
    if plan.size > limits.max_bytes:
        return _no(f"{size_words(plan.size)} is over the {_limit(limits.max_bytes)} limit (setting undo_max_mb)")
    if entries > KEEP_ENTRIES:
        return _no(f"{entries:,} files and folders are more than shellper keeps at Enter ({KEEP_ENTRIES:,})")
    if plan.copy and plan.size > COPY_BYTES:
        return _no(f"{size_words(plan.size)} on another file system is more than shellper copies at Enter ({_limit(COPY_BYTES)})")
    return plan


def _limit(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def plan(call, cwd: str, home: str, seen, limits: Limits, recursive: bool = False) -> Plan:
    """What undo needs for `call` run from cwd, on the look `seen` at the files (look.Seen)."""
    if call.name not in CHANGING or (call.name == "echo" and call.arguments.get("file_name") == "None"):
        return Plan()
    if not seen.ok and (seen.kind == "fails" and not seen.written):
        return Plan()  # it fails: nothing to take back
    if not seen.ok and call.name in ("rm", "mv"):
        # What it takes away is kept whole, but the rest stays where it was: no restore puts back only a part.
        return _no("it may stop part-way, and undo cannot put back part of what it removes")
    if limits.days <= 0:
        return _no("it is off (setting undo_days is 0)")
    if seen.short:
        return _no("shellper could not see all of what it changes")
    try:
        made = globals()["_" + call.name](call.arguments, cwd, home, seen, limits, recursive)
    except OSError as exc:
        return _no(f"shellper could not look ({exc.strerror or exc})")
    return made if made.why_not else _budget(made, limits)


def _gone(path: str, st, seen, limits: Limits, dev) -> Plan:
    """A Plan keeping the entry at path whole (a folder with all it holds)."""
    copy, why = _keepable(path, st, dev, limits)
    if why:
        return _no(why)
    if stat.S_ISDIR(st.st_mode):
        tree = _tree(seen, path)
        if tree is None or not tree.complete:
            return _no(f"shellper could not see all of {_name(path)}")
        if tree.unreadable:
            return _no(f"{len(tree.unreadable):,} files in {_name(path)} cannot be read")
        entries = tree.files + tree.folders + 1
        copied, why = _copies(path, not copy) if entries <= KEEP_ENTRIES else (0, "")
        if why:
            return _no(why)
        if copied > COPY_BYTES:
            return _no(f"{size_words(copied)} of {_name(path)} must be copied, more than shellper copies at Enter ({_limit(COPY_BYTES)})")
        step = Step("removed", path, folder=True, size=tree.size, entries=entries, before=[st.st_dev, st.st_ino])
    else:
        step = Step("removed", path, size=st.st_size if stat.S_ISREG(st.st_mode) else 0, before=[st.st_dev, st.st_ino])
    return Plan([step], copy=copy)


def _rm(a: dict, cwd, home, seen, limits, recursive) -> Plan:
    path = entry(cwd, home, a["file_name"])
    if path is None:
        return _no("shellper cannot take back an rm of a name ending in / or .")
    st = _lstat(path)
    if st is None:
        return Plan()
    return _gone(path, st, seen, limits, _device(limits.store))


def _rmdir(a: dict, cwd, home, seen, limits, recursive) -> Plan:
    path = entry(cwd, home, a["dir_name"].rstrip("/") or a["dir_name"])
    st = None if path is None else _lstat(path)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return _no("shellper cannot take back this rmdir")
    return Plan([_rmdir_step(path, st)])


def _rmdir_step(path: str, st) -> Step:
    mode = stat.S_IMODE(st.st_mode)
    return Step("rmdir", path, folder=True, mode=mode, atime_ns=st.st_atime_ns, mtime_ns=st.st_mtime_ns, before=[st.st_dev, st.st_ino])


def _mkdir(a: dict, cwd, home, seen, limits, recursive) -> Plan:
    path = entry(cwd, home, a["dir_name"].rstrip("/") or a["dir_name"])
    if path is None:
        return _no("shellper cannot take back this mkdir")
    return Plan([Step("created", path, folder=True)])


def _times_fixed(st, path: str) -> str:
    """Why undo could not set the times of path back ("" when it can): setting a given time
    takes the owner or root (write permission only lets touch set the time to now)."""
    if os.geteuid() in (0, st.st_uid):
        return ""
    return f"{_name(path)} is another user's, and only its owner can set its time back"


def _made_file(seen, path: str) -> str:
    """The file touch or >> makes: through a dangling link, where it points."""
    return seen.written[0] if seen.written else path


def _touch(a: dict, cwd, home, seen, limits, recursive) -> Plan:
    path = entry(cwd, home, a["file_name"])
    if path is None:
        return _no("shellper cannot take back a touch of a name ending in / or .")
    st = _stat(path)
    if st is None:
        return Plan([Step("created", _made_file(seen, path))])
    real = os.path.realpath(path)
    fixed = _times_fixed(st, real)
    if fixed:
        return _no(fixed)
    return Plan([Step("times", real, atime_ns=st.st_atime_ns, mtime_ns=st.st_mtime_ns)])


def _echo(a: dict, cwd, home, seen, limits, recursive) -> Plan:
    path = entry(cwd, home, a["file_name"])
    if path is None:
        return _no("shellper cannot take back a write to a name ending in / or .")
    st = _stat(path)
    if st is None:
        return Plan([Step("created", _made_file(seen, path))])
    if not stat.S_ISREG(st.st_mode):
        return _no(f"{_name(path)} is not a plain file")
    real = os.path.realpath(path)
    fixed = _times_fixed(st, real)
    if fixed:
        return _no(fixed)
    return Plan([Step("appended", real, size=st.st_size, atime_ns=st.st_atime_ns, mtime_ns=st.st_mtime_ns)])


def _landing(a: dict, cwd, home):
    """(source entry, where it lands, source lstat) for mv and cp; None when undo does not judge it."""
    src, dst = entry(cwd, home, a["source"]), a["destination"]
    sl = None if src is None else _lstat(src)
    if sl is None:
        return None
    dfull = os.path.join(cwd, home.rstrip("/") + dst[1:] if dst == "~" or dst.startswith("~/") else dst)
    dst_st = _stat(dfull)
    if dst_st is not None and stat.S_ISDIR(dst_st.st_mode):
        return src, os.path.join(os.path.realpath(dfull), os.path.basename(src)), sl
    land = entry(cwd, home, dst)
    return (src, land, sl) if land is not None else None


def _mv(a: dict, cwd, home, seen, limits, recursive) -> Plan:
    found = _landing(a, cwd, home)
    if found is None:
        return _no("shellper cannot take back this mv (a name ending in / or .)")
    src, land, sl = found
    tl = _lstat(land)
    moved = Step("moved", land, src=src, folder=stat.S_ISDIR(sl.st_mode))
    if tl is None:
        return Plan([moved])
    if stat.S_ISDIR(tl.st_mode):  # an empty folder the folder replaces
        return Plan([_rmdir_step(land, tl), moved])
    kept = _gone(land, tl, seen, limits, _device(limits.store))
    if kept.why_not:
        return kept
    return Plan([*kept.steps, moved], copy=kept.copy)


def _cp(a: dict, cwd, home, seen, limits, recursive) -> Plan:
    found = _landing(a, cwd, home)
    if found is None:
        return _no("shellper cannot take back this cp (a name ending in / or .)")
    src, land, sl = found
    tl = _lstat(land)
    if tl is None:
        tree = _tree(seen, src) if stat.S_ISDIR(sl.st_mode) else None
        if tree is not None and tree.files + tree.folders + 1 > KEEP_ENTRIES:
            # (fingerprint sees only so many: past them the restore could remove what changed since)
            many = tree.files + tree.folders
            return _no(f"{many:,} files and folders are more than shellper checks before removing a copy ({KEEP_ENTRIES:,})")
        return Plan([Step("created", land, folder=stat.S_ISDIR(sl.st_mode))])
    tst = _stat(land)
    if stat.S_ISDIR(sl.st_mode) or stat.S_ISLNK(sl.st_mode) or tst is None or not stat.S_ISREG(tst.st_mode):
        return _no(f"the copy goes into what is already at {_name(land)}, which undo cannot take apart")
    real = os.path.realpath(land)
    if not _may(tst, 4):
        return _no(f"shellper cannot read {_name(real)} to keep a copy")
    fixed = _times_fixed(tst, real)
    if fixed:
        return _no(fixed)
    step = Step("overwritten", real, size=tst.st_size, mode=tst.st_mode, atime_ns=tst.st_atime_ns, mtime_ns=tst.st_mtime_ns)
    return Plan([step], copy=True)


def _name(path: str) -> str:
    return os.path.basename(path) or path


# ---------------------------------------------------------------- after the command


def fingerprint(path: str, folder: bool = False, limit: int = KEEP_ENTRIES) -> list:
    """What an entry is now ([] when it is not there): kind, device, inode, size, mtime; for
    a folder made by a copy, every entry under it too (None past `limit`: cannot tell)."""
    st = _lstat(path)
    if st is None:
        return []
    if not stat.S_ISDIR(st.st_mode):
        return [stat.S_IFMT(st.st_mode), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]
    prints = [stat.S_IFMT(st.st_mode), st.st_dev, st.st_ino]
    if not folder:
        return prints
    count = 0
    for top, dirs, files in os.walk(path):
        for name in sorted(dirs + files):
            count += 1
            if count > limit:
                return prints + [None]
            one = _lstat(os.path.join(top, name))
            if one is not None:
                prints.append([os.path.relpath(os.path.join(top, name), path), one.st_ino, one.st_size, one.st_mtime_ns])
        dirs.sort()
    return prints


def happened(step: Step) -> bool:
    """Whether the command did this step (it may have failed part-way)."""
    now = _lstat(step.path)
    if step.kind in ("removed", "rmdir"):
        if now is not None and step.kind == "removed" and step.folder and [now.st_dev, now.st_ino] == step.before:
            return _count(step.path, step.entries) < step.entries  # rm -r stopped part-way (asked, answered n)
        return now is None or [now.st_dev, now.st_ino] != step.before
    if step.kind == "created":
        return now is not None
    if step.kind == "moved":
        return _lstat(step.src) is None and now is not None
    if step.kind == "appended":
        return now is not None and now.st_size != step.size
    return now is not None and now.st_mtime_ns != step.mtime_ns  # overwritten, times


def _count(top: str, limit: int) -> int:
    """The entries of the folder top, itself included (counting stops past limit)."""
    count, stack = 1, [top]
    while stack and count <= limit:
        try:
            with os.scandir(stack.pop()) as entries:
                for one in entries:
                    count += 1
                    if one.is_dir(follow_symlinks=False):
                        stack.append(one.path)
        except OSError:
            pass
    return count


def _locked(top: str) -> bool:
    """Whether a folder in the tree top lacks this user's write or search permission (rm -r
    cannot empty it: the restore makes it writable first)."""
    if os.geteuid() == 0:
        return False
    for folder, dirs, _ in os.walk(top):  # (a folder it cannot list is checked as one of dirs)
        for one in [folder, *(os.path.join(folder, d) for d in dirs)]:
            st = _lstat(one)
            if st is not None and stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o700 != 0o700:
                return True
    return False


# ---------------------------------------------------------------- the restore


@dataclass(frozen=True)
class Restore:
    command: str = ""
    effect: str = ""
    refused: str = ""  # why it cannot be undone now
    number: int = 0  # the change it takes back


def _word(path: str, cwd: str, home: str, shell: str) -> str:
    """A path as one word of the restore command: relative under cwd (which Enter checks again),
    else absolute. Never ~/: the shell expands it with its own HOME, which may not be the home
    the restore was judged on (it would remove or overwrite another file of that name)."""
    if path.startswith(cwd.rstrip("/") + "/"):
        rel = path[len(cwd.rstrip("/")) + 1 :]
        return quote("./" + rel if rel.startswith(("-", "~")) else rel, shell)
    return quote(path, shell)


def _beside(path: str, taken: set) -> str:
    n, name = 1, path + ".restored"
    while _lstat(name) is not None or name in taken:
        n += 1
        name = f"{path}.restored.{n}"
    return name


def _when(made: float) -> str:
    seconds = max(0.0, time.time() - made)
    for span, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= span:
            count = int(seconds // span)
            return f"{count} {name}{'s' if count != 1 else ''} ago"
    return "just now"


def restore(change: dict, folder: str, cwd: str, home: str, shell: str) -> Restore:
    """The command that takes back `change` (undo_store's record, kept under `folder`),
    judged on the files as they are now."""
    steps = [Step.from_dict(s) for s in change["steps"]]
    free: set = set()  # paths an earlier part of the restore empties
    taken: set = set()
    words, said = [], []

    def w(path: str) -> str:
        return _word(path, cwd, home, shell)

    for step in reversed(steps):
        target = step.src if step.kind == "moved" else step.path
        if step.kind in ("moved", "removed", "rmdir", "overwritten") and not os.path.isdir(os.path.dirname(target)):
            return Restore(refused=f"the folder {_name(os.path.dirname(target))} that held {_name(target)} is gone")
        now = _lstat(step.path)
        here = step.path in free
        unchanged = step.after == fingerprint(step.path, step.folder and step.kind == "created") and now is not None
        name = _name(step.path)
        if step.kind == "moved":
            if not step.after or now is None or [stat.S_IFMT(now.st_mode), now.st_dev, now.st_ino] != step.after[:3]:
                return Restore(refused=f"{name} is no longer what `{change['command']}` put there")
            back = step.src if _lstat(step.src) is None else _beside(step.src, taken)
            taken.add(back)
            words.append(f"mv {w(step.path)} {w(back)}")
            said.append(f"moves {name} back to {_name(back)}" + ("" if back == step.src else f" ({_name(step.src)} is there again)"))
            free.add(step.path)
        elif step.kind in ("removed", "overwritten"):
            kept = os.path.join(folder, step.kept)
            held = _lstat(kept) if KEPT.fullmatch(step.kept) else None  # (only a name undo_store gives: never outside folder)
            if held is None or (step.kind == "overwritten" and not stat.S_ISREG(held.st_mode)):
                return Restore(refused=f"the kept copy of {name} is gone from the undo folder")
            if step.kind == "overwritten" and now is not None and (now.st_size, now.st_mtime_ns) == (step.size, step.mtime_ns):
                return Restore(refused=f"{name} is as it was before `{change['command']}` already")  # (undone, and not yet dropped)
            ok = here or now is None if step.kind == "removed" else unchanged
            to = step.path if ok else _beside(step.path, taken)
            taken.add(to)
            verb = "mv" if step.kind == "removed" else "cp -p"
            words.append(f"{verb} {quote(kept, shell)} {w(to)}")
            what = f"{name} ({'folder, ' if step.folder else ''}{size_words(step.size)})"
            what = f"the link {name}" if stat.S_ISLNK(held.st_mode) else what
            beside = f"puts back {what} beside it, as {_name(to)} ({name} changed since; it is never overwritten)"
            said.append(f"puts back {what}" if ok else beside)
        elif step.kind == "appended":
            if not unchanged:
                return Restore(refused=f"{name} changed since `{change['command']}`; cutting it back would lose that")
            words.append(f"truncate -s {step.size} {w(step.path)} && touch -m -d @{_stamp(step.mtime_ns)} {w(step.path)}")
            said.append(f"cuts {name} back to its old {size_words(step.size)}")
        elif step.kind == "created":
            if not unchanged or None in step.after:  # (None: too big to tell)
                return Restore(refused=f"{name} changed since `{change['command']}` made it; shellper never removes what it did not make")
            p = w(step.path)
            # -f: a write-protected file it made (a copy of one) is removed without a question at the terminal;
            # a folder in it without write permission would stop rm -r: made writable first.
            if step.folder and not step.after[3:]:
                words.append(f"rmdir {p}")
            elif step.folder:
                words.append(f"{'chmod -R u+rwx ' + p + ' && ' if _locked(step.path) else ''}rm -rf {p}")
            else:
                words.append(f"rm -f {p}")
            said.append(f"removes {name}, which it made")
            free.add(step.path)
        elif step.kind == "times":
            if not unchanged:
                return Restore(refused=f"{name} changed since `{change['command']}`")
            p = w(step.path)
            words.append(f"touch -a -d @{_stamp(step.atime_ns)} {p} && touch -m -d @{_stamp(step.mtime_ns)} {p}")
            said.append(f"sets the times of {name} back")
        elif step.kind == "rmdir":
            if not (here or now is None):
                return Restore(refused=f"{name} is there again")
            p = w(step.path)
            words.append(f"mkdir -m {step.mode:o} {p} && touch -m -d @{_stamp(step.mtime_ns)} {p}")
            said.append(f"makes the folder {name} again")
    effect = f"restores: {'; '.join(said)} (as before `{change['command']}`, {_when(change['made'])})"
    return Restore(" && ".join(words), effect, number=change["id"])


def _stamp(ns: int) -> str:
    """Nanoseconds since the epoch as GNU touch -d reads them (@SECONDS.NANOSECONDS; the sign
    applies to the whole: -0.5 s is @-0.500000000, not @-1.500000000)."""
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    return f"{sign}{ns // 10**9}.{ns % 10**9:09d}"
