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
    # FAKE_OLLAMA_QUANTS: the levels this Ollama can make ("" for one older than --quantize);
    # FAKE_OLLAMA_SOURCE: the GGUF's own file type.
    source_type=${FAKE_OLLAMA_SOURCE:-F16} quant=$source_type
    if [ $# -gt 4 ]; then
      if [ -z "${FAKE_OLLAMA_QUANTS-Q8_0 Q4_K_S Q4_K_M}" ]; then echo "Error: unknown flag: $5" >&2; exit 1; fi
      if [ "$5" != "--quantize" ] || [ $# -ne 6 ]; then echo "Error: unexpected arguments: $*" >&2; exit 1; fi
      quant=$(printf '%s' "$6" | tr '[:lower:]' '[:upper:]')
      case " ${FAKE_OLLAMA_QUANTS-Q8_0 Q4_K_S Q4_K_M} F16 F32 " in
        *" $quant "*) ;;
        *) echo "Error: unsupported quantization type $quant - supported types are F32, F16, ${FAKE_OLLAMA_QUANTS-Q8_0 Q4_K_S Q4_K_M}" >&2; exit 1 ;;
      esac
    fi
    echo "gathering model components"
    if [ -n "${FAKE_OLLAMA_CREATE_ERROR:-}" ]; then echo "Error: $FAKE_OLLAMA_CREATE_ERROR" >&2; exit 1; fi
    echo "copying file sha256:4f1c 100%"
    if [ "$quant" != "$source_type" ]; then
      case $source_type in F16|BF16|F32) ;; *) echo "Error: quantization is only supported for F16, BF16 and F32 models" >&2; exit 1 ;; esac
      echo "quantizing $source_type model to $quant"
    fi
    echo "writing manifest"
    echo "success"
    full "$2" >>"$state/models"
    printf '%s\n' "$quant" >"$state/quant-$(full "$2" | tr '/:' '__')"
    ;;
  show)
    [ -z "${FAKE_OLLAMA_DOWN:-}" ] || down
    if ! grep -Fqx "$(full "$2")" "$state/models" 2>/dev/null; then echo "Error: model '$2' not found" >&2; exit 1; fi
    printf '  Model\n    architecture        qwen3\n    parameters          751.63M\n    quantization        %s\n\n' \
      "$(cat "$state/quant-$(full "$2" | tr '/:' '__')" 2>/dev/null || echo F16)"
    printf '  Capabilities\n'
    for c in ${FAKE_OLLAMA_CAPS-completion tools}; do printf '    %s\n' "$c"; done
    printf '\n  Parameters\n    temperature    0\n\n'
    ;;
  pull)
    [ -z "${FAKE_OLLAMA_DOWN:-}" ] || down
    if [ -n "${FAKE_OLLAMA_PULL_ERROR:-}" ]; then echo "Error: $FAKE_OLLAMA_PULL_ERROR" >&2; exit 1; fi
    echo "pulling manifest"
    echo "success"
    full "$2" >>"$state/models"
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
    for var in (
        "FAKE_OLLAMA_DOWN",
        "FAKE_OLLAMA_CREATE_ERROR",
        "FAKE_OLLAMA_CAPS",
        "FAKE_OLLAMA_QUANTS",
        "FAKE_OLLAMA_SOURCE",
        "OLLAMA_HOST",
    ):
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
    # q8_0 by default, under the configured name.
    assert [c[2] for c in calls] == ["create distil_model -f Modelfile --quantize q8_0", "show distil_model"]
    # Created where the Modelfile is, on the server shellper talks to.
    assert calls[0][0] == dest
    assert {c[1] for c in calls} == {setup_env.fake.root_url}
    assert "success" in out  # Ollama's own progress is shown
    # The check asked the model through the configured base_url, with the tools.
    assert user_texts(setup_env.fake) == [model_setup.CHECK_REQUEST]
    assert setup_env.fake.requests[0]["tools"]
    assert "became `pwd` (model 'distil_model', Q8_0)" in out
    assert "press Ctrl-G" in out and "shellper eval" not in out  # it is the model shellper uses


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
    assert calls[0][2] == "create shellper-small:v2 -f Modelfile --quantize q8_0" and calls[0][0] == dest
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
    assert calls[0] == (folder, setup_env.fake.root_url, "create distil_model -f Modelfile --quantize q8_0")
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
    assert "ollama create distil_model -f Modelfile --quantize q8_0" in err.split("next:")[1]
    assert [c[2] for c in ollama_calls(setup_env.state)] == ["create distil_model -f Modelfile --quantize q8_0"]


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
    assert [c[2] for c in ollama_calls(setup_env.state)][0] == "create distil_model -f Modelfile --quantize q8_0"


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


