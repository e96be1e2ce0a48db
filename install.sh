#!/usr/bin/env bash
# Install shellper from this checkout for the current user: no root needed.
# Run ./install.sh --help for the options.
# Started as `sh install.sh`: the rest needs bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: ./install.sh [options]

Installs shellper from this checkout for you alone:
  - into its own virtual environment in shellper's data dir
    (Linux: ${XDG_DATA_HOME:-~/.local/share}/shellper/venv,
     macOS: ~/Library/Application Support/shellper/venv),
    or with pipx / uv tool if you ask for it;
  - links the command as ~/.local/bin/shellper;
  - adds the shell integration (Ctrl-G) to ~/.zshrc and/or ~/.bashrc,
    between "# >>> shellper >>>" and "# <<< shellper <<<", and, when fish
    is installed, as ~/.config/fish/conf.d/shellper.fish;
  - offers to download the model and create it in Ollama;
  - ends with `shellper doctor`.
Running it again changes none of your rc files.

Options:
  --zsh, --bash    add the integration to ~/.zshrc / ~/.bashrc
                   (default: the rc file of your $SHELL)
  --fish           add ~/.config/fish/conf.d/shellper.fish even if fish
                   is not on PATH yet (default: when it is)
  --no-rc          do not touch any rc file
  --pipx, --uv     install with pipx / uv tool instead of a private venv
  --no-model       skip the model step
  --no-doctor      skip the final `shellper doctor`
  -y, --yes        answer yes to every question (set up the model too)
  --force          rebuild the virtual environment, replace a foreign
                   ~/.local/bin/shellper
  --python PATH    the Python (>= 3.10) to use (also: $SHELLPER_PYTHON)
  --uninstall      remove what this script added: the environment, the
                   link, the rc blocks (your rc files come back byte for
                   byte), and the downloaded model files (the model dir
                   next to the venv, e.g. ~/.local/share/shellper/model);
                   the model created in Ollama, your history, undo copies
                   and settings stay
  --purge          with --uninstall: also delete history, settings, log
                   and the copies kept for undo (the undo folder)
  -h, --help       this help

Environment:
  SHELLPER_PIP_ARGS          extra arguments for pip (e.g. --no-index
                             --find-links DIR); PIP_INDEX_URL etc. work too
  SHELLPER_VENV_ARGS         extra arguments for `python -m venv`
  SHELLPER_SETUP_MODEL_ARGS  extra arguments for `shellper setup-model`
                             (e.g. --repo DIR with files you downloaded)
EOF
}

say() { printf '%s\n' "$*"; }
step() { printf '==> %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# ---- options ------------------------------------------------------------------

want_zsh=0 want_bash=0 want_fish=0 no_rc=0 method=venv no_model=0 no_doctor=0 yes=0 force=0
uninstall=0 purge=0 python="${SHELLPER_PYTHON:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --zsh) want_zsh=1 ;;
    --bash) want_bash=1 ;;
    --fish) want_fish=1 ;;
    --no-rc) no_rc=1 ;;
    --pipx) method=pipx ;;
    --uv) method=uv ;;
    --no-model) no_model=1 ;;
    --no-doctor) no_doctor=1 ;;
    -y | --yes) yes=1 ;;
    --force) force=1 ;;
    --python)
      [ $# -ge 2 ] || die "--python needs a path"
      python=$2
      shift
      ;;
    --python=*) python=${1#--python=} ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option: $1 (see ./install.sh --help)" ;;
  esac
  shift
done
[ $purge -eq 0 ] || [ $uninstall -eq 1 ] || die "--purge goes with --uninstall"

case "$(uname -s)" in
  Linux | Darwin) ;;
  *) die "shellper installs on Linux and macOS; this is $(uname -s)" ;;
esac
if [ -z "${HOME:-}" ] || [ ! -d "$HOME" ]; then die "HOME is not set to a directory"; fi
if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ]; then
  warn "running under sudo installs shellper for root, not for $SUDO_USER; no root is needed: run it without sudo"
