"""`shellper doctor`: check everything shellper needs, one line per check.

Each line is `OK    what`, `WARN  what: problem` or `FAIL  what: problem`,
and every WARN or FAIL is followed by `      fix: what to do`. The exit
status is 0 when nothing FAILed. Lines are printed as the checks run,
because the daemon and model checks can take a few seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import time

from . import __version__, paths
from .render import sh_quoted
from .show import safe

ROUND_TRIP_REQUEST = "print the current directory"
STATUS_TIMEOUT = 30.0  # the daemon's status call probes the model server
OLLAMA_DOWNLOAD = "https://ollama.com/download"
# A line of an rc file that loads shellper (not commented out).
_INIT_LINE = re.compile(r"^[^#]*\bshellper\S*\s+init\s+(zsh|bash|fish)\b", re.M)
SHELLS = ("zsh", "bash", "fish")


class Report:
    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.failures = 0
        self.warnings = 0
        # Facts later fix lines depend on: why the daemon needs a restart
        # (None: it does not), and whether the model server checks failed.
        self.restart_daemon: str | None = None
        self.server_failed = False
        # What each interactive shell said of shellper and its key (asked once: it runs the rc file).
        self.shell_answers: dict = {}

    def _line(self, status: str, what: str, problem: str | None = None, fix: str | None = None) -> None:
        # The checks quote server replies, settings and file names: show no control character raw.
        text = f"{status:<6}{safe(what)}" + (f": {safe(problem)}" if problem else "")
        if fix:
            text += f"\n      fix: {safe(fix)}"
        self.out.write(text + "\n")
        self.out.flush()

    def ok(self, what: str) -> None:
        self._line("OK", what)

    def warn(self, what: str, problem: str, fix: str) -> None:
        self.warnings += 1
        self._line("WARN", what, problem, fix)

    def fail(self, what: str, problem: str, fix: str) -> None:
        self.failures += 1
        self._line("FAIL", what, problem, fix)


# ---- checks ----------------------------------------------------------------


def check_python(r: Report) -> None:
    version = ".".join(str(n) for n in sys.version_info[:3])
    if sys.version_info < (3, 10):  # noqa: UP036 - doctor must say so, not crash, under an old Python
        r.fail(f"Python {version}", "shellper needs Python 3.10 or newer", "reinstall shellper with a newer Python")
    else:
        r.ok(f"Python {version} ({sys.executable})")


def check_settings(r: Report):
    from .errors import SettingsError
    from .settings import load

    path = paths.config_file()
    try:
        settings = load()
    except SettingsError as exc:
        r.fail("settings", str(exc), f"correct the value in {path} or in the variable named; `shellper config` shows every setting")
        return None
    where = f"read from {path}" if os.path.exists(path) else f"defaults ({path} does not exist)"
    r.ok(f"settings: {where}; model '{settings.model}' at {settings.base_url}")
    from .settings import unknown_env

    for line in unknown_env():
        r.warn("environment", line, "rename or unset it; `shellper config` lists the variables")
    return settings


OUR_PACKAGE = os.path.dirname(os.path.realpath(__file__))


def _package_of(program: str) -> tuple:
    """(the shellper_hook folder that `program` runs, None) or (None, why it is not known).

    Asks the program what its shell set-up loads (`init bash` names its Python),
    then asks that Python where it imports shellper from."""
    import shlex

    try:
        done = subprocess.run([program, "init", "bash"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"it does not run ({exc})"
    m = re.search(r"^__shellper_python=(.+)$", done.stdout, re.M)
    if done.returncode != 0 or not m:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"`shellper init bash` fails with it (exit {done.returncode}: {last[:120]})"
    try:
        python = shlex.split(m.group(1))[0]
    except (ValueError, IndexError):
        return None, "its `init bash` names no Python"
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        return OUR_PACKAGE, None
    try:
        where = subprocess.run(
            [python, "-c", "import os, shellper_hook; print(os.path.dirname(os.path.realpath(shellper_hook.__file__)))"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, f"its Python {python} does not run"
    if where.returncode != 0 or not where.stdout.strip():
        return None, f"its Python {python} cannot import shellper"
    return where.stdout.strip(), None


def _all_on_path(name: str) -> list:
    found, seen = [], set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isabs(folder):
            continue  # the current folder's files: never run those
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK) and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            found.append(path)
    return found


def check_command(r: Report) -> None:
    """Typing `shellper` must run this installation, not another one earlier on PATH."""
    found = shutil.which("shellper")
    if found:
        package, why = _package_of(found)
        if package == OUR_PACKAGE:
            r.ok(f"`shellper` on PATH: {found}")
            return
        problem = f"{found} is not this installation: " + (why or f"it runs shellper from {package}, this is {OUR_PACKAGE}")
        ours = next((p for p in _all_on_path("shellper")[1:] if _package_of(p)[0] == OUR_PACKAGE), None)
        if ours:
            problem += f"; it shadows {ours}"
            fix = (
                f"remove or rename {found}, or put {os.path.dirname(ours)} before "
                f"{os.path.dirname(found)} in PATH; then run `hash -r` (bash) or `rehash` (zsh)"
            )
        else:
            here = os.path.dirname(sys.executable)
            folder = here if os.path.exists(os.path.join(here, "shellper")) else os.path.expanduser("~/.local/bin")
            fix = f"remove or rename {found}, or put {folder} (this installation's `shellper`) before it in PATH"
        r.warn("`shellper` command", problem, fix)
    else:
        r.warn(
            "`shellper` command",
            "not on PATH (the shell integration still works; typing `shellper` does not)",
            'add ~/.local/bin to PATH: export PATH="$HOME/.local/bin:$PATH"',
        )


def check_socket_dir(r: Report) -> bool:
    directory = os.path.dirname(paths.socket_path())
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        r.ok(f"socket dir {directory} (created, private, when the daemon starts)")
        return True
    except OSError as exc:
        r.fail(f"socket dir {directory}", exc.strerror or str(exc), "set XDG_RUNTIME_DIR to a directory of yours")
        return False
    if not stat.S_ISDIR(st.st_mode):
        r.fail(f"socket dir {directory}", "is not a directory (a symlink or a file)", f"remove {directory}")
        return False
    if st.st_uid != os.getuid():
        r.fail(f"socket dir {directory}", f"belongs to uid {st.st_uid}, not you", f"remove {directory} or set XDG_RUNTIME_DIR")
        return False
    if st.st_mode & 0o077:
        r.fail(f"socket dir {directory}", f"others can enter it (mode {stat.S_IMODE(st.st_mode):o})", f"chmod 700 {directory}")
        return False
    r.ok(f"socket dir {directory} is private")
    return True


def _request(req: dict, autostart: bool = True, timeout: float | None = None) -> dict:
    from .client import safe_request

    return safe_request(req, autostart, timeout)


def daemon_start_problem():
    """(problem, fix) for the usual reasons a daemon cannot start, or None.

    Checked only after a start failed, so the user reads the cause and the
    fix instead of "see the log"."""
    from .errors import SettingsError
    from .settings import load

    try:
        load()
    except SettingsError as exc:
        return str(exc), "correct that setting, then retry; `shellper config` shows every setting"
    for directory, var in ((paths.state_dir(), "XDG_STATE_HOME"), (os.path.dirname(paths.socket_path()), "XDG_RUNTIME_DIR")):
        try:
            paths.ensure_private_dir(directory)
        except OSError as exc:
            return f"cannot create {directory} ({exc.strerror or exc})", f"set {var} to a directory of yours"
    return None


def check_daemon(r: Report, settings) -> bool:
    reply = _request({"op": "status"}, autostart=True, timeout=STATUS_TIMEOUT)
    if not reply.get("ok"):
        known = daemon_start_problem()
        if known:
            r.fail("daemon", f"cannot start: {known[0]}", known[1])
        else:
            r.fail(
                "daemon",
                reply.get("error", "no answer"),
                f"see {paths.log_file()}, or run `shellper daemon` to watch it start",
            )
        return False
    what = f"daemon: pid {reply.get('pid')}, version {reply.get('version')}, socket {reply.get('socket')}"
    restart = "run `shellper stop`; the next request starts it again"
    if reply.get("version") != __version__:
        r.restart_daemon = f"it runs version {reply.get('version')}, this is {__version__}"
        r.warn(what, r.restart_daemon, restart)
    elif settings is not None and (reply.get("base_url"), reply.get("model")) != (settings.base_url, settings.model):
        # A daemon reads the settings once, when it starts.
        r.restart_daemon = f"it still uses model '{reply.get('model')}' at {reply.get('base_url')} (older settings)"
        r.warn(what, r.restart_daemon, restart)
    else:
        r.ok(what)
    return True


def server_status(settings) -> dict:
    import asyncio

    from .backend import Backend

    async def probe():
        backend = Backend(settings)
        try:
            return await backend.server_status()
        finally:
            await backend.aclose()

    return asyncio.run(probe())


def check_server(r: Report, settings) -> None:
    from .backend import ollama_root

    url, model = settings.base_url, settings.model
    try:
        status = server_status(settings)
    except Exception as exc:  # the probe must never break the report
        status = {"reachable": False, "message": f"checking failed: {exc}"}
    if not status.get("reachable"):
        if ollama_root(url):
            fix = (
                f"start Ollama (`ollama serve`, or open the Ollama app); not installed? {OLLAMA_DOWNLOAD}; "
                f"another address? set base_url in {paths.config_file()}"
            )
        else:
            fix = f"start the model server, or set base_url in {paths.config_file()}"
        r.server_failed = True
        r.fail(f"model server at {url}", status.get("message") or "not reachable", fix)
        return
    ollama = bool(status.get("ollama"))
    r.ok(f"model server at {url} answers ({'Ollama' if ollama else 'OpenAI-compatible'})")
    present = status.get("model_present")
    if present is False:
        fix = "run `shellper setup-model`" if ollama else f"set model in {paths.config_file()} to a model the server lists"
        r.server_failed = True
        r.fail(f"model '{model}'", "not on the server", fix)
        return
    if present is None:
        r.warn(
            f"model '{model}'",
            status.get("message") or "could not tell whether the server has it",
            "run `shellper status` again in a moment",
        )
        return
    r.ok(f"model '{model}' is on the server")
    if not ollama:
        return
    tools = status.get("tools")
    if tools is False:
        r.server_failed = True
        r.fail(
            f"model '{model}' tool calling",
            "its chat template has no tool support",
            "recreate it from the shipped Modelfile: `shellper setup-model`",
        )
    elif tools is None:
        r.warn(
            f"model '{model}' tool calling",
            "this Ollama does not report capabilities (older than 0.6.4)",
            f"update Ollama ({OLLAMA_DOWNLOAD})",
        )
    else:
        r.ok(f"model '{model}' supports tool calls")
    if status.get("model_loaded"):
        r.ok(f"model '{model}' is loaded")
    else:
        r.warn(
            f"model '{model}'",
            "not loaded yet: the first request waits while Ollama loads it",
            f"nothing to do: the daemon preloads it when it starts (keep_alive {settings.keep_alive})",
        )


def fish_dir() -> str:
    """fish's configuration folder (where install.sh writes conf.d/shellper.fish)."""
    return os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "fish")


