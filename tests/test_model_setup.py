"""`shellper setup-model` with its two outside edges faked: the Hugging Face
download (a stand-in `huggingface_hub` module, or a local folder) and the
`ollama` binary (a script on PATH that records its calls and answers like the
real CLI). The chat check goes through the real backend to a FakeOllama.
"""

from __future__ import annotations

import os
import stat
import sys
import types

import pytest
from fake_ollama import FakeOllama

from shellper_hook import cli, model_setup, paths

REPO = "distil-labs/distil-qwen3-0.6b-SHELLper"
MODELFILE = b'FROM ./model_fp16.gguf\nTEMPLATE """{{ .Prompt }}"""\nPARAMETER temperature 0\n'
GGUF = b"GGUF\x03\x00\x00\x00" + b"\x00" * 64

FAKE_OLLAMA = r"""#!/usr/bin/env bash
# A stand-in for the ollama CLI: records "cwd<TAB>OLLAMA_HOST<TAB>args" per call.
state=${FAKE_OLLAMA_DIR:?}
printf '%s\t%s\t%s\n' "$PWD" "${OLLAMA_HOST:-}" "$*" >>"$state/calls.log"
down() { echo "Error: could not connect to ollama app, is it running?" >&2; exit 1; }
full() { case "$1" in *:*) printf '%s\n' "$1" ;; *) printf '%s:latest\n' "$1" ;; esac; }
case "$1" in
  list)
    [ -z "${FAKE_OLLAMA_DOWN:-}" ] || down
    printf 'NAME                   ID              SIZE      MODIFIED\n'
    if [ -f "$state/models" ]; then
      while IFS= read -r m; do printf '%-22s 0123456789ab    1.5 GB    2 seconds ago\n' "$m"; done <"$state/models"
    fi
    ;;
  create)
    [ -z "${FAKE_OLLAMA_DOWN:-}" ] || down
    if [ "$3" != "-f" ] || [ ! -f "$4" ]; then echo "Error: no Modelfile found" >&2; exit 1; fi
    echo "gathering model components"
    if [ -n "${FAKE_OLLAMA_CREATE_ERROR:-}" ]; then echo "Error: $FAKE_OLLAMA_CREATE_ERROR" >&2; exit 1; fi
    echo "copying file sha256:4f1c 100%"
    echo "writing manifest"
    echo "success"
    full "$2" >>"$state/models"
    ;;
  show)
    [ -z "${FAKE_OLLAMA_DOWN:-}" ] || down
    if ! grep -Fqx "$(full "$2")" "$state/models" 2>/dev/null; then echo "Error: model '$2' not found" >&2; exit 1; fi
    printf '  Model\n    architecture        qwen3\n    parameters          751.63M\n    quantization        F16\n\n'
    printf '  Capabilities\n'
    for c in ${FAKE_OLLAMA_CAPS-completion tools}; do printf '    %s\n' "$c"; done
    printf '\n  Parameters\n    temperature    0\n\n'
    ;;
  *) echo "Error: unknown command \"$1\" for \"ollama\"" >&2; exit 1 ;;
esac
"""


def write_fake_ollama(bindir: str, statedir: str) -> str:
    """Put the fake `ollama` in bindir; its calls land in statedir/calls.log."""
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(statedir, exist_ok=True)
    path = os.path.join(bindir, "ollama")
    with open(path, "w") as fh:
        fh.write(FAKE_OLLAMA)
    os.chmod(path, 0o755)
    return path


def ollama_calls(statedir: str) -> list:
    """[(cwd, OLLAMA_HOST, "args as one string")] in call order."""
    try:
        with open(os.path.join(statedir, "calls.log")) as fh:
            return [tuple(line.rstrip("\n").split("\t", 2)) for line in fh]
    except FileNotFoundError:
        return []


def write_model_files(folder: str, modelfile: bytes = MODELFILE) -> str:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "Modelfile"), "wb") as fh:
        fh.write(modelfile)
    with open(os.path.join(folder, "model_fp16.gguf"), "wb") as fh:
        fh.write(GGUF)
    return folder


def path_without_ollama(extra: str) -> str:
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not os.path.exists(os.path.join(d, "ollama"))]
    return os.pathsep.join([extra, *keep])


