"""The look's cost: a 300,000-file tree against a small folder, side by side.

    python3 benchmarks/effect.py

Times, in one run, (1) turns.vet() (the one look at the files, the policy and
the effect line together: what `rm -r`, `cp -r`, `find` and `cp -r pkg/. ..`
would do) on both trees, and (2) end to end: a translate request over a real
daemon's socket, as the zsh widget sends it, with an instant stand-in model,
from a folder holding the big tree vs one holding the small one. The look
walks at most look.MAX_ENTRIES entries: past them the line says "at least N
files" and the policy warns loudly.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from daemon_helpers import fake_shell, stop_daemon  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from shellper_hook import client  # noqa: E402
from shellper_hook.tools import ToolCall  # noqa: E402
from shellper_hook.turns import vet  # noqa: E402

RUNS = 15


def make_tree(root: str, folders: int, files: int) -> None:
    for i in range(folders):
        d = os.path.join(root, f"d{i}")
        os.makedirs(d)
        for j in range(files):
            with open(os.path.join(d, f"f{j}.py"), "w") as fh:
                fh.write("x")


def timed(call, cwd) -> tuple:
    times, line = [], ""
    for _ in range(RUNS):
        started = time.perf_counter()
        verdict = vet(call, cwd, allow_recursive=True, home=cwd)
        line = " | ".join([verdict.effect, *verdict.warnings])
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, line


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small, big = os.path.join(tmp, "small"), os.path.join(tmp, "big")
        make_tree(small, 2, 10)
        make_tree(big, 1000, 300)
        print(
            f"shellper effect benchmark ({os.uname().sysname} {os.uname().machine}; {os.cpu_count()} CPUs; "
            f"load average {os.getloadavg()[0]:.2f}); what a person feels is the end-to-end time, before a suggestion"
        )
        print(f"look + policy + effect line (turns.vet), median of {RUNS} runs: 300,000-file tree vs a 20-file folder")
        for name, args in (
            ("rm", {"file_name": "{}"}),
            ("cp", {"source": "{}", "destination": "copy"}),
            ("find", {"path": "{}", "name": ".py"}),
            ("cp", {"source": "{}/d0/.", "destination": "."}),
        ):
            results = []
            for tree in (small, big):
                filled = {k: v.replace("{}", os.path.basename(tree)) for k, v in args.items()}
                results.append(timed(ToolCall(name, filled), tmp))
            (s_ms, _), (b_ms, b_line) = results
            print(f"  {name:<5} small {s_ms:6.2f} ms   big {b_ms:6.2f} ms   ratio {b_ms / s_ms:5.1f}x   (big: {b_line})")
        end_to_end(tmp, small, big)


def end_to_end(tmp: str, small: str, big: str) -> None:
    for name in ("run", "state", "config", "data"):
        os.makedirs(os.path.join(tmp, name), mode=0o700)
        os.environ[f"XDG_{'RUNTIME_DIR' if name == 'run' else name.upper() + '_HOME'}"] = os.path.join(tmp, name)
    fake = FakeOllama().start()
    os.environ["SHELLPER_BASE_URL"] = fake.base_url
    fake.answer("find", "find", {"path": "tree", "name": ".py"})
    try:
        with fake_shell() as shell:
            client.request({"op": "ping"})
            print(f"end to end, median of {RUNS} translate requests over the daemon's socket (instant model):")
            medians = []
            for tree in (small, big):
                folder = os.path.join(tmp, "at-" + os.path.basename(tree))
                os.makedirs(folder)
                os.rename(tree, os.path.join(folder, "tree"))
                times, reply = [], {}
                for _ in range(RUNS):
                    started = time.perf_counter()
                    reply = client.request(
                        {"op": "translate", "session": shell, "cwd": folder, "text": "find the python files", "reply": "json"}
                    )
                    times.append(time.perf_counter() - started)
                medians.append(statistics.median(times) * 1000)
                print(f"  {os.path.basename(tree):<6} {medians[-1]:6.2f} ms   {reply.get('effect')}")
            print(f"  ratio big/small: {medians[1] / medians[0]:.2f}x (the issue's target: at most 2x)")
    finally:
        stop_daemon()
        fake.stop()


if __name__ == "__main__":
    main()