def rc_file(shell: str) -> str:
    home = os.path.expanduser("~")
    if shell == "zsh":
        return os.path.join(os.environ.get("ZDOTDIR") or home, ".zshrc")
    if shell == "fish":
        return os.path.join(fish_dir(), "conf.d", "shellper.fish")
    return os.path.join(home, ".bashrc")


def _rc_files(shell: str) -> list:
    """The files a new interactive `shell` reads that could load shellper, in the order it reads them."""
    if shell != "fish":
        return [rc_file(shell)]
    conf_d = os.path.join(fish_dir(), "conf.d")
    try:
        names = sorted(n for n in os.listdir(conf_d) if n.endswith(".fish"))
    except OSError:
        names = []
    return [os.path.join(conf_d, n) for n in names] + [os.path.join(fish_dir(), "config.fish")]


def _loads_shellper(path: str, shell: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return False
    return any(m.group(1) == shell for m in _INIT_LINE.finditer(text))


def shells_to_check() -> list:
    """The login shell ($SHELL) when shellper works in it, and every other installed shell
    whose rc file or conf.d loads shellper: a terminal may run any of them."""
    login = os.path.basename(os.environ.get("SHELL", "") or "")
    shells = [login] if login in SHELLS else []
    for shell in SHELLS:
        if shell != login and shutil.which(shell) and any(_loads_shellper(p, shell) for p in _rc_files(shell)):
            shells.append(shell)
    return shells


def check_login_shell(r: Report) -> None:
    login = os.path.basename(os.environ.get("SHELL", "") or "")
    if login not in SHELLS:
        r.warn(
            "shell",
            f"your shell is {login or 'unknown ($SHELL is not set)'}; shellper works in zsh, bash and fish",
            "run zsh, bash or fish (chsh -s $(command -v zsh)), then add the init line with ./install.sh",
        )


def check_rc(r: Report, login: str) -> None:
    found = next((p for p in _rc_files(login) if _loads_shellper(p, login)), None)
    shell = shutil.which(login)
    if found:
        r.ok(f"{found} loads shellper")
    elif shell and _shell_answer(r, shell).get("loaded", "0") not in ("0", ""):
        # No init line, yet a new shell has it: a plugin manager, or a file the rc file sources.
        r.ok(f"a new {login} loads shellper (not from an init line in {rc_file(login)}: a plugin manager?)")
    elif login == "fish":
        config = os.path.join(fish_dir(), "config.fish")
        r.warn(
            fish_dir(),
            "no file in conf.d/ nor config.fish loads shellper, so Ctrl-G does nothing in new fish terminals",
            f"add this line to {config}: shellper init fish | source   (./install.sh writes {rc_file('fish')} instead)",
        )
    else:
        path = rc_file(login)
        r.warn(
            f"{path}",
            f"does not load shellper, so Ctrl-G does nothing in new {login} terminals",
            f'add this line to {path}: eval "$(shellper init {login})"   (./install.sh does it)',
        )


# What the shellper key is bound to in the user's interactive shell: its rc
# file runs (a few hundred ms, no daemon start). Prints "key", whether
# shellper is loaded, and the key's binding; $1: the key to look up.
_KEY_QUERY = {
    "zsh": (
        'k=${1-${SHELLPER_KEY-^G}}; print -r -- "@@key $k"; print -r -- "@@loaded ${+functions[shellper-translate]}"; '
        'b=$(bindkey -- "$k"); print -r -- "@@bound ${b#* }"'
    ),
    "bash": (
        "k=${1-${SHELLPER_KEY-'\\C-g'}}; printf '@@key %s\\n' \"$k\"; "
        "printf '@@loaded %s\\n' \"$(type -t __shellper_translate)\"; "
        'for b in "$(bind -X)" "$(bind -s)" "$(bind -p)"; do while IFS= read -r l; do '
        '[[ $l == "\\"$k\\": "* ]] && { printf \'@@bound %s\\n\' "${l#*: }"; exit 0; }; '
        "done <<< \"$b\"; done; echo '@@bound'"
    ),
    # fish binds keys for the prompt only at its first prompt (fish's own bindings,
    # then fish_user_key_bindings), which `-c` never shows: do those two steps here.
    # Asked with a key ($argv[1], escaped), only the user's bindings count (fish's
    # presets are its own); without, the one in force: the user's, else the preset.
    "fish": (
        'set -l k \\cg; set -q SHELLPER_KEY; and set k "$SHELLPER_KEY"; '
        "set -q argv[1]; and set k (string unescape -- $argv[1]); "
        'test -n "$k"; and echo "@@key "(string escape -- $k); or echo \'@@key\'; '
        "functions -q __shellper_translate; and echo '@@loaded 1'; or echo '@@loaded 0'; "
        "set -q fish_key_bindings[1]; or set -g fish_key_bindings fish_default_key_bindings; "
        "set -g fish_bind_mode default; "
        "functions -q $fish_key_bindings; and $fish_key_bindings 2>/dev/null; "
        "functions -q fish_user_key_bindings; and fish_user_key_bindings 2>/dev/null; "
        "set -l b (bind --user -M $fish_bind_mode -- $k 2>/dev/null); "
        "set -q b[1]; or set -q argv[1]; or set b (bind --preset -M $fish_bind_mode -- $k 2>/dev/null); "
        "set -q b[1]; or set b ''; "
        "echo \"@@bound \"(string replace -r -- '^bind (--preset )?(-M \\S+ )?(-m \\S+ )?\\S+ ' '' $b[-1])"
    ),
}
# Bindings a shell has on the key by itself (not the user's or a plugin's).
_KEY_DEFAULTS = {"send-break", "list-expand", "undefined-key", "abort", '"__shellper_translate"', "shellper-translate", ""}


def _key_binding(shell: str, key: str | None, no_key: bool) -> dict:
    """Ask an interactive `shell` (the user's rc file loaded) about the key."""
    env = dict(os.environ, SHELLPER_AUTOSTART="0")
    if no_key:
        env["SHELLPER_KEY"] = ""
    name = os.path.basename(shell)
    argv = [shell, "-i", "-c", _KEY_QUERY[name]] + ([] if name == "fish" else ["shellper-doctor"])  # $0
    argv += [key] if key is not None else []
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out = {}
    for line in done.stdout.splitlines():
        if line.startswith("@@"):
            name, _, value = line[2:].partition(" ")
            out[name] = value.strip()
    return out


def _shell_answer(r: Report, shell: str) -> dict:
    """_key_binding for the key in force, asked once per report and shell."""
    if shell not in r.shell_answers:
        r.shell_answers[shell] = _key_binding(shell, None, no_key=False)
    return r.shell_answers[shell]


def check_keys(r: Report, login: str) -> None:
    shell = shutil.which(login)
    if not shell:
        return
    after = _shell_answer(r, shell)
    if after.get("loaded", "0") in ("0", "") or not after.get("key"):
        return  # shellper not loaded (said above), or SHELLPER_KEY='' (the user binds it)
    key, bound = after["key"], after.get("bound", "")
    if login == "fish":  # conf.d files load before config.fish: a universal variable is set by then
        rebind = f"choose a free key: run `set -U SHELLPER_KEY \\eg` once (read before {rc_file(login)} loads shellper)"
    elif login == "zsh":
        rebind = f"choose a free key: SHELLPER_KEY='^X^G' before the init line in {rc_file(login)}"
    else:
        rebind = f"choose a free key: SHELLPER_KEY='\\C-x\\C-g' before the init line in {rc_file(login)}"
    if "shellper" not in bound:
        later = (
            ("remove the other binding of " + key + " (config.fish and fish_user_key_bindings run after shellper loads)")
            if login == "fish"
            else f"load shellper after what binds {key}"
        )
        r.warn(
            f"{login} key {key}",
            f"is bound to {bound or 'nothing'} after shellper loaded, so it does not translate",
            f"{rebind}, or {later}",
        )
        return
    before = _key_binding(shell, key, no_key=True).get("bound", "")
    if before not in _KEY_DEFAULTS:
        r.warn(f"{login} key {key}", f"shellper replaced your binding of {key} ({before})", f"to keep yours, {rebind}")
        return
    r.ok(f"{login} key {key} is shellper's (nothing else was bound to it)")


def check_pythonpath(r: Report) -> None:
    """An empty or relative PYTHONPATH entry puts the current folder on every
    Python program's path: `shellper init` (run as a shell starts) and any
    other would import a json.py lying in the folder a terminal opens in."""
    value = os.environ.get("PYTHONPATH", "")
    if not value:
        return  # unset, or empty: Python ignores it
    entries = value.split(os.pathsep)
    loose = [e for e in entries if not os.path.isabs(e)]
    if not loose:
        return
    kept = os.pathsep.join(e for e in entries if os.path.isabs(e))
    shown = ", ".join(repr(e) for e in loose)
    r.warn(
        "PYTHONPATH",
        f"has {'an entry' if len(loose) == 1 else 'entries'} ({shown}) relative to the current "
        "folder, so Python programs (`shellper init` as a shell starts, too) import files from the folder they run in",
        f"export PYTHONPATH={sh_quoted(kept)} in your rc file (`export PYTHONPATH=$PYTHONPATH:/x` leaves an empty "
        "entry when PYTHONPATH was unset)"
        if kept
        else "unset PYTHONPATH in your rc file",
    )


def check_zsh_socket(r: Report) -> None:
    zsh = shutil.which("zsh")
    if not zsh:
        return
    try:
        done = subprocess.run([zsh, "-fc", "zmodload zsh/net/socket"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        has = done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        has = False
    if has:
        r.ok("zsh has the zsh/net/socket module (Ctrl-G talks to the daemon directly)")
    else:
        r.warn(
            "zsh",
            "has no zsh/net/socket module, so each Ctrl-G starts a helper process (slower)",
            "install a zsh build that includes its modules (your system's zsh package)",
        )


def check_round_trip(r: Report, settings) -> None:
    what = "translate round trip"
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "/"
    session = os.getpid()
    timeout = (settings.timeout if settings else 60.0) + 10
    start = time.monotonic()
    reply = _request(
        {"op": "translate", "session": session, "cwd": cwd, "text": ROUND_TRIP_REQUEST, "commit": False},
        autostart=True,
        timeout=timeout,
    )
    took = time.monotonic() - start
    # Leave no conversation behind for this short-lived "terminal".
    _request({"op": "reset", "session": session}, autostart=False, timeout=5)
    if reply.get("ok"):
        r.ok(f"{what}: {ROUND_TRIP_REQUEST!r} -> {reply.get('command')} ({took:.1f} s)")
        return
    kind = reply.get("kind")
    if r.restart_daemon:  # the daemon did not use the settings checked above
        fix = (
            f"restart the daemon: run `shellper stop` ({r.restart_daemon}; the next request starts it "
            "with the current settings), then run `shellper doctor` again"
        )
    elif kind == "backend" and r.server_failed:
        fix = "fix the model server checks above first"
    elif kind == "backend":
        fix = f"the model server passed the checks above but failed this request: try again; if it persists, see {paths.log_file()}"
    elif kind == "answer":
        fix = "the model answered something unusable: recreate it with `shellper setup-model`"
    else:
        fix = f"see {paths.log_file()}"
    r.fail(what, reply.get("error", "no answer"), fix)


def run(out=None) -> int:
    r = Report(out)
    check_python(r)
    settings = check_settings(r)
    check_command(r)
    daemon_ok = check_socket_dir(r) and check_daemon(r, settings)
    if settings is not None:
        check_server(r, settings)
    check_login_shell(r)
    shells = shells_to_check()
    for shell in shells:
        check_rc(r, shell)
        check_keys(r, shell)
    check_pythonpath(r)
    if "zsh" in shells:
        check_zsh_socket(r)
    if daemon_ok:
        check_round_trip(r, settings)
    else:
        r.warn("translate round trip", "not tried: the daemon is not reachable", "fix the daemon first (above)")
    if r.failures:
        r.out.write(f"\n{r.failures} check(s) failed: follow the fix lines above, then run `shellper doctor` again.\n")
    else:
        r.out.write("\nAll checks passed." + (" (see the warnings above)" if r.warnings else "") + "\n")
    return 1 if r.failures else 0
