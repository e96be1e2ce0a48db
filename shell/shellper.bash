# shellper for bash: turn a request typed at the prompt into a command.
#
# Load it from ~/.bashrc with:   eval "$(shellper init bash)"
# (`shellper init bash` prints three settings, __shellper_python,
# __shellper_pkg and __shellper_socket, then this file. Sourced on its own,
# it uses `python3`.)
# It is read with alias expansion off (restored at the end), so your aliases
# of the builtins used here (`alias read=...`) cannot change its functions.
#
# Use:
#   Ctrl-G             the whole line is a request; it is replaced by the
#                      command, ready to edit or run. On an empty line, the
#                      last suggestion comes back.  (bash >= 4.0)
#   #? request  Enter  the same, instead of running the line.  (bash >= 4.3)
#   Ctrl-C (or Ctrl-G) while "translating..." shows: cancel, the request
#                      stays on the line.
#   typing while "translating..." shows: the text typed is added to the line
#                      (Backspace deletes) and the request is dropped
#                      ("suggestion dropped"); Enter keeps waiting (the
#                      request never runs); other keys are ignored.
#   Enter on a suggestion as it was put on the line (bash >= 4.3; not under
#                      ble.sh, nor with SHELLPER_PREFIX='': no Enter hook):
#                      the daemon judges it again on the files as they are
#                      now (at most ~3 s; "checking the files again..." shows
#                      when it takes longer than 30 ms). Unchanged, it runs.
#                      Changed: the new effect line and notes show, nothing
#                      runs, and the next Enter runs it. Refused now: nothing
#                      runs (the next Enter asks again). No answer: nothing
#                      runs, and the next Enter runs it. Ctrl-C while it
#                      waits: nothing runs, the line stays (within the first
#                      30 ms bash takes it as a signal and clears the line:
#                      Ctrl-G on the empty line brings it back). Any other
#                      line (typed, or the suggestion edited) runs unasked.
#   undo right after a suggestion brings the request back: Ctrl-_ in emacs
#                      and vi insert mode; u in vi command mode when the
#                      key was pressed there (readline's vi undo does not
#                      reach back into an insert session).
#
# Settings (read once, when this file is loaded):
#   SHELLPER_KEY       the key, in readline notation (default \C-g), bound in
#                      the emacs-standard, vi-insert and vi-command keymaps;
#                      SHELLPER_KEY='' binds no key (bind __shellper_translate
#                      yourself).
#   SHELLPER_PREFIX    what marks a request on Enter (default '#?');
#                      SHELLPER_PREFIX='' leaves Enter unbound.
#   SHELLPER_AUTOSTART 0 (or no, false, off): do not start the daemon in the
#                      background when a shell starts and none is running.
#   SHELLPER_HISTORY   0 (or no, false, off): a suggestion run does not put
#                      "#? request" into the history before it (read as the
#                      line runs; HISTCONTROL ignorespace keeps either line
#                      out too). Not with bash < 4.3 or ble.sh (no Enter hook).
#
# Functions, for your own bindings (bind -x '"KEY": FUNCTION'):
#   __shellper_translate   what Ctrl-G does
#   __shellper_enter       the Enter hook (see __shellper_bind_enter)
#
# Everything here is named __shellper_*. Under ble.sh only the key is bound
# (no "#?" on Enter). Tab completion for the shellper command:
# complete -F __shellper_complete shellper (unless you have one already).
#
# The pattern shellper.zsh and shellper.bash both follow (same function
# names for the same jobs, same messages; see shellper.zsh for zsh's side):
#   __shellper_request_of LINE   the request in a line (all of it, or what
#                                follows "#?"), in REPLY
#   __shellper_start REQ LINE    send the request (on the client's stdin,
#                                never argv); LINE is the line it came from
#   __shellper_wait              bash waits inside the key's widget: keys are
#                                read until the reply is there; a typed text
#                                changes the line and drops the request;
#                                Ctrl-C cancels it
#   __shellper_apply FIELD...    the reply's NUL-separated fields: "ok" CMD
#                                [NOTE] puts CMD on the line, "error" KIND
#                                MSG and anything else leave the line and
#                                say why
#   __shellper_say MSG           every message, as "shellper: MSG", with
#                                control and bidi characters shown as "?"
#   __shellper_enter_check       Enter on the suggestion as it was put on the
#                                line: the daemon judges it again (check);
#                                "same" runs it, "changed" shows the new lines
#                                and a second Enter runs it, "error" "refused"
#                                runs nothing, any other error or no answer: a
#                                second Enter runs it. Other lines: never asked.
#   __shellper_preexec/precmd    note the line run right after a suggestion;
#   __shellper_report LINE ST    report it (and only it) with its status;
#   __shellper_report_wait       let that report finish before the next
#                                request or command
# bash-only: the Enter macro (__shellper_enter), the terminal modes saved
# and restored around the wait (__shellper_run), the note while waiting
# (__shellper_waiting), history-based reports for bash < 4.3.

# Parse the rest with alias expansion off (this line still has it: quoted words only).
\builtin shopt -q expand_aliases && __shellper_had_aliases=1 || __shellper_had_aliases=0
\builtin shopt -u expand_aliases

__shellper_python=${__shellper_python:-python3}
__shellper_pkg=${__shellper_pkg-}         # the folder holding shellper_hook, if known
__shellper_socket=${__shellper_socket-}
__shellper_prefix=${SHELLPER_PREFIX-'#?'}  # read at each load, as SHELLPER_KEY is
__shellper_last=${__shellper_last-}       # the last command suggested
__shellper_pending=${__shellper_pending-} # suggested and not yet run
__shellper_ran=${__shellper_ran-}         # the line run after it
__shellper_ran_set=${__shellper_ran_set:-0}
__shellper_asked=${__shellper_asked-}     # the line the pending one was asked from
__shellper_used=${__shellper_used-}       # 1 once this terminal asked: it has a conversation
__shellper_at_ps1=${__shellper_at_ps1:-1} # 1 at the first line of a command
__shellper_chain=${__shellper_chain-}     # what the Enter macro ends with now
# The suggestion as it was put on the line (Enter has the daemon judge it
# again), 1 once Enter runs it without asking again, and the line whose
# check is in flight.
__shellper_inserted=${__shellper_inserted-} __shellper_checked=${__shellper_checked-}
__shellper_checking=${__shellper_checking-}
__shellper_report_fd=${__shellper_report_fd-} # the report in flight
__shellper_fd='' __shellper_pid='' __shellper_line=''  # the request in flight
# This terminal's pipes to the daemon (shellper_hook/pipes.py; in a folder
# named after the socket): every request but the first goes that way, with
# no process started. bash 5.0 and later (${VAR@a} tells exported settings;
# 4.4's is not tested).
__shellper_pipes=0 __shellper_nonce=$$
if (( BASH_VERSINFO[0] >= 5 )); then
  __shellper_pipes=1
  # The PID and the time it loaded: IDs no other shell with this PID used.
  builtin printf -v __shellper_nonce '%s-%(%s)T' "$$"
