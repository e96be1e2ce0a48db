"""`shellper setup-model`: download SHELLper, create it in Ollama, check it answers.

The steps follow the model card (tech-notes §1.7): fetch `model_fp16.gguf`
and `Modelfile` from Hugging Face, `ollama create <model> -f Modelfile` in
that folder (the Modelfile carries the tool-calling template), then check
that `ollama show` lists the `tools` capability and that one real request
through the configured base_url comes back as a tool call.

`ollama create --quantize` turns the F16 GGUF into q8_0 or q4_K_M on the
Ollama server (Ollama quantizes F16, BF16 and F32 GGUF weights only). The
default is q8_0; any other choice gets its own name, e.g. distil_model:q4_K_M,
so the name says what it holds and both can be compared with `shellper eval`.

The two edges that reach outside are `download()` (the network) and the
`ollama` binary found on PATH, so tests can replace either. Every failure
is a SetupFailed carrying the problem and the next step for the user.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from typing import NamedTuple

from .errors import one_line
from .render import quote
from .settings import same_model

DEFAULT_REPO = "distil-labs/distil-qwen3-0.6b-SHELLper"
FILES = ("model_fp16.gguf", "Modelfile")
HUB_REQUIREMENT = "huggingface_hub>=0.20"
OLLAMA_DOWNLOAD = "https://ollama.com/download"
OLLAMA_SCRIPT = "curl -fsSL https://ollama.com/install.sh | sh"
CHECK_REQUEST = "print the current directory"
MODEL_BYTES = 1_300_000_000  # model_fp16.gguf of a 0.6B model, rounded up
# What `--quantize` offers; "fp16" creates the downloaded weights as they are.
# q8_0 by default: half fp16's size and faster on a CPU, with answers that stay
# close to fp16's; a 0.6B model loses the most of its accuracy at 4 bits.
QUANTIZATIONS = ("q8_0", "q4_K_M", "fp16")
DEFAULT_QUANTIZATION = "q8_0"

# Ollama model names: [host/][namespace/]name[:tag]; no leading dash, so the
# name can never be read as an option of the `ollama` command.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*(:[A-Za-z0-9][A-Za-z0-9._-]*)?\Z")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*\Z")


class SetupFailed(Exception):
    """A step failed; `problem` says what happened and `fix` what to do next."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


class DownloadError(Exception):
    """download() could not fetch the files; the message is one line."""


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


_SHOWN = 300  # characters of a server's or a program's text quoted in a message


def manual_download(repo: str, dest: str) -> str:
    return f"hf download {repo} {' '.join(FILES)} --local-dir {quote(dest)}"


# ---- the network edge --------------------------------------------------------


def download(repo: str, files, dest: str) -> None:
    """Put `files` of `repo` into `dest`: a local folder is copied, anything else
    comes from Hugging Face (huggingface_hub shows its own progress bars and
    skips files it already fetched). Raises DownloadError."""
    local = os.path.expanduser(repo)
    if os.path.isdir(local):
        for name in files:
            source = os.path.join(local, name)
            target = os.path.join(dest, name)
            if not os.path.isfile(source):
                raise DownloadError(f"{source} does not exist")
            if os.path.exists(target) and os.path.samefile(source, target):
                continue
            try:
                shutil.copyfile(source, target)
            except OSError as exc:
                raise DownloadError(f"copying {source} failed: {exc.strerror or exc}") from None
        return
    try:
        import huggingface_hub
    except ImportError:
        raise DownloadError("huggingface_hub is not installed") from None
    for name in files:
        try:
            huggingface_hub.hf_hub_download(repo_id=repo, filename=name, local_dir=dest)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # network, HTTP, auth, disk: all end the same way for the user
            kind = type(exc).__name__
            if "RepositoryNotFound" in kind or "GatedRepo" in kind:
                raise DownloadError(f"the repository {repo} was not found, or needs a login (`hf auth login`)") from None
            if "EntryNotFound" in kind:
                raise DownloadError(f"the repository {repo} has no file {name}") from None
            raise DownloadError(f"{name}: {kind}: {one_line(exc, 200)}") from None


_HUB_DOWNLOAD = download


# ---- steps -------------------------------------------------------------------------


