"""Speed and memory figures for shellper, against an instant stand-in model server.

    python3 benchmarks/bench.py [--runs N]

Prints, with the targets beside them:
  - a full `shellper ask` with the daemon warm, against a bare `python -c pass`;
  - the daemon's own time per translate (socket in, backend excluded, socket out),
    and the whole socket round trip seen by a client;
  - a cold start (no daemon yet);
  - the daemon's resident memory with 100 sessions;
  - the widget paths: zsh's (no process, zsocket) and bash's (stdlib client).
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
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from daemon_helpers import stop_daemon  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from shellper_hook import client  # noqa: E402


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
    args = ap.parse_args()
    runs = args.runs

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
            subprocess.run([exe, "ask", "show hidden files"], env=env, cwd=work, stdout=subprocess.DEVNULL, check=True)
            cold.append(time.perf_counter() - t)
        rows.append(("cold start: first `shellper ask` (starts the daemon)", f"{median_ms(cold):.0f} ms", "< 1000 ms + model"))

        # Warm: whole `shellper ask` process vs a bare interpreter.
        bare = time_cmd([sys.executable, "-c", "pass"], runs)
        ask = time_cmd([exe, "ask", "show hidden files"], runs, env=env, cwd=work)
        ratio = statistics.median(ask) / statistics.median(bare)
        rows.append(("bare `python -c pass`", f"{median_ms(bare):.1f} ms", ""))
        rows.append(("warm `shellper ask` (instant server)", f"{median_ms(ask):.1f} ms = {ratio:.2f}x bare", "<= 2.5x bare"))

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
            rows.append(("translate: daemon's own time (backend excluded), p50", f"{own['p50']:.2f} ms (p99 {own['p99']:.2f})", "median < 2 ms"))
            rows.append(("translate: client round trip incl. the stand-in server", f"{median_ms(trips):.2f} ms", ""))

            # Memory with 100 sessions.
            shells = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(100)]
            try:
                for proc in shells:
                    client.request({"op": "translate", "session": proc.pid, "cwd": work, "text": "show hidden files", "commit": True})
                import psutil

                rss = psutil.Process(status["pid"]).memory_info().rss / 2**20
                rows.append(("daemon resident memory, 100 sessions", f"{rss:.0f} MB", "< 100 MB"))
            finally:
                for proc in shells:
                    proc.kill()
                    proc.wait()

            rows.extend(widget_rows(fake_shell.pid, work, env, runs))
        finally:
            fake_shell.kill()
            fake_shell.wait()
    finally:
        stop_daemon()
        fake.stop()
        shutil.rmtree(root, ignore_errors=True)

    width = max(len(r[0]) for r in rows)
    print(f"shellper benchmark ({runs} runs; {sys.version.split()[0]}; {os.uname().sysname} {os.uname().machine})")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:<28} {('target ' + target) if target else ''}")


def widget_rows(session, work, env, runs):
    """The widget paths, minus the model server: zsh over zsocket, bash via the client."""
    rows = []
    init_zsh = subprocess.run(["shellper", "init", "zsh"], capture_output=True, text=True, env=env).stdout
    zsh = shutil.which("zsh")
    if zsh and "__shellper_connect" in init_zsh:
        # The widget's own steps, outside zle: encode the request, zsocket, send,
        # read the NUL reply to EOF, split it. zle's wake-up on the fd is not counted.
        script = init_zsh + f"""
zmodload zsh/datetime
integer i
float t0 t1
typeset -a times f
local chunk reply fd cwd
for i in {{1..{runs}}}; do
  t0=$EPOCHREALTIME
  __shellper_connect || {{ print -u2 no daemon; exit 1 }}
  fd=$REPLY
  __shellper_json "$PWD"; cwd=$REPLY
  __shellper_json 'show hidden files'
  print -rn -u $fd -- "{{\\"v\\":1,\\"op\\":\\"translate\\",\\"session\\":{session},\\"cwd\\":$cwd,\\"text\\":$REPLY,\\"reply\\":\\"nul\\"}}"$'\\n'
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
        out = subprocess.run([zsh, "-f", "-c", script], capture_output=True, text=True, env=env, cwd=work)
        values = [float(x) for x in out.stdout.split()]
        if values and out.returncode == 0:
            rows.append(("zsh widget path (zsocket, incl. stand-in server)", f"{statistics.median(values):.2f} ms", "< 10 ms minus model"))
        else:
            rows.append(("zsh widget path", "FAILED: " + out.stderr.strip()[:60], ""))
    bash_client = [sys.executable, "-m", "shellper_hook.client", "translate", str(session), work, "show hidden files"]
    t = time_cmd(bash_client, runs, env=env, cwd=work)
    rows.append(("bash widget path (client process, incl. stand-in server)", f"{median_ms(t):.1f} ms", "< 60 ms minus model"))
    return rows


if __name__ == "__main__":
    main()
