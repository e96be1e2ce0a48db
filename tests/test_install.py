"""install.sh for real: bash, a real virtual environment, a temporary HOME.

The venv sees this interpreter's packages (--system-site-packages) and pip
builds shellper without a build-isolation download, so an install takes a
few seconds and needs no network. Ollama is a script on PATH that records
its calls; the model comes from a local folder (setup-model --repo DIR); the
model server is a FakeOllama. New interactive zsh and bash shells then
show Ctrl-G bound to shellper.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest
from daemon_helpers import stop_daemon
from fake_ollama import FakeOllama
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model_setup import ollama_calls, path_without_ollama, write_fake_ollama, write_model_files

from shellper_hook import paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL = os.path.join(ROOT, "install.sh")
BEGIN, END = b"# >>> shellper >>>", b"# <<< shellper <<<"
BASH = shutil.which("bash") or "/bin/bash"


def _can_build_wheels_here() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    try:
        import wheel  # noqa: F401

        return True
    except ImportError:
        pass
    major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1)  # bdist_wheel moved into setuptools


@pytest.fixture(scope="session")
def build_tools(pytestconfig, tmp_path_factory):
    """A PYTHONPATH entry that lets pip build shellper with --no-build-isolation."""
    if _can_build_wheels_here():
        return ""
    cache = getattr(pytestconfig, "cache", None)
    base = cache.mkdir("shellper-build-tools") if cache is not None else tmp_path_factory.mktemp("build-tools")
    target = str(base / "site")
    if not os.path.isdir(os.path.join(target, "setuptools")):
        shutil.rmtree(target, ignore_errors=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", target, "setuptools>=70.1"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot get setuptools to build shellper: {done.stderr.strip()[-300:]}")
    return target


def _own_site() -> list:
    """This interpreter's packages when it runs in a virtual environment (as .ci/run's does): a venv
    made from it with --system-site-packages would see its base interpreter's packages instead."""
    import site

    return site.getsitepackages() if sys.prefix != sys.base_prefix else []


@pytest.fixture
def home(shellper_env, build_tools, monkeypatch, tmp_path):
    """A temporary HOME, fake `ollama` on PATH (no model yet), pip set for a fast offline install."""
    bindir, state = str(tmp_path / "fakebin"), str(tmp_path / "ollama-state")
    write_fake_ollama(bindir, state)
    monkeypatch.setenv("PATH", path_without_ollama(bindir))
    monkeypatch.setenv("FAKE_OLLAMA_DIR", state)
    monkeypatch.setenv("SHELL", "/bin/zsh")
    monkeypatch.setenv("SHELLPER_PYTHON", sys.executable)
    monkeypatch.setenv("SHELLPER_VENV_ARGS", "--system-site-packages --without-pip")
    monkeypatch.setenv("SHELLPER_PIP_ARGS", "--no-deps --no-build-isolation")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (build_tools, *_own_site()) if p))
    for var in ("ZDOTDIR", "FAKE_OLLAMA_DOWN", "OLLAMA_HOST", "PIP_REQUIRE_VIRTUALENV"):
        monkeypatch.delenv(var, raising=False)
    h = shellper_env["HOME"]
    yield type("Home", (), {"path": h, "state": state, "bin": bindir, "tmp": tmp_path})
    stop_daemon()


def install(*args, timeout=180, env=None):
    return subprocess.run(
        [BASH, INSTALL, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done


def digest(path: str):
    """What a file is: None when absent, ("link", target) for a link, else its bytes' hash and mode."""
    if os.path.islink(path):
        return ("link", os.readlink(path))
    if not os.path.exists(path):
        return None
    with open(path, "rb") as fh:
        return (hashlib.sha256(fh.read()).hexdigest(), os.stat(path).st_mode)


def read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def tree(root: str) -> set:
    """Every path under root (what a user would see with find)."""
    found = set()
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(base, name), root))
    # pip's build of the checkout may touch tool dirs in HOME (e.g. ~/.rustup); not ours.
    return {p for p in found if not p.startswith((".rustup", ".cache", ".cargo"))}