def find_ollama() -> str:
    found = shutil.which("ollama")
    if not found:
        raise SetupFailed(
            "Ollama is not installed (there is no `ollama` on PATH)",
            f"install it from {OLLAMA_DOWNLOAD} (Linux: `{OLLAMA_SCRIPT}`), start it, then run `shellper setup-model` again",
        )
    return found


def _ask(question: str) -> bool:
    try:
        if not sys.stdin.isatty():
            return False
    except (AttributeError, OSError, ValueError):  # no stdin, or a closed one
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def ensure_hub(repo: str, dest: str, yes: bool) -> None:
    """Make huggingface_hub importable, installing it into this interpreter if allowed."""
    try:
        import huggingface_hub  # noqa: F401

        return
    except ImportError:
        pass
    by_hand = (
        f"install it with `{quote(sys.executable)} -m pip install '{HUB_REQUIREMENT}'` "
        f"(or `pip install 'shellper[model]'`), or download the files yourself with "
        f"`{manual_download(repo, dest)}` and run `shellper setup-model --repo {quote(dest)}`"
    )
    if importlib.util.find_spec("pip") is None:
        raise SetupFailed(f"the download needs huggingface_hub, and {sys.executable} has no pip to install it", by_hand)
    if not yes and not _ask(f"The download needs huggingface_hub. Install it into {sys.executable} now?"):
        raise SetupFailed("the download needs huggingface_hub, which is not installed", by_hand + " (or rerun with --yes)")
    _say(f"installing {HUB_REQUIREMENT} into {sys.executable}")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", HUB_REQUIREMENT])
    importlib.invalidate_caches()
    try:
        import huggingface_hub  # noqa: F401,F811
    except ImportError:
        raise SetupFailed(f"installing huggingface_hub failed (pip exit status {done.returncode}, see above)", by_hand) from None


def fetch(repo: str, dest: str, download_fn) -> None:
    """Download the files; when that fails but complete files are already there, use them."""
    present = all(os.path.isfile(os.path.join(dest, name)) for name in FILES)
    if not present:
        try:
            free = shutil.disk_usage(dest).free
        except OSError:
            free = None
        if free is not None and free < MODEL_BYTES * 2:
            print(
                f"shellper: warning: {dest} has {free / 1e9:.1f} GB free; the model needs about "
                f"{MODEL_BYTES / 1e9:.1f} GB there and as much again in Ollama's store",
                file=sys.stderr,
            )
    _say(f"fetching {', '.join(FILES)} from {repo} into {dest}")
    try:
        download_fn(repo, FILES, dest)
    except DownloadError as exc:
        if present:
            print(f"shellper: the download failed ({exc}); using the files already in {dest}", file=sys.stderr)
            return
        raise SetupFailed(
            f"downloading the model failed: {exc}",
            "check the network (behind a proxy, set HTTPS_PROXY; for a mirror, HF_ENDPOINT), or download "
            f"the files yourself with `{manual_download(repo, dest)}` and run `shellper setup-model` again",
        ) from None
    missing = [name for name in FILES if not os.path.isfile(os.path.join(dest, name))]
    if missing:
        raise SetupFailed(
            f"the download finished but {', '.join(missing)} is not in {dest}",
            f"download the files yourself with `{manual_download(repo, dest)}` and run `shellper setup-model` again",
        )


def check_modelfile(dest: str) -> None:
    """The Modelfile must name what it builds from, and a local GGUF it names must be there."""
    path = os.path.join(dest, "Modelfile")
    try:
        with open(path, "rb") as fh:
            text = fh.read(1_000_001).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupFailed(f"{path} cannot be read as text: {exc}", "delete it and run `shellper setup-model` again") from None
    source = None
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0].upper() == "FROM":
            source = words[1].strip()
            break
    if source is None:
        raise SetupFailed(f"{path} is not a Modelfile (it has no FROM line)", "delete it and run `shellper setup-model` again")
    if source.lower().endswith(".gguf") and not os.path.isfile(os.path.join(dest, os.path.expanduser(source))):
        raise SetupFailed(
            f"{path} builds from {source}, which is not in {dest}",
            f"put {source} next to the Modelfile (`{manual_download(DEFAULT_REPO, dest)}`) and run again",
        )


def ollama_env(settings) -> dict:
    """The environment for `ollama`: aimed at the server shellper itself talks to."""
    env = dict(os.environ)
    from .backend import ollama_root

    root = ollama_root(settings.base_url)
    if root:
        env["OLLAMA_HOST"] = root
    return env


