"""The undo folder: what suggestions destroyed or changed, kept at Enter, for a while.

One folder per change, numbered across terminals, under the state folder (0700):
`undo/N/manifest.json` (the change: terminal, command, steps) and `undo/N/kN` (what
a step keeps: a hard link on the same file system, a copy otherwise; a folder as a
tree of them). A change is "kept" from Enter until the shell reports the line ran,
then "done" (with what each step left) or dropped (the command did nothing). Old
changes go after `undo_days`, and the oldest first past `undo_max_mb`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time

from . import undo
from .errors import ShellperError

MANIFEST = "manifest.json"
LAST = ".last"  # beside the undo folder: the highest change number given so far
STALE = 3600.0  # seconds a change may stay unfinished (its shell never reported) before it goes


class KeepFailed(ShellperError):
    """What a suggestion would destroy could not be kept (said before it runs)."""


def _private(folder: str) -> None:
    """Make folder (0700) or check that it is ours and private."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise KeepFailed(f"{folder} is not a folder of this user's")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)


class UndoStore:
    def __init__(self, root: str):
        self.root = root
        # number -> (the manifest's inode, time and size; its state, made, size): prune runs at every
        # Enter, and reading a week of manifests each time costs tens of milliseconds.
        self._summaries: dict = {}

    def folder(self, number: int) -> str:
        return os.path.join(self.root, str(number))

    # ------------------------------------------------------------ keep (at Enter)

    def keep(self, key, command: str, shell: str, cwd: str, plan: undo.Plan, limits: undo.Limits) -> int:
        """Keep what plan's command will destroy; the change's number. KeepFailed if it cannot."""
        os.makedirs(os.path.dirname(self.root), mode=0o700, exist_ok=True)
        _private(self.root)
        # Numbers never come back once the folder empties: "undo N" from an old list must not name a newer change.
        number = max(max(self._numbers(partial=True), default=0), self._last()) + 1
        while True:  # another terminal's Enter may take the same number first (N.partial is held by one only)
            work = self.folder(number) + ".partial"
            try:
                os.mkdir(work, 0o700)
            except FileExistsError:
                number += 1
                continue
            if not os.path.lexists(self.folder(number)):
                break
            os.rmdir(work)  # (finished by another since this one listed the numbers)
            number += 1
        try:
            until = time.monotonic() + 1.5
            budget = [undo.KEEP_ENTRIES]
            for i, step in enumerate(plan.steps):
                if step.kind in ("removed", "overwritten"):
                    step.kept = f"k{i}"
                    _keep_entry(step.path, os.path.join(work, step.kept), step.kind == "overwritten", budget, until)
            record = {
                "id": number,
                "pid": key.pid,
                "start": key.start,
                "cwd": cwd,
                "command": command,
                "shell": shell,
                "made": time.time(),
                "state": "kept",
                "size": plan.size,
                "steps": [s.to_dict() for s in plan.steps],
            }
            _write(os.path.join(work, MANIFEST), record)
            os.rename(work, self.folder(number))
            _write_text(self.root + LAST, str(number))
        except RecursionError:  # a tree nested deeper than Python recurses
            remove_tree(work)
            raise KeepFailed("the folder is nested too deep to keep") from None
        except BaseException:
            remove_tree(work)
            raise
        self.prune(limits, keep=number)
        return number

    def _last(self) -> int:
        """The highest number given so far (its file may be gone: then what is there decides)."""
        try:
            with open(self.root + LAST, encoding="ascii") as fh:
                text = fh.read(20).strip()
        except (OSError, ValueError):
            return 0
        return int(text) if text.isdigit() else 0

    def finish(self, number: int, ran: bool) -> str:
        """The shell ran the line (or another): "done" with what each step left, or "dropped"
        when the command did nothing (it failed, or never ran)."""
        change = self.get(number, state="kept")
        if change is None:
            return "dropped"
        steps = [undo.Step.from_dict(s) for s in change["steps"]]
        done = [s for s in steps if ran and undo.happened(s)]
        if not done:
            self.drop(number)
            return "dropped"
        for s in done:
            s.after = undo.fingerprint(s.path, s.folder and s.kind == "created")
        for s in steps:
            if s not in done and s.kept:
                remove_tree(os.path.join(self.folder(number), s.kept))
        change.update(state="done", steps=[s.to_dict() for s in done], size=sum(s.size for s in done if s.kept))
        _write(os.path.join(self.folder(number), MANIFEST), change)
        return "done"

    # ------------------------------------------------------------ read

    def _numbers(self, partial: bool = False) -> list:
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        out = []
        for name in names:
            bare = name[: -len(".partial")] if partial and name.endswith(".partial") else name
            if bare.isdigit() and bare.isascii():
                out.append(int(bare))
        return out

    def get(self, number: int, state: str = "done") -> dict | None:
        try:
            with open(os.path.join(self.folder(number), MANIFEST), encoding="utf-8") as fh:
                change = json.load(fh)
        except (OSError, ValueError, RecursionError):
            return None
        # A manifest not as keep/finish wrote it (wrong types, a kept name outside its folder) is never acted on.
        return change if undo.valid(change, number) and change["state"] == state else None

    def _summary(self, number: int) -> tuple | None:
        """(state, made, size) of change number, or None: read again only when its manifest is another file."""
        try:
            st = os.stat(os.path.join(self.folder(number), MANIFEST))
        except OSError:
            return None
        mark = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._summaries.get(number)
        if cached is not None and cached[0] == mark:
            return cached[1]
        change = self.get(number) or self.get(number, state="kept")
        summary = None if change is None else (change["state"], change["made"], change["size"])
        self._summaries[number] = (mark, summary)
        return summary

    def changes(self, key=None) -> list:
        """The changes that can be undone, newest first (one terminal's, or all)."""
        found = []
        for number in sorted(self._numbers(), reverse=True):
            change = self.get(number)
            if change is not None and (key is None or _same(change, key)):
                found.append(change)
        return found

    def latest(self, key) -> dict | None:
        got = self.changes(key)
        return got[0] if got else None

    # ------------------------------------------------------------ forget

    def drop(self, number: int) -> None:
        remove_tree(self.folder(number))

    def forget(self, key=None) -> int:
        """Remove one terminal's changes (or all): the number removed."""
        gone = 0
        for number in self._numbers():
            change = self.get(number) or self.get(number, state="kept")
            if key is None or change is None or _same(change, key):
                self.drop(number)
                gone += 1
        if key is None:
            for name in _names(self.root):
                if name.endswith(".partial"):
                    remove_tree(os.path.join(self.root, name))
        return gone

    def prune(self, limits: undo.Limits, keep: int | None = None) -> int:
        """Drop changes past their days, unfinished ones long stale, then the oldest past the size."""
        now, gone = time.time(), 0
        for name in _names(self.root):
            path = os.path.join(self.root, name)
            if name.endswith(".partial") and _age(path, now) > STALE:
                remove_tree(path)
        live = []
        numbers = sorted(self._numbers())
        for gone_number in set(self._summaries) - set(numbers):
            del self._summaries[gone_number]
        for number in numbers:
            change = self._summary(number)
            made = change[1] if change else 0
            stale = change is None or (change[0] == "kept" and now - made > STALE)
            if number != keep and (stale or now - made > limits.days * 86400):
                self.drop(number)
                gone += 1
            elif change is not None:
                live.append((number, change[2]))
        total = sum(size for _, size in live)
        for number, size in live:  # oldest first
            if total <= limits.max_bytes or number == keep:
                break
            self.drop(number)
            total -= size
            gone += 1
        return gone