def interactive(shell: str, command: str, home: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHELLPER_") and k != "PYTHONPATH"}
    done = subprocess.run(
        [shell, "-i", "-c", command], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=env, cwd=home
    )
    return done.stdout


# ---- the whole path ------------------------------------------------------------------


def test_install_binds_ctrl_g_sets_up_the_model_and_a_second_run_changes_nothing(home, monkeypatch):
    model_dir = write_model_files(str(home.tmp / "downloaded"))
    monkeypatch.setenv("SHELLPER_SETUP_MODEL_ARGS", f"--repo {model_dir}")
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        done = ok(install("--zsh", "--bash", "--yes"))
        out = done.stdout

        link = os.path.join(home.path, ".local", "bin", "shellper")
        venv = os.path.join(paths.data_dir(), "venv")
        assert os.readlink(link) == os.path.join(venv, "bin", "shellper")
        assert "is not on your PATH" in out and 'export PATH="$HOME/.local/bin:$PATH"' in out

        # The model: Ollama had none, so setup-model ran and created it from the folder.
        calls = ollama_calls(home.state)
        assert [c[2] for c in calls] == ["list", "create distil_model -f Modelfile --quantize q8_0", "show distil_model"]
        assert calls[1][0] == model_dir and calls[1][1] == fake.root_url
        assert "The model works" in out
        # The closing doctor ran against the same server and the fresh install.
        assert "You're ready" in out
        assert "OK    model 'distil_model' is on the server" in out
        assert "OK    translate round trip" in out
        assert f"OK    {home.path}/.zshrc loads shellper" in out
        assert sum(1 for body in fake.requests for m in body["messages"] if m.get("content") == "print the current directory") == 2

        # New shells from this HOME have Ctrl-G bound to shellper.
        if shutil.which("zsh"):
            assert '"^G" shellper-translate' in interactive("zsh", 'bindkey "^G"', home.path)
        bash_binds = interactive("bash", "bind -X", home.path)
        assert any(line.startswith('"\\C-g"') and "shellper" in line for line in bash_binds.splitlines()), bash_binds
        # They read a small init file that sources the installed script (with the settings and the
        # completion made from the parser, as test_init_static says): no Python start, so they load
        # even with the `shellper` command moved away.
        for shell in ("zsh", "bash", "fish"):
            with open(os.path.join(paths.data_dir(), f"init.{shell}")) as fh:
                assert len(fh.read().splitlines()) < 80
        os.rename(link, link + ".away")
        try:
            if shutil.which("zsh"):
                assert '"^G" shellper-translate' in interactive("zsh", 'bindkey "^G"', home.path)
            assert "__shellper_translate" in interactive("bash", "bind -X", home.path)
        finally:
            os.rename(link + ".away", link)

        watched = [os.path.join(home.path, ".zshrc"), os.path.join(home.path, ".bashrc"), link]
        before = [digest(p) for p in watched]
        assert all(before)
        for rc in watched[:2]:
            text = read(rc)
            assert text.count(BEGIN) == 1 and text.count(END) == 1

        again = ok(install("--zsh", "--bash", "--yes", "--no-doctor"))
        assert [digest(p) for p in watched] == before
        assert "already loads shellper" in again.stdout
        assert "Ollama already has the model 'distil_model'" in again.stdout
        assert [c[2] for c in ollama_calls(home.state)].count("create distil_model -f Modelfile --quantize q8_0") == 1


def test_uninstall_restores_rc_files_byte_for_byte(home, monkeypatch):
    # .zshrc: a dotfiles symlink to a private file without a final newline, odd bytes and CRLF.
    dotfiles = os.path.join(home.path, "dotfiles")
    os.makedirs(dotfiles)
    original = b"export A=1\r\nalias ll='ls -l'\n# caf\xe9 \xff\nbindkey -e"
    target = os.path.join(dotfiles, "zshrc")
    with open(target, "wb") as fh:
        fh.write(original)
    os.chmod(target, 0o600)
    os.symlink(target, os.path.join(home.path, ".zshrc"))
    # .bashrc does not exist. Settings and history exist already.
    os.makedirs(paths.config_dir())
    with open(paths.config_file(), "w") as fh:
        fh.write('model = "distil_model"\n')
    os.makedirs(paths.state_dir())
    with open(paths.store_file(), "wb") as fh:
        fh.write(b"history")
    before = tree(home.path)

    ok(install("--zsh", "--bash", "--no-model", "--no-doctor"))
    assert os.path.islink(os.path.join(home.path, ".zshrc"))  # edited through the link
    text = read(target)
    assert text.startswith(original + b"\n" + BEGIN) and text.endswith(END + b"\n")
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert b'/.local/bin/shellper" init bash)' in read(os.path.join(home.path, ".bashrc"))

    done = ok(install("--uninstall"))
    assert read(target) == original
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert not os.path.exists(os.path.join(home.path, ".bashrc"))  # it created it, so it goes
    assert tree(home.path) == before  # no link, no ~/.local it made
    assert not os.path.exists(os.path.join(paths.data_dir(), "venv"))
    assert os.path.exists(paths.config_file()) and os.path.exists(paths.store_file())
    assert "kept your history" in done.stdout

    ok(install("--uninstall", "--purge"))  # also what shellper itself stored
    assert not os.path.exists(paths.config_dir()) and not os.path.exists(paths.state_dir())
    assert read(target) == original


def test_user_edits_around_the_block_survive_uninstall(home):
    bashrc = os.path.join(home.path, ".bashrc")
    with open(bashrc, "wb") as fh:
        fh.write(b"export B=2\n")
    ok(install("--bash", "--no-model", "--no-doctor"))
    with open(bashrc, "ab") as fh:
        fh.write(b"alias added_later=true\n")
    ok(install("--uninstall"))
    assert read(bashrc) == b"export B=2\nalias added_later=true\n"


# ---- the model step when Ollama is missing or down -----------------------------------


def test_without_ollama_it_says_how_to_get_it_and_leaves_a_broken_rc_alone(home, monkeypatch):
    os.remove(os.path.join(home.bin, "ollama"))
    monkeypatch.setenv("SHELL", "/usr/bin/bash")  # the default rc file follows $SHELL
    bashrc = os.path.join(home.path, ".bashrc")
    broken = b"export C=3\n# >>> shellper >>>\necho half a block\n"
    with open(bashrc, "wb") as fh:
        fh.write(broken)
    done = ok(install("--yes", "--no-doctor"))
    assert "https://ollama.com/download" in done.stdout
    assert "curl -fsSL https://ollama.com/install.sh | sh" in done.stdout
    assert "shellper setup-model" in done.stdout
    assert read(bashrc) == broken
    assert "never closes" in done.stderr and "left " + bashrc + " alone" in done.stderr
    assert not os.path.exists(os.path.join(home.path, ".zshrc"))


def test_ollama_not_running_says_start_it_and_a_failing_doctor_does_not_fail_the_install(home, monkeypatch):
    monkeypatch.setenv("FAKE_OLLAMA_DOWN", "1")
    with socket.socket() as s:  # the model server is down too
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("SHELLPER_BASE_URL", f"http://127.0.0.1:{s.getsockname()[1]}/v1")
    done = ok(install("--yes", "--no-rc"))
    assert "does not answer" in done.stdout and "ollama serve" in done.stdout
    assert "shellper setup-model" in done.stdout
    assert [c[2] for c in ollama_calls(home.state)] == ["list"]  # nothing created
    assert not os.path.exists(os.path.join(home.path, ".zshrc"))  # --no-rc
    assert "FAIL  model server at" in done.stdout
    assert "shellper doctor found problems" in done.stdout


# ---- pipx and uv: the installer's side of the contract, with stand-in tools ------------

FAKE_TOOL = r"""#!/usr/bin/env bash
# Records its arguments; "installs" a shellper that runs this checkout.
printf '%s\n' "$*" >>"$FAKE_TOOL_LOG"
bin="$HOME/.local/bin"
case "$*" in
  "environment --value PIPX_BIN_DIR" | "tool dir --bin") printf '%s\n' "$bin" ;;
  install* | "tool install"*)
    mkdir -p "$bin"
    printf '#!/bin/sh\nexec "%s" -m shellper_hook.cli "$@"\n' "$FAKE_TOOL_PYTHON" >"$bin/shellper"
    chmod +x "$bin/shellper"
    ;;
  "uninstall shellper" | "tool uninstall shellper") rm -f "$bin/shellper" ;;
  *) echo "fake tool: unexpected: $*" >&2; exit 2 ;;
esac
"""


@pytest.mark.parametrize(
    "tool, install_call, uninstall_call",
    [
        ("pipx", "install --force --python {py} {src}", "uninstall shellper"),
        ("uv", "tool install --force --python {py} {src}", "tool uninstall shellper"),
    ],
)
def test_pipx_and_uv_do_the_install_and_the_uninstall(home, monkeypatch, tool, install_call, uninstall_call):
    path = os.path.join(home.bin, tool)
    with open(path, "w") as fh:
        fh.write(FAKE_TOOL)
    os.chmod(path, 0o755)
    log = str(home.tmp / "tool.log")
    monkeypatch.setenv("FAKE_TOOL_LOG", log)
    monkeypatch.setenv("FAKE_TOOL_PYTHON", sys.executable)
    monkeypatch.setenv("SHELLPER_PIP_ARGS", "")
    bashrc = os.path.join(home.path, ".bashrc")

    ok(install(f"--{tool}", "--bash", "--no-model", "--no-doctor"))
    with open(log) as fh:
        calls = fh.read().splitlines()
    assert install_call.format(py=sys.executable, src=ROOT) in calls
    assert b'shellper" init bash)' in read(bashrc)
    assert not os.path.exists(os.path.join(paths.data_dir(), "venv"))  # no venv of its own

    ok(install("--uninstall"))
    with open(log) as fh:
        assert fh.read().splitlines()[-1] == uninstall_call
    assert not os.path.exists(os.path.join(home.path, ".local", "bin", "shellper"))
    assert not os.path.exists(bashrc)


@pytest.mark.parametrize("tool", ["pipx", "uv"])
def test_asking_for_a_missing_pipx_or_uv_says_so(home, monkeypatch, tool):
    keep = [d for d in os.environ["PATH"].split(os.pathsep) if d and not os.path.exists(os.path.join(d, tool))]
    monkeypatch.setenv("PATH", os.pathsep.join(keep))
    done = install(f"--{tool}", "--no-model")
    assert done.returncode == 1
    assert f"--{tool}: {tool} is not installed" in done.stderr


# ---- bad input and refusals (fast: they stop before pip) -------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frobnicate"], "unknown option: --frobnicate"),
        (["--purge"], "--purge goes with --uninstall"),
        (["--python"], "--python needs a path"),
        (["--python", "/nonexistent/python3"], "/nonexistent/python3 is not a working Python 3.10 or newer"),
    ],
)
def test_bad_options_fail_with_a_message(home, args, message):
    done = install(*args)
    assert done.returncode == 1
    assert message in done.stderr
    assert not os.path.exists(paths.data_dir())