class FakeHub:
    """A stand-in huggingface_hub: hf_hub_download writes the files (or fails)."""

    def __init__(self, error: Exception | None = None):
        self.calls = []
        self.error = error
        self.module = types.ModuleType("huggingface_hub")
        self.module.hf_hub_download = self.hf_hub_download

    def hf_hub_download(self, repo_id, filename, local_dir=None, **kwargs):
        self.calls.append((repo_id, filename, local_dir))
        if self.error is not None:
            raise self.error
        data = MODELFILE if filename == "Modelfile" else GGUF
        target = os.path.join(local_dir, filename)
        with open(target, "wb") as fh:
            fh.write(data)
        return target


@pytest.fixture
def setup_env(shellper_env, monkeypatch, tmp_path):
    """Private dirs, the fake ollama on PATH, a FakeOllama behind base_url."""
    bindir, statedir = str(tmp_path / "bin"), str(tmp_path / "ollama-state")
    write_fake_ollama(bindir, statedir)
    monkeypatch.setenv("PATH", path_without_ollama(bindir))
    monkeypatch.setenv("FAKE_OLLAMA_DIR", statedir)
    for var in ("FAKE_OLLAMA_DOWN", "FAKE_OLLAMA_CREATE_ERROR", "FAKE_OLLAMA_CAPS", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        yield types.SimpleNamespace(fake=fake, state=statedir, bin=bindir, tmp=tmp_path)


@pytest.fixture
def hub(monkeypatch):
    fake = FakeHub()
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake.module)
    return fake


def setup_model(*args) -> int:
    return cli.main(["setup-model", *args])


def user_texts(fake) -> list:
    return [m["content"] for body in fake.requests for m in body["messages"] if m["role"] == "user"]


# ---- the whole path ----------------------------------------------------------------


def test_downloads_creates_in_ollama_and_checks_a_real_answer(setup_env, hub, capfd):
    code = setup_model()
    out, err = capfd.readouterr()
    assert code == 0, err
    dest = os.path.join(paths.data_dir(), "model")
    # Both files from the SHELLper repo, into the data dir.
    assert sorted(c[1] for c in hub.calls) == ["Modelfile", "model_fp16.gguf"]
    assert {c[0] for c in hub.calls} == {REPO} and {c[2] for c in hub.calls} == {dest}
    with open(os.path.join(dest, "Modelfile"), "rb") as fh:
        assert fh.read() == MODELFILE
    calls = ollama_calls(setup_env.state)
    assert [c[2] for c in calls] == ["create distil_model -f Modelfile", "show distil_model"]
    # Created where the Modelfile is, on the server shellper talks to.
    assert calls[0][0] == dest
    assert {c[1] for c in calls} == {setup_env.fake.root_url}
    assert "success" in out  # Ollama's own progress is shown
    # The check asked the model through the configured base_url, with the tools.
    assert user_texts(setup_env.fake) == [model_setup.CHECK_REQUEST]
    assert setup_env.fake.requests[0]["tools"]
    assert "became `pwd`" in out


def test_configured_model_name_and_dir_are_used(setup_env, hub, capfd, monkeypatch, tmp_path):
    monkeypatch.setenv("SHELLPER_MODEL", "shellper-small:v2")
    setup_env.fake.models.append("shellper-small:v2")
    setup_env.fake.default("ls", {"a": True})
    dest = str(tmp_path / "my models")
    code = setup_model("--dir", dest)
    out, err = capfd.readouterr()
    assert code == 0, err
    assert os.path.isfile(os.path.join(dest, "model_fp16.gguf"))
    calls = ollama_calls(setup_env.state)
    assert calls[0][2] == "create shellper-small:v2 -f Modelfile" and calls[0][0] == dest
    assert setup_env.fake.requests[0]["model"] == "shellper-small:v2"
    assert "became `ls -a`" in out


def test_a_local_folder_as_repo_needs_no_download_helper(setup_env, monkeypatch, capfd, tmp_path):
    # None in sys.modules makes `import huggingface_hub` fail, as if not installed.
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    folder = write_model_files(str(tmp_path / "downloaded"))
    code = setup_model("--repo", folder)
    out, err = capfd.readouterr()
    assert code == 0, err
    calls = ollama_calls(setup_env.state)
    assert calls[0] == (folder, setup_env.fake.root_url, "create distil_model -f Modelfile")
    assert not os.path.exists(os.path.join(paths.data_dir(), "model"))  # nothing copied


def test_rerun_with_files_present_survives_a_failed_download(setup_env, monkeypatch, capfd):
    dest = write_model_files(os.path.join(paths.data_dir(), "model"))
    hub = FakeHub(error=ConnectionError("Max retries exceeded with url: /api/models"))
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub.module)
    code = setup_model()
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "using the files already in" in err
    assert ollama_calls(setup_env.state)[0][0] == dest