fi

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
if [ ! -f "$SRC/pyproject.toml" ] || [ ! -d "$SRC/shellper_hook" ]; then
  die "run this script from a shellper checkout ($SRC has no pyproject.toml)"
fi

BIN_DIR="$HOME/.local/bin"
LINK="$BIN_DIR/shellper"

# Word-split the extra-argument variables on purpose, without globbing.
read -r -a PIP_EXTRA <<<"${SHELLPER_PIP_ARGS:-}"
read -r -a VENV_EXTRA <<<"${SHELLPER_VENV_ARGS:-}"
read -r -a MODEL_EXTRA <<<"${SHELLPER_SETUP_MODEL_ARGS:-}"

# ---- Python -------------------------------------------------------------------------

good_python() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1; }

find_python() {
  if [ -n "$python" ]; then
    good_python "$python" || die "$python is not a working Python 3.10 or newer"
  fi
  local candidate
  for candidate in python3.14 python3.13 python3.12 python3.11 python3.10 python3; do
    # A version manager's shim may exist for a version that is not installed: run it to be sure.
    if [ -z "$python" ] && command -v "$candidate" >/dev/null 2>&1 && good_python "$candidate"; then
      python=$(command -v "$candidate")
    fi
  done
  [ -n "$python" ] || die "shellper needs Python 3.10 or newer, and none was found (tried python3.14 ... python3.10, python3).
  Install one: macOS: brew install python  Debian/Ubuntu: sudo apt install python3 python3-venv
  Fedora: sudo dnf install python3  Then run ./install.sh again (or point --python at it)."
  say "   using Python $("$python" -c 'import platform; print(platform.python_version())') ($python)"
}