def test_help_lists_the_options(home):
    done = ok(install("--help"))
    for option in ("--zsh", "--bash", "--no-rc", "--pipx", "--uv", "--no-model", "--yes", "--uninstall", "--purge"):
        assert option in done.stdout


def _fake_pythons(bindir: str, good: dict) -> dict:
    """A PATH of just bindir: the tools the script needs, broken python shims, and `good` ones."""
    os.makedirs(bindir, exist_ok=True)
    for tool in ("uname", "dirname", "sed", "grep", "rm", "rmdir", "readlink", "cat", "mkdir", "awk", "sort", "cut"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, os.path.join(bindir, tool))
    for name in ("python3.14", "python3.13", "python3.12", "python3.11", "python3.10", "python3"):
        path = os.path.join(bindir, name)
        if name in good:
            os.symlink(good[name], path)
        else:  # a version manager's shim for a version that is not installed
            with open(path, "w") as fh:
                fh.write(f"#!{shutil.which('bash')}\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
            os.chmod(path, 0o755)
    env = {k: v for k, v in os.environ.items() if k != "SHELLPER_PYTHON"}
    env["PATH"] = bindir
    return env


def test_no_python_found_says_what_to_install(home):
    env = _fake_pythons(str(home.tmp / "onlybin"), {})
    done = install("--no-model", env=env)
    assert done.returncode == 1
    assert "needs Python 3.10 or newer, and none was found" in done.stderr
    assert "python3-venv" in done.stderr


def test_broken_shims_are_skipped_for_a_working_python(home):
    env = _fake_pythons(str(home.tmp / "onlybin"), {"python3.12": sys.executable})
    done = ok(install("--uninstall", env=env))  # nothing installed: it only reports
    assert "python3.12)" in done.stdout.splitlines()[0]


def test_a_foreign_shellper_in_local_bin_is_not_overwritten(home):
    bindir = os.path.join(home.path, ".local", "bin")
    os.makedirs(bindir)
    theirs = os.path.join(bindir, "shellper")
    with open(theirs, "w") as fh:
        fh.write("#!/bin/sh\necho mine\n")
    done = install("--no-model")
    assert done.returncode == 1
    assert "is not shellper's link" in done.stderr and "--force" in done.stderr
    assert read(theirs) == b"#!/bin/sh\necho mine\n"
    assert not os.path.exists(os.path.join(paths.data_dir(), "venv"))  # refused before any work


# ---- the rc editor inside install.sh, on arbitrary file contents ---------------------------

with open(INSTALL, encoding="utf-8") as _fh:
    _RC_EDIT = re.search(r"rc_edit\(\) \{\n  \"\$python\" - \"\$@\" <<'PY'\n(.*?)\nPY\n", _fh.read(), re.S).group(1)
_BLOCK = "# >>> shellper >>>\nif [ -x x ]; then eval x; fi\n# <<< shellper <<<\n"


def rc_edit(*argv) -> str:
    """Run install.sh's rc editor in this process (hypothesis needs speed)."""
    out, old_argv, old_out = io.StringIO(), sys.argv, sys.stdout
    sys.argv, sys.stdout = ["-", *argv], out
    try:
        exec(compile(_RC_EDIT, "install.sh:rc_edit", "exec"), {"__name__": "__main__"})
    finally:
        sys.argv, sys.stdout = old_argv, old_out
    return out.getvalue().strip()


# Lines that look like shell: text, CRLF, lone CR, odd bytes, marker look-alikes.
rc_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
        st.sampled_from(["# >>> shellper", "<<< shellper <<<", "\r", "\x0c", "\u2028", "# >>>", ""]),
    ),
    max_size=8,
).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.one_of(st.none(), rc_text), after_edit=st.one_of(st.none(), rc_text))
def test_rc_block_add_then_remove_gives_the_file_back(tmp_path, before, after_edit):
    """Whatever the rc file held (or if it did not exist), add + add + remove is the identity,
    and text the user adds after the block later survives the removal."""
    path = str(tmp_path / "rc")
    if os.path.exists(path):
        os.remove(path)
    if before is not None:
        with open(path, "wb") as fh:
            fh.write(before.encode("utf-8", "surrogatepass"))
    first = rc_edit("add", path, _BLOCK)
    with open(path, "rb") as fh:
        added = fh.read()
    assert added.count(b"# >>> shellper >>>") == 1 and added.endswith(_BLOCK.encode())
    assert rc_edit("add", path, _BLOCK) == "unchanged"
    with open(path, "rb") as fh:
        assert fh.read() == added
    if after_edit is not None and after_edit.strip():
        with open(path, "ab") as fh:
            fh.write(after_edit.encode("utf-8", "surrogatepass") + b"\n")
    created = "1" if "created" in first.split() else "0"
    newline = "1" if "newline" in first.split() else "0"
    rc_edit("remove", path, created, newline)
    expected = (before or "").encode("utf-8", "surrogatepass")
    if after_edit is not None and after_edit.strip():
        if expected and not expected.endswith(b"\n"):
            expected += b"\n"  # the block is gone but the user's text came after the added newline
        expected += after_edit.encode("utf-8", "surrogatepass") + b"\n"
    if before is None and not (after_edit is not None and after_edit.strip()):
        assert not os.path.exists(path)
    else:
        with open(path, "rb") as fh:
            assert fh.read() == expected