# ---- quantization ------------------------------------------------------------------


@pytest.mark.parametrize("given, quant", [("q4_K_M", "q4_K_M"), ("Q4_K_m", "q4_K_M"), ("fp16", "fp16")])
def test_another_quantization_gets_its_own_name_and_says_how_to_use_it(setup_env, hub, capfd, given, quant):
    name = f"distil_model:{quant}"
    setup_env.fake.models.append(name)
    code = setup_model("--quantize", given)
    out, err = capfd.readouterr()
    assert code == 0, err
    calls = [c[2] for c in ollama_calls(setup_env.state)]
    flag = "" if quant == "fp16" else f" --quantize {quant}"  # fp16: the downloaded file as it is
    assert calls == [f"create {name} -f Modelfile{flag}", f"show {name}"]
    # The check asked the new model, not the configured one.
    assert [body["model"] for body in setup_env.fake.requests] == [name]
    shown = "F16" if quant == "fp16" else quant.upper()
    assert f"became `pwd` (model '{name}', {shown})" in out
    assert "shellper still uses 'distil_model'" in out
    assert f"shellper eval --model distil_model --model {name}" in out
    assert f'model = "{name}" in {paths.config_file()}' in out and f"SHELLPER_MODEL={name}" in out


@pytest.mark.parametrize(
    "configured, quant, created",
    [
        ("shellper-small:v2", "q4_K_M", "shellper-small:v2-q4_K_M"),
        ("distil_model:q4_K_M", "q8_0", "distil_model"),  # the name never says another level
        ("distil_model:q4_K_M", "q4_K_M", "distil_model:q4_K_M"),
        ("distil_model:latest", "fp16", "distil_model:fp16"),
        ("me/distil:v2-fp16", "q8_0", "me/distil:v2"),
    ],
)
def test_the_created_name_follows_the_configured_one(setup_env, hub, capfd, monkeypatch, configured, quant, created):
    monkeypatch.setenv("SHELLPER_MODEL", configured)
    setup_env.fake.models.append(created)
    assert setup_model("--quantize", quant) == 0, capfd.readouterr().err
    assert ollama_calls(setup_env.state)[0][2].startswith(f"create {created} -f Modelfile")
    out = capfd.readouterr().out
    assert ("shellper still uses" in out) == (created not in (configured, configured.replace(":latest", "")))


def test_an_unknown_level_is_a_usage_error_before_anything_runs(setup_env, hub, capfd):
    with pytest.raises(SystemExit) as exit_:
        setup_model("--quantize", "q3_K_S")
    assert exit_.value.code == 2
    err = capfd.readouterr().err
    assert "choose one of q8_0, q4_K_M, fp16, not 'q3_K_S'" in err
    assert ollama_calls(setup_env.state) == [] and hub.calls == []


