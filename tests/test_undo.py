"""Undo, its claims against outcomes: in a throwaway tree, the effect line's "undo: yes" (or
"undo: no, WHY") is computed (turns.vet), what the command destroys is kept (UndoStore.keep),
the command RUNS for real, the change is finished, and its restore RUNS too (bash, zsh, fish);
the tree must then be as it was, byte for byte with mode and times. A "no" must be true as well:
keeping was impossible (the permission really is missing) or over a limit. The cases that
depend on permissions run as an unprivileged user (root ignores permissions): in a forked
child that drops to nobody (65534), on a tree owned by it with root's files in it.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import stat
import subprocess
import tempfile
import time
import traceback

import pytest

from shellper_hook import turns, undo
from shellper_hook.store import SessionKey
from shellper_hook.tools import ToolCall
from shellper_hook.undo_store import MANIFEST, KeepFailed, UndoStore, restore_for

KEY = SessionKey(4242, 1234.5)
NOBODY = 65534
SHELLS = ("bash", "zsh", "fish")
OLD = 1_700_000_000 * 10**9  # a modification time in the past (ns), odd nanoseconds below

pytestmark = pytest.mark.skipif(not all(shutil.which(s) for s in SHELLS), reason="needs bash, zsh and fish")


# ---------------------------------------------------------------- the machinery


class Box:
    """A throwaway root: work/ (the terminal's folder), home/, state/undo (the undo folder)."""

    def __init__(self, base: str, owner: int = 0):
        self.root, self.owner = base, owner
        self.work, self.home = os.path.join(base, "work"), os.path.join(base, "home")
        self.store = os.path.join(base, "state", "undo")
        for folder in (self.work, self.home, os.path.dirname(self.store)):
            os.makedirs(folder)
            os.chown(folder, owner, owner)
        os.chown(base, owner, owner)

    def limits(self, days: int = 7, max_bytes: int = 1 << 30) -> undo.Limits:
        return undo.Limits(days, max_bytes, self.store)

    def put(self, rel: str, data: bytes = b"x\n", mode: int = 0o644, mtime: int = OLD, uid: int | None = None, top=None) -> str:
        path = os.path.join(top or self.work, rel)
        self.dirs(os.path.dirname(path))
        with open(path, "wb") as fh:
            fh.write(data)
        os.chown(path, self.owner if uid is None else uid, self.owner if uid is None else uid)
        os.chmod(path, mode)
        os.utime(path, ns=(mtime + 111, mtime + 777))
        return path

    def dirs(self, path: str, mode: int = 0o755, uid: int | None = None) -> str:
        path = os.path.join(self.work, path)
        if not os.path.isdir(path):
            self.dirs(os.path.dirname(path))
            os.mkdir(path)
            os.chown(path, self.owner if uid is None else uid, self.owner if uid is None else uid)
            os.chmod(path, mode)
            os.utime(path, ns=(OLD + 5, OLD + 9))
        return path

    def link(self, target: str, rel: str) -> None:
        os.symlink(target, os.path.join(self.work, rel))
        os.lchown(os.path.join(self.work, rel), self.owner, self.owner)


@pytest.fixture
def box():
    base = tempfile.mkdtemp(prefix="undo-", dir="/tmp")
    os.chmod(base, 0o755)
    yield Box(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def ubox():
    """A box owned by the unprivileged user (the tests run as root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a tree with another user's files in it")
    base = tempfile.mkdtemp(prefix="undo-", dir="/tmp")
    os.chmod(base, 0o755)
    yield Box(base, NOBODY)
    _open_up(base)
    shutil.rmtree(base, ignore_errors=True)


def _open_up(top: str) -> None:
    for folder, dirs, _ in os.walk(top):
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o755)


def snapshot(top: str) -> dict:
    """Every entry under top: kind, mode, content (or link target), modification time, owner
    (of a box: its work/ and home/, not the undo folder)."""
    out = {}
    for folder, dirs, files in os.walk(top):
        if folder == top and "state" in dirs:
            dirs.remove("state")
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, top)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path), st.st_uid)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("folder", stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_uid)
            else:
                try:
                    with open(path, "rb") as fh:
                        data = fh.read()
                except OSError:
                    data = None  # (as the user: unreadable; the root side compares it)
                out[rel] = ("file", stat.S_IMODE(st.st_mode), data, st.st_mtime_ns, st.st_uid)
    return out


def same_tree(before: dict, after: dict, middle: dict) -> list:
    """The differences that matter: a folder's own time is left out where the command or the
    restore added, removed or replaced entries in it (no restore can give that back); everything
    else must be equal."""
    moved = {
        os.path.dirname(k) for one, two in ((before, middle), (middle, after)) for k in set(one) | set(two) if one.get(k) != two.get(k)
    }

    def norm(snap):
        return {k: (v[:2] + v[3:] if v[0] == "folder" and k in moved else v) for k, v in snap.items()}

    a, b = norm(before), norm(after)
    return sorted(set(a.items()) ^ set(b.items()), key=str)


def sh(command: str, shell: str, cwd: str, home: str, answers: bytes = b"") -> subprocess.CompletedProcess:
    """Run command in a real shell, its input a terminal (rm and mv ask there) fed `answers`."""
    argv = {"bash": ["bash", "-c", command], "zsh": ["zsh", "-fc", command], "fish": ["fish", "-c", command]}[shell]
    xdg = os.path.join(os.path.dirname(home), "state")  # (fish writes its own there, out of the snapshot)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=xdg, XDG_DATA_HOME=xdg, XDG_CACHE_HOME=xdg, LC_ALL="C.UTF-8")
    master, slave = pty.openpty()
    try:
        os.write(master, answers)
        return subprocess.run(argv, cwd=cwd, stdin=slave, capture_output=True, text=True, env=env, timeout=20)
    finally:
        os.close(slave)
        os.close(master)


def verdict(b: Box, tool: str, args: dict, recursive: bool = False, shell: str = "bash", cwd: str | None = None, limits=None):
    return turns.vet(ToolCall(tool, args), cwd or b.work, recursive, b.home, shell, "", limits or b.limits())


def cycle(b: Box, tool: str, args: dict, recursive=False, shell="bash", cwd=None, answers=b"y\n" * 8, limits=None) -> dict:
    """Plan, keep, run, finish, restore, run the restore: what each step gave (as this user)."""
    cwd = cwd or b.work
    limits = limits or b.limits()
    v = verdict(b, tool, args, recursive, shell, cwd, limits)
    out = {"effect": v.effect, "command": v.command, "snaps": [snapshot(b.root)]}
    if v.undo is None or not v.undo.steps or v.undo.why_not:
        ran = sh(v.command, shell, cwd, b.home, answers)
        out.update(ran=ran.returncode, snaps=out["snaps"] + [snapshot(b.root)])
        return out
    store = UndoStore(b.store)
    number = store.keep(KEY, v.command, shell, cwd, v.undo, limits)
    ran = sh(v.command, shell, cwd, b.home, answers)
    out.update(ran=ran.returncode, ran_err=ran.stderr, finished=store.finish(number, True), snaps=out["snaps"] + [snapshot(b.root)])
    back = restore_for(store, KEY, None, cwd, b.home, shell)
    out.update(restore=back.command, restore_effect=back.effect, refused=back.refused)
    if back.command:
        # Any question the restore asks is answered n: a restore must never need one.
        done = sh(back.command, shell, cwd, b.home, b"n\n" * 8)
        out.update(restored=done.returncode, restore_err=done.stderr)
        store.drop(number)  # (ops: a restore that ran is dropped: never undone)
    out["snaps"].append(snapshot(b.root))
    return out


def as_user(fn, *args):
    """fn(*args) in a forked child running as nobody; its JSON-able result (or its failure, raised here)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            reply = {"ok": fn(*args)}
        except BaseException:
            reply = {"error": traceback.format_exc()}
        with os.fdopen(write, "w") as fh:
            json.dump(reply, fh, default=repr)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        reply = json.loads(fh.read() or '{"error": "the child said nothing"}')
    os.waitpid(pid, 0)
    if "error" in reply:
        raise AssertionError("as the unprivileged user:\n" + reply["error"])
    return reply["ok"]


def _restored(out: dict, root_before: dict | None = None, root_after: dict | None = None) -> None:
    """The claim "undo: yes" held: kept, ran, finished, restored exactly."""
    assert out["effect"].endswith("; undo: yes"), out["effect"]
    assert out["finished"] == "done", out
    assert out["restore"] and out["restored"] == 0, out
    before, middle, after = (_tuples(s) for s in out["snaps"])
    assert middle != before, "the command changed nothing"
    assert same_tree(before, after, middle) == [], out
    if root_before is not None:
        assert same_tree(root_before, root_after, middle) == [], "as root sees it"


def _tuples(snap: dict) -> dict:
    return {k: tuple(v) for k, v in snap.items()}  # (JSON from the child gives lists)


# ---------------------------------------------------------------- every change, undone exactly


def _names(b: Box):
    for name in ("a b.txt", 'it\'s "q".txt', "-dash.txt", "~tilde", "back\\slash", "é ü.txt", "$dollar", "semi;colon", "star*"):
        b.put(name, name.encode() + b"\n", 0o640)


CASES = {
    # name: (build the tree, tool, arguments, recursive)
    "rm a name with spaces": (_names, "rm", {"file_name": "a b.txt"}, False),
    "rm a name with quotes": (_names, "rm", {"file_name": 'it\'s "q".txt'}, False),
    "rm a name with a leading dash": (_names, "rm", {"file_name": "-dash.txt"}, False),
    "rm a name with a leading tilde": (_names, "rm", {"file_name": "~tilde"}, False),
    "rm a name with a backslash": (_names, "rm", {"file_name": "back\\slash"}, False),
    "rm a name with accents": (_names, "rm", {"file_name": "é ü.txt"}, False),
    "rm a name with a semicolon": (_names, "rm", {"file_name": "semi;colon"}, False),
    "mv onto a name with quotes": (_names, "mv", {"source": "a b.txt", "destination": 'it\'s "q".txt'}, False),
    "rm a dangling link": (lambda b: b.link("nowhere", "dl"), "rm", {"file_name": "dl"}, False),
    "rm -r a link to a folder": (lambda b: (b.put("d/f"), b.link("d", "ld")), "rm", {"file_name": "ld"}, True),
    "rm a file through a linked folder": (lambda b: (b.put("d/f", b"deep\n"), b.link("d", "ld")), "rm", {"file_name": "ld/f"}, False),
    "rm -r a folder": (
        lambda b: (
            b.put("a/x", mode=0o400),
            b.put("a/s/y", bytes(range(256)) * 9, 0o755),
            b.link("x", "a/l"),
            os.chmod(b.dirs("a/s"), 0o750),
        ),
        "rm",
        {"file_name": "a"},
        True,
    ),
    "rm a file in home by ~/": (lambda b: b.put("h f.txt", b"home\n", top=b.home), "rm", {"file_name": "~/h f.txt"}, False),
    "echo to a new file through a dangling link": (
        lambda b: (b.dirs("d"), b.link("d/new.txt", "dl")),
        "echo",
        {"content": "hi", "file_name": "dl"},
        False,
    ),
    "touch a new file through a dangling link": (lambda b: (b.dirs("d"), b.link("d/new.txt", "dl")), "touch", {"file_name": "dl"}, False),
    "echo >> a file": (lambda b: b.put("log", b"one\ntwo\n"), "echo", {"content": "three", "file_name": "log"}, False),
    "echo >> onto a last line without a newline": (
        lambda b: b.put("log", b"no end"),
        "echo",
        {"content": "more", "file_name": "log"},
        False,
    ),
    "echo >> through a link": (lambda b: (b.put("real", b"r\n"), b.link("real", "ln")), "echo", {"content": "z", "file_name": "ln"}, False),
    "echo >> a file last changed before 1970": (
        lambda b: b.put("log", b"old\n", mtime=-5 * 10**9),
        "echo",
        {"content": "z", "file_name": "log"},
        False,
    ),
    "touch a file": (lambda b: b.put("t", b"t\n"), "touch", {"file_name": "t"}, False),
    "touch a file last changed before 1970": (lambda b: b.put("t", b"t\n", mtime=-5 * 10**9), "touch", {"file_name": "t"}, False),
    "touch a new name": (lambda b: None, "touch", {"file_name": "new file"}, False),
    "mkdir a new name": (lambda b: None, "mkdir", {"dir_name": "new dir"}, False),
    "rmdir": (lambda b: b.dirs("empty", 0o705), "rmdir", {"dir_name": "empty"}, False),
    "mv a folder over an empty folder": (lambda b: (b.put("a/f"), b.dirs("b/a", 0o700)), "mv", {"source": "a", "destination": "b"}, False),
    "mv into an existing folder": (lambda b: (b.put("a.txt"), b.dirs("b")), "mv", {"source": "a.txt", "destination": "b"}, False),
    "mv over a file in an existing folder": (
        lambda b: (b.put("a.txt"), b.put("b/a.txt", b"old\n", 0o600)),
        "mv",
        {"source": "a.txt", "destination": "b"},
        False,
    ),
    "mv over a link": (lambda b: (b.put("a.txt"), b.link("somewhere", "ln")), "mv", {"source": "a.txt", "destination": "ln"}, False),
    "cp into an existing folder": (lambda b: (b.put("a.txt"), b.dirs("b")), "cp", {"source": "a.txt", "destination": "b"}, False),
    "cp over a file in an existing folder": (
        lambda b: (b.put("a.txt"), b.put("b/a.txt", b"old, longer\n", 0o600)),
        "cp",
        {"source": "a.txt", "destination": "b"},
        False,
    ),
    "cp over a file through a link": (
        lambda b: (b.put("a.txt"), b.put("real", b"old, longer\n", 0o640), b.link("real", "ln")),
        "cp",
        {"source": "a.txt", "destination": "ln"},
        False,
    ),
    "cp a folder to a new name": (lambda b: (b.put("a/x"), b.put("a/s/y", mode=0o444)), "cp", {"source": "a", "destination": "b"}, False),
    "cp a folder into an existing folder": (lambda b: (b.put("a/x"), b.dirs("b")), "cp", {"source": "a", "destination": "b"}, False),
}


def _odd_names(b: Box):
    b.put("d/plain", b"p\n")
    for raw in (b"d/caf\xe9 latin-1", b"d/line\nbreak", b"d/tab\there"):
        with open(os.path.join(os.fsencode(b.work), raw), "wb") as fh:
            fh.write(raw)


CASES["rm -r a folder with names that are not UTF-8 or hold a newline"] = (_odd_names, "rm", {"file_name": "d"}, True)
CASES["cp -r a folder with names that are not UTF-8 or hold a newline"] = (_odd_names, "cp", {"source": "d", "destination": "e"}, False)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_change_said_undo_yes_is_undone_exactly(box, case, shell):
    build, tool, args, recursive = CASES[case]
    build(box)
    _restored(cycle(box, tool, args, recursive, shell))


def test_a_folder_removed_from_a_folder_reached_through_a_link_is_kept(box):
    """The shell's folder is a path through a link (its $PWD): the look names the folder so,
    and undo found no walk of it ("undo: no, shellper could not see all of a")."""
    box.put("a/x")
    os.symlink(box.work, os.path.join(box.root, "via"))
    _restored(cycle(box, "rm", {"file_name": "a"}, True, cwd=os.path.join(box.root, "via")))


# ---------------------------------------------------------------- what changed since is never overwritten


def _run(b: Box, tool, args, recursive=False, shell="bash"):
    v = verdict(b, tool, args, recursive, shell)
    assert v.effect.endswith("undo: yes"), v.effect
    store = UndoStore(b.store)
    number = store.keep(KEY, v.command, shell, b.work, v.undo, b.limits())
    assert sh(v.command, shell, b.work, b.home, b"y\n").returncode == 0
    assert store.finish(number, True) == "done"
    return store, number


@pytest.mark.parametrize("shell", SHELLS)
def test_a_file_made_again_since_an_rm_is_kept_and_the_old_one_goes_beside_it(box, shell):
    box.put("a.txt", b"the old one\n", 0o600)
    store, _ = _run(box, "rm", {"file_name": "a.txt"})
    box.put("a.txt", b"a new one\n")
    back = restore_for(store, KEY, None, box.work, box.home, shell)
    assert "beside it, as a.txt.restored" in back.effect
    assert sh(back.command, shell, box.work, box.home).returncode == 0
    assert open(os.path.join(box.work, "a.txt"), "rb").read() == b"a new one\n"
    kept = os.stat(os.path.join(box.work, "a.txt.restored"))
    assert open(os.path.join(box.work, "a.txt.restored"), "rb").read() == b"the old one\n"
    assert (stat.S_IMODE(kept.st_mode), kept.st_mtime_ns) == (0o600, OLD + 777)


def test_a_file_written_since_a_cp_over_it_is_never_overwritten(box):
    box.put("a.txt", b"a\n")
    box.put("b.txt", b"b's own\n")
    store, _ = _run(box, "cp", {"source": "a.txt", "destination": "b.txt"})
    with open(os.path.join(box.work, "b.txt"), "ab") as fh:
        fh.write(b"written since\n")
    back = restore_for(store, KEY, None, box.work, box.home, "bash")
    assert sh(back.command, "bash", box.work, box.home).returncode == 0
    assert open(os.path.join(box.work, "b.txt"), "rb").read() == b"a\nwritten since\n"
    assert open(os.path.join(box.work, "b.txt.restored"), "rb").read() == b"b's own\n"


@pytest.mark.parametrize(
    "tool,args,then",
    [
        ("echo", {"content": "z", "file_name": "log"}, lambda p: open(p, "ab").write(b"more\n")),
        ("touch", {"file_name": "new"}, lambda p: open(p, "ab").write(b"mine now\n")),
        ("mkdir", {"dir_name": "new"}, lambda p: open(os.path.join(p, "inside"), "w").close()),
        ("cp", {"source": "log", "destination": "new"}, lambda p: open(p, "ab").write(b"mine now\n")),
    ],
)
def test_what_changed_since_it_was_made_or_grown_is_left_alone(box, tool, args, then):
    box.put("log", b"log\n")
    store, _ = _run(box, tool, args)
    then(os.path.join(box.work, args.get("file_name") or args.get("dir_name") or args["destination"]))
    was = snapshot(box.work)
    back = restore_for(store, KEY, None, box.work, box.home, "bash")
    assert back.refused and not back.command
    assert snapshot(box.work) == was


def test_a_source_made_again_since_an_mv_gets_the_file_back_beside_it(box):
    box.put("a.txt", b"moved\n")
    store, _ = _run(box, "mv", {"source": "a.txt", "destination": "b.txt"})
    box.put("a.txt", b"new a\n")
    back = restore_for(store, KEY, None, box.work, box.home, "fish")
    assert sh(back.command, "fish", box.work, box.home).returncode == 0
    assert sorted(os.listdir(box.work)) == ["a.txt", "a.txt.restored"]
    assert open(os.path.join(box.work, "a.txt"), "rb").read() == b"new a\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_restore_names_the_files_it_judged_whatever_the_shell_s_home(box, shell):
    """The restore said ~/new for the daemon's home; a shell whose HOME is elsewhere (another
    new there) removed that one instead."""
    store, _ = _run(box, "touch", {"file_name": "~/new"})
    other = os.path.join(box.root, "other")
    box.put("new", b"not the one made\n", top=other)
    back = restore_for(store, KEY, None, box.work, box.home, shell)
    assert sh(back.command, shell, box.work, other).returncode == 0
    assert not os.path.exists(os.path.join(box.home, "new"))
    assert open(os.path.join(other, "new"), "rb").read() == b"not the one made\n"


def test_a_restore_into_a_folder_that_is_gone_is_refused(box):
    box.put("d/a.txt")
    store, _ = _run(box, "rm", {"file_name": "d/a.txt"})
    os.rmdir(os.path.join(box.work, "d"))
    back = restore_for(store, KEY, None, box.work, box.home, "bash")
    assert back.refused == "the folder d that held a.txt is gone" and not back.command


# ---------------------------------------------------------------- one step further back, never the undo


def test_each_undo_goes_one_step_further_back_and_never_undoes_itself(box):
    box.put("a.txt", b"a\n")
    box.put("b.txt", b"b\n")
    first = snapshot(box.work)
    _run(box, "echo", {"content": "more", "file_name": "a.txt"})
    second = snapshot(box.work)
    store, _ = _run(box, "rm", {"file_name": "b.txt"})
    for was in (second, first):
        back = restore_for(store, KEY, None, box.work, box.home, "bash")
        assert sh(back.command, "bash", box.work, box.home).returncode == 0
        store.drop(back.number)  # (ops: a restore that ran is dropped)
        assert snapshot(box.work) == was
    assert restore_for(store, KEY, None, box.work, box.home, "bash").refused.startswith("nothing to undo")
    assert store.changes() == []


def test_a_change_number_is_never_given_again_once_the_folder_empties(box):
    box.put("a.txt", b"a\n")
    store, _ = _run(box, "rm", {"file_name": "a.txt"})
    first = store.changes()[0]["id"]
    store.forget()
    box.put("b.txt", b"b\n")
    _run(box, "rm", {"file_name": "b.txt"})
    assert store.changes()[0]["id"] == first + 1  # "undo N" from an old list never names this one


@pytest.mark.parametrize(
    "tool,args,build",
    [
        ("rm", {"file_name": "a.txt"}, lambda b: b.put("a.txt")),
        ("cp", {"source": "a.txt", "destination": "b.txt"}, lambda b: (b.put("a.txt"), b.put("b.txt", b"bee\n"))),
        ("mv", {"source": "a.txt", "destination": "b.txt"}, lambda b: (b.put("a.txt"), b.put("b.txt", b"bee\n"))),
        ("echo", {"content": "z", "file_name": "a.txt"}, lambda b: b.put("a.txt")),
        ("touch", {"file_name": "a.txt"}, lambda b: b.put("a.txt")),
        ("touch", {"file_name": "n.txt"}, lambda b: None),
        ("rmdir", {"dir_name": "e"}, lambda b: b.dirs("e")),
    ],
)
def test_a_restore_that_ran_but_is_still_listed_is_not_offered_again(box, tool, args, build):
    """Between the restore running and its change being dropped (ops does it after the shell
    reports), an "undo" must not take the undo back: for cp over a file it offered to put the
    old content beside it as b.txt.restored."""
    build(box)
    before = snapshot(box.work)
    store, _ = _run(box, tool, args)
    back = restore_for(store, KEY, None, box.work, box.home, "bash")
    assert sh(back.command, "bash", box.work, box.home).returncode == 0
    assert snapshot(box.work) == before
    again = restore_for(store, KEY, None, box.work, box.home, "bash")
    assert again.refused and not again.command, again


# ---------------------------------------------------------------- a command that fails


def test_a_command_that_fails_leaves_no_change_to_undo(ubox):
    """Said "undo: yes", then the folder became write-protected before Enter ran it: rm fails,
    and nothing is left in the undo folder."""
    ubox.put("p/f")

    def child():
        v = verdict(ubox, "rm", {"file_name": "p/f"})
        store = UndoStore(ubox.store)
        number = store.keep(KEY, v.command, "bash", ubox.work, v.undo, ubox.limits())
        os.chmod(os.path.join(ubox.work, "p"), 0o555)
        ran = sh(v.command, "bash", ubox.work, ubox.home).returncode
        return v.effect, ran, store.finish(number, True), os.listdir(ubox.store)

    effect, ran, finished, left = as_user(child)
    assert effect.endswith("undo: yes") and ran != 0
    assert (finished, left) == ("dropped", [])


def test_an_rm_that_fails_says_nothing_of_undo_and_keeps_nothing(ubox):
    ubox.put("p/f")
    os.chmod(os.path.join(ubox.work, "p"), 0o555)
    out = as_user(cycle, ubox, "rm", {"file_name": "p/f"})
    assert out["effect"].startswith("fails:") and "undo" not in out["effect"]
    assert not os.path.exists(ubox.store)


def test_an_rm_r_answered_n_for_a_file_keeps_the_rest_beside_it(ubox):
    """rm -r asks before a write-protected file; answered n, the folder stays with that file
    and the rest is gone. That change was dropped (the folder was still there): what rm took
    was lost though the line said "undo: yes". Now it is done, and restored beside."""
    ubox.put("d/keep.txt", b"protected\n", 0o444)
    ubox.put("d/gone.txt", b"gone\n")
    ubox.put("d/s/deep.txt", b"deep\n")
    before = snapshot(ubox.work)
    out = as_user(cycle, ubox, "rm", {"file_name": "d"}, True, "bash", None, b"n\n" * 8)
    assert out["effect"].startswith("asks first") and out["effect"].endswith("undo: yes"), out["effect"]
    assert out["finished"] == "done", out
    assert "beside it, as d.restored" in out["restore_effect"] and out["restored"] == 0, out
    after = snapshot(ubox.work)
    assert after["d/keep.txt"] == before["d/keep.txt"] and "d/gone.txt" not in after
    for rel in ("d/keep.txt", "d/gone.txt", "d/s/deep.txt"):
        assert after[rel.replace("d/", "d.restored/", 1)] == before[rel]


def test_an_rm_that_may_stop_part_way_says_undo_no(ubox):
    """rm -r of a folder whose parent is write-protected empties what it can and stops."""
    ubox.put("p/d/f")
    os.chmod(os.path.join(ubox.work, "p"), 0o555)
    out = as_user(cycle, ubox, "rm", {"file_name": "p/d"}, True)
    assert out["effect"].startswith("fails part-way") and "; undo: no, it may stop part-way" in out["effect"], out["effect"]


# ---------------------------------------------------------------- as an unprivileged user: the claims hold


def test_a_file_of_another_user_that_may_not_be_hard_linked_is_copied(ubox):
    ubox.put("o.txt", b"root's\n", 0o644, uid=0)  # protected_hardlinks: no link; readable: a copy
    root_before = snapshot(ubox.work)
    out = as_user(cycle, ubox, "rm", {"file_name": "o.txt"})
    assert out["effect"].endswith("undo: yes")
    after = snapshot(ubox.work)
    # Byte for byte, mode and time; the owner is the user now (a copy is theirs).
    assert after["o.txt"][:4] == root_before["o.txt"][:4] and after["o.txt"][4] == NOBODY


@pytest.mark.parametrize("where", ["o.txt", "d/o.txt"])
def test_a_file_of_another_user_that_cannot_be_read_says_undo_no_before_enter(ubox, where):
    """In a folder removed whole too: it said "undo: yes" and keeping failed at Enter."""
    ubox.put(where, b"secret\n", 0o600, uid=0)
    ubox.put("d/mine.txt")
    tool_args = {"file_name": where.split("/")[0]}

    def child():
        v = verdict(ubox, "rm", tool_args, True)
        path = os.path.join(ubox.work, where)
        try:
            os.link(path, os.path.join(ubox.home, "try"))
            linked = True
        except OSError:
            linked = False
        try:
            open(path, "rb").close()
            readable = True
        except OSError:
            readable = False
        return v.effect, linked, readable

    effect, linked, readable = as_user(child)
    assert "; undo: no, shellper cannot read o.txt" in effect, effect
    assert not linked and not readable  # the claim is true: neither a link nor a copy can keep it


@pytest.mark.parametrize(
    "tool,args",
    [
        ("cp", {"source": "a.txt", "destination": "o.txt"}),
        ("echo", {"content": "z", "file_name": "o.txt"}),
        ("touch", {"file_name": "o.txt"}),
    ],
)
def test_a_file_of_another_user_whose_time_cannot_be_set_back_says_undo_no(ubox, tool, args):
    """Writable by the user, owned by root: its content could go back, its time not (setting a
    given time takes the owner): it said "undo: yes", and the restore failed on the time."""
    ubox.put("a.txt")
    ubox.put("o.txt", b"root's\n", 0o666, uid=0)

    def child():
        v = verdict(ubox, tool, args)
        try:
            os.utime(os.path.join(ubox.work, "o.txt"), ns=(OLD, OLD))
            settable = True
        except PermissionError:
            settable = False
        return v.effect, settable

    effect, settable = as_user(child)
    assert effect.endswith("undo: no, o.txt is another user's, and only its owner can set its time back"), effect
    assert not settable


def test_own_write_protected_and_unreadable_files_are_kept_by_hard_link(ubox):
    ubox.put("d/ro.txt", b"read only\n", 0o444)
    ubox.put("d/none.txt", b"no permissions\n", 0o000)
    inodes = {n: os.lstat(os.path.join(ubox.work, "d", n)).st_ino for n in ("ro.txt", "none.txt")}
    root_before = snapshot(ubox.root)
    out = as_user(cycle, ubox, "rm", {"file_name": "d"}, True)
    _restored(out, root_before, snapshot(ubox.root))
    assert inodes == {n: os.lstat(os.path.join(ubox.work, "d", n)).st_ino for n in inodes}  # the very files, back


def test_a_copy_with_a_write_protected_folder_in_it_is_removed_by_its_undo(ubox):
    """cp -r keeps a folder's r-x mode: rm -r of the copy stopped there ("Permission denied")."""
    ubox.put("src/s/f")
    os.chmod(os.path.join(ubox.work, "src/s"), 0o555)
    _restored(as_user(cycle, ubox, "cp", {"source": "src", "destination": "dst"}))


@pytest.mark.parametrize("shell", SHELLS)
def test_the_undo_of_a_copy_of_a_write_protected_file_asks_nothing(ubox, shell):
    """rm asks at a terminal before removing a write-protected file; the restore's questions
    are answered n here, so one asked would leave the copy."""
    ubox.put("ro.txt", mode=0o444)
    _restored(as_user(cycle, ubox, "cp", {"source": "ro.txt", "destination": "copy.txt"}, False, shell))


# ---------------------------------------------------------------- limits: a "no" is true


def test_over_the_size_limit_says_undo_no(box):
    box.put("big", b"x" * 5000)
    v = verdict(box, "rm", {"file_name": "big"}, limits=box.limits(max_bytes=4096))
    assert v.effect.endswith("undo: no, 4.9 KB is over the 4096 bytes limit (setting undo_max_mb)"), v.effect
    assert v.undo.size == 0 and os.path.getsize(os.path.join(box.work, "big")) > 4096


def test_undo_off_says_so(box):
    box.put("a")
    assert verdict(box, "rm", {"file_name": "a"}, limits=box.limits(days=0)).effect.endswith("undo: no, it is off (setting undo_days is 0)")


def test_a_copy_too_big_to_check_says_undo_no(box, monkeypatch):
    """The restore removes a copy only when every entry is as it was made; past KEEP_ENTRIES
    fingerprint stops looking, so it said "undo: yes" and would remove what changed since."""
    monkeypatch.setattr(undo, "KEEP_ENTRIES", 5)
    for i in range(6):
        box.put(f"src/f{i}")
    v = verdict(box, "cp", {"source": "src", "destination": "dst"})
    assert "undo: no, 6 files and folders are more than shellper checks" in v.effect, v.effect


def test_a_folder_holding_a_special_file_on_another_file_system_says_undo_no(box, tmp_path):
    """A named pipe can only be hard-linked: on another file system (here: the undo folder
    elsewhere), keeping it failed at Enter."""
    box.put("d/f")
    os.mkfifo(os.path.join(box.work, "d", "pipe"))
    shm = "/dev/shm"
    if not os.path.isdir(shm) or os.stat(shm).st_dev == os.stat(box.work).st_dev:
        pytest.skip("needs a second file system")
    store = tempfile.mkdtemp(dir=shm)
    try:
        v = verdict(box, "rm", {"file_name": "d"}, True, limits=undo.Limits(7, 1 << 30, os.path.join(store, "undo")))
        assert v.effect.endswith("undo: no, pipe in d is not a file, link or folder, which is all undo keeps"), v.effect
    finally:
        shutil.rmtree(store)


# ---------------------------------------------------------------- the undo folder


def _change(b: Box, name="a.txt", data=b"x\n", limits=None):
    b.put(name, data)
    v = verdict(b, "rm", {"file_name": name})
    store = UndoStore(b.store)
    number = store.keep(KEY, v.command, "bash", b.work, v.undo, limits or b.limits())
    os.unlink(os.path.join(b.work, name))
    assert store.finish(number, True) == "done"
    return store, number


def _age(store: UndoStore, number: int, seconds: float) -> None:
    path = os.path.join(store.folder(number), MANIFEST)
    change = json.load(open(path))
    change["made"] -= seconds
    json.dump(change, open(path, "w"))


def test_the_undo_folder_is_private(box):
    store, _ = _change(box)
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    os.chmod(store.root, 0o755)
    _change(box, "b.txt")
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700


def test_an_undo_folder_of_another_user_is_refused(ubox):
    os.makedirs(ubox.store, 0o700)  # root's, where the user's should be

    def child():
        box_plan = verdict(ubox, "touch", {"file_name": "n"}).undo
        try:
            UndoStore(ubox.store).keep(KEY, "touch n", "bash", ubox.work, box_plan, ubox.limits())
        except KeepFailed as exc:
            return str(exc)
        return "kept"

    assert "is not a folder of this user's" in as_user(child)


def test_an_undo_folder_that_is_a_link_is_refused(box):
    os.makedirs(os.path.join(box.root, "elsewhere"), 0o700)
    os.symlink(os.path.join(box.root, "elsewhere"), box.store)
    box.put("a")
    with pytest.raises(KeepFailed):
        UndoStore(box.store).keep(KEY, "rm a", "bash", box.work, verdict(box, "rm", {"file_name": "a"}).undo, box.limits())


def test_an_undo_folder_others_may_write_to_is_never_acted_on(box):
    store, _ = _change(box)
    os.chmod(store.root, 0o777)
    assert "not a private folder" in restore_for(store, KEY, None, box.work, box.home, "bash").refused


def test_prune_drops_changes_past_their_days(box):
    store, old = _change(box, "old.txt")
    _age(store, old, 8 * 86400)
    _, new = _change(box, "new.txt")  # keep prunes
    assert [c["id"] for c in store.changes()] == [new]


def test_prune_drops_the_oldest_first_past_the_size_and_never_the_one_just_kept(box):
    limits = box.limits(max_bytes=2500)
    store, first = _change(box, "1.txt", b"1" * 1000, limits)
    _, second = _change(box, "2.txt", b"2" * 1000, limits)
    _, third = _change(box, "3.txt", b"3" * 1000, limits)
    assert [c["id"] for c in store.changes()] == [third, second]
    # One over the size alone stays (it was said to fit when it was judged).
    store.prune(box.limits(max_bytes=10), keep=third)
    assert [c["id"] for c in store.changes()] == [third]


def test_prune_drops_a_change_never_finished_after_an_hour_and_stale_partials(box):
    store, n = _change(box)
    change = json.load(open(os.path.join(store.folder(n), MANIFEST)))
    change.update(state="kept", made=time.time() - 7200)
    json.dump(change, open(os.path.join(store.folder(n), MANIFEST), "w"))
    os.mkdir(os.path.join(store.root, "9.partial"))
    os.utime(os.path.join(store.root, "9.partial"), (time.time() - 7200,) * 2)
    store.prune(box.limits())
    assert os.listdir(store.root) == []


def test_a_kept_folder_without_write_permission_is_dropped_whole(ubox):
    """An rm -r answered n kept a folder whose copy has an r-x folder with a file in it: the
    drop left it in the undo folder for good."""
    ubox.put("d/s/f")
    ubox.put("d/s/ro.txt", mode=0o444)
    os.chmod(os.path.join(ubox.work, "d/s"), 0o555)

    def child():
        v = verdict(ubox, "rm", {"file_name": "d"}, True)
        store = UndoStore(ubox.store)
        number = store.keep(KEY, v.command, "bash", ubox.work, v.undo, ubox.limits())
        store.drop(number)
        return os.listdir(ubox.store)

    assert as_user(child) == []


def test_two_keeps_that_see_the_same_number_take_two(box, monkeypatch):
    """Two terminals pressing Enter at once may both see N as the next number."""
    store, first = _change(box)
    monkeypatch.setattr(UndoStore, "_numbers", lambda self, partial=False: [first - 1] if partial else [])
    _, second = _change(box, "b.txt")
    monkeypatch.undo()
    assert second == first + 1 and {c["id"] for c in store.changes()} == {first, second}


# ---------------------------------------------------------------- a manifest not as undo wrote it


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["steps"][0].update(kept="../../../../../../etc/passwd"),
        lambda c: c["steps"][0].update(kept="/etc/passwd"),
        lambda c: c["steps"][0].update(kept="k0/../../1/k0"),
        lambda c: c["steps"][0].update(path="relative.txt"),
        lambda c: c["steps"][0].update(kind="exec"),
        lambda c: c["steps"][0].update(size="big"),
        lambda c: c["steps"][0].update(mode=True),
        lambda c: c["steps"][0].update(after={}),
        lambda c: c.update(id="../../x"),
        lambda c: c.update(id=99),
        lambda c: c.update(made="yesterday"),
        lambda c: c.update(start="x"),
        lambda c: c.update(steps="nope"),
        lambda c: c.update(steps=[1, 2]),
        lambda c: c.pop("command"),
    ],
    ids=[
        "kept up and out",
        "kept absolute",
        "kept through its own folder",
        "relative path",
        "unknown kind",
        "size a string",
        "mode a bool",
        "after a dict",
        "id a path",
        "id another number",
        "made a string",
        "start a string",
        "steps a string",
        "steps not dicts",
        "no command",
    ],
)
def test_a_hostile_manifest_is_never_acted_on(box, edit):
    store, number = _change(box, "victim.txt")
    os.makedirs(os.path.join(box.root, "etc"))
    box.put("passwd", b"not yours\n", top=os.path.join(box.root, "etc"))
    path = os.path.join(store.folder(number), MANIFEST)
    change = json.load(open(path))
    edit(change)
    json.dump(change, open(path, "w"))
    for asked in (None, number):
        back = restore_for(store, KEY, asked, box.work, box.home, "bash")
        assert back.refused and not back.command, back
    assert store.changes() == [] and store.latest(KEY) is None
    store.prune(box.limits())
    assert os.listdir(store.root) == []