def test_rc_block_without_its_end_is_left_alone(tmp_path):
    path = str(tmp_path / "rc")
    with open(path, "w") as fh:
        fh.write("a\n# >>> shellper >>>\nb\n")
    with pytest.raises(SystemExit) as exit_:
        rc_edit("add", path, _BLOCK)
    assert exit_.value.code == 3
    with open(path) as fh:
        assert fh.read() == "a\n# >>> shellper >>>\nb\n"


def test_install_sh_uses_no_bash4_only_syntax():
    """macOS runs install.sh with /bin/bash 3.2: no bash-4 constructs in its shell code
    (the Python here-documents are left out of the check), no here-document inside $(...)."""
    text = open(INSTALL, encoding="utf-8").read()
    shell_lines, heredoc_end = [], None
    for line in text.splitlines():
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        shell_lines.append(line)
        m = re.search(r"<<-?'?(\w+)'?\s*$", line)
        if m:
            heredoc_end = m.group(1)
            assert "$(" not in line, f"a here-document inside $(...) breaks bash 3.2: {line}"
    code = "\n".join(line for line in shell_lines if not line.lstrip().startswith("#"))
    bash4 = {
        r"declare\s+-[a-zA-Z]*[Agn]": "associative arrays / declare -g / namerefs",
        r"local\s+-n": "namerefs",
        r"\$\{\w+(,,?|\^\^?)\}": "case conversion ${var,,}",
        r"\b(mapfile|readarray|coproc)\b": "mapfile / readarray / coproc",
        r"&>>": "&>>",
        r"\|&": "|&",
        r"\$\{\w+\[-\d+\]\}": "negative array indices",
        r";;&|;&": "case fall-through",
        r"\bwait\s+-n\b": "wait -n",
        r"\bread\b[^\n]*\s-[a-zA-Z]*[iN]\b": "read -i / -N",
        r"\$\{\w+@[QEPAKaUuL]\}": "${var@Q}",
        r"shopt\s+-s\s+(globstar|lastpipe)": "globstar / lastpipe",
    }
    for pattern, what in bash4.items():
        hit = re.search(pattern, code)
        assert not hit, f"install.sh uses {what} ({hit.group(0)!r}), which bash 3.2 lacks"


