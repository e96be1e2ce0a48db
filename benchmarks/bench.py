"""Speed and memory figures for shellper, against an instant stand-in model server.

    python3 benchmarks/bench.py [--runs N] [--no-write]

Prints, with the targets beside them, and writes between the markers in docs/benchmarks.md:
  - the baselines, side by side: `python -c pass` on the interpreter this run uses (a
    development install's: its site-packages run .pth files at start), on a fresh venv with
    nothing installed (what a plain install starts from), and the system python3 with and
    without -I -S;
  - a full `shellper ask` with the daemon warm, against the plain install's bare start;
  - the daemon's own time per translate (socket in, backend excluded, socket out),
    and the whole socket round trip seen by a client;
  - a cold start (no daemon yet);
  - the daemon's resident memory with 100 sessions;
  - the widget paths: zsh's (no process, zsocket), bash's on its pipes (no process) and
    the client bash starts for its first request and fish for each;
  - Enter in zsh on a suggestion (the daemon judges it again: the check round trip over
    zsocket) against Enter on a typed line;
  - the same in bash (the check round trip over its pipes, no process);
  - interactive zsh and bash start with and without `eval "$(shellper init ...)"`;
  - through tmux: Ctrl-G to the command on screen in bash and fish vs zsh (and bash's
    first in a new terminal, through its client), and the first Ctrl-G of a new zsh
    with no daemon running (with and without the background start) vs a warm one.
The rows come in three groups: the baselines; what a person feels (the widget paths: Ctrl-G to
the command on screen, Enter on a suggestion, a new shell's start); and what a person does not
feel (the command line `shellper ask`, the daemon's own time, its memory).
Everything runs in private temporary XDG dirs; nothing of the user's is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
BEGIN = "<!-- bench: written by benchmarks/bench.py; do not edit by hand -->"
END = "<!-- /bench -->"
GROUPS = {
    "baseline": "Baselines: an interpreter starting with nothing to do",
    "felt": "What a person feels: the widget paths (add the model's time)",
    "unfelt": "What a person does not feel: the command line and the daemon's insides",
}
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from daemon_helpers import stop_daemon  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from shellper_hook import client, protocol  # noqa: E402


def median_ms(samples):
    return statistics.median(samples) * 1000


def time_cmd(argv, runs, env=None, cwd=None):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - t)
    return out


def shellper_bin():
    found = shutil.which("shellper", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    if not found:
        sys.exit("install shellper first: pip install -e .")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--no-write", action="store_true", help=f"print only; leave {os.path.relpath(DOC, ROOT)} as it is")
    args = ap.parse_args()
    runs = args.runs
    load_before = os.getloadavg()[0]

    root = tempfile.mkdtemp(prefix="spb-")
    for name in ("run", "state", "config", "data", "work"):
        os.makedirs(os.path.join(root, name), mode=0o700)
    os.environ.update(
        XDG_RUNTIME_DIR=os.path.join(root, "run"),
        XDG_STATE_HOME=os.path.join(root, "state"),
        XDG_CONFIG_HOME=os.path.join(root, "config"),
        XDG_DATA_HOME=os.path.join(root, "data"),
    )
    work = os.path.join(root, "work")
    fake = FakeOllama().start()
    fake.answer("hidden", "ls", {"a": True})
    fake.answer("copy a to b", "cp", {"source": "a.txt", "destination": "b.txt"})
    os.environ["SHELLPER_BASE_URL"] = fake.base_url
    env = dict(os.environ)
    exe = shellper_bin()
    rows = []
    try:
        # Cold start: no daemon yet, so the first request starts it.
        cold = []
        for _ in range(5):
            stop_daemon()
            t = time.perf_counter()
            subprocess.run(
                [exe, "ask", "show hidden files"], env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
            )
            cold.append(time.perf_counter() - t)
        rows.append(("unfelt", "cold start: first `shellper ask` (starts the daemon)", f"{median_ms(cold):.0f} ms", "< 1000 ms + model"))

        # Warm: whole `shellper ask` process vs the bare interpreters, side by side.
        rows.extend(ask_rows(exe, env, work, runs, root))

        # Socket round trip seen by a client, and the daemon's own share of it.
        fake_shell = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        try:
            trips = []
            for _ in range(max(runs, 200)):
                t = time.perf_counter()
                reply = client.request({"op": "translate", "session": fake_shell.pid, "cwd": work, "text": "show hidden files"})
                trips.append(time.perf_counter() - t)
                assert reply["ok"], reply
            status = client.request({"op": "status"})
            own = status["overhead_ms"]
            rows.append(
                (
                    "unfelt",
                    "translate: daemon's own time (backend excluded), p50",
                    f"{own['p50']:.2f} ms (p99 {own['p99']:.2f})",
                    "median < 2 ms",
                )
            )
            rows.append(("unfelt", "translate: client round trip incl. the stand-in server", f"{median_ms(trips):.2f} ms", ""))

            # Memory with 100 sessions.
            shells = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(100)]
            try:
                for proc in shells:
                    client.request({"op": "translate", "session": proc.pid, "cwd": work, "text": "show hidden files", "commit": True})
                import psutil

                rss = psutil.Process(status["pid"]).memory_info().rss / 2**20
                rows.append(("unfelt", "daemon resident memory, 100 sessions", f"{rss:.0f} MB", "< 100 MB"))
            finally:
                for proc in shells:
                    proc.kill()
                    proc.wait()

            rows.extend(("felt", *row) for row in widget_rows(fake_shell.pid, work, env, runs))
            rows.extend(("felt", *row) for row in shell_start_rows(env, work, runs))
        finally:
            fake_shell.kill()
            fake_shell.wait()
    finally:
        stop_daemon()
    try:
        try:
            rows.extend(("felt", *row) for row in terminal_rows(fake, max(10, runs // 2)))
        except RuntimeError as e:  # a terminal that never showed the command: say so, keep the other rows
            rows.append(("felt", "terminal rows (tmux)", f"FAILED: {e}", ""))
    finally:
        fake.stop()
        shutil.rmtree(root, ignore_errors=True)

    report = render(rows, runs, load_before, os.getloadavg()[0])
    print(report, end="")
    if not args.no_write:
        write_doc(report)


def render(rows, runs, load_before, load_after):
    """The report: a header saying the machine and its load, then the rows in their groups."""
    width = max(len(r[1]) for r in rows)
    lines = [
        f"shellper benchmark ({runs} runs; Python {sys.version.split()[0]}; {os.uname().sysname} {os.uname().machine}; "
        f"{os.cpu_count()} CPUs; load average {load_before:.2f} at the start, {load_after:.2f} at the end)"
    ]
    for group, title in GROUPS.items():
        lines.append(title)
        for _, name, value, target in (r for r in rows if r[0] == group):
            lines.append(f"  {name:<{width}}  {value:<34} {('target ' + target) if target else ''}".rstrip())
    return "\n".join(lines) + "\n"


def write_doc(report):
    """Put the report between the markers of docs/benchmarks.md (the README carries no figures)."""
    try:
        with open(DOC, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        print(f"bench: not written: {e}", file=sys.stderr)
        return
    if BEGIN not in text or END not in text:
        print(f"bench: not written: {os.path.relpath(DOC, ROOT)} lacks the lines {BEGIN} and {END}", file=sys.stderr)
        return
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(DOC, "w", encoding="utf-8") as fh:
        fh.write(f"{head}{BEGIN}\n```text\n{report}```\n{END}{tail}")
    print(f"bench: written to {os.path.relpath(DOC, ROOT)}", file=sys.stderr)


def system_python():
    """The distribution's own python3 (what a plain install on this machine would use)."""
    for candidate in ("/usr/bin/python3", shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def ask_rows(exe, env, work, runs, root):
    """A warm `shellper ask` against bare interpreters started side by side, run by run.

    The interpreter this benchmark runs on is often a development one (an editable install,
    pyenv): its site-packages run .pth files at every start, which a plain install's venv does
    not. So the baselines are taken on it, on a fresh venv with nothing installed (made here
    from the same Python), and on the system python3 with and without -I -S (the way the shells
    start the client); `shellper ask` is timed as this environment runs it, and as a plain venv
    runs the same code (its interpreter, the checkout first on sys.path, as an installed
    package would be)."""
    venv = os.path.join(root, "plain-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    plain = os.path.join(venv, "bin", "python")
    system = system_python()
    entry = "import sys; sys.path.insert(0, sys.argv.pop(1)); from shellper_hook.cli import main; sys.exit(main())"
    argvs = {
        "own": [sys.executable, "-c", "pass"],
        "plain": [plain, "-c", "pass"],
        "ask": [exe, "ask", "show hidden files"],
        "ask_plain": [plain, "-c", entry, ROOT, "ask", "show hidden files"],
    }
    if system:
        argvs["system"] = [system, "-c", "pass"]
        argvs["system_is"] = [system, "-I", "-S", "-c", "pass"]
    samples = {key: [] for key in argvs}
    for _ in range(runs):  # alternated, so a busy moment falls on every row alike
        for key, argv in argvs.items():
            samples[key] += time_cmd(argv, 1, env=env, cwd=work)
    ms = {key: median_ms(got) for key, got in samples.items()}
    rows = [
        ("baseline", f"`python -c pass`, this run's interpreter ({sys.executable})", f"{ms['own']:.1f} ms", ""),
        ("baseline", "`python -c pass`, a fresh venv with nothing installed (a plain install's start)", f"{ms['plain']:.1f} ms", ""),
    ]
    if system:
        rows.append(("baseline", f"`python3 -c pass`, the system's ({system})", f"{ms['system']:.1f} ms", ""))
        rows.append(
            (
                "baseline",
                "`python3 -I -S -c pass`, the system's (no site-packages: the shells start the client so)",
                f"{ms['system_is']:.1f} ms",
                "",
            )
        )
    rows.append(
        (
            "unfelt",
            "warm `shellper ask`, a plain venv's interpreter (instant server)",
            f"{ms['ask_plain']:.1f} ms = {ms['ask_plain'] / ms['plain']:.2f}x its bare start",
            "<= 2.5x bare",
        )
    )
    rows.append(
        (
            "unfelt",
            "warm `shellper ask`, this run's entry point (instant server)",
            f"{ms['ask']:.1f} ms = {ms['ask'] / ms['plain']:.2f}x the plain start, {ms['ask'] / ms['own']:.2f}x its own",
            "",
        )
    )
    return rows


def widget_rows(session, work, env, runs):
    """The widget paths, minus the model server: zsh over zsocket, bash via the client."""
    rows = []
    init_zsh = subprocess.run(["shellper", "init", "zsh"], capture_output=True, text=True, env=env).stdout
    zsh = shutil.which("zsh")
    if zsh and "__shellper_send" in init_zsh:
        # The widget's own steps, outside zle: build the request, zsocket, send
        # (__shellper_send), read the NUL reply to EOF, split it. zle's wake-up on the fd is not counted.
        script = (
            init_zsh
            + f"""
zmodload zsh/datetime
integer i
float t0 t1
typeset -a times f
local chunk reply fd
for i in {{1..{runs}}}; do
  t0=$EPOCHREALTIME
  __shellper_send translate 'show hidden files'
  fd=$REPLY
  [[ -z $__shellper_cpid ]] || {{ print -u2 no daemon; exit 1 }}
  reply=
  while sysread -i $fd -s 65536 -t 5 chunk; do reply+=$chunk; done
  exec {{fd}}<&-
  f=("${{(@0)reply}}")
  [[ $f[1] == ok ]] || {{ print -u2 "bad reply: $reply"; exit 1 }}
  t1=$EPOCHREALTIME
  times+=( $(( (t1 - t0) * 1000 )) )
done
print -l -- $times
"""
        )
        out = subprocess.run([zsh, "-f", "-c", script], capture_output=True, text=True, env=env, cwd=work)
        values = [float(x) for x in out.stdout.split()]
        if values and out.returncode == 0:
            rows.append(("zsh widget path (zsocket, incl. stand-in server)", f"{statistics.median(values):.2f} ms", "< 10 ms minus model"))
        else:
            rows.append(("zsh widget path", "FAILED: " + out.stderr.strip()[:60], ""))
        rows.append(zsh_enter_row(zsh, init_zsh, work, env, runs))
    bash = shutil.which("bash")
    init_bash = subprocess.run(["shellper", "init", "bash"], capture_output=True, text=True, env=env).stdout
    if bash and "__shellper_send_pipe" in init_bash:
        # bash's steps on its pipes, outside readline: write the request, read the reply's
        # fields. The pipes come from a first request through the client, as in a terminal.
        script = (
            init_bash
            + f"""
( __shellper_send translate 'show hidden files' pipes=1 >/dev/null )
times=()
for (( i = 0; i < {runs}; i++ )); do
  t0=$EPOCHREALTIME
  __shellper_send_pipe translate 'show hidden files' || {{ echo "no pipes" >&2; exit 1; }}
  while __shellper_poll 0.05; (( $? == 1 )); do :; done
  [[ ${{__shellper_reply[0]-}} == ok ]] || {{ echo "bad reply: ${{__shellper_reply[*]-}}" >&2; exit 1; }}
  __shellper_close
  t1=$EPOCHREALTIME
  times+=( $(( (${{t1/./}} - ${{t0/./}}) )) )
done
printf '%s\\n' "${{times[@]}}"
"""
        )
        out = subprocess.run([bash, "--norc", "-c", script], capture_output=True, text=True, env=env, cwd=work)
        values = [int(x) / 1000 for x in out.stdout.split()]
        if values and out.returncode == 0:
            rows.append(("bash widget path on its pipes (incl. stand-in server)", f"{statistics.median(values):.2f} ms", ""))
        else:
            rows.append(("bash widget path on its pipes", "FAILED: " + out.stderr.strip()[:60], ""))
        rows.append(bash_enter_row(bash, init_bash, work, env, runs))
    # The client as bash and fish start it (`shellper init` gives the folder),
    # beside the same interpreter started the same way doing nothing.
    boot = "import sys; sys.path.append(sys.argv.pop(1)); from shellper_hook.client import main; main()"
    bare = time_cmd([sys.executable, "-I", "-S", "-c", "pass"], runs, env=env, cwd=work)
    client_argv = [sys.executable, "-I", "-S", "-c", boot, ROOT]  # the request on stdin, as bash writes it
    t = []
    request = protocol.encode_request({"op": "translate", "session": session, "shell": "bash", "cwd": work, "text": "show hidden files"})
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(client_argv, input=request, env=env, cwd=work, capture_output=True, check=False)
        t.append(time.perf_counter() - started)
        if not done.stdout.startswith(b"ok\0"):  # a failing client is fast: its time is no figure
            rows.append(("bash's first / fish's widget path (client process)", "FAILED: " + repr(done.stdout[:60]), ""))
            return rows
    rows.append(
        (
            "bash's first / fish's widget path (client process, incl. stand-in server)",
            f"{median_ms(t):.1f} ms vs {median_ms(bare):.1f} ms for `python -I -S -c pass`",
            "< 60 ms minus model",
        )
    )
    return rows


def zsh_enter_row(zsh, init_zsh, work, env, runs):
    """Enter in zsh, outside zle: shellper's part of accept-line (__shellper_accept_own) on the
    suggestion as inserted (the check over zsocket: the daemon judges it again on the files)
    against an ordinary line, alternated, median of max(runs, 100) each."""
    with open(os.path.join(work, "a.txt"), "w") as fh:
        fh.write("alpha\n")
    script = (
        init_zsh
        + f"""
zmodload zsh/datetime
integer i
float t0 t1
typeset -a on_suggestion on_typed f
local chunk reply fd BUFFER
# A suggestion for this shell ($$), as Ctrl-G gets it, then put on the line as the widget does.
__shellper_send translate 'copy a to b'
fd=$REPLY
[[ -z $__shellper_cpid ]] || {{ print -u2 no daemon; exit 1 }}
while sysread -i $fd -s 65536 -t 5 chunk; do reply+=$chunk; done
exec {{fd}}<&-
f=("${{(@0)reply}}")
[[ $f[1] == ok ]] || {{ print -u2 "bad reply: $reply"; exit 1 }}
__shellper_pending=$f[2] __shellper_inserted=$f[2]
for i in {{1..{max(runs, 100)}}}; do
  BUFFER=$__shellper_inserted
  t0=$EPOCHREALTIME
  __shellper_accept_own && {{ print -u2 "the check did not say same"; exit 1 }}
  t1=$EPOCHREALTIME
  on_suggestion+=( $(( (t1 - t0) * 1000 )) )
  BUFFER="$__shellper_inserted -v"
  t0=$EPOCHREALTIME
  __shellper_accept_own
  t1=$EPOCHREALTIME
  on_typed+=( $(( (t1 - t0) * 1000 )) )
done
print -r -- $on_suggestion
print -r -- $on_typed
"""
    )
    out = subprocess.run([zsh, "-f", "-c", script], capture_output=True, text=True, env=env, cwd=work)
    lines = out.stdout.splitlines()
    if out.returncode != 0 or len(lines) != 2:
        return ("zsh Enter on a suggestion", "FAILED: " + out.stderr.strip()[:60], "")
    sug, typed = (statistics.median(float(x) for x in line.split()) for line in lines)
    return (
        "zsh Enter on a suggestion (check over zsocket) vs on a typed line",
        f"{sug:.2f} vs {typed:.3f} ms (+{sug - typed:.2f} ms)",
        "at most +10 ms",
    )


def bash_enter_row(bash, init_bash, work, env, runs):
    """Enter in bash, outside readline: shellper's half of the Enter macro (__shellper_enter)
    on the suggestion as inserted (the check over the terminal's pipes: the daemon judges it
    again on the files) against an ordinary line, alternated, median of max(runs, 100) each.
    The pipes come from a first request through the client, as in a terminal."""
    with open(os.path.join(work, "a.txt"), "w") as fh:
        fh.write("alpha\n")
    script = (
        init_bash
        + f"""
f=()
while IFS= read -r -d '' part; do f+=("$part"); done < <(__shellper_send translate 'copy a to b' pipes=1)
[[ ${{f[0]-}} == ok ]] || {{ echo "bad reply: ${{f[*]-}}" >&2; exit 1; }}
__shellper_pending=${{f[1]}}
__shellper_unalias "$__shellper_pending"
line=$REPLY on_suggestion=() on_typed=()
for (( i = 0; i < {max(runs, 100)}; i++ )); do
  READLINE_LINE=$line __shellper_inserted=$line __shellper_at_ps1=1
  t0=$EPOCHREALTIME
  __shellper_enter 2>/dev/null  # (bind: "line editing not enabled" outside an interactive shell)
  t1=$EPOCHREALTIME
  [[ $__shellper_chain == accept && -z $__shellper_inserted ]] || {{ echo "the check did not say same" >&2; exit 1; }}
  on_suggestion+=( $(( ${{t1/./}} - ${{t0/./}} )) )
  READLINE_LINE="$line -v" __shellper_inserted=$line __shellper_at_ps1=1
  t0=$EPOCHREALTIME
  __shellper_enter 2>/dev/null
  t1=$EPOCHREALTIME
  on_typed+=( $(( ${{t1/./}} - ${{t0/./}} )) )
done
echo "${{on_suggestion[*]}}"
echo "${{on_typed[*]}}"
"""
    )
    out = subprocess.run([bash, "--norc", "-c", script], capture_output=True, text=True, env=env, cwd=work)
    lines = out.stdout.splitlines()
    if out.returncode != 0 or len(lines) != 2:
        return ("bash Enter on a suggestion", "FAILED: " + out.stderr.strip()[:60], "")
    sug, typed = (statistics.median(int(x) / 1000 for x in line.split()) for line in lines)
    return (
        "bash Enter on a suggestion (check over its pipes) vs on a typed line",
        f"{sug:.2f} vs {typed:.3f} ms (+{sug - typed:.2f} ms)",
        "at most +10 ms",
    )


def shell_start_rows(env, work, runs):
    """Interactive zsh and bash start-up (to exit) without shellper, with the init file
    install.sh writes (`shellper init SHELL --static`, sourced by the rc block), and with
    `eval "$(shellper init SHELL)"`, alternated run by run; the daemon is running, as it is
    for a user's second terminal."""
    rows = []
    base = tempfile.mkdtemp(prefix="spb-rc-")
    try:
        shells = []
        for shell in ("zsh", "bash"):
            if not shutil.which(shell):
                continue
            static = os.path.join(base, f"init.{shell}")
            with open(static, "w") as fh:
                fh.write(
                    subprocess.run([shellper_bin(), "init", shell, "--static"], env=env, capture_output=True, text=True, check=True).stdout
                )
            argvs = []
            for kind, line in (("bare", ""), ("file", f". '{static}'\n"), ("eval", f'eval "$(shellper init {shell})"\n')):
                rc = os.path.join(base, f"{shell}-{kind}")
                os.makedirs(rc)
                name = ".zshrc" if shell == "zsh" else ".bashrc"
                with open(os.path.join(rc, name), "w") as fh:
                    fh.write("PS1='$ '\n" + line)
                if shell == "zsh":
                    argvs.append(([shell, "-i", "-c", "exit"], dict(env, ZDOTDIR=rc)))
                else:
                    argvs.append(([shell, "--rcfile", os.path.join(rc, name), "-i", "-c", "exit"], env))
            shells.append((shell, argvs))
        for shell, argvs in shells:
            samples = [[], [], []]
            for _ in range(runs):
                for got, (argv, argv_env) in zip(samples, argvs):
                    got += time_cmd(argv, 1, env=argv_env, cwd=work)
            b, f, e = (median_ms(x) for x in samples)
            rows.append(
                (
                    f"interactive {shell} start: the installed init file vs without",
                    f"{f:.1f} vs {b:.1f} ms (+{f - b:.1f} ms, {f / b:.1f}x)",
                    "at most +5 ms",
                )
            )
            rows.append(
                (
                    f'interactive {shell} start: `eval "$(shellper init {shell})"` vs without',
                    f"{e:.1f} vs {b:.1f} ms (+{e - b:.1f} ms, {e / b:.1f}x)",
                    "(the fallback)",
                )
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return rows


def terminal_rows(fake, runs):
    """Through real terminals (tmux): Ctrl-G to the command on screen in zsh and bash,
    and the first Ctrl-G of a new shell when no daemon runs. Screen polling adds a
    few ms (one tmux call per look) to every figure alike."""
    if not (shutil.which("tmux") and shutil.which("zsh") and shutil.which("bash")):
        return [("terminal rows", "skipped: needs tmux, zsh and bash", "")]
    from shellharness import ShellEnv, Tmux

    fake.answer("hidden", "ls", {"a": True})
    rows = []
    # PYTHONPATH goes along, so a run from another copy of the code (PYTHONPATH=that copy)
    # measures that copy in the terminals too.
    extra = {"SHELLPER_AUTOSTART": "1", **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {})}
    env = ShellEnv(fake.base_url, extra)
    try:
        with Tmux() as tmux:
            warm = {}
            for shell in ("zsh", "bash", "fish") if shutil.which("fish") else ("zsh", "bash"):
                pane = getattr(env, shell)(tmux)
                ctrl_g(pane)  # the daemon is up and this path is warm
                warm[shell] = statistics.median(ctrl_g(pane) for _ in range(runs))
                pane.type("exit")
                pane.send("Enter")
            # bash without its pipes (as before 5.0): a client process for every Ctrl-G.
            pane = env.bash(tmux, after="__shellper_pipes=0")
            ctrl_g(pane)
            nopipes = statistics.median(ctrl_g(pane) for _ in range(runs))
            pane.type("exit")
            pane.send("Enter")
            for shell in [s for s in ("bash", "fish") if s in warm]:
                rows.append(
                    (
                        f"{shell}: Ctrl-G to the command on screen vs zsh's (tmux)",
                        f"{warm[shell]:.0f} vs {warm['zsh']:.0f} ms ({warm[shell] / warm['zsh']:.2f}x)",
                        "at most 1.5x zsh",
                    )
                )
            rows.append(
                (
                    "bash without its pipes (a client each Ctrl-G) vs zsh's (tmux)",
                    f"{nopipes:.0f} vs {warm['zsh']:.0f} ms ({nopipes / warm['zsh']:.2f}x)",
                    "the pipes stay only if over 1.5x zsh",
                )
            )
            # bash's first request in a terminal goes through the client (it asks for the pipes).
            firsts = []
            for _ in range(max(3, runs // 3)):
                pane = env.bash(tmux)
                time.sleep(0.3)
                firsts.append(ctrl_g(pane))
                pane.type("exit")
                pane.send("Enter")
            ms = statistics.median(firsts)
            rows.append(
                (
                    "bash: a terminal's first Ctrl-G (its client) vs zsh's (tmux)",
                    f"{ms:.0f} vs {warm['zsh']:.0f} ms ({ms / warm['zsh']:.2f}x)",
                    "",
                )
            )
            # The first Ctrl-G of a new zsh when no daemon runs.
            firsts = {"no autostart": [], "at once": [], "1 s after the prompt": []}
            for _ in range(3):
                for case, got in firsts.items():
                    env.shellper("stop")
                    _wait_gone(env)
                    env.env["SHELLPER_AUTOSTART"] = "0" if case == "no autostart" else "1"
                    pane = env.zsh(tmux)
                    if case == "1 s after the prompt":
                        time.sleep(1.0)  # a person starts typing
                    got.append(ctrl_g(pane, timeout=30))
                    pane.type("exit")
                    pane.send("Enter")
            env.env["SHELLPER_AUTOSTART"] = "1"
            for case, got in firsts.items():
                ms = statistics.median(got)
                rows.append(
                    (
                        f"zsh: first Ctrl-G, no daemon running ({case}) vs warm",
                        f"{ms:.0f} vs {warm['zsh']:.0f} ms ({ms / warm['zsh']:.1f}x)",
                        "at most 4x warm" if case != "no autostart" else "",
                    )
                )
    finally:
        env.close()
    return rows


def ctrl_g(pane, timeout=10.0):
    """Milliseconds from Ctrl-G to `ls -a` on the command line; the line is cleared after."""
    pane.type("show hidden files")
    _poll(lambda: pane.line().endswith("show hidden files"), timeout)
    t = time.perf_counter()
    pane.send("C-g")
    _poll(lambda: pane.line().startswith("ls -a"), timeout)
    took = (time.perf_counter() - t) * 1000
    pane.send("C-e", "C-u")
    _poll(lambda: pane.line() == "", timeout)
    return took


def _poll(pred, timeout):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError("the terminal did not show what was expected")


def _wait_gone(env):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = env.daemon_pid()
        try:
            if pid is None:
                return
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.02)


if __name__ == "__main__":
    main()