def test_an_ollama_too_old_to_quantize_says_update_or_fp16(setup_env, hub, monkeypatch, capfd):
    monkeypatch.setenv("FAKE_OLLAMA_QUANTS", "")  # no --quantize flag at all
    assert setup_model() == 1
    err = capfd.readouterr().err
    assert "unknown flag: --quantize" in err
    fix = err.split("next:")[1]
    assert "update it (https://ollama.com/download)" in fix and "shellper setup-model --quantize fp16" in fix
    # ...and following the fix works with that same Ollama.
    setup_env.fake.models.append("distil_model:fp16")
    assert setup_model("--quantize", "fp16") == 0
    assert ollama_calls(setup_env.state)[-2][2] == "create distil_model:fp16 -f Modelfile"


def test_a_level_this_ollama_cannot_make_names_the_others(setup_env, hub, monkeypatch, capfd):
    monkeypatch.setenv("FAKE_OLLAMA_QUANTS", "Q8_0")
    assert setup_model("--quantize", "q4_K_M") == 1
    err = capfd.readouterr().err
    assert "unsupported quantization type Q4_K_M" in err
    fix = err.split("next:")[1]
    assert "cannot make q4_K_M" in fix and "--quantize q8_0 or --quantize fp16" in fix


def test_an_already_quantized_gguf_says_create_it_as_it_is(setup_env, monkeypatch, capfd, tmp_path):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    monkeypatch.setenv("FAKE_OLLAMA_SOURCE", "Q4_K_M")
    folder = write_model_files(str(tmp_path / "mine"))
    assert setup_model("--repo", folder) == 1
    err = capfd.readouterr().err
    assert "only supported for F16, BF16 and F32" in err
    assert "already quantized" in err and "--quantize fp16" in err.split("next:")[1]
    setup_env.fake.models.append("distil_model:fp16")
    assert setup_model("--repo", folder, "--quantize", "fp16") == 0
    assert "(model 'distil_model:fp16', Q4_K_M)" in capfd.readouterr().out  # what it really holds


def test_help_gives_the_levels_and_the_reason_for_the_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["setup-model", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for level in model_setup.QUANTIZATIONS:
        assert level in text
    assert f"{model_setup.DEFAULT_QUANTIZATION} (default)" in text and "0.6B" in text


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


def test_quantization_is_read_from_ollama_show_output():
    text = "  Model\n    architecture        qwen3\n    quantization        Q4_K_M\n\n  Parameters\n    temperature 0\n"
    assert model_setup.shown_quantization(text) == "Q4_K_M"
    assert model_setup.shown_quantization("  Model\n    architecture        qwen3\n") is None


# ---- the general model (setup-model --general) ------------------------------------------


def test_general_pulls_the_model_and_checks_it_answers_with_a_command(setup_env, capfd):
    setup_env.fake.models.append("qwen2.5-coder:3b")
    setup_env.fake.say("newest first", "```bash\nls -lt\n```", model="qwen2.5-coder:3b")
    assert setup_model("--general", "qwen2.5-coder:3b") == 0
    out = capfd.readouterr().out
    assert [c[2] for c in ollama_calls(setup_env.state)] == ["pull qwen2.5-coder:3b"]
    assert "became `ls -lt`" in out and 'general_model = "qwen2.5-coder:3b"' in out
    body = setup_env.fake.requests[-1]
    assert body["model"] == "qwen2.5-coder:3b" and "tools" not in body


def test_general_says_what_failed_a_pull_or_an_answer_in_prose(setup_env, capfd, monkeypatch):
    monkeypatch.setenv("FAKE_OLLAMA_PULL_ERROR", "pull model manifest: file does not exist")
    assert setup_model("--general", "no-such-model") == 1
    err = capfd.readouterr().err
    assert "`ollama pull no-such-model` failed" in err and "next:" in err
    monkeypatch.delenv("FAKE_OLLAMA_PULL_ERROR")
    setup_env.fake.models.append("chatty:latest")
    setup_env.fake.say("newest first", "Sure! You can list files with the ls command.", model="chatty")
    assert setup_model("--general", "chatty") == 1
    assert "answered with prose, not a command" in capfd.readouterr().err
    assert setup_model("--general", "bad name!") == 1
    assert "not a name Ollama accepts" in capfd.readouterr().err