# shellper's own directories, from its stdlib-only paths module, so they always agree.
read_dirs() {
  local out
  # -c, not a here-document: bash 3.2 (macOS's /bin/bash) parses those inside $(...) unreliably.
  out=$("$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); from shellper_hook import paths; print(paths.data_dir()); print(paths.state_dir()); print(paths.config_dir())' "$SRC") ||
    die "could not read shellper's directories with $python"
  DATA_DIR=$(printf '%s\n' "$out" | sed -n 1p)
  STATE_DIR=$(printf '%s\n' "$out" | sed -n 2p)
  CONFIG_DIR=$(printf '%s\n' "$out" | sed -n 3p)
  VENV="$DATA_DIR/venv"
  MANIFEST="$DATA_DIR/install-manifest"
}

# ---- what this script did (for --uninstall) ---------------------------------------

manifest_has() { [ -f "$MANIFEST" ] && grep -Fxq -- "$1" "$MANIFEST"; }
manifest_add() {
  manifest_has "$1" && return 0
  mkdir -p "$DATA_DIR"
  printf '%s\n' "$1" >>"$MANIFEST"
}

# Directories that do not exist yet and that installing will create, deepest
# last; --uninstall removes them again when they are empty.
NEW_DIRS=()
note_new_dirs() {
  local d
  for d in "$@"; do
    while [ "$d" != "$HOME" ] && [ "$d" != / ] && [ "$d" != . ] && [ ! -e "$d" ] && [ ! -L "$d" ]; do
      NEW_DIRS+=("$d")
      d=$(dirname "$d")
    done
  done
}

# ---- rc files -------------------------------------------------------------------------

# rc_edit add FILE BLOCK  -> prints "unchanged" | "added [created] [newline]" | "updated"
# rc_edit remove FILE CREATED NEWLINE -> prints "absent" | "removed" | "deleted"
# Edits go through the real file behind a symlink (dotfile managers) and keep its mode.
rc_edit() {
  "$python" - "$@" <<'PY'
import os, re, sys

BEGIN, END = "# >>> shellper >>>", "# <<< shellper <<<"
# A line that sources zsh-syntax-highlighting (not a comment).
HIGHLIGHTER = re.compile(r"\s*(source|\.)\s+\S*zsh-syntax-highlighting[^/\s]*\.zsh\b")


def read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None


def write(path, text):
    real = os.path.realpath(path)
    try:
        mode = os.stat(real).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    tmp = real + ".shellper-tmp"
    with open(tmp, "wb") as fh:
        fh.write(text.encode("utf-8", "surrogateescape"))
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, real)


def lines_of(text):
    # Split at "\n" only, as the shell does; joining the parts gives text back exactly.
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def blocks(lines):
    found, start = [], None
    for i, line in enumerate(lines):
        mark = line.strip()
        if start is None and mark == BEGIN:
            start = i
        elif start is not None and mark == END:
            found.append((start, i))
            start = None
    if start is not None:
        sys.stderr.write(f"{sys.argv[2]}: line {start + 1} opens a shellper block that never closes "
                         f"({END!r} is missing); fix the file by hand\n")
        sys.exit(3)
    return found


def main(action, path):
    text = read(path)
    if action == "add":
        block = sys.argv[3]
        created = text is None
        text = text or ""
        lines = lines_of(text)
        found = blocks(lines)
        if found:
            if len(found) == 1 and "".join(lines[found[0][0]:found[0][1] + 1]) == block:
                return "unchanged"
            first = found[0][0]
            inside = lambda i: any(s <= i <= e for s, e in found)
            keep = [l for i, l in enumerate(lines) if not inside(i)]
            before = sum(1 for i in range(first) if not inside(i))
            write(path, "".join(keep[:before]) + block + "".join(keep[before:]))
            return "updated"
        # zsh-syntax-highlighting wants to be sourced last: go before it.
        if " init zsh)" in block:
            at = next((i for i, l in enumerate(lines) if HIGHLIGHTER.match(l)), None)
            if at is not None:
                write(path, "".join(lines[:at]) + block + "".join(lines[at:]))
                return "added"
        newline = bool(text) and not text.endswith("\n")
        write(path, text + ("\n" if newline else "") + block)
        return " ".join(["added"] + (["created"] if created else []) + (["newline"] if newline else []))
    created, newline = sys.argv[3] == "1", sys.argv[4] == "1"
    if text is None:
        return "absent"
    lines = lines_of(text)
    found = blocks(lines)
    if not found:
        return "absent"
    at_end = found[-1][1] == len(lines) - 1
    rest = "".join(l for i, l in enumerate(lines) if not any(s <= i <= e for s, e in found))
    if newline and at_end and rest.endswith("\n"):
        rest = rest[:-1]  # the newline install.sh added before the block
    if rest == "" and created:
        os.remove(path)
        return "deleted"
    write(path, rest)
    return "removed"


try:
    print(main(sys.argv[1], sys.argv[2]))
except OSError as err:
    sys.stderr.write(f"{sys.argv[2]}: {err.strerror or err}\n")
    sys.exit(3)
PY
}

rc_path() {
  case "$1" in
    zsh) printf '%s\n' "${ZDOTDIR:-$HOME}/.zshrc" ;;
    bash) printf '%s\n' "$HOME/.bashrc" ;;
  esac
}

rc_block() {
  # The init file (`shellper init SHELL --static`) costs a new shell a file read, not a
  # Python start; the eval line is the fallback. The absolute path keeps it working when
  # ~/.local/bin is not on PATH; the tests keep the shell starting cleanly once shellper is gone.
  cat <<EOF
# >>> shellper >>>
# shellper: type a request, press Ctrl-G. Added by install.sh; \`install.sh --uninstall\` removes it.
if [ -r $(sq "$DATA_DIR/init.$1") ]; then . $(sq "$DATA_DIR/init.$1")
elif [ -x "\$HOME/.local/bin/shellper" ]; then eval "\$(cd / && "\$HOME/.local/bin/shellper" init $1)"; fi
# <<< shellper <<<
EOF
}

