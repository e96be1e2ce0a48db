"""Load and crash figures for the shellper daemon, against a stand-in model server.

    python3 benchmarks/load.py [--terminals 50] [--requests 20] [--max-delay-ms 50] [--kills 5]

Prints:
  - many terminals at once (default 50, each a live process whose PID is the
    session), each sending its requests one after another (translate, then
    `executed` with the suggested line, as a shell does), the stand-in server
    answering each after a random 0..max-delay ms: throughput, end-to-end
    latency p50/p99, and the latency the daemon adds (its own time per
    translate from the `status` operation, and end-to-end minus the server's
    own delay for that very request);
  - kill -9 recovery: time from SIGKILL of a warm daemon to the first
    successful reply of the daemon the next request starts by itself;
  - committed exchanges lost when the daemon is killed mid-traffic (must be 0).
Everything runs in private temporary XDG dirs; nothing of the user's is touched.
The clients and the stand-in server run in this one process, so end-to-end
figures include their share of the machine too.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

import fake_ollama  # noqa: E402
import psutil  # noqa: E402
from daemon_helpers import alive, daemon_pid, wait_until  # noqa: E402

from shellper_hook import client  # noqa: E402


class TimedFake(fake_ollama.FakeOllama):
    """The stand-in server, remembering how long it made each request wait."""

    def __init__(self, max_delay: float):
        super().__init__()
        self.max_delay = max_delay
        self.waited: dict = {}  # request text -> seconds the server slept
        self._here = threading.local()
        self.delay = self._pick

    def _pick(self) -> float:
        self._here.delay = random.uniform(0, self.max_delay)
        return self._here.delay

    def completion(self, body):
        # Runs in the handler thread that just slept, right after the delay.
        text = fake_ollama._last_user_text(body.get("messages"))
        self.waited[text] = getattr(self._here, "delay", 0.0)
        return super().completion(body)


def pct(values, q):
    """Nearest-rank percentile."""
    data = sorted(values)
    if not data:
        return float("nan")
    return data[min(len(data) - 1, max(0, int(round(q * len(data) + 0.5)) - 1))]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def stop_daemon():
    pid = daemon_pid()
    try:
        client.request({"op": "stop"}, autostart=False, timeout=5)
    except Exception:
        pass
    if pid and not wait_until(lambda: not alive(pid), 5):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        wait_until(lambda: not alive(pid), 5)


def sleepers(n):
    return [subprocess.Popen(["sleep", "900"]) for _ in range(n)]


def translate(session, text, cwd):
    return client.request({"op": "translate", "session": session, "cwd": cwd, "text": text})


def executed(session, command):
    return client.request({"op": "executed", "session": session, "command": command, "status": 0})


# ---------------------------------------------------------------- load


def load(fake, n_terms, per_term, work):
    token = lambda t, r: f"t{t}_r{r}.txt"  # noqa: E731
    text = lambda t, r: f"show file {token(t, r)} please"  # noqa: E731
    for t in range(n_terms):
        for r in range(per_term):
            fake.answer(f" {token(t, r)} ", "cat", {"file_name": token(t, r)})
    procs = sleepers(n_terms)
    shells = [p.pid for p in procs]
    try:
        client.request({"op": "ping"})  # a running daemon: cold start is measured separately

        def terminal(t):
            out = []
            for r in range(per_term):
                t0 = time.perf_counter()
                reply = translate(shells[t], text(t, r), work)
                t1 = time.perf_counter()
                settled = executed(shells[t], reply.get("command", "")) if reply.get("ok") else {}
                t2 = time.perf_counter()
                right = reply.get("ok") and reply.get("command") == f"cat {token(t, r)}"
                out.append((text(t, r), t1 - t0, t2 - t1, bool(right), settled.get("recorded")))
            return out

        daemon = psutil.Process(client.request({"op": "ping"})["pid"])
        asked_before = len(fake.requests)
        cpu0, me0 = daemon.cpu_times(), psutil.Process().cpu_times()
        started = time.perf_counter()
        with ThreadPoolExecutor(n_terms) as pool:
            results = [x for chunk in pool.map(terminal, range(n_terms)) for x in chunk]
        wall = time.perf_counter() - started
        cpu1, me1 = daemon.cpu_times(), psutil.Process().cpu_times()
        d_cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        me_cpu = (me1.user + me1.system) - (me0.user + me0.system)
        asked = [fake_ollama._last_user_text(b.get("messages")) for b in fake.requests[asked_before:]]
        status = client.request({"op": "status"})
        crossed = 0
        for t, shell in enumerate(shells):
            h = client.request({"op": "history", "session": shell})
            if [e["request"] for e in h["exchanges"]] != [text(t, r) for r in range(per_term)]:
                crossed += 1
    finally:
        for p in procs:
            p.kill()
            p.wait()
    e2e = [r[1] for r in results]
    added = [r[1] - fake.waited[r[0]] for r in results if r[0] in fake.waited]
    own = status["overhead_ms"]
    n = len(results)
    rows = [
        (f"load: {n_terms} terminals x {per_term} requests, server delay 0-{fake.max_delay * 1000:.0f} ms", "", ""),
        (
            "  throughput (translate + executed each)",
            f"{n / wall:.0f} requests/s ({2 * n / wall:.0f} socket ops/s)",
            f"{n} in {wall:.1f} s",
        ),
        ("  translate end-to-end p50 / p99", f"{ms(pct(e2e, 0.5))} / {ms(pct(e2e, 0.99))}", ""),
        ("  executed end-to-end p50 / p99", f"{ms(pct([r[2] for r in results], 0.5))} / {ms(pct([r[2] for r in results], 0.99))}", ""),
        (
            "  added by the daemon, own time (status) p50 / p99",
            f"{own['p50']:.2f} ms / {own['p99']:.2f} ms",
            f"over {own['count']} translates",
        ),
        (
            "  added: end-to-end minus server delay p50 / p99",
            f"{ms(pct(added, 0.5))} / {ms(pct(added, 0.99))}",
            "openai client, HTTP, queueing",
        ),
        ("  daemon CPU per request (translate + executed)", f"{ms(d_cpu / n)}", f"daemon busy {100 * d_cpu / wall:.0f}% of one CPU"),
        ("  CPU of this process (clients + stand-in server)", f"{100 * me_cpu / wall:.0f}% of one CPU", ""),
        (
            "  wrong replies / not committed / histories crossed",
            f"{sum(not r[3] for r in results)} / {sum(r[4] != 'committed' for r in results)} / {crossed}",
            "must be 0 / 0 / 0",
        ),
        ("  model calls / distinct requests asked", f"{len(asked)} / {len(set(asked))} for {n} requests", "each exactly once"),
    ]
    return rows


# ---------------------------------------------------------------- kill -9


def recovery(kills, work):
    """Seconds from SIGKILL to the first good reply of the daemon a request restarts."""
    proc = subprocess.Popen(["sleep", "900"])
    times = []
    try:
        for _ in range(kills):
            assert translate(proc.pid, "show notes", work)["ok"]  # warm daemon, warm backend
            pid = daemon_pid()
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            while True:
                try:
                    if translate(proc.pid, "show notes", work).get("ok"):
                        break
                except (client.DaemonUnavailable, OSError):
                    pass
            times.append(time.perf_counter() - t0)
            assert daemon_pid() != pid
            wait_until(lambda: not alive(pid), 5)  # reap it
    finally:
        proc.kill()
        proc.wait()
    return times


def crash_loss(n_terms, kills, work):
    """Kill -9 the daemon mid-traffic; count committed exchanges missing afterwards."""
    procs = sleepers(n_terms)
    shells = [p.pid for p in procs]
    stop = threading.Event()
    committed = {t: [] for t in range(n_terms)}
    broken = [0]

    def call(fn):
        try:
            reply = fn()
        except (client.DaemonUnavailable, OSError):
            broken[0] += 1
            return None
        if not reply.get("ok"):
            broken[0] += 1
            return None
        return reply

    def terminal(t):
        i = 0
        while not stop.is_set():
            text = f"show k{t}_{i}.txt"
            reply = None
            while reply is None and not stop.is_set():
                reply = call(lambda: translate(shells[t], text, work))
            if reply is None:
                return
            settled = call(lambda: executed(shells[t], reply["command"]))
            if settled and settled.get("recorded") == "committed":
                committed[t].append(text)
            i += 1

    try:
        client.request({"op": "ping"})
        threads = [threading.Thread(target=terminal, args=(t,)) for t in range(n_terms)]
        for th in threads:
            th.start()
        killed = []
        for _ in range(kills):
            time.sleep(random.uniform(0.2, 0.6))
            pid = daemon_pid()
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                wait_until(lambda: not alive(pid), 5)
            wait_until(lambda: daemon_pid() not in killed and alive(daemon_pid()), 15)
        time.sleep(0.5)
        stop.set()
        for th in threads:
            th.join(30)
        lost = 0
        for t, shell in enumerate(shells):
            have = {e["request"] for e in client.request({"op": "history", "session": shell})["exchanges"]}
            lost += sum(1 for text in committed[t] if text not in have)
    finally:
        stop.set()
        for p in procs:
            p.kill()
            p.wait()
    total = sum(len(c) for c in committed.values())
    return lost, total, len(killed), broken[0]


def _quiet(self, request, client_address):
    """Connections of a killed daemon reset under the stand-in server: not news."""
    if not isinstance(sys.exc_info()[1], ConnectionError):
        fake_ollama._Server.__mro__[1].handle_error(self, request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="requests per terminal")
    ap.add_argument("--max-delay-ms", type=float, default=50.0, help="stand-in server latency, uniform from 0")
    ap.add_argument("--kills", type=int, default=5, help="kill -9 rounds for the recovery and loss figures")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="spl-")
    for name in ("run", "state", "config", "data", "work", "home"):
        os.makedirs(os.path.join(root, name), mode=0o700)
    os.environ.update(
        HOME=os.path.join(root, "home"),
        XDG_RUNTIME_DIR=os.path.join(root, "run"),
        XDG_STATE_HOME=os.path.join(root, "state"),
        XDG_CONFIG_HOME=os.path.join(root, "config"),
        XDG_DATA_HOME=os.path.join(root, "data"),
    )
    for key in [k for k in os.environ if k.startswith("SHELLPER_")]:
        del os.environ[key]
    work = os.path.join(root, "work")
    # Ollama (Go) listens with the system's full backlog; the stand-in's default of 5
    # would drop the connections of 50 terminals arriving at once.
    fake_ollama._Server.request_queue_size = 1024
    fake_ollama._Server.handle_error = _quiet
    fake = TimedFake(args.max_delay_ms / 1000).start()
    fake.answer("notes", "cat", {"file_name": "notes.txt"})
    fake.default("cat", {"file_name": "x"})
    os.environ["SHELLPER_BASE_URL"] = fake.base_url
    rows = []
    try:
        rows += load(fake, args.terminals, args.requests, work)
        fake.delay = 0.0
        times = recovery(args.kills, work)
        rows.append(
            (
                "kill -9 -> first good reply of the auto-restarted daemon",
                f"median {ms(sorted(times)[len(times) // 2])}, max {ms(max(times))}",
                f"{len(times)} kills",
            )
        )
        fake.delay = lambda: random.uniform(0, 0.03)
        lost, total, kills, broken = crash_loss(8, args.kills, work)
        rows.append(
            (
                "committed exchanges lost to kill -9 mid-traffic",
                f"{lost} of {total}",
                f"must be 0 ({kills} kills, {broken} calls broken and retried)",
            )
        )
    finally:
        stop_daemon()
        fake.stop()
        shutil.rmtree(root, ignore_errors=True)

    width = max(len(r[0]) for r in rows)
    print(
        f"shellper load benchmark ({sys.version.split()[0]}; {os.uname().sysname} {os.uname().machine}; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f} at the end)"
    )
    print("  (no person feels these: 50 terminals asking at once is far past anyone's typing; docs/benchmarks.md has the widget paths)")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:<34} {note}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