# ---- failures say what to do next -------------------------------------------------


def test_no_ollama_says_how_to_install_it_and_downloads_nothing(setup_env, hub, monkeypatch, capfd):
    os.remove(os.path.join(setup_env.bin, "ollama"))
    code = setup_model()
    out, err = capfd.readouterr()
    assert code == 1
    assert "Ollama is not installed" in err
    assert "https://ollama.com/download" in err and "curl -fsSL https://ollama.com/install.sh | sh" in err
    assert "shellper setup-model" in err
    assert hub.calls == []


def test_download_error_gives_the_network_hint_and_the_manual_command(setup_env, monkeypatch, capfd):
    hub = FakeHub(error=ConnectionError("Failed to resolve 'huggingface.co'"))
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub.module)
    code = setup_model()
    out, err = capfd.readouterr()
    assert code == 1
    assert "downloading the model failed" in err and "Failed to resolve" in err
    assert "HTTPS_PROXY" in err
    dest = os.path.join(paths.data_dir(), "model")
    assert f"hf download {REPO} model_fp16.gguf Modelfile --local-dir {dest}" in err
    assert ollama_calls(setup_env.state) == []  # nothing half-created


def test_missing_repository_is_named(setup_env, monkeypatch, capfd):
    class RepositoryNotFoundError(Exception):
        pass

    hub = FakeHub(error=RepositoryNotFoundError("404 Client Error"))
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub.module)
    assert setup_model("--repo", "someone/not-there") == 1
    err = capfd.readouterr().err
    assert "someone/not-there was not found" in err


def test_create_failure_shows_ollamas_words_and_how_to_retry(setup_env, hub, monkeypatch, capfd):
    monkeypatch.setenv("FAKE_OLLAMA_CREATE_ERROR", "invalid model name: unsupported architecture")
    code = setup_model()
    out, err = capfd.readouterr()
    assert code == 1
    assert "`ollama create distil_model` failed" in err
    assert "unsupported architecture" in err
    assert "ollama create distil_model -f Modelfile" in err.split("next:")[1]
    assert [c[2] for c in ollama_calls(setup_env.state)] == ["create distil_model -f Modelfile"]


def test_create_with_ollama_not_running_says_start_it(setup_env, hub, monkeypatch, capfd):
    monkeypatch.setenv("FAKE_OLLAMA_DOWN", "1")
    assert setup_model() == 1
    err = capfd.readouterr().err
    assert "could not connect" in err
    assert "ollama serve" in err.split("next:")[1]


def test_model_without_tool_capability_fails(setup_env, hub, monkeypatch, capfd):
    monkeypatch.setenv("FAKE_OLLAMA_CAPS", "completion")
    assert setup_model() == 1
    err = capfd.readouterr().err
    assert "without tool support" in err and "capabilities: completion" in err
    assert setup_env.fake.requests == []  # no point asking it


def test_check_failure_points_to_doctor(setup_env, hub, monkeypatch, capfd):
    # `ollama create` went to another server than base_url: the model is not there.
    setup_env.fake.models[:] = ["llama3:latest"]
    assert setup_model() == 1
    err = capfd.readouterr().err
    assert "did not answer with a tool call" in err and "not found" in err
    assert "shellper doctor" in err.split("next:")[1]


@pytest.mark.parametrize("name", ["--help", "-f", "$(touch_x)", "a;b", "../up", "x:"])
def test_hostile_model_name_is_refused_before_running_ollama(setup_env, hub, monkeypatch, capfd, name):
    monkeypatch.setenv("SHELLPER_MODEL", name)
    assert setup_model() == 1
    err = capfd.readouterr().err
    assert "not a name Ollama accepts" in err
    assert ollama_calls(setup_env.state) == [] and hub.calls == []


@pytest.mark.parametrize("repo", ["not a repo", "a/b/c", "-x/y", "https://example.com/x", ""])
def test_repo_that_is_neither_an_id_nor_a_folder_is_refused(setup_env, hub, capfd, repo):
    assert setup_model(f"--repo={repo}") == 1
    assert "neither a Hugging Face repository" in capfd.readouterr().err
    assert hub.calls == []