# $1 as one single-quoted shell word.
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# The init files the rc blocks source: the settings and a line sourcing the
# installed script (so an upgrade inside the venv needs no new file).
write_init_files() {
  local shell
  for shell in zsh bash fish; do
    if "$LINK" init "$shell" --static >"$DATA_DIR/init.$shell.new" 2>/dev/null; then
      mv -f -- "$DATA_DIR/init.$shell.new" "$DATA_DIR/init.$shell"
    else
      rm -f -- "$DATA_DIR/init.$shell.new"
      warn "could not write $DATA_DIR/init.$shell; new shells will run \`shellper init $shell\` instead"
    fi
  done
}

add_rc() {
  local shell=$1 file result
  file=$(rc_path "$shell")
  if ! result=$(rc_edit add "$file" "$(rc_block "$shell")"$'\n'); then
    warn "left $file alone"
    return 0
  fi
  case "$result" in
    unchanged) say "   $file already loads shellper" ;;
    updated) say "   updated the shellper block in $file" ;;
    added*)
      case "$result" in *created*) manifest_add "rc-created $file" ;; esac
      case "$result" in *newline*) manifest_add "rc-newline $file" ;; esac
      say "   added the shellper block to $file"
      ;;
  esac
  manifest_add "rc $file"
}

remove_rc() {
  local file=$1 created=0 newline=0 result
  manifest_has "rc-created $file" && created=1
  manifest_has "rc-newline $file" && newline=1
  if ! result=$(rc_edit remove "$file" "$created" "$newline"); then
    warn "left $file alone"
    return 0
  fi
  case "$result" in
    removed) say "   removed the shellper block from $file" ;;
    deleted) say "   removed $file (install.sh had created it)" ;;
  esac
}

# fish reads every file in conf.d at start-up (the zoxide convention): one file of ours.
fish_conf() { printf '%s\n' "${XDG_CONFIG_HOME:-$HOME/.config}/fish/conf.d/shellper.fish"; }
# shellcheck disable=SC2016  # fish expands $HOME, not this script
FISH_MARK='# shellper: type a request, press Ctrl-G. Added by install.sh; `install.sh --uninstall` removes it.'
fish_block() {
  local init
  # fish's single quotes take \\ and \' as escapes.
  init="'$(printf '%s' "$DATA_DIR/init.fish" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")'"
  # shellcheck disable=SC2016  # fish expands $HOME, not this script
  printf '%s\n' "$FISH_MARK" \
    'if status is-interactive' \
    "    if test -r $init" \
    "        source $init" \
    '    else if test -x "$HOME/.local/bin/shellper"' \
    '        command sh -c '"'"'cd / && exec "$HOME/.local/bin/shellper" init fish'"'"' | source' \
    '    end' \
    'end'
}

add_fish() {
  local file d
  file=$(fish_conf)
  if [ -e "$file" ] || [ -L "$file" ]; then
    if [ "$(cat "$file" 2>/dev/null)" = "$(fish_block)" ]; then
      say "   $file already loads shellper"
      manifest_add "fish $file"
      return 0
    fi
    if [ -L "$file" ] || [ "$(head -n 1 "$file" 2>/dev/null)" != "$FISH_MARK" ]; then
      warn "left $file alone (it is not shellper's)"
      return 0
    fi
  fi
  note_new_dirs "$(dirname "$file")"
  mkdir -p "$(dirname "$file")"
  for d in ${NEW_DIRS[@]+"${NEW_DIRS[@]}"}; do [ ! -d "$d" ] || manifest_add "dir $d"; done
  fish_block >"$file"
  manifest_add "fish $file"
  say "   added $file"
}

remove_fish() {
  local file=$1
  [ -f "$1" ] && [ ! -L "$1" ] && [ "$(head -n 1 "$file" 2>/dev/null)" = "$FISH_MARK" ] || return 0
  rm -f -- "$file"
  say "   removed $file"
}

# ---- uninstall -------------------------------------------------------------------------

# rm -rf only what is unmistakably shellper's.
remove_dir() {
  case "$1" in
    */shellper | */shellper/venv | */shellper/model) ;;
    *) die "refusing to delete $1" ;;
  esac
  if [ -e "$1" ] || [ -L "$1" ]; then
    rm -rf -- "$1"
    say "   deleted $1"
  fi
}