def _same(change: dict, key) -> bool:
    return change.get("pid") == key.pid and round(float(change.get("start", 0)) * 100) == round(key.start * 100)


def _names(folder: str) -> list:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _lstat(path: str):
    try:
        return os.lstat(path)
    except OSError:
        return None


def _age(path: str, now: float) -> float:
    try:
        return now - os.lstat(path).st_mtime
    except OSError:
        return 0.0


def remove_tree(path: str) -> None:
    """Remove path, a file or a tree of this user's, folders without permissions included."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            if os.path.lexists(path):  # a kept folder without write permission (as it was): opened up, then removed
                _unlock(path)
                shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _unlock(top: str) -> None:
    """Give this user every permission on the folders of the tree top (all in the undo folder, all its own)."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            os.chmod(folder, 0o700)
            with os.scandir(folder) as entries:
                stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            pass


def _write_text(path: str, text: str) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _write(path: str, record: dict) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    os.replace(tmp, path)


def _keep_entry(path: str, dest: str, copy: bool, budget: list, until: float) -> None:
    """Keep the entry at path as dest: a hard link when it can be (never for a file about to
    be written in place), else a copy with its mode and times; a folder as a tree of them."""
    budget[0] -= 1
    if budget[0] < 0:
        raise KeepFailed(f"more than {undo.KEEP_ENTRIES:,} files and folders to keep")
    if time.monotonic() > until:
        raise KeepFailed("keeping the files took too long")
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise KeepFailed(f"{os.path.basename(path)} cannot be reached ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(dest, 0o700)
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            raise KeepFailed(f"{os.path.basename(path)} cannot be read ({exc.strerror})") from None
        for name in names:
            _keep_entry(os.path.join(path, name), os.path.join(dest, name), copy, budget, until)
        shutil.copystat(path, dest, follow_symlinks=False)  # last: the entries made changed its times
        return
    if not copy:
        try:
            os.link(path, dest, follow_symlinks=False)
            return
        except OSError:
            pass  # another file system, another user's file (protected_hardlinks): a copy
    try:
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(path), dest)
            os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        elif stat.S_ISREG(st.st_mode):
            shutil.copy2(path, dest, follow_symlinks=False)
            os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))  # (copy2 reads it first: the old atime)
        else:
            raise KeepFailed(f"{os.path.basename(path)} is not a file, link or folder")
    except OSError as exc:
        raise KeepFailed(f"{os.path.basename(path)} could not be kept ({exc.strerror})") from None


def restore_for(store: UndoStore, key, number: int | None, cwd: str, home: str, shell: str) -> undo.Restore:
    """The restore of this terminal's last change (or of change `number`, any terminal's)."""
    st = _lstat(store.root)
    if st is not None and (stat.S_ISLNK(st.st_mode) or (stat.S_ISDIR(st.st_mode) and (st.st_uid != os.geteuid() or st.st_mode & 0o022))):
        # What another user could write to (or a link to it) is never acted on (keep refuses it too); a file holds nothing.
        return undo.Restore(refused=f"the undo folder {store.root} is not a private folder of this user's; nothing is undone")
    if number is None:
        change = store.latest(key)
        if change is None:
            return undo.Restore(refused="nothing to undo in this terminal (`shellper undo --list --all` shows the changes of the others)")
    else:
        change = store.get(number)
        if change is None:
            return undo.Restore(refused=f"there is no change {number} to undo (`shellper undo --list --all` shows them)")
    return undo.restore(change, store.folder(change["id"]), cwd, home, shell)