def quantization(value: str) -> str:
    """The QUANTIZATIONS entry `value` names (any case); raises ValueError."""
    for name in QUANTIZATIONS:
        if value.strip().lower() == name.lower():
            return name
    raise ValueError(f"choose one of {', '.join(QUANTIZATIONS)}, not {value!r}")


def model_name(configured: str, quant: str) -> str:
    """The name to create `quant` under: the configured one for the default,
    NAME:QUANT (or NAME:TAG-QUANT) for the others. A quantization tag already
    in the configured name is replaced, so the name never says another one."""
    repo, _, tag = configured.partition(":")
    for name in QUANTIZATIONS:
        if tag.lower() == name.lower():
            tag = ""
        elif tag.lower().endswith("-" + name.lower()):
            tag = tag[: -len(name) - 1]
    if tag.lower() == "latest":
        tag = ""
    if quant != DEFAULT_QUANTIZATION:
        tag = f"{tag}-{quant}" if tag else quant
    return f"{repo}:{tag}" if tag else repo


def create_argv(model: str, quant: str) -> list:
    return ["create", model, "-f", "Modelfile"] + ([] if quant == "fp16" else ["--quantize", quant])


def _not_running(output: str) -> bool:
    text = output.lower()
    return "could not connect" in text or "connection refused" in text or "is it running" in text


def _create_fix(said: str, model: str, quant: str, dest: str) -> str:
    text = said.lower()
    if _not_running(text):
        return "start Ollama (`ollama serve`, or open the Ollama app) and run `shellper setup-model` again"
    if quant != "fp16" and "unknown flag" in text:
        return (
            f"this Ollama is too old to quantize: update it ({OLLAMA_DOWNLOAD}), or create the model "
            f"unquantized with `shellper setup-model --quantize fp16`"
        )
    if "unsupported quantization type" in text:
        others = " or ".join(f"--quantize {q}" for q in QUANTIZATIONS if q != quant)
        return f"this Ollama cannot make {quant}: update it ({OLLAMA_DOWNLOAD}), or run `shellper setup-model` with {others}"
    if "quantization is only supported" in text:
        return (
            f"the GGUF that {dest}/Modelfile names is already quantized, and Ollama quantizes only F16, "
            f"BF16 and F32 weights: run `shellper setup-model --quantize fp16` to create it as it is"
        )
    by_hand = " ".join(create_argv(model, quant))
    return f"read Ollama's message above; to retry by hand: cd {quote(dest)} && ollama {by_hand}"


