# shellper on a server, for bash: Ctrl-G and `#? request` + Enter answered by your laptop's shellper through
# `shellper ssh` (a forwarded socket). bash cannot open a Unix socket itself, so this half needs
# python3 on the server (only its standard library; nothing is installed). Installed by
# `shellper ssh --setup HOST`; it does nothing in a session that `shellper ssh` did not open.

[[ $- == *i* ]] || return 0
__shellper_r_sock=${LC_SHELLPER_SOCK-} __shellper_r_token=${LC_SHELLPER_TOKEN-}
__shellper_r_own=${LC_SHELLPER_TOKEN:+1} # the shell ssh started: its exit ends the forward's files
export -n LC_SHELLPER_TOKEN 2>/dev/null  # never handed on to the programs this shell runs

# A client for one request: the fields come on stdin (never in argv), the reply goes to stdout.
__shellper_r_client='import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(300)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    sys.stdout.buffer.write(chunk)'

# Sockets of earlier sessions of ours that nothing answers any more (ssh leaves them behind).
__shellper_r_sweep() {
  local s
  command -v python3 >/dev/null 2>&1 || return 0
  for s in /tmp/shellper-*.sock; do
    [[ -S $s && -O $s && $s != "$__shellper_r_sock" ]] || continue
    printf '' | command python3 -c "$__shellper_r_client" "$s" >/dev/null 2>&1 || command rm -f -- "$s"
  done
}
__shellper_r_sweep

# A shell that ssh did not start (a tmux window, say) has no LC_SHELLPER_*: it uses the latest
# connection's forward, which the shell ssh started notes in a private file, as SSH_AUTH_SOCK setups do.
__shellper_r_note=${XDG_CONFIG_HOME:-$HOME/.config}/shellper/forward
if [[ -n $__shellper_r_sock && -n $__shellper_r_token ]]; then
  (umask 077 && command mkdir -p -- "${__shellper_r_note%/*}" && printf '%s\n%s\n' "$__shellper_r_sock" "$__shellper_r_token" >|"$__shellper_r_note") 2>/dev/null
elif [[ -f $__shellper_r_note && -O $__shellper_r_note ]]; then
  { IFS= read -r __shellper_r_sock && IFS= read -r __shellper_r_token; } <"$__shellper_r_note"
fi
[[ -n $__shellper_r_sock && -n $__shellper_r_token ]] || return 0

# The forwarded socket must be ours: a socket owned by this user, mode 0600.
__shellper_r_trusted() {
  [[ -S $__shellper_r_sock && -O $__shellper_r_sock ]] && [[ $(command stat -c %a -- "$__shellper_r_sock" 2>/dev/null) == 600 ]]
}

# Send NUL fields "$@" (and the end); the reply's fields in __shellper_r_reply.
__shellper_r_ask() {
  __shellper_r_reply=()
  if ! __shellper_r_trusted; then
    __shellper_r_reply=(error denied "the socket $__shellper_r_sock is not this user's (mode 0600); not used")
    return 1
  fi
  command -v python3 >/dev/null 2>&1 || { __shellper_r_reply=(error missing "shellper on a server's bash needs python3 there"); return 1; }
  mapfile -d '' __shellper_r_reply < <(printf '%s\0' "$@" '' | command python3 -c "$__shellper_r_client" "$__shellper_r_sock" 2>/dev/null)
  ((${#__shellper_r_reply[@]})) || { __shellper_r_reply=(error none "no answer from the laptop's shellper"); return 1; }
}

# One fact about path $1 (deep $2: count what is in a folder), as remote.py reads it, in REPLY.
__shellper_r_fact() {
  local p=$1 deep=$2 kind access='' link='' info size mode mtime files=0 dirs=0 total=0 complete=1 lines=-1 nlend=1 n
  [[ $p == *$'\x1f'* ]] && return 1
  [[ -e $p || -L $p ]] || return 1
  info=$(command stat -c '%F|%s|%a|%Y' -- "$p" 2>/dev/null) || return 1
  IFS='|' read -r kind size mode mtime <<<"$info"
  case $kind in
    directory) kind=d ;;
    "symbolic link") kind=l link=$(command readlink -- "$p") ;;
    "regular file" | "regular empty file") kind=f ;;
    *) kind=o ;;
  esac
  [[ -r $p ]] && access+=r
  [[ -w $p ]] && access+=w
  [[ -x $p ]] && access+=x
  if [[ $kind == d && $deep == 1 ]]; then
    files=$(command find "$p" -mindepth 1 -type f 2>/dev/null | command head -n 2001 | command wc -l)
    dirs=$(command find "$p" -mindepth 1 -type d 2>/dev/null | command head -n 2001 | command wc -l)
    ((files > 2000 || dirs > 2000)) && complete=0
    ((files = files > 2000 ? 2000 : files, dirs = dirs > 2000 ? 2000 : dirs))
    while read -r n; do ((total += n)); done < <(command find "$p" -mindepth 1 -type f -printf '%s\n' 2>/dev/null | command head -n 2000)
  elif [[ $kind == f && -r $p ]] && ((size <= 1048576)); then
    lines=$(command wc -l <"$p")
    if ((size > 0)) && [[ $(command tail -c 1 -- "$p" | command od -An -tx1) != *0a* ]]; then
      nlend=0 lines=$((lines + 1))
    fi
  fi
  local s=$'\x1f'
  REPLY="$p$s$kind$s$size$s$mode$s$access$s$link$s$files$s$dirs$s$total$s$complete$s$lines$s$nlend$s$mtime"
}