_ZSH_BLOCK = (
    '# >>> shellper >>>\nif [ -x "$HOME/.local/bin/shellper" ]; then eval "$("$HOME/.local/bin/shellper" '
    'init zsh)"; fi\n# <<< shellper <<<\n'
)


@pytest.mark.parametrize(
    "line",
    [
        "source /usr/share/zsh-syntax-highlighting/zsh-syntax-highlighting.zsh",
        '  . "$HOME/.zsh/zsh-syntax-highlighting/zsh-syntax-highlighting.plugin.zsh"',
    ],
)
def test_the_zsh_block_goes_before_zsh_syntax_highlighting_and_uninstall_gives_the_file_back(tmp_path, line):
    """zsh-syntax-highlighting must be sourced last: the block goes right before that line."""
    path = str(tmp_path / ".zshrc")
    before = f"export EDITOR=vi\n# {line}\n{line}\nalias ll='ls -l'\n"
    with open(path, "w") as fh:
        fh.write(before)
    assert rc_edit("add", path, _ZSH_BLOCK) == "added"
    with open(path) as fh:
        text = fh.read()
    assert text == f"export EDITOR=vi\n# {line}\n{_ZSH_BLOCK}{line}\nalias ll='ls -l'\n"
    assert rc_edit("add", path, _ZSH_BLOCK) == "unchanged"
    assert rc_edit("remove", path, "0", "0") == "removed"
    with open(path) as fh:
        assert fh.read() == before