@pytest.mark.parametrize("repo", ["../../no-such-folder", "/no/such/folder", "~/no-such-folder", "./gone"])
def test_a_folder_that_does_not_exist_is_named_as_a_folder(setup_env, hub, capfd, repo):
    assert setup_model(f"--repo={repo}") == 1
    err = capfd.readouterr().err
    assert f"the folder {repo} does not exist" in err and "model_fp16.gguf and Modelfile" in err
    assert "Hugging Face repository" not in err
    assert ollama_calls(setup_env.state) == [] and hub.calls == []


def test_bad_settings_are_reported(setup_env, hub, monkeypatch, capfd):
    monkeypatch.setenv("SHELLPER_TIMEOUT", "soon")
    assert setup_model() == 1
    err = capfd.readouterr().err
    assert "SHELLPER_TIMEOUT" in err and "shellper config" in err


@pytest.mark.parametrize(
    "modelfile, problem",
    [
        (b"TEMPLATE {{ .Prompt }}\n", "no FROM line"),
        (b"FROM ./other.gguf\n", "builds from ./other.gguf, which is not in"),
        (b"\xff\xfe\x00garbage", "cannot be read as text"),
    ],
)
def test_broken_modelfile_is_caught_before_ollama(setup_env, monkeypatch, capfd, tmp_path, modelfile, problem):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    folder = write_model_files(str(tmp_path / "m"), modelfile)
    assert setup_model("--repo", folder) == 1
    assert problem in capfd.readouterr().err
    assert ollama_calls(setup_env.state) == []


# ---- the download helper ------------------------------------------------------------


def test_without_huggingface_hub_and_no_tty_it_explains_instead_of_installing(setup_env, monkeypatch, capfd):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    code = setup_model()
    err = capfd.readouterr().err
    assert code == 1
    assert "needs huggingface_hub" in err
    assert "pip install 'huggingface_hub>=0.20'" in err
    assert "hf download" in err and "--yes" in err
    assert ollama_calls(setup_env.state) == []


def test_yes_installs_huggingface_hub_into_the_running_interpreter(setup_env, monkeypatch, capfd, tmp_path):
    """--yes runs `<python> -m pip install huggingface_hub`; afterwards the import works."""
    site = tmp_path / "site"
    site.mkdir()
    log = tmp_path / "pip.log"
    module = (
        "import os\n"
        "def hf_hub_download(repo_id, filename, local_dir=None, **kw):\n"
        "    data = b'FROM ./model_fp16.gguf\\n' if filename == 'Modelfile' else b'GGUF'\n"
        "    path = os.path.join(local_dir, filename)\n"
        "    open(path, 'wb').write(data)\n"
        "    return path\n"
    )
    fake_python = tmp_path / "python"
    fake_python.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "%s\\n" "$*" >> {log}\n'
        f"mkdir -p {site}/huggingface_hub\n"
        f"cat > {site}/huggingface_hub/__init__.py <<'EOF'\n{module}EOF\n"
    )
    fake_python.chmod(fake_python.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "executable", str(fake_python))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "huggingface_hub", raising=False)
    try:
        code = setup_model("--yes")
    finally:
        sys.modules.pop("huggingface_hub", None)
    out, err = capfd.readouterr()
    assert code == 0, err
    assert log.read_text().split() == ["-m", "pip", "install", "--quiet", "huggingface_hub>=0.20"]
    assert [c[2] for c in ollama_calls(setup_env.state)][0] == "create distil_model -f Modelfile"


def test_failed_helper_install_is_reported(setup_env, monkeypatch, capfd, tmp_path):
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/usr/bin/env bash\necho 'ERROR: No matching distribution found' >&2\nexit 1\n")
    fake_python.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake_python))
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    assert setup_model("--yes") == 1
    err = capfd.readouterr().err
    assert "installing huggingface_hub failed (pip exit status 1" in err
    assert "hf download" in err


# ---- reading `ollama show` ----------------------------------------------------------


def test_capabilities_are_read_from_ollama_show_output():
    text = (
        "  Model\n    architecture        qwen3\n    context length      40960\n\n"
        "  Capabilities\n    completion    \n    tools\n    thinking\n\n"
        "  Parameters\n    tools    1\n"
    )
    assert model_setup.capabilities(text) == ["completion", "tools", "thinking"]
    # The section ends at the next heading even without a blank line.
    assert model_setup.capabilities("  Capabilities\n    completion\n  License\n    tools\n") == ["completion"]
    # An Ollama too old to list capabilities.
    assert model_setup.capabilities("  Model\n    arch    qwen3\n") is None
    assert model_setup.capabilities("") is None