# Ctrl-G: the request on the line (or $1) goes to the laptop; the judged command comes back on the line.
__shellper_r_translate() {
  local text=${1-$READLINE_LINE} w id REPLY
  local -a facts=()
  [[ -n ${text//[[:space:]]/} ]] || { printf 'shellper: type a request first\n' >&2; return 0; }
  __shellper_r_ask translate "$$" bash "$PWD" "$text" "token=$__shellper_r_token" "HOME=$HOME"
  if [[ ${__shellper_r_reply[0]-} == facts ]]; then
    id=${__shellper_r_reply[1]}
    for w in "${__shellper_r_reply[@]:2}"; do
      [[ -n $w ]] || continue
      __shellper_r_fact "${w%$'\x1f'*}" "${w##*$'\x1f'}" && facts+=("fact=$REPLY")
    done
    __shellper_r_ask facts "$$" bash "$PWD" "$id" "token=$__shellper_r_token" "${facts[@]}"
  fi
  if [[ ${__shellper_r_reply[0]-} == ok && -n ${__shellper_r_reply[1]-} ]]; then
    READLINE_LINE=${__shellper_r_reply[1]} READLINE_POINT=${#READLINE_LINE}
    printf 'shellper: %s\n' "${__shellper_r_reply[2]//$'\n'/$'\n'shellper: }" >&2
  else
    printf 'shellper: %s\n' "${__shellper_r_reply[2]:-${__shellper_r_reply[1]:-no answer}}" >&2
  fi
}

__shellper_r_exit() {
  [[ -n $__shellper_r_own ]] || return 0 # (a shell ssh did not start leaves the forward to that one)
  [[ -S $__shellper_r_sock && -O $__shellper_r_sock ]] && command rm -f -- "$__shellper_r_sock"
  [[ -f $__shellper_r_note && $(command head -n 1 -- "$__shellper_r_note" 2>/dev/null) == "$__shellper_r_sock" ]] && command rm -f -- "$__shellper_r_note"
  return 0
}

# Enter is a macro of two keys: the first decides (a "#? request" line is translated, put on the
# line and not run), the second is accept-line, or nothing after a translation.
__shellper_r_k1='\C-x\C-_R1\a' __shellper_r_k2='\C-x\C-_R2\a'
__shellper_r_prefix=${SHELLPER_PREFIX-'#?'}
__shellper_r_enter() {
  local line=$READLINE_LINE to=accept-line
  if [[ -n $__shellper_r_prefix && $line != *$'\n'* ]]; then
    line=${line#"${line%%[![:space:]]*}"}
    if [[ $line == "$__shellper_r_prefix"* ]]; then
      __shellper_r_translate "${line#"$__shellper_r_prefix"}"  # (the line stays as typed unless a command comes)
      to='""'
    fi
  fi
  bind "\"$__shellper_r_k2\": $to"
}

bind -x '"\C-g": __shellper_r_translate'
bind -x "\"$__shellper_r_k1\": __shellper_r_enter"
bind "\"$__shellper_r_k2\": accept-line"
bind "\"\C-m\": \"$__shellper_r_k1$__shellper_r_k2\""
bind "\"\C-j\": \"$__shellper_r_k1$__shellper_r_k2\""
# The socket goes with this shell, unless the user has an exit trap of their own (then the
# next login's sweep removes it): theirs stays as it was.
[[ -n $(trap -p EXIT) ]] || trap '__shellper_r_exit' EXIT
