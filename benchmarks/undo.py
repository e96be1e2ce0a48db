"""What undo costs at Enter: the check op with undo on against the same with it off, side by side.

    python3 benchmarks/undo.py

Over a real daemon's socket, as the widgets send it, with an instant stand-in
model: a suggestion is made, then Enter's check is timed (it judges the files
again and, with undo on, keeps what the command will destroy before it runs),
then the command runs for real and the shell's report settles it. Cases: one
file removed (a hard link is kept), one 1 MiB file copied over (a copy is
kept: cp writes in place), a 1,000-file folder removed (a tree of links).
What a person feels is the check's time: Enter waits for it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from daemon_helpers import fake_shell, stop_daemon  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from shellper_hook import client, paths  # noqa: E402

RUNS = 15
CASES = (
    ("one file removed", "rm", {"file_name": "one.txt"}),
    ("1 MiB file copied over", "cp", {"source": "src.bin", "destination": "big.bin"}),
    ("1,000-file folder removed", "rm", {"file_name": "tree"}),
)


def make(folder: str) -> None:
    with open(os.path.join(folder, "one.txt"), "w") as fh:
        fh.write("one\n")
    for name in ("src.bin", "big.bin"):
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(os.urandom(1 << 20))
    tree = os.path.join(folder, "tree")
    for i in range(10):
        os.makedirs(os.path.join(tree, f"d{i}"), exist_ok=True)
        for j in range(99):
            with open(os.path.join(tree, f"d{i}", f"f{j}"), "w") as fh:
                fh.write("x")


def enter_ms(shell: int, folder: str, text: str) -> tuple:
    """(milliseconds of Enter's check, the effect line) for one suggestion, then run it."""
    reply = client.request({"op": "translate", "session": shell, "cwd": folder, "text": text, "shell": "bash", "reply": "json"})
    command = reply["command"]
    started = time.perf_counter()
    client.request({"op": "check", "session": shell, "cwd": folder, "text": command, "shell": "bash", "reply": "json"})
    took = (time.perf_counter() - started) * 1000
    ran = subprocess.run(["bash", "-c", command], cwd=folder)
    client.request({"op": "executed", "session": shell, "cwd": folder, "text": command, "shell": "bash", "status": ran.returncode})
    return took, reply.get("effect", "")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("run", "state", "config", "data"):
            os.makedirs(os.path.join(tmp, name), mode=0o700)
            os.environ[f"XDG_{'RUNTIME_DIR' if name == 'run' else name.upper() + '_HOME'}"] = os.path.join(tmp, name)
        os.environ["SHELLPER_ALLOW_RECURSIVE"] = "1"
        config = paths.config_file()
        os.makedirs(os.path.dirname(config), exist_ok=True)
        fake = FakeOllama().start()
        os.environ["SHELLPER_BASE_URL"] = fake.base_url
        for text, name, args in CASES:
            fake.answer(text, name, args)
        print(
            f"shellper undo benchmark ({os.uname().sysname} {os.uname().machine}; {os.cpu_count()} CPUs; "
            f"load average {os.getloadavg()[0]:.2f}); Enter's check over the daemon's socket, median of {RUNS} runs"
        )
        try:
            with fake_shell() as shell:
                client.request({"op": "ping"})
                for text, _, _ in CASES:
                    medians, effects = [], []
                    for days in (7, 0):  # undo on, then off (the daemon rereads its config at each translate)
                        with open(config, "w") as fh:
                            fh.write(f"undo_days = {days}\n")
                        times = []
                        for _ in range(RUNS):
                            folder = tempfile.mkdtemp(dir=tmp)
                            make(folder)
                            took, effect = enter_ms(shell, folder, text)
                            times.append(took)
                            shutil.rmtree(folder)
                        medians.append(statistics.median(times))
                        effects.append(effect.rsplit("; ", 1)[-1])
                    on, off = medians
                    print(f"  {text:<27} undo on {on:6.2f} ms   off {off:6.2f} ms   +{on - off:5.2f} ms   ({effects[0]})")
        finally:
            stop_daemon()
            fake.stop()


if __name__ == "__main__":
    main()