fi
__shellper_seq=${__shellper_seq:-0}        # the pipe requests sent, for their IDs
__shellper_rid='' __shellper_wfd='' __shellper_dpid='' __shellper_partial='' __shellper_unread=0  # the pipe request in flight
__shellper_fields=()

# Private key sequences for the Enter macro (no \e: vi-insert mishandles it).
__shellper_k1='\C-x\C-_S1\a'   # runs __shellper_enter
__shellper_k2='\C-x\C-_S2\a'   # accept-line, or nothing after a "#?" line

# Text $1 with control characters shown as "?" (so no reply can drive the
# terminal), in REPLY.
__shellper_clean() {
  # C1, line separators and bidi controls are matched as UTF-8 bytes: the C
  # locale's [[:cntrl:]] knows only C0 and DEL.
  local m=${1//[[:cntrl:]]/?}
  m=${m//$'\xc2'[$'\x80'-$'\x9f']/?}
  m=${m//$'\xe2\x80'[$'\x8e\x8f\xa8'-$'\xae']/?}
  m=${m//$'\xe2\x81'[$'\xa6'-$'\xa9']/?}
  m=${m//$'\xd8\x9c'/?}
  REPLY=$m
}

# Print a message on its own line above the prompt.
__shellper_say() {
  local REPLY
  __shellper_clean "$1"
  printf '\r\033[Kshellper: %s\n' "$REPLY" >&2
}

# The request in a line: the line itself, or what follows "#?".
__shellper_request_of() {
  local text=$1
  # Patterns, not =~, here and in __shellper_enter: =~ overwrites the user's BASH_REMATCH.
  if [[ -n $__shellper_prefix && ${text#"${text%%[![:space:]]*}"} == "$__shellper_prefix"* ]]; then
    text=${text#"${text%%[![:space:]]*}"}
    text=${text#"$__shellper_prefix"}
  fi
  text=${text#"${text%%[![:space:]]*}"}
  text=${text%"${text##*[![:space:]]}"}
  REPLY=$text
}

# Translate request $1 (typed as line $2): the command replaces the line,
# or the line stays with a message. Every exit restores the terminal modes.
__shellper_run() {
  local tty='' st=0
  # bind -x exports the line (the request) to all the key starts: not to stty's, nor any.
  \builtin export -n READLINE_LINE READLINE_POINT READLINE_MARK 2>/dev/null
  if __shellper_start "$1" "$2"; then
    # While the request is on its way (not before: these cost 2 processes),
    # and before "translating... (Ctrl-C cancels)" shows: Ctrl-C must not reach
    # bash (it would abort readline's line), so it arrives as a key instead;
    # the modes saved come back after (readline restores its own if a Ctrl-C
    # came first, as a signal).
    tty=$(\command stty -g 2>/dev/null && \command stty -isig 2>/dev/null) || tty=
    __shellper_waiting "$1"
    __shellper_wait
    st=$?
    # Nobody read it from the pipes: once more through the client, which starts a daemon.
    if (( st == 3 )) && __shellper_start_client "$1"; then
      __shellper_waiting "$1"
      __shellper_wait
      st=$?
    fi
  else
    st=1
  fi
  [[ -n $tty ]] && \command stty "$tty" 2>/dev/null
  return "$st"
}

# Undo what a request left: a Ctrl-C that arrives as a signal (before
# `stty -isig`) ends the widget anywhere, and the next request or prompt
# closes its pipes (each kept in its variable from the moment it opens) and
# stops its client.
__shellper_forget() {
  if [[ -n ${__shellper_wfd-} ]]; then
    [[ -n ${__shellper_rid-} && -p /dev/fd/$__shellper_wfd ]] && builtin printf 'cancel\n' >&"$__shellper_wfd"
    [[ -p /dev/fd/$__shellper_wfd ]] && { exec {__shellper_wfd}>&-; } 2>/dev/null
  fi
  [[ -n ${__shellper_fd-} && -p /dev/fd/$__shellper_fd ]] && { exec {__shellper_fd}<&-; } 2>/dev/null
  [[ -n ${__shellper_pid-} ]] && builtin kill -TERM "$__shellper_pid" 2>/dev/null
  __shellper_fd='' __shellper_wfd='' __shellper_pid='' __shellper_rid=''
}

# Send request $1 (from line $2) on this terminal's pipes, or else start
# the client on it; the reply comes on __shellper_fd. Status 1 (and a
# message) if the client cannot start.
__shellper_start() {
  __shellper_report_wait
  __shellper_forget
  __shellper_line=$2 __shellper_asked='' __shellper_used=1
  __shellper_send_pipe "$1" || __shellper_start_client "$1"
}

# Start the client on request $1 (see __shellper_start; nothing in flight);
# with $2 = enter, on command $1 to judge again (check).
__shellper_start_client() {
  local py=$__shellper_python
  if ! type -P -- "$py" >/dev/null 2>&1; then
    if __shellper_gone; then
      __shellper_say "shellper was uninstalled (its files are gone): \`exec bash\` unloads it from this terminal"
    else
      __shellper_say "cannot start $py: not found; reinstall with ./install.sh, or remove the shellper lines from ~/.bashrc"
    fi
    return 1
  fi
  # The client reports the reply on a pipe.
  local before=${!-} cwd=$PWD cdpath=${CDPATH-} args=(translate "$$" bash)
  if [[ ${2-} == enter ]]; then
    args=(enter "$$" bash)
  elif (( __shellper_pipes )) && [[ -n ${__shellper_socket-} ]]; then
    args+=(pipes)  # for the next requests
  fi
  args+=(cdpath)  # the shell's CDPATH comes second on stdin
  # The text and cwd go through a pipe, never argv (/proc/PID/cmdline is
  # world-readable) nor the environment (bind -x exports READLINE_LINE).
  # Substitutions are parsed when they run: quoted words, no aliases.
  # Straight into __shellper_fd: a Ctrl-C after it leaves nothing unknown open.
  exec {__shellper_fd}< <(\builtin unset -v READLINE_LINE READLINE_POINT READLINE_MARK
    __shellper_client "${args[@]}" 2>/dev/null < <(\builtin printf '%s\0%s\0%s\0' "$cwd" "$cdpath" "$1"))
  __shellper_pid=${!-}
  [[ $__shellper_pid == "$before" ]] && __shellper_pid=  # a bash that does not give us its pid
  return 0
}

# Send request $1 on this terminal's pipes (with $2 = check: have command
# $1 judged again), if the daemon made them and
# still runs: status 0, the reply to come on __shellper_fd under the ID
# __shellper_rid. Status 1: use the client (the first request, which asks
# for the pipes; after the daemon restarted; a request too long to write
# without waiting).
__shellper_send_pipe() {
  (( __shellper_pipes )) || return 1  # (and `local -` below is bash 4.4's)
  # The request holds your exported settings (an API key, say): not for `set -x` to show.
  local - dir=${__shellper_socket-}.pipes dpid='' REPLY
  set +x
  # Yours, every one of them (-O), as the client checks the socket's owner:
  # another user's must never get a request or answer one.
  [[ $dir != .pipes && -O $dir && -p $dir/$$.in && -O $dir/$$.in \
    && -p $dir/$$.out && -O $dir/$$.out && -O $dir/pid ]] || return 1
  { IFS= read -r dpid <"$dir/pid"; } 2>/dev/null
  [[ -n $dpid && $dpid != *[!0-9]* ]] && builtin kill -0 "$dpid" 2>/dev/null || return 1
  if [[ ${2-} == check ]]; then
    __shellper_check_json "$1"
  else
    __shellper_request_json "$1"
  fi
  (( ${#REPLY} <= 2000 )) || return 1  # a pipe takes 4 KB at least at once
  # Read-write: an open that never waits, on a FIFO the daemon holds open.
  { exec {__shellper_wfd}<>"$dir/$$.in"; } 2>/dev/null || { __shellper_wfd=''; return 1; }
  if ! { exec {__shellper_fd}<>"$dir/$$.out"; } 2>/dev/null; then
    exec {__shellper_wfd}>&-
    __shellper_fd='' __shellper_wfd=''
    return 1
  fi
  # What came after a request was given up (its reply, as it was cancelled) is
  # read away now; a later one is skipped by its ID.
  __shellper_drain "$__shellper_fd"
  __shellper_seq=$(( __shellper_seq + 1 ))
  __shellper_rid=$__shellper_nonce.$__shellper_seq __shellper_dpid=$dpid __shellper_partial='' __shellper_unread=0
  builtin printf '%s %s\n' "$__shellper_rid" "$REPLY" >&"$__shellper_wfd"
  return 0
}

# Read away whatever is waiting on fd $1 (one of the pipes, open read-write).
__shellper_drain() {
  local _
  while read -r -t 0 -u "$1" 2>/dev/null; do
    IFS= read -r -d '' -t 0.01 -u "$1" _ 2>/dev/null
  done
}

# Text $1 as a JSON string, in REPLY (bytes that are not UTF-8 go as they
# are: the daemon reads them as zsh's are).
__shellper_json() {
  # Byte by byte (the locale comes back on return): in GBK, Big5 or
  # Shift_JIS a character's second byte can be the backslash to escape.
  local LC_ALL=C s=$1 i h c
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  if [[ $s == *[[:cntrl:]]* ]]; then
    for (( i = 1; i < 32; i++ )); do
      builtin printf -v h '%02x' "$i"
      # shellcheck disable=SC2059 # the format makes the character of code $h
      builtin printf -v c "\\x$h"
      s=${s//"$c"/\\u00$h}
    done
  fi
  REPLY="\"$s\""
}

# This terminal's settings as a JSON object, in REPLY: what the client
# sends (protocol.settings_origin, and zsh's __shellper_settings): the
# exported SHELLPER_* settings, and which config file applies. The daemon
# says when it started with others. Tests keep the list equal to Python's.
__shellper_settings() {
  local name out='' config='' base=''
  [[ -n ${SHELLPER_CONFIG+set} && ${SHELLPER_CONFIG@a} == *x* ]] && config=$SHELLPER_CONFIG
  [[ -n ${XDG_CONFIG_HOME+set} && ${XDG_CONFIG_HOME@a} == *x* ]] && base=$XDG_CONFIG_HOME
  for name in SHELLPER_BASE_URL SHELLPER_MODEL SHELLPER_API_KEY SHELLPER_TIMEOUT SHELLPER_MAX_TURNS \
      SHELLPER_ALLOW_RECURSIVE SHELLPER_SYSTEM_PROMPT SHELLPER_IDLE_EXIT SHELLPER_COLLECT_CORRECTIONS \
      SHELLPER_CORRECTIONS_DAYS SHELLPER_KEEP_ALIVE SHELLPER_MAX_TOKENS; do
    [[ -n ${!name+set} && ${!name@a} == *x* && -n ${!name//[[:space:]]/} ]] || continue  # blank counts as unset
    __shellper_json "${!name}"
    out+="\"$name\":$REPLY,"
  done
  # Blank counts as unset; a set value counts stripped of blanks at both ends.
  config=${config#"${config%%[![:space:]]*}"} config=${config%"${config##*[![:space:]]}"}
  base=${base#"${base%%[![:space:]]*}"} base=${base%"${base##*[![:space:]]}"}
  if [[ -z $config ]]; then
    # As Python joins them: the home without its trailing slashes, no slash doubled.
    local home=${HOME-}
    while [[ $home == */ ]]; do home=${home%/}; done
    if [[ $OSTYPE == darwin* && -z $base ]]; then
      config="$home/Library/Application Support/shellper/config.toml"
    else
      [[ -n $base ]] || base=$home/.config
      [[ $base == */ ]] || base+=/
      config="${base}shellper/config.toml"
    fi
  fi
  __shellper_json "$config"
  REPLY="{$out\"config\":$REPLY}"
}

# Translate request $1 as JSON, in REPLY. The shell's CDPATH goes with it
# (empty when unset, as bash reads it), so the look sees where `cd d` goes.
__shellper_request_json() {
  local text cwd cdpath
  __shellper_json "$1"; text=$REPLY
  __shellper_json "$PWD"; cwd=$REPLY
  __shellper_json "${CDPATH-}"; cdpath=$REPLY
  __shellper_settings
  REPLY="{\"v\":1,\"op\":\"translate\",\"session\":$$,\"cwd\":$cwd,\"text\":$text,\"reply\":\"nul\",\"shell\":\"bash\",\"cdpath\":$cdpath,\"settings\":$REPLY}"
}

# Check request for command $1 (Enter is about to run it) as JSON, in REPLY.
__shellper_check_json() {
  local command cwd
  __shellper_json "$1"; command=$REPLY
  __shellper_json "$PWD"; cwd=$REPLY
  __shellper_json "${CDPATH-}"
  REPLY="{\"v\":1,\"op\":\"check\",\"session\":$$,\"cwd\":$cwd,\"command\":$command,\"reply\":\"nul\",\"shell\":\"bash\",\"cdpath\":$REPLY}"
}

# One look ($1 seconds, 0.05 by default) for the reply on the pipe: status 0 with its
# fields in __shellper_fields, 1 not yet, 2 the daemon is gone, 3 the
# request is still unread after 0.5 s (a daemon that died with its PID
# alive, as a zombie or reused: the client starts a new one).
__shellper_pipe_reply() {
  local part='' i
  if IFS= read -r -d '' -t "${1:-0.05}" -u "$__shellper_fd" part 2>/dev/null; then
    part=$__shellper_partial$part __shellper_partial=''
    [[ $part == "$__shellper_rid" ]] || return 1  # a late reply to a request cancelled before
    __shellper_fields=()
    for i in 1 2 3; do
      IFS= read -r -d '' -t 2 -u "$__shellper_fd" part 2>/dev/null || break
      __shellper_fields+=("$part")
    done
    return 0
  elif (( $? > 128 )); then
    __shellper_partial+=$part  # the time ran out midway through a field
    if read -r -t 0 -u "$__shellper_wfd" 2>/dev/null; then  # the daemon has not read it
      (( (__shellper_unread += 1) < 10 )) || return 3
    else
      __shellper_unread=0
    fi
    builtin kill -0 "$__shellper_dpid" 2>/dev/null && return 1
    (( __shellper_unread )) && return 3
  fi
  return 2
}

# Run the client with arguments "$@" in place of this subshell (call it
# only in one). Never with the user's folder on Python's path, where a
# json.py would run instead of the module: with the package's folder known,
# as `python -I -S` (isolated, and no site-packages scan: half the start);
# else from /.
__shellper_client() {
  if [[ -n ${__shellper_pkg-} && -d $__shellper_pkg/shellper_hook ]]; then  # (gone: a venv rebuilt)
    \builtin exec "$__shellper_python" -I -S -c 'import sys; sys.path.append(sys.argv.pop(1)); from shellper_hook.client import main; main()' "$__shellper_pkg" "$@"
  fi
  \builtin cd / && \builtin exec "$__shellper_python" -m shellper_hook.client "$@"
}

# While waiting for request $1: the note, and the request in sight (bash
# has cleared its line).
__shellper_waiting() {
  local REPLY max=$(( ${COLUMNS:-80} - 48 ))
  __shellper_clean "$1"
  (( max < 10 )) && max=10
  (( ${#REPLY} > max )) && REPLY=${REPLY:0:max-3}...
  printf '\r\033[Kshellper: translating... (Ctrl-C cancels) "%s"' "$REPLY" >&2
}

# Wait for the reply while reading keys: Ctrl-C / Ctrl-G cancel, Enter
# keeps waiting, typed text goes on the line and drops the request.
__shellper_wait() {
  local typed='' outcome=reply part first='' got
  local -a f=()
  while :; do
    # The reply's first byte, as soon as it comes (a timed poll would add
    # its interval to every request), or 50 ms for keys to arrive.
    first='' got=0
    if [[ -n $__shellper_rid ]]; then
      __shellper_pipe_reply
      case $? in
        0) got=1 f=("${__shellper_fields[@]}") ;;
        2) got=1 outcome=gone ;;
        3) got=1 outcome=unread ;;
      esac
    elif IFS= read -r -n 1 -t 0.05 -u "$__shellper_fd" first 2>/dev/null; then
      got=1
    elif (( $? <= 128 )) || [[ -n $first ]]; then
      got=1  # the client's end closed without a word, or a byte read as the time ran out
    fi
    # Then the keys typed, the reply here or not: they were pressed before
    # the user could see it (Enter must not run it unseen).
    if ! __shellper_keys; then
      outcome=cancelled
      break
    fi
    if [[ -n $typed ]]; then
      outcome=typed
      break
    fi
    (( got )) && break
  done
  if [[ $outcome == unread ]]; then
    __shellper_drain "$__shellper_wfd"  # taken back, so that no daemon reads it late
    exec {__shellper_wfd}>&-
  elif [[ -n $__shellper_rid ]]; then
    # Cancelled, or the line changed: the daemon drops the request (and the model call).
    [[ $outcome == reply || $outcome == gone ]] || builtin printf 'cancel\n' >&"$__shellper_wfd"
    exec {__shellper_wfd}>&-
  elif [[ $outcome == reply ]]; then
    while IFS= read -r -d '' part <&"$__shellper_fd"; do
      f+=("$part")
    done
    [[ -n $first ]] && f[0]=$first${f[0]-}
  elif [[ -n $__shellper_pid ]]; then
    kill -TERM "$__shellper_pid" 2>/dev/null
  fi
  exec {__shellper_fd}<&-
  __shellper_fd='' __shellper_pid='' __shellper_rid='' __shellper_wfd='' __shellper_fields=()
  printf '\r\033[K' >&2
  case $outcome in
    unread)
      return 3 ;;
    cancelled)
      __shellper_say "cancelled"
      return 1 ;;
    typed)
      __shellper_type_in "$typed"
      __shellper_say "the line changed while translating; suggestion dropped"
      return 1 ;;
  esac
  __shellper_apply "${f[@]}"
}

# The keys typed meanwhile, off the terminal: status 1 for Ctrl-C or Ctrl-G.
# Text and Backspace are added to the caller's `typed`; escape sequences
# (arrows...), Enter and other control keys are dropped. A plain read (no
# -n/-s/-d) keeps signals off.
__shellper_keys() {
  local key='' c
  read -t 0 </dev/tty 2>/dev/null && IFS= read -r -t 0.01 key 2>/dev/null </dev/tty
  [[ $key == *$'\003'* || $key == *$'\007'* ]] && return 1
  while [[ -n $key ]]; do
    c=${key:0:1} key=${key:1}
    if [[ $c == $'\e' ]]; then
      if [[ $key == [[O]* ]]; then
        key=${key:1}
        # A CSI's parameter and intermediate bytes (a terminal's reply has ? and <), then its final one.
        while [[ $key == [0-9:\;\<=\>?\ \!\"#\$%\&\'\(\)*+,./-]* ]]; do key=${key:1}; done
      fi
      key=${key:1}
    elif [[ $c == $'\177' || $c == $'\010' || $c != [[:cntrl:]] ]]; then
      typed+=$c
    fi
  done
  return 0
}

# Text $1, typed while waiting, onto the line: Backspace and Delete remove
# the character before them.
__shellper_type_in() {
  local typed=$1 c
  while [[ -n $typed ]]; do
    c=${typed:0:1} typed=${typed:1}
    if [[ $c == $'\177' || $c == $'\010' ]]; then
      READLINE_LINE=${READLINE_LINE%?}
    else
      READLINE_LINE+=$c
    fi
  done
  READLINE_POINT=0x7fffffff
}

# Command $1 in REPLY, meaning what it says whatever aliases you have. bash
# expands aliases in a command's first word (yours of the command name
# still apply, as when you type it) and, after an alias ending in a blank
# (`alias mv='mv -i '`), in the next word, and past quoted words in the one
# after them too: every later word that names an alias is quoted. Words the
# renderer leaves unquoted mean themselves in quotes.
__shellper_unalias() {
  # Byte by byte, the same in any locale.
  local LC_ALL=C rest=$1 out='' word piece q plain first=1
  while [[ -n $rest ]]; do
    piece=${rest%%[![:blank:]]*}
    out+=$piece rest=${rest:${#piece}} word='' plain=1
    while [[ -n $rest && $rest != [[:blank:]]* ]]; do
      q=${rest:0:1}
      if [[ $q == [\'\"] ]]; then
        plain=0
        piece=${rest:1}
        [[ $piece == *"$q"* ]] || { word+=$rest; rest=''; break; }  # unclosed: left as it is
        piece=$q${piece%%"$q"*}$q
      else
        piece=${rest%%[[:blank:]\'\"]*}
      fi
      word+=$piece rest=${rest:${#piece}}
    done
    if (( ! first && plain )) && [[ -n $word && -n ${BASH_ALIASES[$word]+set} && $word != *[\\\$\`]* ]]; then
      word="'$word'"
    fi
    out+=$word first=0
  done
  REPLY=$out
}

# Show the outcome: the command on the line, or the request kept and a message.
__shellper_apply() {
  if [[ ${1-} == ok && -n ${2-} ]]; then
    __shellper_last=$2 __shellper_pending=$2 __shellper_histcmd=${HISTCMD-0} __shellper_asked=$__shellper_line
    local REPLY
    __shellper_unalias "$2"
    READLINE_LINE=$REPLY
    READLINE_POINT=0x7fffffff
    __shellper_inserted=$REPLY __shellper_checked=''
    local w
    if [[ -n ${3-} ]]; then
      while IFS= read -r w; do __shellper_say "$w"; done <<<"$3"
    fi
    return 0
  fi
  if [[ ${1-} == error ]]; then
    __shellper_say "${3:-${2:-failed}}"
  elif (( $# == 0 )) && __shellper_gone; then
    __shellper_say "shellper was uninstalled (its files are gone): \`exec bash\` unloads it from this terminal"
  elif (( $# == 0 )) && ! ( __shellper_client check ) </dev/null >/dev/null 2>&1; then
    __shellper_say "cannot start shellper's client with $__shellper_python: the shellper package is gone; reinstall with ./install.sh, or remove the shellper lines from ~/.bashrc"
  elif (( $# == 0 )); then
    __shellper_say "no answer from the daemon (see \`shellper status\`)"
  else
    __shellper_say "unexpected answer from the daemon (see \`shellper status\`)"
  fi
  return 1
}

# Status 0 if the client this shell was given is gone (./install.sh
# --uninstall removed the environment): its Python, or its package's folder.
__shellper_gone() {
  [[ $__shellper_python == */* && ! -e $__shellper_python ]] && return 0
  [[ -n ${__shellper_pkg-} && ! -d $__shellper_pkg/shellper_hook ]]
}

# Ctrl-G.
__shellper_translate() {
  if [[ -z ${READLINE_LINE//[[:space:]]/} ]]; then
    if [[ -n $__shellper_last ]]; then
      local REPLY
      __shellper_unalias "$__shellper_last"
      READLINE_LINE=$REPLY
      READLINE_POINT=0x7fffffff
      # Still the suggestion (not run yet): Enter has it judged again.
      [[ $__shellper_last == "$__shellper_pending" ]] && __shellper_inserted=$REPLY
    else
      __shellper_say "type a request first, then press ${SHELLPER_KEY-Ctrl-G}"
    fi
    return 0
  fi
  __shellper_run_line
}

# Translate the request in READLINE_LINE (the line itself, or what follows "#?").
__shellper_run_line() {
  local REPLY
  __shellper_request_of "$READLINE_LINE"
  if [[ -z $REPLY ]]; then
    __shellper_say "type a request after $__shellper_prefix"
    return 0
  fi
  __shellper_run "$REPLY" "$READLINE_LINE"
  return 0
}

# Rebind the end of the Enter macro: accept-line, or "" (do nothing).
__shellper_set_chain() {
  [[ $__shellper_chain == "$1" ]] && return 0
  local map
  for map in emacs-standard vi-insert vi-command; do
    if [[ $1 == accept ]]; then
      bind -m "$map" "\"$__shellper_k2\": accept-line"
    else
      bind -m "$map" "\"$__shellper_k2\": \"\""
    fi
  done
  __shellper_chain=$1
}

# Enter (first half of the macro): decide whether the line runs.
__shellper_enter() {
  # The report's pipe must be gone before the user's command can reuse its fd number.
  [[ -n ${__shellper_report_fd-} ]] && __shellper_report_wait
  if (( __shellper_at_ps1 )) && [[ -n $__shellper_prefix && $READLINE_LINE != *$'\n'* && ${READLINE_LINE#"${READLINE_LINE%%[![:space:]]*}"} == "$__shellper_prefix"* ]]; then
    __shellper_set_chain none
    __shellper_run_line
    return 0
  fi
  # The suggestion as it was put on the line: judged again first (nothing
  # runs while Enter waits for that, nor if a Ctrl-C ends the wait).
  if (( __shellper_at_ps1 )) && [[ -n $__shellper_inserted && $READLINE_LINE == "$__shellper_inserted" \
      && -n $__shellper_pending && -z $__shellper_checked ]]; then
    __shellper_set_chain none
    __shellper_enter_check || return 0
  fi
  __shellper_set_chain accept
  __shellper_inserted='' __shellper_checked=''
  # Readline adds the line to the history after this: its request first.
  [[ -n $__shellper_asked ]] && (( __shellper_at_ps1 )) && __shellper_add_request "$READLINE_LINE"
  # Our own preexec, unless bash-preexec does it: the line run after a suggestion.
  if [[ -n $__shellper_pending && ${__shellper_preexec_mode-} == enter ]]; then
    if (( __shellper_at_ps1 )); then
      __shellper_ran=$READLINE_LINE
    else
      __shellper_ran+=$'\n'$READLINE_LINE
    fi
    __shellper_ran_set=1
  fi
  __shellper_at_ps1=0
}

# Enter on the suggestion as it was put on the line: the daemon judges it
# again on the files as they are now. Status 0: run it; 1: it stays on the
# line, and why is shown.
__shellper_enter_check() {
  local w msg
  local -a f=()
  __shellper_check "$__shellper_pending" || return 1  # cancelled (said)
  f=("${__shellper_fields[@]}")
  __shellper_fields=()
  case ${f[0]-}:${f[1]-} in
    same:*)
      return 0 ;;
    changed:*)
      __shellper_checked=1  # shown now: the next Enter runs it
      msg=${f[2]:-"the files changed since the suggestion (Enter runs it)"} ;;
    error:refused)
      msg=${f[2]:-refused} ;;  # the next Enter asks again
    *)
      __shellper_checked=1
      if [[ ${f[0]-} == error ]]; then
        msg=${f[2]:-${f[1]:-failed}}
      elif (( ${#f[@]} == 0 )); then
        msg="no answer from the daemon in 3 s (see \`shellper status\`)"
      else
        msg="unexpected answer from the daemon (see \`shellper status\`)"
      fi
      msg+=$'\n'"press Enter again to run it anyway" ;;
  esac
  while IFS= read -r w; do __shellper_say "$w"; done <<<"$msg"
  # Keys pressed while it waited were pressed unseen: an Enter must not run it.
  local typed='' n
  for (( n = 0; n < 16; n++ )); do
    read -t 0 </dev/tty 2>/dev/null || break
    __shellper_keys || break
  done
  [[ -n $typed ]] && __shellper_type_in "$typed"
  return 1
}

# Have the daemon judge command $1 again (op check): on this terminal's
# pipes (no process), else through the client's `enter`, for about 3 s at
# most. Status 0: the reply's fields in __shellper_fields (none if no answer
# came); 1: cancelled (Ctrl-C or Ctrl-G; text typed goes on the line), said.
__shellper_check() {
  local tty='' st=3 n=0 typed='' noted=''
  __shellper_forget
  __shellper_fields=() __shellper_checking=$READLINE_LINE
  \builtin export -n READLINE_LINE READLINE_POINT READLINE_MARK 2>/dev/null
  if __shellper_send_pipe "$1" check; then
    __shellper_check_wait
    st=$?
    if (( st == 3 )); then
      __shellper_drain "$__shellper_wfd"  # taken back, so that no daemon reads it late
    elif (( st == 1 || st == 2 )); then
      builtin printf 'cancel\n' >&"$__shellper_wfd"
    fi
    exec {__shellper_wfd}>&- {__shellper_fd}<&-
    __shellper_fd='' __shellper_wfd='' __shellper_rid=''
  fi
  # No pipes, or nobody read it from them: through the client (which never starts a daemon).
  if (( st >= 3 )) && __shellper_start_client "$1" enter; then
    __shellper_check_wait
    st=$?
    (( st != 0 )) && [[ -n $__shellper_pid ]] && builtin kill -TERM "$__shellper_pid" 2>/dev/null
    exec {__shellper_fd}<&-
    __shellper_fd='' __shellper_pid=''
  fi
  [[ -n $noted ]] && printf '\r\033[K' >&2
  [[ -n $tty ]] && \command stty "$tty" 2>/dev/null
  __shellper_checking=''
  if (( st == 1 )); then
    if [[ -n $typed ]]; then
      __shellper_type_in "$typed"
      __shellper_say "the line changed while checking; nothing ran"
    else
      __shellper_say "cancelled; nothing ran"
    fi
    return 1
  fi
  (( st == 0 )) || __shellper_fields=()
  return 0
}

# Wait for the check's reply on __shellper_fd (the pipes' when
# __shellper_rid is set, else the client's), in rounds of 50 ms counted in
# the caller's n, up to 60 (~3 s). From the start with the client (a
# process is started anyway), after a first round of 30 ms on the pipes
# (where the answer mostly comes in a few ms, with no process): Ctrl-C comes
# as a key (the caller's tty: the modes to restore) and a note says why
# Enter waits.
# Status 0: the reply (its fields in __shellper_fields); 1: cancelled by a
# key (text typed in the caller's typed); 2: no answer in time; 3: on the
# pipes, nobody read it or the daemon is gone (ask through the client).
__shellper_check_wait() {
  local first part quiet=0
  [[ -n $__shellper_rid ]] && quiet=1
  while (( n++ < 60 )); do
    if [[ -z $noted ]] && (( n > quiet )); then
      [[ -n $tty ]] || tty=$(\command stty -g 2>/dev/null && \command stty -isig 2>/dev/null) || tty=
      printf '\r\033[Kshellper: checking the files again... (Ctrl-C: nothing runs)' >&2
      noted=1
    fi
    if [[ -n $__shellper_rid ]]; then
      if [[ -n $noted ]]; then __shellper_pipe_reply; else __shellper_pipe_reply 0.03; fi
      case $? in
        0) return 0 ;;
        2|3) return 3 ;;
      esac
    else
      first=''
      if IFS= read -r -n 1 -t 0.05 -u "$__shellper_fd" first 2>/dev/null || (( $? <= 128 )) || [[ -n $first ]]; then
        # The first byte is here (or the client's end closed): the rest follows at once.
        __shellper_fields=()
        while IFS= read -r -d '' -t 1 -u "$__shellper_fd" part 2>/dev/null; do
          __shellper_fields+=("$part")
        done
        (( ${#__shellper_fields[@]} )) && __shellper_fields[0]=$first${__shellper_fields[0]}
        return 0
      fi
    fi
    [[ -n $noted ]] || continue
    __shellper_keys || return 1
    [[ -z $typed ]] || return 1
  done
  return 2
}

# Put "#? REQUEST", the request of the suggestion pending, into the history
# before line $1 (about to run) when $1 is the suggestion (edited or not):
# Enter on it translates it again. Not when the setting, or the shell's
# history settings for $1 or the request's own line, keep it out.
__shellper_add_request() {
  local asked=$__shellper_asked off=${SHELLPER_HISTORY-} REPLY
  __shellper_asked=''
  case ${off,,} in 0|no|false|off) return 0 ;; esac
  [[ -n $__shellper_pending && -o history && -n ${1//[[:space:]]/} ]] || return 0
  # Only when the suggestion runs (as it was put on the line, or edited: the
  # same command name first). Cleared and another line typed: it was discarded.
  local word=${1#"${1%%[![:space:]]*}"} want=${__shellper_pending#"${__shellper_pending%%[![:space:]]*}"}
  word=${word%%[[:space:]]*} want=${want%%[[:space:]]*}
  [[ -n $word && $word == "$want" ]] || return 0
  __shellper_hist_drops "$1" && return 0
  __shellper_hist_drops "$asked" && return 0
  # Only a prefix that makes a comment: recalled where shellper is not
  # loaded (a shared history file), the entry must not run.
  [[ ${__shellper_prefix-'#?'} == '#'* ]] || return 0
  __shellper_request_of "$asked"
  # A request of several lines would not come back as one "#?" line.
  [[ -n $REPLY && $REPLY != *$'\n'* ]] || return 0
  builtin history -s -- "${__shellper_prefix-'#?'} $REPLY"
}

# bash-preexec's preexec: the line as typed.
__shellper_preexec() {
  [[ -n $__shellper_pending ]] || return 0
  __shellper_ran=${1-}
  __shellper_ran_set=1
}

# Before each prompt: report the line run after a suggestion and its
# status (in the background); nothing at all otherwise.
__shellper_precmd() {
  local st=$?
  __shellper_at_ps1=1
  [[ -n $__shellper_fd$__shellper_wfd ]] && __shellper_forget  # a Ctrl-C ended a request
  if [[ -n $__shellper_checking ]]; then
    # A Ctrl-C that bash took as a signal ended Enter's check (and took the line).
    __shellper_checking=''
    __shellper_say "cancelled; nothing ran (Ctrl-G on the empty line brings the suggestion back)"
  fi
  if [[ ${__shellper_preexec_mode-} == history && -n $__shellper_pending ]] && (( ${HISTCMD-0} != ${__shellper_histcmd:-0} )); then
    # No Enter hook (bash < 4.3, ble.sh, SHELLPER_PREFIX=''): the line run is
    # the last history entry. Not `fc -ln -1`: bash 5.2 gives the one before
    # it here. `history 1` prints "%5d%c %s" (%c: '*' if edited).
    __shellper_ran=$(HISTTIMEFORMAT='' \builtin history 1 2>/dev/null)
    __shellper_ran=${__shellper_ran#"${__shellper_ran%%[![:space:]]*}"}
    while [[ $__shellper_ran == [0-9]* ]]; do __shellper_ran=${__shellper_ran:1}; done
    __shellper_ran=${__shellper_ran:2}
    __shellper_ran_set=1
  fi
  if (( __shellper_ran_set )); then
    local line=$__shellper_ran
    __shellper_ran='' __shellper_ran_set=0 __shellper_pending='' __shellper_asked=''
    # A line bash's history drops is reported empty: the suggestion is forgotten, the line never stored.
    __shellper_hist_drops "$line" && line=
    __shellper_report "$line" "$st"
  fi
  return "$st"
}

# Tell the daemon (through the client, in the background) that line $1 ran
# with status $2.
__shellper_report() {
  __shellper_report_wait
  # The client keeps the pipe open until it is done (it prints nothing).
  # Substitutions are parsed when they run: quoted words, no aliases.
  exec {__shellper_report_fd}< <(__shellper_client executed "$$" "$2" 2>/dev/null < <(\builtin printf '%s\0' "$1"))
}

# Does bash's history drop line $1 (HISTCONTROL ignorespace/ignoreboth,
# also as bash-preexec records it, or a HISTIGNORE pattern)?
__shellper_hist_drops() {
  local line=$1 rest=${HISTIGNORE-} pat
  if [[ $line == ' '* ]]; then
    [[ ${HISTCONTROL-} == *ignorespace* || ${HISTCONTROL-} == *ignoreboth* || -n ${__bp_ignorespace-} ]] && return 0
  fi
  while [[ -n $rest ]]; do
    pat=${rest%%:*}
    [[ $rest == *:* ]] && rest=${rest#*:} || rest=
    # shellcheck disable=SC2053 # HISTIGNORE holds patterns
    [[ -n $pat && $line == $pat ]] && return 0
  done
  return 1
}

# Let the last report (sent in the background) finish, for at most 2 s, so
# the daemon settles it before the next request arrives.
__shellper_report_wait() {
  [[ -n ${__shellper_report_fd-} ]] || return 0
  local _
  read -r -t 2 -u "$__shellper_report_fd" _ 2>/dev/null
  exec {__shellper_report_fd}<&-
  __shellper_report_fd=
}

# On exit: the daemon forgets this terminal's conversation now, not at its
# next sweep minutes later. The client runs detached (the exit never waits
# for it); $? is handed on to the user's own EXIT trap, run after this.
__shellper_exit() {
  local st=$?
  # A terminal that never asked has no conversation to forget: no process at exit.
  if [[ -n ${__shellper_used-} ]] && [[ -z ${__shellper_socket-} || -S ${__shellper_socket-} ]]; then
    ( __shellper_client closed "$$" </dev/null >/dev/null 2>&1 & )
  fi
  return "$st"
}

# Put __shellper_exit in front of the EXIT trap, keeping the user's own.
__shellper_trap_exit() {
  local prev words=()
  prev=$(\builtin trap -p EXIT)  # bash shows the shell's own traps here: trap -- 'CMD' EXIT
  [[ $prev == *__shellper_exit* ]] && return 0
  if [[ -n $prev ]]; then
    \builtin eval "words=($prev)"
    prev=${words[2]-}
  fi
  \builtin trap -- "__shellper_exit${prev:+; $prev}" EXIT
}

# Bind the Enter keys to the macro "k1 k2" in every keymap.
__shellper_bind_enter() {
  local map
  for map in emacs-standard vi-insert vi-command; do
    bind -m "$map" -r "$__shellper_k1" 2>/dev/null
    bind -m "$map" -x "\"$__shellper_k1\": __shellper_enter"
    bind -m "$map" "\"$__shellper_k2\": accept-line"
    bind -m "$map" "\"\\C-m\": \"$__shellper_k1$__shellper_k2\""
    bind -m "$map" "\"\\C-j\": \"$__shellper_k1$__shellper_k2\""
  done
  __shellper_chain=accept
}

# Run our precmd first in PROMPT_COMMAND, so it sees the command's $? (and
# hands it on); with bash-preexec, use its arrays instead.
__shellper_hook_prompt() {
  if [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
    [[ " ${precmd_functions[*]-} " == *" __shellper_precmd "* ]] || precmd_functions+=(__shellper_precmd)
    [[ " ${preexec_functions[*]-} " == *" __shellper_preexec "* ]] || preexec_functions+=(__shellper_preexec)
    __shellper_preexec_mode=bash-preexec
    return 0
  fi
  if [[ "$(\builtin declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
    [[ " ${PROMPT_COMMAND[*]} " == *" __shellper_precmd "* ]] || PROMPT_COMMAND=(__shellper_precmd "${PROMPT_COMMAND[@]}")
  else
    # shellcheck disable=SC2128,SC2178 # PROMPT_COMMAND is a string in this branch
    case ";${PROMPT_COMMAND-};" in
      *";__shellper_precmd;"*) ;;
      *) PROMPT_COMMAND="__shellper_precmd${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
    esac
  fi
  __shellper_preexec_mode=enter
}

# Tab completion for the shellper command (complete -F): subcommands, their
# options, shells for `init`, files where a file is expected. Static lists,
# kept in step with `shellper --help` by tests/test_completion.py.
__shellper_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]-} prev='' sub='' list='' i
  (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]-}
  for (( i = 1; i < COMP_CWORD; i++ )); do
    [[ ${COMP_WORDS[i]-} == -* ]] || { sub=${COMP_WORDS[i]-}; break; }
  done
  COMPREPLY=()
  case $sub:$prev in
    export:-o|export:--output)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return 0 ;;
    setup-model:--dir|setup-model:--repo)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return 0 ;;
    setup-model:--quantize)
      mapfile -t COMPREPLY < <(compgen -W 'q8_0 q4_K_M fp16' -- "$cur")
      return 0 ;;
    *:--session|*:--since|*:--base-url|*:--model|*:--concurrency)
      return 0 ;;  # a value to type
  esac
  case $sub in
    '') list='ask explain history reset status stop daemon doctor config init export eval setup-model --version --help' ;;
    ask) list='--session --no-commit --json --help' ;;
    explain)
      # The command to explain: command names, then files.
      if (( i + 1 == COMP_CWORD )); then
        mapfile -t COMPREPLY < <(compgen -c -- "$cur")
      else
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      fi
      return 0 ;;
    history) list='--session --json --help' ;;
    reset) list='--session --all --help' ;;
    status|config) list='--json --help' ;;
    stop|daemon|doctor) list='--help' ;;
    init) list='zsh bash fish --static --help' ;;
    export) list='--since -o --output --help' ;;
    eval)
      list='--base-url --model --json --concurrency --help'
      if [[ $cur != -* ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -X '!*.jsonl' -- "$cur"; compgen -d -- "$cur")
        return 0
      fi ;;
    setup-model) list='--quantize --repo --dir --yes --help' ;;
    *) return 0 ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$list" -- "$cur")
}

__shellper_init() {
  if (( BASH_VERSINFO[0] < 4 )); then
    printf 'shellper: bash %s is too old (4.0 or later needed; on macOS: brew install bash)\n' "$BASH_VERSION" >&2
    return 1
  fi
  # SHELLPER_KEY='': no key; the user binds __shellper_translate.
  local key=${SHELLPER_KEY-'\C-g'} map
  for map in emacs-standard vi-insert vi-command; do
    [[ -n $key ]] || break
    bind -m "$map" -r "$key" 2>/dev/null   # bash 5.1 breaks on re-binding a bind -x key
    bind -m "$map" -x "\"$key\": __shellper_translate"
  done
  __shellper_hook_prompt
  __shellper_trap_exit
  # Tab completion, unless the user already has one for shellper.
  \builtin complete -p shellper >/dev/null 2>&1 || \builtin complete -F __shellper_complete shellper 2>/dev/null
  if [[ -z ${BLE_VERSION-} && -n $__shellper_prefix ]] && (( BASH_VERSINFO[0] > 4 || BASH_VERSINFO[1] >= 3 )); then
    __shellper_bind_enter
  else
    # No Enter hook: report runs from history instead.
    [[ ${__shellper_preexec_mode-} == enter ]] && __shellper_preexec_mode=history
  fi
}

# No daemon listening: start one in the background, so the first Ctrl-G finds
# it ready; the prompt never waits for it, and a job started inside a subshell
# leaves no job notice. SHELLPER_AUTOSTART=0: never.
__shellper_autostart() {
  local off=${SHELLPER_AUTOSTART-}
  case ${off,,} in 0|no|false|off) return 0 ;; esac
  [[ -n ${__shellper_socket-} && ! -S $__shellper_socket ]] || return 0
  ( __shellper_client start </dev/null >/dev/null 2>&1 & )
}

if [[ $- == *i* ]]; then __shellper_init && __shellper_autostart; fi
# One command, parsed whole before alias expansion comes back.
if (( __shellper_had_aliases )); then
  unset -v __shellper_had_aliases
  shopt -s expand_aliases
else
  unset -v __shellper_had_aliases
fi