do_uninstall() {
  local model=
  step "uninstalling shellper"
  # Stop the daemon first: it runs from the environment about to go.
  if [ -x "$LINK" ]; then
    model=$(configured_model 2>/dev/null) || model=
    "$LINK" stop >/dev/null 2>&1 || true
  fi

  local files=() line file
  if [ -f "$MANIFEST" ]; then
    while IFS= read -r line; do
      case "$line" in "rc "*) files+=("${line#rc }") ;; esac
    done <"$MANIFEST"
  fi
  files+=("$(rc_path zsh)" "$(rc_path bash)" "$HOME/.zshrc")
  local seen=" "
  for file in "${files[@]}"; do
    case "$seen" in *" $file "*) continue ;; esac
    seen="$seen$file "
    remove_rc "$file"
  done
  if [ -f "$MANIFEST" ]; then
    while IFS= read -r line; do
      case "$line" in "fish "*) remove_fish "${line#fish }" ;; esac
    done <"$MANIFEST"
  fi
  remove_fish "$(fish_conf)"

  if [ -L "$LINK" ]; then
    local target
    target=$(readlink "$LINK")
    if [ "$target" = "$VENV/bin/shellper" ] || manifest_has "link $LINK"; then
      rm -f -- "$LINK"
      say "   deleted $LINK"
    fi
  fi
  if manifest_has "method pipx" && command -v pipx >/dev/null 2>&1; then
    pipx uninstall shellper >/dev/null 2>&1 && say "   pipx uninstall shellper"
  fi
  if manifest_has "method uv" && command -v uv >/dev/null 2>&1; then
    uv tool uninstall shellper >/dev/null 2>&1 && say "   uv tool uninstall shellper"
  fi
  local dirs=()
  if [ -f "$MANIFEST" ]; then
    while IFS= read -r line; do
      case "$line" in "dir "*) dirs+=("${line#dir }") ;; esac
    done <"$MANIFEST"
  fi
  remove_dir "$VENV"
  remove_dir "$DATA_DIR/model"
  rm -f -- "$MANIFEST" "$DATA_DIR/init.zsh" "$DATA_DIR/init.bash" "$DATA_DIR/init.fish"
  if [ $purge -eq 1 ]; then
    remove_dir "$STATE_DIR"
    remove_dir "$CONFIG_DIR"
    remove_dir "$DATA_DIR"
  else
    rmdir -- "$DATA_DIR" 2>/dev/null || true
    if [ -e "$STATE_DIR" ] || [ -e "$CONFIG_DIR" ]; then
      say "   kept your history and undo copies ($STATE_DIR) and settings ($CONFIG_DIR); --purge deletes them"
    fi
  fi
  # The directories install.sh created, deepest first, if nothing else is in them now.
  if [ ${#dirs[@]} -gt 0 ]; then
    printf '%s\n' "${dirs[@]}" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2- |
      while IFS= read -r line; do rmdir -- "$line" 2>/dev/null || true; done
  fi
  if command -v ollama >/dev/null 2>&1; then
    say "   the model stays in Ollama; \`ollama rm ${model:-distil_model}\` removes it"
  fi
  say "shellper is uninstalled. Open a new terminal to drop it from your shell."
}

# ---- install ------------------------------------------------------------------------

install_venv() {
  local fresh=0
  if [ $force -eq 1 ] || ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
    fresh=1
  fi
  if [ $fresh -eq 1 ]; then
    [ ! -e "$VENV" ] || remove_dir "$VENV"
    step "creating a virtual environment in $VENV"
    mkdir -p "$DATA_DIR"
    "$python" -m venv ${VENV_EXTRA[@]+"${VENV_EXTRA[@]}"} "$VENV" ||
      die "$python could not create a virtual environment.
  Debian/Ubuntu: sudo apt install python3-venv (or python3.X-venv for your version), then run ./install.sh again."
  fi
  step "installing shellper from $SRC"
  "$VENV/bin/python" -m pip install --quiet ${PIP_EXTRA[@]+"${PIP_EXTRA[@]}"} "$SRC" ||
    die "pip could not install shellper (its messages are above).
  Behind a proxy? set HTTPS_PROXY. Offline? SHELLPER_PIP_ARGS='--no-index --find-links DIR'."
  TARGET="$VENV/bin/shellper"
  manifest_add "method venv"
}

install_pipx() {
  command -v pipx >/dev/null 2>&1 || die "--pipx: pipx is not installed (https://pipx.pypa.io), or leave out --pipx"
  step "installing shellper with pipx"
  local args=(install --force --python "$python")
  [ ${#PIP_EXTRA[@]} -eq 0 ] || args+=(--pip-args "${PIP_EXTRA[*]}")
  pipx "${args[@]}" "$SRC" || die "pipx could not install shellper (see above)"
  local bin
  bin=$(pipx environment --value PIPX_BIN_DIR 2>/dev/null) || bin=${PIPX_BIN_DIR:-$HOME/.local/bin}
  TARGET="$bin/shellper"
  manifest_add "method pipx"
}

install_uv() {
  command -v uv >/dev/null 2>&1 || die "--uv: uv is not installed (https://docs.astral.sh/uv/), or leave out --uv"
  step "installing shellper with uv tool"
  uv tool install --force --python "$python" "$SRC" || die "uv could not install shellper (see above)"
  local bin
  bin=$(uv tool dir --bin 2>/dev/null) || bin=$HOME/.local/bin
  TARGET="$bin/shellper"
  manifest_add "method uv"
}

make_link() {
  [ -x "$TARGET" ] || die "the install did not produce $TARGET"
  mkdir -p "$BIN_DIR"
  if [ "$TARGET" -ef "$LINK" ] && [ "$(cd "$(dirname "$TARGET")" && pwd -P)" = "$(cd "$BIN_DIR" && pwd -P)" ]; then
    return 0 # pipx / uv put it in ~/.local/bin themselves
  fi
  if [ -L "$LINK" ]; then
    [ "$(readlink "$LINK")" = "$TARGET" ] && return 0
    say "   replacing the link $LINK (it pointed to $(readlink "$LINK"))"
  elif [ -e "$LINK" ]; then
    say "   replacing $LINK (--force)"
  fi
  ln -sfn "$TARGET" "$LINK"
  manifest_add "link $LINK"
  say "   linked $LINK -> $TARGET"
}

configured_model() {
  "$LINK" config --json 2>/dev/null | "$python" -c 'import json, sys; print(json.load(sys.stdin)["model"]["value"])'
}

model_step() {
  local model list go=0 answer
  if ! model=$(configured_model) || [ -z "$model" ]; then
    warn "the settings do not load (see \`shellper config\`); skipping the model step"
    return 0
  fi
  if ! command -v ollama >/dev/null 2>&1; then
    say "Ollama, which runs the model, is not installed. Get it from https://ollama.com/download"
    say "  (Linux: curl -fsSL https://ollama.com/install.sh | sh), start it, then run: shellper setup-model"
    return 0
  fi
  if ! list=$(ollama list 2>&1); then
    say "Ollama is installed but does not answer (ollama list: $(printf '%s' "$list" | tail -n 1))."
    say "  Start it (\`ollama serve\`, or open the Ollama app), then run: shellper setup-model"
    return 0
  fi
  if printf '%s\n' "$list" | awk 'NR > 1 { print $1 }' | grep -Fxq -e "$model" -e "$model:latest"; then
    say "   Ollama already has the model '$model'"
    return 0
  fi
  if [ $yes -eq 1 ]; then
    go=1
  elif [ -t 0 ] && [ -t 1 ]; then
    read -r -p "Download the SHELLper model (about 1.2 GB) and create '$model' in Ollama now? [y/N] " answer || answer=
    case "$answer" in y | Y | yes | YES | Yes) go=1 ;; esac
  fi
  if [ $go -eq 0 ]; then
    say "   Ollama has no model '$model' yet: run \`shellper setup-model\` to download and create it"
    return 0
  fi
  step "setting up the model (shellper setup-model)"
  if ! "$LINK" setup-model --yes ${MODEL_EXTRA[@]+"${MODEL_EXTRA[@]}"}; then
    warn "the model is not set up (see above); fix what it says, then run: shellper setup-model"
  fi
}

do_install() {
  local had_env=0 d
  [ -x "$LINK" ] && had_env=1
  # Refuse early, before any work, to overwrite a `shellper` that is not ours.
  # (pipx and uv manage that name themselves.)
  if [ "$method" = venv ] && [ -e "$LINK" ] && [ ! -L "$LINK" ] && [ $force -eq 0 ]; then
    die "$LINK exists and is not shellper's link: move it away, or rerun with --force"
  fi
  note_new_dirs "$DATA_DIR" "$BIN_DIR"
  case "$method" in
    venv) install_venv ;;
    pipx) install_pipx ;;
    uv) install_uv ;;
  esac
  make_link
  for d in ${NEW_DIRS[@]+"${NEW_DIRS[@]}"}; do [ ! -d "$d" ] || manifest_add "dir $d"; done
  "$LINK" --version >/dev/null 2>&1 || die "$LINK does not run; try ./install.sh --force"
  # A daemon of the previous install would keep serving the old code.
  if [ $had_env -eq 1 ]; then "$LINK" stop >/dev/null 2>&1 || true; fi
  say "   $("$LINK" --version) is installed"
  write_init_files

  case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *)
      say "   note: $BIN_DIR is not on your PATH, so typing \`shellper\` will not find it"
      say "   (Ctrl-G works anyway). Add this line to your rc file:"
      say "     export PATH=\"\$HOME/.local/bin:\$PATH\""
      ;;
  esac

  if [ $no_rc -eq 1 ]; then
    say "   --no-rc: to get Ctrl-G, add this line to ~/.zshrc (or ~/.bashrc, with bash):"
    say "     eval \"\$(\$HOME/.local/bin/shellper init zsh)\""
    say "   and with fish, to ~/.config/fish/config.fish:"
    say "     \$HOME/.local/bin/shellper init fish | source"
  else
    if [ $want_zsh -eq 0 ] && [ $want_bash -eq 0 ]; then
      case "$(basename "${SHELL:-}")" in
        zsh) want_zsh=1 ;;
        bash) want_bash=1 ;;
        fish) want_fish=1 ;;
        *) say "   your shell is ${SHELL:-unknown}: shellper works in zsh, bash and fish; rerun with --zsh, --bash or --fish" ;;
      esac
    fi
    step "shell integration"
    [ $want_zsh -eq 0 ] || add_rc zsh
    [ $want_bash -eq 0 ] || add_rc bash
    if [ $want_fish -eq 1 ] || command -v fish >/dev/null 2>&1; then add_fish; fi
    if [ "$(uname -s)" = Darwin ] && [ $want_bash -eq 1 ] && [ -f "$HOME/.bash_profile" ] &&
      ! grep -q bashrc "$HOME/.bash_profile"; then
      say "   note: macOS terminals read ~/.bash_profile, which does not load ~/.bashrc; add to it:"
      say "     [ -f ~/.bashrc ] && . ~/.bashrc"
    fi
  fi

  if [ $no_model -eq 0 ]; then
    step "model"
    model_step
  fi

  say ""
  local ready="open a new terminal, type a request (say, \"list the files here\") and press Ctrl-G."
  if [ $no_doctor -eq 1 ]; then
    say "Installed: $ready (\`shellper doctor\` checks the set-up.)"
    return 0
  fi
  step "checking the set-up (shellper doctor)"
  # Ready only when it is true: doctor passed.
  if "$LINK" doctor; then
    say ""
    say "You're ready: $ready"
  else
    say ""
    say "Not ready yet: shellper doctor found problems. Do what each FAIL line's \"fix:\" says,"
    say "then run \`shellper doctor\` again (it says when all checks pass); then $ready"
  fi
}

find_python
read_dirs
if [ $uninstall -eq 1 ]; then
  do_uninstall
else
  do_install
fi