# ---- fish ------------------------------------------------------------------------------


def _fish_conf() -> str:
    return os.path.join(os.environ["XDG_CONFIG_HOME"], "fish", "conf.d", "shellper.fish")


@pytest.mark.skipif(not shutil.which("fish"), reason="needs fish")
def test_fish_gets_a_conf_d_file_that_binds_ctrl_g_and_uninstall_removes_it(home):
    config = os.environ["XDG_CONFIG_HOME"]
    before, config_before = tree(home.path), tree(config)
    conf = _fish_conf()
    done = ok(install("--bash", "--no-model", "--no-doctor"))  # fish is on PATH: it gets its file too
    assert f"added {conf}" in done.stdout
    # A new interactive fish from this HOME has Ctrl-G bound to shellper.
    out = interactive("fish", "bind \\cg; type -q __shellper_enter; and echo has-enter", home.path)
    assert "__shellper_translate" in out and "has-enter" in out
    # A non-interactive fish (a script) loads nothing.
    script = subprocess.run(
        ["fish", "-c", "functions -q __shellper_translate; and echo loaded"], capture_output=True, text=True, timeout=30, cwd=home.path
    )
    assert "loaded" not in script.stdout
    first = digest(conf)
    again = ok(install("--bash", "--no-model", "--no-doctor"))
    assert f"{conf} already loads shellper" in again.stdout and digest(conf) == first

    ok(install("--uninstall"))
    assert not os.path.exists(conf)
    assert tree(home.path) == before and tree(config) == config_before  # conf.d and fish/ it made are gone


@pytest.mark.skipif(not shutil.which("fish"), reason="needs fish")
def test_a_users_own_fish_conf_d_file_of_that_name_is_left_alone(home):
    conf = _fish_conf()
    os.makedirs(os.path.dirname(conf))
    with open(conf, "w") as fh:
        fh.write("set -g mine 1\n")
    done = ok(install("--bash", "--no-model", "--no-doctor"))
    assert f"left {conf} alone" in done.stdout + done.stderr
    ok(install("--uninstall"))
    assert read(conf) == b"set -g mine 1\n"
