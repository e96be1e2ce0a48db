"""A small tmux driver for testing the shell integration in real shells.

    with Tmux() as tmux:
        pane = tmux.spawn(["zsh", "-i"], env)
        pane.type("echo hi"); pane.send("Enter")
        pane.wait_for("hi")

Each Tmux runs its own server (`tmux -L <unique name>`), so tests never touch
the user's tmux, and closing it kills every pane. `ShellEnv` builds what a
test shell needs: a private HOME whose rc file loads shellper, private XDG
dirs (so the shell talks to its own daemon), and teardown that stops that
daemon.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from daemon_helpers import wait_until  # noqa: F401  (the one wait_until; the shell tests import it from here)

from shellper_hook.protocol import decode_request, request_end

PROMPT = "SP$ "
WIDTH, HEIGHT = 150, 40
# The console script of the interpreter running the tests.
BIN = os.path.dirname(sys.executable)


def have(program: str) -> bool:
    return shutil.which(program) is not None


class Timeout(AssertionError):
    pass


class Tmux:
    """One private tmux server; panes are windows of one session."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT):
        self.name = f"shellper-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.width, self.height = width, height
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "tmux-256color"}
        # A session that idles forever keeps the server up between panes.
        self._run(
            "-f", "/dev/null", "new-session", "-d", "-s", "base", "-x", str(width), "-y", str(height), "--", "sleep", "100000", env=env
        )
        self.socket_path = self._run("display-message", "-p", "#{socket_path}").strip()
        self._run("set-option", "-g", "history-limit", "5000")
        self._run("set-option", "-g", "remain-on-exit", "off")

    def _run(self, *args, env=None, check=True) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.name, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def spawn(self, argv: list, env: dict, cwd: str | None = None) -> Pane:
        """Run argv in a new pane with exactly `env` as its environment."""
        command = ["env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv]
        args = ["new-window", "-d", "-P", "-F", "#{pane_id} #{pane_pid}", "-t", "base"]
        if cwd:
            args += ["-c", cwd]
        out = self._run(*args, "--", *command).split()
        pane = Pane(self, out[0], int(out[1]))
        self._run("resize-window", "-t", pane.id, "-x", str(self.width), "-y", str(self.height), check=False)
        return pane

    def close(self) -> None:
        self._run("kill-server", check=False)
        try:  # tmux leaves its socket file behind
            os.unlink(self.socket_path)
        except OSError:
            pass

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Pane:
    def __init__(self, tmux: Tmux, pane_id: str, pid: int):
        self.tmux, self.id, self.pid = tmux, pane_id, pid
        self._mark = 0

    # -- input -----------------------------------------------------------
    def send(self, *keys: str) -> None:
        """Keys in tmux notation: "Enter", "C-g", "Escape", "C-c"..."""
        self.tmux._run("send-keys", "-t", self.id, *keys)

    def type(self, text: str) -> None:
        """Literal text, typed as is (no key names)."""
        self.tmux._run("send-keys", "-t", self.id, "-l", "--", text)

    def run(self, line: str, wait: str | None = None, timeout: float = 10) -> None:
        """Type a line, press Enter, and wait for the next prompt (or `wait`)."""
        self.mark()
        self.type(line)
        self.send("Enter")
        if wait is not None:
            self.wait_for(wait, timeout=timeout)
        else:
            self.wait_prompt(timeout=timeout)

    # -- output ----------------------------------------------------------
    def _cursor(self) -> tuple:
        out = self.tmux._run("display-message", "-p", "-t", self.id, "#{history_size} #{cursor_y} #{cursor_x}")
        hist, y, x = (int(v) for v in out.split())
        return hist, y, x

    def lines(self) -> list:
        """Every line of the pane, scrollback included (no trailing blanks)."""
        out = self.tmux._run("capture-pane", "-p", "-t", self.id, "-S", "-")
        lines = out.split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        return lines

    def screen(self) -> str:
        return "\n".join(self.lines())

    def mark(self) -> None:
        """Later waits only look at lines from the cursor's line onwards."""
        hist, y, _ = self._cursor()
        self._mark = hist + y

    def since_mark(self) -> str:
        return "\n".join(self.lines()[self._mark :])

    def line(self) -> str:
        """The command line being edited: the cursor's line after the prompt."""
        hist, y, _ = self._cursor()
        out = self.tmux._run("capture-pane", "-p", "-t", self.id, "-S", str(y), "-E", str(y))
        text = out.rstrip("\n").rstrip()
        at = text.rfind(PROMPT.rstrip())
        if at < 0:
            return text
        rest = text[at + len(PROMPT.rstrip()) :]
        return rest[1:] if rest.startswith(" ") else rest

    def colored_line(self) -> str:
        """The cursor's line with its colours (SGR escapes, as capture-pane -e shows them)."""
        _, y, _ = self._cursor()
        return self.tmux._run("capture-pane", "-p", "-e", "-t", self.id, "-S", str(y), "-E", str(y)).rstrip("\n")

    def wait_for(self, pattern, timeout: float = 10, since_mark: bool = True) -> re.Match | str:
        """Poll until `pattern` (a string or compiled regex) shows up."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.since_mark() if since_mark else self.screen()
            if isinstance(pattern, re.Pattern):
                found = pattern.search(text)
                if found:
                    return found
            elif pattern in text:
                return pattern
            if time.monotonic() > deadline:
                raise Timeout(f"{pattern!r} did not show up in {timeout} s; pane:\n{self.screen()}")
            time.sleep(0.03)

    def wait_line(self, expected, timeout: float = 10) -> str:
        """Poll until the command line equals `expected` (or a predicate holds)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.line()
            if expected(current) if callable(expected) else current == expected:
                return current
            if time.monotonic() > deadline:
                raise Timeout(f"line is {current!r}, not {expected!r}; pane:\n{self.screen()}")
            time.sleep(0.03)

    def wait_prompt(self, timeout: float = 10) -> None:
        """Poll until an empty prompt is on the cursor's line after the mark."""
        deadline = time.monotonic() + timeout
        while True:
            hist, y, _ = self._cursor()
            if hist + y > self._mark and self.line() == "" and self._on_prompt():
                return
            if time.monotonic() > deadline:
                raise Timeout(f"no new prompt within {timeout} s; pane:\n{self.screen()}")
            time.sleep(0.03)

    def _on_prompt(self) -> bool:
        hist, y, _ = self._cursor()
        out = self.tmux._run("capture-pane", "-p", "-t", self.id, "-S", str(y), "-E", str(y))
        return PROMPT.rstrip() in out

    def title(self) -> str:
        return self.tmux._run("display-message", "-p", "-t", self.id, "#{pane_title}").strip()


class ShellEnv:
    """Private dirs + environment for test shells sharing one daemon."""

    def __init__(self, base_url: str, extra_env: dict | None = None):
        # Short paths: the socket path must stay under 104 bytes.
        self.root = tempfile.mkdtemp(prefix="sps-")
        self.home = os.path.join(self.root, "home")
        self.env = {
            "HOME": self.home,
            "PATH": BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "TERM": "tmux-256color",
            "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": os.path.join(self.root, "run"),
            "XDG_STATE_HOME": os.path.join(self.root, "state"),
            "XDG_CONFIG_HOME": os.path.join(self.root, "config"),
            "XDG_DATA_HOME": os.path.join(self.root, "data"),
            "SHELLPER_BASE_URL": base_url,
            "SHELLPER_TIMEOUT": "20",
            "SHELLPER_IDLE_EXIT": "600",
            # Tests decide when a daemon starts; test_shell_autostart.py turns this on.
            "SHELLPER_AUTOSTART": "0",
        }
        self.env.update(extra_env or {})
        for key in ("HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
            os.makedirs(self.env[key], mode=0o700, exist_ok=True)
        self._homes = 0

    def workdir(self, name: str) -> str:
        path = os.path.join(self.root, "work", name)
        os.makedirs(path, exist_ok=True)
        return path

    def init_file(self, shell: str) -> str:
        """`shellper init SHELL --static` saved once, as install.sh does: the file its rc block sources."""
        path = os.path.join(self.root, f"init.{shell}")
        if not os.path.exists(path):
            out = self.shellper("init", shell, "--static")
            assert out.returncode == 0, out.stderr
            with open(path, "w") as fh:
                fh.write(out.stdout)
        return path

    def zsh(
        self,
        tmux: Tmux,
        before: str = "",
        after: str = "",
        cwd: str | None = None,
        load: str = 'eval "$(shellper init zsh)"',
        env: dict | None = None,
    ) -> Pane:
        """An interactive zsh whose .zshrc loads shellper (`load`) between `before` and `after`.

        env: more environment for this shell (the daemon's dirs stay the same).
        """
        rc = f"PS1='{PROMPT}'\nunset RPROMPT RPS1\n{before}\n{load}\n{after}\n"
        zdot = self._new_home(".zshrc", rc)
        return self._start(tmux, ["zsh", "-i"], dict(self.env, **(env or {}), ZDOTDIR=zdot), cwd)

    def bash(
        self,
        tmux: Tmux,
        before: str = "",
        after: str = "",
        cwd: str | None = None,
        load: str = 'eval "$(shellper init bash)"',
        env: dict | None = None,
    ) -> Pane:
        """An interactive bash whose rc file loads shellper (`load`) between `before` and `after`."""
        rc = f"PS1='{PROMPT}'\nPROMPT_COMMAND=\n{before}\n{load}\n{after}\n"
        dot = self._new_home(".bashrc", rc)
        return self._start(tmux, ["bash", "--rcfile", os.path.join(dot, ".bashrc"), "-i"], dict(self.env, **(env or {})), cwd)

    def fish(
        self,
        tmux: Tmux,
        before: str = "",
        after: str = "",
        cwd: str | None = None,
        load: str = "shellper init fish | source",
        env: dict | None = None,
    ) -> Pane:
        """An interactive fish that loads shellper (`load`) between `before` and `after`."""
        rc = (
            "set -g fish_greeting ''\n"
            f"function fish_prompt; builtin printf '%s' '{PROMPT}'; end\n"
            "function fish_right_prompt; end\n"
            "function fish_title; end\n"
            f"{before}\n{load}\n{after}\n"
        )
        dot = self._new_home("config.fish", rc)
        env = dict(self.env, **(env or {}), SHELLPER_TEST_FISH_RC=os.path.join(dot, "config.fish"))
        # -C runs after fish's own start-up, as a config.fish would (none is in XDG_CONFIG_HOME).
        return self._start(tmux, ["fish", "-i", "-C", "source $SHELLPER_TEST_FISH_RC"], env, cwd)

    def _new_home(self, name: str, text: str) -> str:
        self._homes += 1
        path = os.path.join(self.root, "rc", str(self._homes))
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, name), "w") as fh:
            fh.write(text)
        return path

    def _start(self, tmux: Tmux, argv, env, cwd) -> Pane:
        pane = tmux.spawn(argv, env, cwd=cwd or self.workdir("default"))
        pane.wait_for(re.compile(re.escape(PROMPT.rstrip()) + r"\s*$"), timeout=15)
        return pane

    # -- the daemon --------------------------------------------------------
    def shellper(self, *args: str, timeout: float = 15) -> subprocess.CompletedProcess:
        """Run the shellper CLI against this environment's daemon."""
        env = dict(os.environ, **self.env)
        return subprocess.run([os.path.join(BIN, "shellper"), *args], capture_output=True, text=True, env=env, timeout=timeout)

    def history(self, pid: int, settled: bool = False, timeout: float = 5) -> dict:
        """The daemon's record of shell `pid` (`shellper history --json`).

        settled: wait until no suggestion is pending (the shell reports a
        run line in the background, so the report may still be on its way).
        """
        deadline = time.monotonic() + timeout
        while True:
            proc = self.shellper("history", "--session", str(pid), "--json")
            assert proc.returncode == 0, proc.stderr
            hist = json.loads(proc.stdout)
            if not settled or hist["pending"] is None or time.monotonic() > deadline:
                return hist
            time.sleep(0.05)

    def pipes_dir(self) -> str:
        """Where the daemon keeps bash terminals' pipes (beside its socket)."""
        return json.loads(self.shellper("status", "--json").stdout)["socket"] + ".pipes"

    def daemon_pid(self) -> int | None:
        path = os.path.join(self.env["XDG_STATE_HOME"], "shellper", "daemon.pid")
        try:
            with open(path) as fh:
                return int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        pid = self.daemon_pid()
        self.shellper("stop", timeout=15)
        if pid is not None and _is_daemon(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def _is_daemon(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"shellper_hook.daemon" in fh.read()
    except OSError:
        return False


# -- helpers shared by the shell tests ---------------------------------------------


# A line shellper says, other than its progress note.
MESSAGE = re.compile(r"shellper: (?!translating)\S.*")


def fail_then_cancel(pane: Pane, ollama, name: str) -> None:
    """Two widget paths that keep the request: the model server failing ("NAME flow
    request" stays, with a message), then Ctrl-C while translating ("NAME slow request"
    stays, "cancelled" said). Each ends on an empty line; the server answers at once after."""
    ollama.mode = "500"
    translate(pane, f"{name} flow request")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line(f"{name} flow request")
    pane.send("C-u")
    ollama.mode, ollama.delay = "ok", 5.0
    translate(pane, f"{name} slow request")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_for("shellper: cancelled", timeout=3)
    pane.wait_line(f"{name} slow request", timeout=3)
    pane.send("C-u")
    ollama.delay = 0.0


def translate(pane: Pane, text: str, key: str = "C-g") -> None:
    """Type a request and press the key (C-g, or Enter for "#? ..." lines)."""
    pane.mark()
    pane.type(text)
    pane.send(key)


def last_user_text(fake) -> str:
    """The request text in the last chat request the fake model server got."""
    return [m for m in fake.requests[-1]["messages"] if m["role"] == "user"][-1]["content"]


def one_reply_server(path: str, reply):
    """A stand-in daemon on a Unix socket that answers every request with `reply` (bytes, or a
    function of the request giving them), one request at a time, each read whole (NUL fields
    ending in an empty one, protocol.py)

    Returns (listening socket, list of the requests received).
    """
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(4)
    received: list = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                line = b""
                while request_end(line) is None:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    line += chunk
                received.append(line)
                try:
                    conn.sendall(reply(line) if callable(reply) else reply)
                except OSError:  # zsh does not wait for the answer to a report
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return srv, received


# A folder name that is UTF-8, but whose bytes a GBK or Big5 shell reads as
# "a", 0xE4B8, 0xAD5C, "u002F"...: the backslash is the second byte of a
# character there. An encoder that escapes characters, not bytes, leaves it
# bare, and the daemon reads a\u4e2d/b\u4e2d/c instead.
CJK_DECOY_NAME = "a中\\u002Fb中\\u002Fc"


def gbk_locale(folder: str) -> dict | None:
    """Environment for a shell in the zh_CN.GBK locale: the system's, else one
    made with localedef in `folder` (LOCPATH); None if neither can be had."""

    def works(extra: dict) -> bool:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "zh_CN.GBK", **extra}
        out = subprocess.run(["locale", "charmap"], capture_output=True, text=True, env=env)
        return out.returncode == 0 and out.stdout.strip() == "GBK" and not out.stderr

    if have("locale") and works({}):
        return {"LANG": "zh_CN.GBK"}
    if not (have("locale") and have("localedef")):
        return None
    made = subprocess.run(["localedef", "-i", "zh_CN", "-f", "GBK", os.path.join(folder, "zh_CN.GBK")], capture_output=True, text=True)
    if made.returncode not in (0, 1) or not works({"LOCPATH": folder}):  # 1: made, with warnings
        return None
    return {"LANG": "zh_CN.GBK", "LOCPATH": folder}


def cjk_folders(work: str) -> tuple:
    """The folder CJK_DECOY_NAME in `work`, and the decoy a中/b中/c an attacker made
    beside it. Returns (the real folder, its parent as a note shows it, the decoy's parent)."""
    real = os.path.join(work, CJK_DECOY_NAME)
    os.makedirs(real)
    os.makedirs(os.path.join(work, "a中", "b中", "c"))
    return real, work, os.path.join(work, "a中", "b中")


def expect_parent(pane: Pane, parent: str, decoy_parent: str) -> None:
    """The note of `cd ..` (just asked for in `pane`) names `parent`, and never the decoy's."""
    try:
        pane.wait_for(re.compile(r"^shellper: .*" + re.escape(parent) + r"\s*$", re.M), timeout=5)
    except Timeout:
        raise AssertionError(f"no note says `cd ..` goes to {parent}:\n{pane.since_mark()}") from None
    assert decoy_parent not in pane.since_mark()


def start_daemon(senv: ShellEnv) -> None:
    """Start senv's daemon from its own (UTF-8) environment, if none runs."""
    subprocess.run(
        [sys.executable, "-m", "shellper_hook.client"],
        env={**os.environ, **senv.env},
        cwd="/",
        check=True,
        timeout=30,
        input=b"start\0\0\0\0\0\0",  # the request a starting shell sends: have a daemon listening
        capture_output=True,
    )


# Aliases a user may have loaded before shellper, one for every builtin and
# command the scripts call: each prints HOSTILE instead of doing its job.
HOSTILE_ZSH = [
    "add-zle-hook-widget",
    "add-zsh-hook",
    "autoload",
    "bindkey",
    "builtin",
    "command",
    "emulate",
    "exec",
    "kill",
    "local",
    "print",
    "printf",
    "read",
    "return",
    "setopt",
    "sysread",
    "typeset",
    "zle",
    "zmodload",
    "zsocket",
    "_zsh_highlight",
]
HOSTILE_BASH = [
    "bind",
    "builtin",
    "command",
    "declare",
    "exec",
    "kill",
    "local",
    "printf",
    "read",
    "return",
    "shopt",
    "stty",
    "type",
    "unset",
    "fc",
    "python3",
]
# zsh's global aliases apply to any word: some that the script uses as words.
HOSTILE_ZSH_GLOBAL = ["REPLY", "fd", "ok", "error", "line", "text", "st", "emacs", "viins", "vicmd"]
# fish has no aliases: the user's functions of these names shadow the builtins
# and commands. (Not `source` or `functions`: fish's own start-up breaks without them.)
HOSTILE_FISH = ["printf", "commandline", "bind", "count", "contains", "abbr", "python3", "emit"]


def hostile_aliases(shell: str) -> str:
    """rc text defining the hostile aliases (and zsh global aliases)."""
    lines = [f"alias {name}='echo HOSTILE-{name}'" for name in (HOSTILE_ZSH if shell == "zsh" else HOSTILE_BASH)]
    if shell == "zsh":
        lines += [f"alias -g {name}='HOSTILE-g-{name}'" for name in HOSTILE_ZSH_GLOBAL]
    return "\n".join(lines)


class CheckStandIn:
    """A stand-in daemon for Enter's check: translate answers `command`; check answers
    `check_reply` (NUL fields, bytes) after `check_delay` seconds; every request's op is
    kept in `ops`. Point a shell's __shellper_socket at `path` after shellper loads."""

    def __init__(self, root: str, command: str):
        self.path = os.path.join(root, f"standin-{uuid.uuid4().hex[:6]}.sock")
        self.command, self.check_reply, self.check_delay = command, b"same\0\0\0", 0.0
        self.ops: list = []
        self._srv, _ = one_reply_server(self.path, self._reply)

    def _reply(self, line: bytes) -> bytes:
        if request_end(line) is None:  # a client that hung up before writing
            return b""
        op = decode_request(line)["op"]
        self.ops.append(op)
        if op == "translate":
            return b"ok\0" + self.command.encode() + b"\0\0"
        if op == "check":
            time.sleep(self.check_delay)
            return self.check_reply
        return b'{"v":1,"ok":true}\n'

    def checks(self) -> int:
        return self.ops.count("check")

    def close(self) -> None:
        self._srv.close()


def judged_again_at_enter(shell_env: ShellEnv, ollama, start, to_vi: str, escape_wait: float = 0.0) -> None:
    """Enter on a suggestion whose files changed after it was shown (issue 19, item 14), in a
    shell from start(cwd) (in a folder right under HOME, as ~/Downloads): a copy that would now
    overwrite ~/.ssh/authorized_keys is refused and nothing runs; a copy that would now replace a
    file shows its new lines and runs only at a second Enter (given in vi command mode, after the
    line `to_vi`); an unchanged suggestion runs at the first Enter."""
    home = shell_env.home
    dl = tempfile.mkdtemp(prefix="dl-", dir=home)
    keys = os.path.join(home, ".ssh", "authorized_keys")
    os.makedirs(os.path.dirname(keys), mode=0o700, exist_ok=True)
    if not os.path.exists(keys):
        with open(keys, "w") as fh:
            fh.write("ssh-ed25519 MINE me@here\n")

    def text(*rel) -> str | None:
        try:
            with open(os.path.join(dl, *rel)) as fh:
                return fh.read()
        except OSError:
            return None

    def put(rel: str, content: str) -> None:
        os.makedirs(os.path.dirname(os.path.join(dl, rel)), exist_ok=True)
        with open(os.path.join(dl, rel), "w") as fh:
            fh.write(content)

    def read(path: str) -> str:
        with open(path) as fh:
            return fh.read()

    mine = read(keys)
    put("pkg/README", "package\n")
    put("a.txt", "alpha\n")
    ollama.answer("enter check copy the package up", "cp", {"source": "pkg/.", "destination": ".."})
    ollama.answer("enter check copy a onto b", "cp", {"source": "a.txt", "destination": "b.txt"})
    ollama.answer("enter check make a folder", "mkdir", {"dir_name": "made"})
    pane = start(dl)

    # The package gains .ssh/authorized_keys between Ctrl-G and Enter: refused, nothing runs.
    translate(pane, "enter check copy the package up")
    pane.wait_line("cp -r pkg/. ..", timeout=20)
    put("pkg/.ssh/authorized_keys", "ssh-ed25519 EVIL attacker@evil\n")
    pane.mark()
    pane.send("Enter")
    pane.wait_for(re.compile(r"shellper: refused: .*~/\.ssh"), timeout=5)
    pane.wait_line("cp -r pkg/. ..")
    assert read(keys) == mine and not os.path.exists(os.path.join(home, "README"))
    pane.send("C-u")
    pane.wait_line("")
    pane.run(to_vi)

    # b.txt appears: the first Enter shows what the copy does now and runs nothing; the second runs it.
    translate(pane, "enter check copy a onto b")
    pane.wait_line("cp -r a.txt b.txt", timeout=20)
    put("b.txt", "bravo\n")
    pane.mark()
    pane.send("Enter")
    pane.wait_for("shellper: the files changed since the suggestion", timeout=5)
    pane.wait_for(re.compile(r"shellper: .*b\.txt"))
    pane.wait_line("cp -r a.txt b.txt")
    time.sleep(0.3)
    assert text("b.txt") == "bravo\n"
    pane.send("Escape")
    time.sleep(escape_wait)
    pane.send("Enter")
    wait_until(lambda: text("b.txt") == "alpha\n", timeout=5)
    pane.wait_prompt()

    # Nothing changed: the first Enter runs it.
    translate(pane, "enter check make a folder")
    pane.wait_line("mkdir made", timeout=20)
    pane.send("Enter")
    wait_until(lambda: os.path.isdir(os.path.join(dl, "made")), timeout=5)


def asked_only_for_the_suggestion(shell_env: ShellEnv, start, set_socket: str) -> None:
    """Enter asks the daemon (a stand-in here) about the suggestion as inserted only: typed and
    edited lines run with no check; an error answer (or none) is said, with how to run it anyway,
    and the next Enter runs it without asking again; Ctrl-C while Enter waits runs nothing and
    keeps the line, and the next Enter asks again."""
    standin = CheckStandIn(shell_env.root, "echo suggested-ran")
    try:
        pane = start(set_socket % standin.path)
        pane.run("echo typed-line", wait=re.compile(r"^typed-line$", re.M))
        translate(pane, "say something")
        pane.wait_line("echo suggested-ran", timeout=10)
        pane.type(" edited")
        pane.send("Enter")
        pane.wait_for(re.compile(r"^suggested-ran edited$", re.M))
        pane.run("echo suggested-ran", wait=re.compile(r"^suggested-ran$", re.M))  # typed, not inserted
        assert standin.checks() == 0, standin.ops

        standin.check_reply = b"error\0daemon\0the daemon could not look\0"
        translate(pane, "say something")
        pane.wait_line("echo suggested-ran", timeout=10)
        pane.send("Enter")
        pane.wait_for("shellper: the daemon could not look", timeout=5)
        pane.wait_for("press Enter again to run it anyway")
        pane.wait_line("echo suggested-ran")
        assert not re.search(r"^suggested-ran$", pane.since_mark(), re.M)
        pane.mark()
        pane.send("Enter")
        pane.wait_for(re.compile(r"^suggested-ran$", re.M))
        assert standin.checks() == 1, standin.ops

        standin.check_reply, standin.check_delay = b"same\0\0\0", 1.5
        translate(pane, "say something")
        pane.wait_line("echo suggested-ran", timeout=10)
        pane.send("Enter")
        wait_until(lambda: standin.checks() == 2, timeout=5)
        pane.send("C-c")
        pane.wait_for("shellper: cancelled", timeout=3)
        pane.wait_line("echo suggested-ran")
        time.sleep(1.5)  # the stand-in's answer has come and gone
        assert not re.search(r"^suggested-ran$", pane.since_mark(), re.M)
        standin.check_delay = 0.0
        pane.mark()
        pane.send("Enter")
        pane.wait_for(re.compile(r"^suggested-ran$", re.M))
        assert standin.checks() == 3, standin.ops
    finally:
        standin.close()


def cd_through_the_shells_cdpath(pane: Pane, ollama, work: str, then: tuple = ("",)) -> None:
    """`pane` (in WORK/here) has CDPATH naming WORK/elsewhere, which holds d, in the shell only (the
    daemon's own has none): for each line of `then`, run in WORK/here first, `cd d` is said to go
    to elsewhere/d through CDPATH, and the first Enter runs it (Enter's check used that CDPATH too)."""
    os.makedirs(os.path.join(work, "elsewhere", "d"), exist_ok=True)
    ollama.answer("cdpath go into d", "cd", {"folder": "d"})
    for line in then:
        pane.run(f"cd {os.path.join(work, 'here')}; {line}" if line else f"cd {os.path.join(work, 'here')}")
        translate(pane, "cdpath go into d")
        pane.wait_line("cd d", timeout=20)
        pane.wait_for(re.compile(r"shellper: moves the shell: goes to \S*/elsewhere/d \(found through CDPATH"), timeout=5)
        pane.mark()
        pane.send("Enter")
        pane.wait_prompt(timeout=5)
        pane.run("pwd", wait=re.compile(r"^/\S*/elsewhere/d$", re.M))


def enter_while_checking_runs_nothing(shell_env: ShellEnv, start, set_socket: str) -> None:
    """Keys pressed while Enter waits for its check (a stand-in daemon slow to answer) were
    pressed unseen: after "changed" a second Enter pressed meanwhile does not run the line (the new
    lines are shown; the next Enter runs it); after an error, text typed meanwhile goes on the
    line and its Enter runs nothing."""
    standin = CheckStandIn(shell_env.root, "echo suggested-ran")
    ran = re.compile(r"^suggested-ran", re.M)
    try:
        pane = start(set_socket % standin.path)
        standin.check_reply = b"changed\0\0the files changed since the suggestion\nit now does something else\0"
        standin.check_delay = 1.0
        translate(pane, "say something")
        pane.wait_line("echo suggested-ran", timeout=10)
        pane.send("Enter")
        wait_until(lambda: standin.checks() == 1, timeout=5)
        pane.send("Enter")
        pane.wait_for("shellper: it now does something else", timeout=5)
        time.sleep(0.5)  # an Enter taken in would have run it by now
        pane.wait_line("echo suggested-ran")
        assert not ran.search(pane.since_mark())
        pane.send("Enter")
        pane.wait_for(re.compile(r"^suggested-ran$", re.M))
        pane.wait_prompt()

        standin.check_reply = b"error\0daemon\0the daemon could not look\0"
        translate(pane, "say something")
        pane.wait_line("echo suggested-ran", timeout=10)
        pane.send("Enter")
        wait_until(lambda: standin.checks() == 2, timeout=5)
        pane.type(" typed")
        pane.send("Enter")
        pane.wait_for("shellper: the daemon could not look", timeout=5)
        pane.wait_line("echo suggested-ran typed")
        time.sleep(0.5)
        assert not ran.search(pane.since_mark())
        pane.send("Enter")
        pane.wait_for(re.compile(r"^suggested-ran typed$", re.M))
        assert standin.checks() == 2, standin.ops
    finally:
        standin.close()