def create(ollama: str, model: str, dest: str, env: dict, quant: str = DEFAULT_QUANTIZATION) -> None:
    """`ollama create MODEL -f Modelfile [--quantize Q]` in dest, its output shown as it comes."""
    how = "as it is (fp16)" if quant == "fp16" else f"quantized to {quant}"
    _say(f"creating '{model}' {how} in Ollama ({env.get('OLLAMA_HOST') or 'its default address'})")
    try:
        proc = subprocess.Popen(
            [ollama, *create_argv(model, quant)],
            cwd=dest,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:
        raise SetupFailed(f"running {ollama} failed: {exc.strerror or exc}", "check your Ollama installation") from None
    tail = b""
    assert proc.stdout is not None
    for chunk in iter(lambda: proc.stdout.read1(4096), b""):
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        tail = (tail + chunk)[-4000:]
    code = proc.wait()
    if code != 0:
        lines = tail.decode("utf-8", "replace").replace("\r", "\n").strip().splitlines()
        said = one_line(" ".join(lines[-3:]), _SHOWN)
        raise SetupFailed(
            f"`ollama create {model}` failed (exit status {code}): {said or 'no output'}", _create_fix(said, model, quant, dest)
        )


def capabilities(text: str):
    """The capability names under `Capabilities` in `ollama show` output, or None if it has none."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower() != "capabilities":
            continue
        indent = len(line) - len(line.lstrip())
        found = []
        for item in lines[i + 1 :]:
            if not item.strip():
                break
            if len(item) - len(item.lstrip()) <= indent:
                break
            found.append(item.strip().split()[0].lower())
        return found
    return None


def shown_quantization(text: str):
    """The `quantization` line of `ollama show` (e.g. "Q8_0"), or None."""
    m = re.search(r"^\s*quantization\s+(\S+)\s*$", text, re.M)
    return m.group(1) if m else None


def check_tools(ollama: str, model: str, env: dict):
    """Fails unless the model lists the tools capability; returns its quantization (or None)."""
    _say(f"checking '{model}' (ollama show)")
    try:
        done = subprocess.run([ollama, "show", model], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupFailed(f"`ollama show {model}` failed: {exc}", "run `shellper doctor` to see what is wrong") from None
    if done.returncode != 0:
        raise SetupFailed(
            f"`ollama show {model}` failed: {one_line(done.stderr or done.stdout, _SHOWN) or f'exit status {done.returncode}'}",
            "run `shellper doctor` to see what is wrong",
        )
    caps = capabilities(done.stdout)
    if caps is None:
        print(
            "shellper: this Ollama does not list model capabilities (it is older than 0.6.4); the request below checks tool calls instead",
            file=sys.stderr,
        )
    elif "tools" not in caps:
        raise SetupFailed(
            f"'{model}' was created without tool support (its capabilities: {', '.join(caps) or 'none'})",
            "the Modelfile's TEMPLATE must be the shipped one: delete the downloaded Modelfile and run `shellper setup-model` again",
        )
    return shown_quantization(done.stdout)


def check_answer(settings):
    """One real request to settings.model through the configured base_url; returns the command it became."""
    import asyncio

    from .backend import Backend
    from .errors import ShellperError
    from .render import to_bash

    async def ask():
        backend = Backend(settings)
        try:
            return await backend.call([], CHECK_REQUEST)
        finally:
            await backend.aclose()

    _say(f"asking '{settings.model}' at {settings.base_url}: {CHECK_REQUEST!r}")
    try:
        call = asyncio.run(ask())
    except ShellperError as exc:
        raise SetupFailed(f"the model did not answer with a tool call: {exc}", "run `shellper doctor` to see what is wrong") from None
    try:
        return to_bash(call)
    except ShellperError:
        return f"{call.name} {call.arguments}"


# ---- the command ---------------------------------------------------------------


class Created(NamedTuple):
    model: str  # the name created in Ollama
    configured: str  # the model shellper uses (settings)
    quantization: str | None  # as `ollama show` reports it, e.g. "Q8_0"
    command: str  # what the check request became


def run(repo: str, directory: str | None, yes: bool, download_fn=None, quant: str = DEFAULT_QUANTIZATION) -> Created:
    """Every step in order; returns what was created and how it answered the check."""
    import dataclasses

    from . import paths
    from .errors import SettingsError
    from .settings import load

    try:
        settings = load()
    except SettingsError as exc:
        raise SetupFailed(
            f"the settings do not load: {exc}",
            f"correct that value (in {paths.config_file()} or the variable named); `shellper config` shows them all",
        ) from None
    if not _MODEL_NAME.match(settings.model):
        raise SetupFailed(
            f"the configured model name {settings.model!r} is not a name Ollama accepts",
            f"set model in {paths.config_file()} to a name like distil_model",
        )
    model = model_name(settings.model, quant)
    repo = DEFAULT_REPO if repo is None else repo.strip()
    local = os.path.isdir(os.path.expanduser(repo))
    if not local and repo.startswith(("/", ".", "~")):
        raise SetupFailed(
            f"the folder {repo} does not exist",
            "give --repo the folder that holds model_fp16.gguf and Modelfile, or leave out --repo to download them",
        )
    if not local and not _REPO_ID.match(repo):
        raise SetupFailed(
            f"{repo!r} is neither a Hugging Face repository (owner/name) nor a folder",
            f"leave out --repo to use {DEFAULT_REPO}",
        )
    if directory is None and local:
        directory = repo  # files fetched by hand: build from them where they are
    dest = os.path.abspath(os.path.expanduser(directory or os.path.join(paths.data_dir(), "model")))
    ollama = find_ollama()  # first: no point fetching 1.2 GB without Ollama
    try:
        os.makedirs(dest, exist_ok=True)
    except OSError as exc:
        raise SetupFailed(f"cannot create {dest}: {exc.strerror or exc}", "pick another folder with --dir") from None
    if download_fn is None:
        download_fn = download  # looked up now, so tests can replace the module's download
    if download_fn is _HUB_DOWNLOAD and not local:
        ensure_hub(repo, dest, yes)
    fetch(repo, dest, download_fn)
    check_modelfile(dest)
    env = ollama_env(settings)
    create(ollama, model, dest, env, quant)
    shown = check_tools(ollama, model, env)
    command = check_answer(dataclasses.replace(settings, model=model))
    return Created(model, settings.model, shown, command)


GENERAL_CHECK = "list the files in this folder, newest first"


def pull(ollama: str, model: str, env: dict) -> None:
    """`ollama pull MODEL`, its progress shown as it comes."""
    _say(f"pulling '{model}' through Ollama ({env.get('OLLAMA_HOST') or 'its default address'})")
    try:
        code = subprocess.call([ollama, "pull", model], env=env, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise SetupFailed(f"running {ollama} failed: {exc.strerror or exc}", "check your Ollama installation") from None
    if code != 0:
        raise SetupFailed(
            f"`ollama pull {model}` failed (exit status {code})",
            "check the name on https://ollama.com/library (e.g. qwen2.5-coder:3b) and that Ollama is running",
        )


def check_general(settings, model: str) -> str:
    """One real request to the general model; the command line its answer holds."""
    import asyncio

    from .backend import Backend
    from .errors import ShellperError
    from .general import command_of, messages

    async def ask():
        backend = Backend(settings)
        try:
            return await backend.ask_general(messages([], GENERAL_CHECK, "bash"), model)
        finally:
            await backend.aclose()

    _say(f"asking '{model}' at {settings.base_url}: {GENERAL_CHECK!r}")
    try:
        return command_of(asyncio.run(ask()))
    except ShellperError as exc:
        problem = f"the general model did not answer with a command: {exc}"
        raise SetupFailed(problem, "try another model, or run `shellper doctor`") from None


def run_general(model: str) -> str:
    """setup-model --general: pull the model and check that it answers with a command."""
    from . import paths
    from .errors import SettingsError
    from .settings import load

    if not _MODEL_NAME.match(model):
        raise SetupFailed(f"{model!r} is not a name Ollama accepts", "give a name like qwen2.5-coder:3b")
    try:
        settings = load()
    except SettingsError as exc:
        fix = f"correct that value (in {paths.config_file()} or the variable named)"
        raise SetupFailed(f"the settings do not load: {exc}", fix) from None
    pull(find_ollama(), model, ollama_env(settings))
    return check_general(settings, model)


def main_general(model: str) -> int:
    from . import paths

    try:
        command = run_general(model)
    except SetupFailed as exc:
        sys.stderr.write(f"shellper setup-model: {exc.problem}\n  next: {exc.fix}\n")
        return 1
    print(f"\nThe general model works: {GENERAL_CHECK!r} became `{command}`.")
    print(
        f'To use it for what the 18 file tools cannot do, set general_model = "{model}" in {paths.config_file()}\n'
        f"(or export SHELLPER_GENERAL_MODEL={model}); the daemon reads the config file at the next request."
    )
    return 0


def main(args) -> int:
    from . import paths

    if getattr(args, "general", None):
        return main_general(args.general)

    try:
        quant = quantization(getattr(args, "quantize", None) or DEFAULT_QUANTIZATION)
        done = run(getattr(args, "repo", None), getattr(args, "dir", None), bool(getattr(args, "yes", False)), quant=quant)
    except ValueError as exc:  # a caller that bypassed the parser's check
        sys.stderr.write(f"shellper setup-model: --quantize: {exc}\n")
        return 2
    except SetupFailed as exc:
        sys.stderr.write(f"shellper setup-model: {exc.problem}\n  next: {exc.fix}\n")
        return 1
    what = f"model '{done.model}'" + (f", {done.quantization}" if done.quantization else "")
    print(f"\nThe model works: {CHECK_REQUEST!r} became `{done.command}` ({what}).")
    if same_model(done.model, done.configured):
        print("Open a new terminal, type a request and press Ctrl-G.")
    else:
        print(
            f"shellper still uses '{done.configured}'. Compare the two on the test set:\n"
            f"  shellper eval --model {done.configured} --model {done.model}\n"
            f'To switch, set model = "{done.model}" in {paths.config_file()} '
            f"(or export SHELLPER_MODEL={done.model}), then run `shellper stop`."
        )
    return 0
