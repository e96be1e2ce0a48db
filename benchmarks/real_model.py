"""shellper on a real model (issue 25): cold prefix, warm ask, the daemon's and generation's shares, accuracy.

    python3 benchmarks/real_model.py              # Qwen2.5-Coder-0.5B-Instruct Q4_K_M
    python3 benchmarks/real_model.py --1.5b       # and the 1.5B beside it
    python3 benchmarks/real_model.py --eval-rows 10 --asks 3

For each model: tests/real_model.py fetches it (once; sha256 checked) and starts
llama.cpp's server (xllamacpp, 2 threads, one slot, n_ctx 8192); a daemon in
private dirs talks to it through a recording proxy. Printed:

- cold prefix: the daemon's warm-up right after it started, on a fresh server
  (its log's "prompt cache warmed in X s"), and the tokens the server read then;
- warm ask: `shellper ask` wall time, a fresh conversation each, median of --asks
  different requests;
- the daemon's own share: its status op's overhead_ms p50 over the median ask;
- generation share: of the server's time per warm ask (llama.cpp's /metrics
  counters before and after each ask: generation seconds over prompt reading plus
  generation), with the prompt tokens read and the tokens written per ask;
- `shellper eval` single-call accuracy on the packaged set (or its first
  --eval-rows rows), one request at a time, with its median latency.

Stock models, not the SHELLper fine-tune: a floor for accuracy, real figures for
latency on this machine (others' work on it slows them: run it on an idle one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import importlib.util  # noqa: E402

# tests/real_model.py, under another name: this file is real_model.py too.
_spec = importlib.util.spec_from_file_location("real_model_helper", os.path.join(ROOT, "tests", "real_model.py"))
rm = importlib.util.module_from_spec(_spec)
sys.modules["real_model_helper"] = rm
_spec.loader.exec_module(rm)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from shellharness import BIN, ShellEnv, start_daemon  # noqa: E402

from shellper_hook.evaluate import DEFAULT_DATASET  # noqa: E402

REQUESTS = [
    "list the files",
    "go into the src folder",
    "show the first lines of notes.txt",
    "make a folder called build",
    "find the python files",
    "count the lines in notes.txt",
    "copy notes.txt to backup.txt",
]
TIMEOUT = 180


def _warmed(env: ShellEnv) -> list:
    try:
        with open(os.path.join(env.env["XDG_STATE_HOME"], "shellper", "daemon.log"), errors="replace") as fh:
            return [float(s) for s in re.findall(r"prompt cache warmed in ([\d.]+) s", fh.read())]
    except OSError:
        return []


def _session():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def _ask(env: ShellEnv, text: str, cwd: str) -> tuple:
    shell = _session()
    try:
        began = time.monotonic()
        proc = subprocess.run(
            [os.path.join(BIN, "shellper"), "ask", "--session", str(shell.pid), text],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=dict(os.environ, **env.env),
            timeout=TIMEOUT + 30,
        )
        return time.monotonic() - began, proc
    finally:
        shell.kill()
        shell.wait()


def run_model(name: str, asks: int, eval_rows: int | None) -> dict:
    model = rm.MODELS[name]
    gguf = rm.fetch(name)
    out: dict = {"model": name}
    server = rm.LlamaServer(gguf, model.alias).start()
    proxy = rm.RecordingProxy(server.url)
    env = ShellEnv(proxy.base_url, {"SHELLPER_MODEL": model.alias, "SHELLPER_TIMEOUT": str(TIMEOUT)})
    try:
        out["server start, s"] = round(server.started_in, 1)
        start_daemon(env)
        deadline = time.monotonic() + 2 * TIMEOUT
        while not _warmed(env) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not _warmed(env):
            raise SystemExit(f"{name}: the daemon's warm-up did not end in {2 * TIMEOUT} s")
        out["cold prefix, s"] = _warmed(env)[0]
        first = proxy.chats()[0]["timings"] or {}
        out["prefix tokens"] = first.get("prompt_n")
        if first.get("prompt_per_second"):
            out["prefix read, tok/s"] = round(first["prompt_per_second"], 1)

        work = env.workdir("bench")
        os.makedirs(os.path.join(work, "src"), exist_ok=True)
        with open(os.path.join(work, "notes.txt"), "w") as fh:
            fh.write("one\ntwo\nthree\n")
        with open(os.path.join(work, "src", "main.py"), "w") as fh:
            fh.write("print('hi')\n")
        times, gen_share, server_s, written, read, failed = [], [], [], [], [], 0
        for i in range(asks):
            before = server.metrics()
            seconds, proc = _ask(env, REQUESTS[i % len(REQUESTS)], work)
            after = server.metrics()
            times.append(seconds)
            failed += proc.returncode not in (0, 3)
            # The server's counters: a stream the daemon closed at the first call has no timings in its answer.
            d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            busy = d["prompt_seconds_total"] + d["tokens_predicted_seconds_total"]
            if busy > 0:
                gen_share.append(d["tokens_predicted_seconds_total"] / busy)
                server_s.append(busy)
            written.append(d["tokens_predicted_total"])
            read.append(d["prompt_tokens_total"])
        warm = statistics.median(times)
        out["warm ask, median, s"] = round(warm, 2)
        out["warm asks, s"] = [round(t, 2) for t in times]
        out["asks without a command"] = failed
        status = json.loads(env.shellper("status", "--json").stdout)
        p50 = (status.get("overhead_ms") or {}).get("p50")
        if p50 is not None:
            out["daemon's own time per ask, p50 ms"] = p50
            out["daemon's own share of a warm ask"] = f"{p50 / (warm * 1000):.1%}"
        if gen_share:
            out["server's time per warm ask, median, s"] = round(statistics.median(server_s), 2)
            out["generation share of the server's time"] = f"{statistics.median(gen_share):.0%}"
        out["prompt tokens read per warm ask, median"] = statistics.median(read)
        out["tokens written per answer, median"] = statistics.median(written)

        if eval_rows != 0:
            dataset = DEFAULT_DATASET
            if eval_rows:
                with open(DEFAULT_DATASET) as fh:
                    rows = [line for line in fh if line.strip()][:eval_rows]
                dataset = os.path.join(tempfile.mkdtemp(prefix="eval-"), "subset.jsonl")
                with open(dataset, "w") as fh:
                    fh.writelines(rows)
            began = time.monotonic()
            proc = subprocess.run(
                [os.path.join(BIN, "shellper"), "eval", "--json", "--concurrency", "1", dataset],
                capture_output=True,
                text=True,
                env=dict(os.environ, **env.env),
                timeout=3600,
            )
            if proc.returncode != 0:
                out["eval"] = f"failed: {proc.stderr.strip()[-300:]}"
            else:
                report = json.loads(proc.stdout)
                out["eval accuracy"] = f"{report['accuracy']:.1%} ({report['correct']}/{report['requests']})"
                out["eval wall time, s"] = round(time.monotonic() - began, 1)
        return out
    finally:
        env.close()
        proxy.close()
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--1.5b", dest="big", action="store_true", help="measure the 1.5B model too (1.1 GB download)")
    ap.add_argument("--asks", type=int, default=5, help="warm asks to take the median of (default 5)")
    ap.add_argument(
        "--eval-rows", type=int, default=None, help="score only the first N rows of the packaged eval set (0: no eval; default: all)"
    )
    args = ap.parse_args()
    names = ["0.5b"] + (["1.5b"] if args.big else [])
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"load average {os.getloadavg()[0]:.2f}; llama.cpp via xllamacpp {rm.ENGINE_VERSION}, "
        f"{rm.THREADS} threads, 1 slot, n_ctx {rm.CTX}"
    )
    results = []
    for name in names:
        try:
            results.append(run_model(name, args.asks, args.eval_rows))
        except rm.Unavailable as exc:
            print(f"{name}: not measured: {exc}")
    keys = list(dict.fromkeys(k for r in results for k in r))
    width = max(len(k) for k in keys) if keys else 0
    for key in keys:
        print(f"{key:<{width}}  " + "  ".join(f"{r.get(key, '')!s:>28}" for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