@pytest.mark.parametrize("text", ["{not json", "[]", "null", '"text"', "[" * 100_000], ids=["broken", "list", "null", "text", "deep"])
def test_a_manifest_that_is_not_json_of_a_change_is_ignored(box, text):
    store, number = _change(box)
    with open(os.path.join(store.folder(number), MANIFEST), "w") as fh:
        fh.write(text)
    assert restore_for(store, KEY, None, box.work, box.home, "bash").refused.startswith("nothing to undo")


# ---------------------------------------------------------------- "undo" never goes to the model


@pytest.mark.parametrize(
    "text,number",
    [
        ("undo", None),
        ("Undo.", None),
        ("  UNDO  ", None),
        ("undo!", None),
        ("undo that", None),
        ("undo it", None),
        ("undo this", None),
        ("undo the last change", None),
        ("undo last", None),
        ("undo last change", None),
        ("please undo", None),
        ("please undo that", None),
        ("undo that please", None),
        ("undo, please", None),
        ("take it back", None),
        ("take that back", None),
        ("undo 3", 3),
        ("undo #3", 3),
        ("undo change 12", 12),
        ("undo number 7", 7),
        ("please undo 3", 3),
    ],
)
def test_undo_is_asked_for(text, number):
    assert undo.asked(text) == (number,)


@pytest.mark.parametrize(
    "text",
    [
        # A request naming what to take back is the model's: undo takes back the last change (or N), not "the rename".
        "undo the rename in notes.txt",
        "undo everything",
        "undo 3 changes",
        "undone.txt",
        "show undo.log",
        "can you undo that",
        "undo 1234567890",
        "",
    ],
)
def test_other_requests_are_not_undo(text):
    assert undo.asked(text) is None


# ---------------------------------------------------------------- the cost at Enter


def keep_cost(b: Box, rounds: int = 200) -> float:
    """Milliseconds UndoStore.keep takes for one file (median): measured, not asserted."""
    store, limits, took = UndoStore(b.store), b.limits(), []
    for i in range(rounds):
        b.put(f"f{i}", b"x" * 4096)
        plan = verdict(b, "rm", {"file_name": f"f{i}"}).undo
        started = time.perf_counter()
        store.keep(KEY, "rm f", "bash", b.work, plan, limits)
        took.append((time.perf_counter() - started) * 1000)
    return sorted(took)[len(took) // 2]


def test_keeping_one_file_is_measured(box):
    assert keep_cost(box, 20) >= 0
