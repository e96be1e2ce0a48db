# shellper for bash: turn a request typed at the prompt into a command. In ~/.bashrc:
# eval "$(shellper init bash)"  (it sets __shellper_python, _pkg and _socket, adds Tab completion).
#   Ctrl-G            the line is a request: the command replaces it (empty line: the last one)
#   #? request Enter  the same, instead of running the line (bash >= 4.3)
#   Ctrl-C or Ctrl-G while "translating...": cancel; typing drops the request
#   Enter on a suggestion as put on the line: the daemon judges it again first
# Settings, read when this file loads: SHELLPER_KEY (readline notation, default \C-g;
# '' binds none: bind -x your own to __shellper_translate), SHELLPER_PREFIX (default '#?';
# '' leaves Enter alone), SHELLPER_AUTOSTART=0, SHELLPER_HISTORY=0. Everything else a
# request means is Python's: bash only captures the line, sends bytes (protocol.py's NUL
# fields, through the client or this terminal's pipes, pipes.py), waits and applies the reply.

# Parsed with alias expansion off (this line still has it: quoted words only).
\builtin shopt -q expand_aliases && __shellper_had_aliases=1 || __shellper_had_aliases=0
\builtin shopt -u expand_aliases

__shellper_python=${__shellper_python:-python3} __shellper_pkg=${__shellper_pkg-} __shellper_socket=${__shellper_socket-}
__shellper_prefix=${SHELLPER_PREFIX-'#?'}
# The last command suggested; the one not run yet, the line it was asked from, the line run after it.
__shellper_last=${__shellper_last-} __shellper_pending=${__shellper_pending-} __shellper_asked=${__shellper_asked-}
__shellper_ran=${__shellper_ran-} __shellper_ran_set=${__shellper_ran_set:-0}
__shellper_used=${__shellper_used-} __shellper_at_ps1=${__shellper_at_ps1:-1} __shellper_chain=${__shellper_chain-}
# The suggestion as put on the line (Enter has it judged again), 1 once Enter runs it unasked.
__shellper_inserted=${__shellper_inserted-} __shellper_checked=${__shellper_checked-}
__shellper_checking=${__shellper_checking-} __shellper_report_fd=${__shellper_report_fd-}
# The request in flight: the client's fd and pid, or the pipes' fds, ID and daemon.
__shellper_fd='' __shellper_pid='' __shellper_line='' __shellper_reply=()
__shellper_rid='' __shellper_wfd='' __shellper_dpid='' __shellper_partial='' __shellper_unread=0
__shellper_seq=${__shellper_seq:-0} __shellper_pipes=0 __shellper_nonce=$$ __shellper_44=0
(( BASH_VERSINFO[0] > 4 || BASH_VERSINFO[1] >= 4 )) && __shellper_44=1  # `local -`, ${VAR@a}
# This terminal's pipes from bash 5; request IDs no other shell of this PID used.
(( BASH_VERSINFO[0] >= 5 )) && __shellper_pipes=1 && builtin printf -v __shellper_nonce '%s-%(%s)T' "$$"
# The Enter macro's keys (no \e: vi-insert mishandles it): __shellper_enter, then accept-line or nothing.
__shellper_k1='\C-x\C-_S1\a' __shellper_k2='\C-x\C-_S2\a'

# Text $1 with control and bidi characters as "?" (no reply drives the terminal), in REPLY;
# C1, line separators and bidi controls as UTF-8 bytes (the C locale's [[:cntrl:]]: C0, DEL).
__shellper_clean() {
  local m=${1//[[:cntrl:]]/?}
  m=${m//$'\xc2'[$'\x80'-$'\x9f']/?}
  m=${m//$'\xe2\x80'[$'\x8e\x8f\xa8'-$'\xae']/?}
  m=${m//$'\xe2\x81'[$'\xa6'-$'\xa9']/?}
  REPLY=${m//$'\xd8\x9c'/?}
}

# Each line of message $1, above the prompt.
__shellper_say() {
  local REPLY m
  while IFS= read -r m; do
    __shellper_clean "$m"
    printf '\r\033[Kshellper: %s\n' "$REPLY" >&2
  done <<<"$1"
}

# The request in line $1 (the line, or what follows "#?"), trimmed, in REPLY.
__shellper_request_of() {
  local text=${1#"${1%%[![:space:]]*}"}  # patterns, not =~: it sets the user's BASH_REMATCH
  [[ -n $__shellper_prefix && $text == "$__shellper_prefix"* ]] && text=${text#"$__shellper_prefix"}
  text=${text#"${text%%[![:space:]]*}"}
  REPLY=${text%"${text##*[![:space:]]}"}
}

# Request OP TEXT [NAME=VALUE...] in the caller's array req, with the environment only Python
# interprets: exported SHELLPER_*, HOME, XDG_CONFIG_HOME (bash < 4.4 cannot tell exported
# without a fork: all set), CDPATH when set. Call it under set +x: an API key, say.
__shellper_fields() {
  local n
  req=("$1" "$$" bash "$PWD" "$2" "${@:3}")
  for n in "${!SHELLPER_@}" HOME XDG_CONFIG_HOME; do
    [[ -n ${!n+set} ]] && { (( ! __shellper_44 )) || [[ ${!n@a} == *x* ]]; } && req+=("$n=${!n}")
  done
  [[ -z ${CDPATH+set} ]] || req+=("CDPATH=$CDPATH")
}

# Become the client (call it only in a subshell) on request "$@" (__shellper_fields):
# on stdin, never argv (/proc/PID/cmdline is world-readable) nor the environment.
__shellper_send() {
  set +x
  \builtin unset -v READLINE_LINE READLINE_POINT READLINE_MARK  # bind -x exports them
  local -a req
  __shellper_fields "$@"
  __shellper_client 2>/dev/null < <(\builtin printf '%s\0' "${req[@]}" '')
}

# Exec the client: never with the user's folder on Python's path (a json.py there would
# run instead): `python -I -S` with the package's folder, else from /.
__shellper_client() {
  # The socket this shell tests at its prompts, whatever SHELLPER_SOCKET says now (a subshell's export).
  # shellcheck disable=SC2034
  [[ -z ${__shellper_socket-} ]] || \builtin export SHELLPER_SOCKET=$__shellper_socket
  if [[ -n ${__shellper_pkg-} && -d $__shellper_pkg/shellper_hook ]]; then
    \builtin exec "$__shellper_python" -I -S -c 'import sys; sys.path.append(sys.argv.pop(1)); from shellper_hook.client import main; main()' "$__shellper_pkg"
  fi
  \builtin cd / && \builtin exec "$__shellper_python" -m shellper_hook.client
}

# Status 0 if this shell's client is gone (./install.sh --uninstall): its Python, or its package.
__shellper_gone() {
  [[ $__shellper_python == */* && ! -e $__shellper_python ]] || [[ -n ${__shellper_pkg-} && ! -d $__shellper_pkg/shellper_hook ]]
}

__shellper_translate() {  # Ctrl-G
  local REPLY
  if [[ -n ${READLINE_LINE//[[:space:]]/} ]]; then
    __shellper_run_line
  elif [[ -n $__shellper_last ]]; then
    __shellper_unalias "$__shellper_last"
    READLINE_LINE=$REPLY READLINE_POINT=0x7fffffff
    # Still the suggestion (not run yet): Enter has it judged again.
    [[ $__shellper_last == "$__shellper_pending" ]] && __shellper_inserted=$REPLY
  else
    __shellper_say "type a request first, then press ${SHELLPER_KEY-Ctrl-G}"
  fi
}

# Translate the request in READLINE_LINE: the command replaces it, or it stays, and why.
__shellper_run_line() {
  local REPLY
  __shellper_request_of "$READLINE_LINE"
  [[ -n $REPLY ]] || { __shellper_say "type a request after $__shellper_prefix"; return 0; }
  \builtin export -n READLINE_LINE READLINE_POINT READLINE_MARK 2>/dev/null  # not to stty's, nor any
  __shellper_report_wait
  __shellper_line=$READLINE_LINE __shellper_asked='' __shellper_used=1
  __shellper_ask translate "$REPLY"
}

# Ask request OP TEXT (translate or check) and wait for the reply: on this terminal's
# pipes, else through the client. Status 0: the reply (see __shellper_wait); 1: none (said).
__shellper_ask() {
  local tty='' typed='' noted='' st=3
  __shellper_forget
  __shellper_send_pipe "$@" && { __shellper_wait "$@"; st=$?; }
  if (( st == 3 )); then  # nobody read it: through the client, which starts a daemon for a translate
    __shellper_reply=() st=1
    [[ $1 == check ]] && st=0  # no answer: the next Enter runs it
    __shellper_start_client "$@" && { __shellper_wait "$@"; st=$?; }
  fi
  [[ -n $noted ]] && printf '\r\033[K' >&2
  [[ -n $tty ]] && \command stty "$tty" 2>/dev/null
  return "$st"
}

# Start the client on request OP TEXT, its reply to come on __shellper_fd. Status 1 (said): it cannot.
__shellper_start_client() {
  type -P -- "$__shellper_python" >/dev/null 2>&1 || { __shellper_apply; return 1; }
  local before=${!-}
  [[ $1 == translate ]] && (( __shellper_pipes )) && [[ -n $__shellper_socket ]] && set -- "$@" pipes=1
  # Straight into __shellper_fd: a Ctrl-C after it leaves nothing unknown open.
  exec {__shellper_fd}< <(__shellper_send "$@")
  __shellper_pid=${!-}
  [[ $__shellper_pid == "$before" ]] && __shellper_pid=''
  return 0
}

# Send request OP TEXT on this terminal's pipes, if the daemon made them and still runs.
# Status 1: use the client (the first request; the daemon restarted; a long request).
__shellper_send_pipe() {
  (( __shellper_pipes )) || return 1
  local - dir=${__shellper_socket-}.pipes dpid='' rid f n=0
  set +x  # the request holds your exported settings
  # Every one of them yours (-O): another user's must never get a request or answer one.
  [[ $dir != .pipes && -O $dir && -p $dir/$$.in && -O $dir/$$.in \
    && -p $dir/$$.out && -O $dir/$$.out && -O $dir/pid ]] || return 1
  { IFS= read -r dpid <"$dir/pid"; } 2>/dev/null
  [[ -n $dpid && $dpid != *[!0-9]* ]] && builtin kill -0 "$dpid" 2>/dev/null || return 1
  local -a req
  rid=$__shellper_nonce.$(( __shellper_seq + 1 ))
  __shellper_fields "$@" "id=$rid"
  for f in "${req[@]}"; do (( n += ${#f} + 1 )); done
  (( n <= 2000 )) || return 1  # written at once, never waiting (a pipe takes 4 KB)
  # Read-write: an open that never waits, on FIFOs the daemon holds open.
  { exec {__shellper_wfd}<>"$dir/$$.in" {__shellper_fd}<>"$dir/$$.out"; } 2>/dev/null || { __shellper_forget; return 1; }
  __shellper_drain "$__shellper_fd"  # a reply to a request given up; later ones are skipped by ID
  __shellper_seq=$(( __shellper_seq + 1 ))
  __shellper_rid=$rid __shellper_dpid=$dpid __shellper_partial='' __shellper_unread=0
  builtin printf '%s\0' "${req[@]}" '' >&"$__shellper_wfd"
}

# Read away whatever waits on fd $1 (one of the pipes, open read-write).
__shellper_drain() {
  while read -r -t 0 -u "$1" 2>/dev/null; do IFS= read -r -d '' -t 0.01 -u "$1" _ 2>/dev/null; done
}

# Close the request in flight; $1 = cancel: the daemon drops it (and the model call).
__shellper_close() {
  if [[ -n $__shellper_wfd ]]; then
    [[ ${1-} == cancel && -n $__shellper_rid ]] && builtin printf 'cancel\0%s\0bash\0\0\0\0' "$$" >&"$__shellper_wfd"
    exec {__shellper_wfd}>&-
  fi
  [[ ${1-} == cancel && -n $__shellper_pid ]] && builtin kill -TERM "$__shellper_pid" 2>/dev/null
  [[ -n $__shellper_fd ]] && exec {__shellper_fd}<&-
  __shellper_fd='' __shellper_pid='' __shellper_rid='' __shellper_wfd=''
}

# Close what a request left: a Ctrl-C taken as a signal ends the widget anywhere.
__shellper_forget() {
  [[ -n ${__shellper_wfd-} && -p /dev/fd/$__shellper_wfd ]] || __shellper_wfd=''
  [[ -n ${__shellper_fd-} && -p /dev/fd/$__shellper_fd ]] || __shellper_fd=''
  { __shellper_close cancel; } 2>/dev/null
}

# One look for the reply, up to $1 s. Status 0: in __shellper_reply (empty: none came); 1: not
# yet; on the pipes 2: the daemon is gone, 3: unread after 0.5 s (the daemon died, its PID lives).
__shellper_poll() {
  local part='' first='' i
  if [[ -z $__shellper_rid ]]; then
    # The first byte (or the end) as soon as it comes, then the rest; one read as time runs out counts.
    IFS= read -r -n 1 -t "$1" -u "$__shellper_fd" first 2>/dev/null || (( $? <= 128 )) || [[ -n $first ]] || return 1
    __shellper_reply=()
    while IFS= read -r -d '' -u "$__shellper_fd" part 2>/dev/null; do __shellper_reply+=("$part"); done
    [[ -n $first ]] && __shellper_reply[0]=$first${__shellper_reply[0]-}
    return 0
  fi
  if IFS= read -r -d '' -t "$1" -u "$__shellper_fd" part 2>/dev/null; then
    part=$__shellper_partial$part __shellper_partial=''
    [[ $part == "$__shellper_rid" ]] || return 1  # the late reply to a request given up
    __shellper_reply=()
    for (( i = 0; i < 3; i++ )); do
      IFS= read -r -d '' -t 2 -u "$__shellper_fd" part 2>/dev/null || break
      __shellper_reply+=("$part")
    done
    return 0
  elif (( $? > 128 )); then
    __shellper_partial+=$part  # the time ran out midway through a field
    if read -r -t 0 -u "$__shellper_wfd" 2>/dev/null; then
      (( (__shellper_unread += 1) < 10 )) || return 3
    else
      __shellper_unread=0
    fi
    builtin kill -0 "$__shellper_dpid" 2>/dev/null && return 1
    (( __shellper_unread )) && return 3
  fi
  return 2
}

# Wait for the reply to request OP TEXT (default: a translate, whose reply is applied), reading
# keys once the note shows (Ctrl-C as a key: a signal would abort readline's line). A check
# waits ~3 s at most, its first 30 ms quiet on the pipes (where it mostly takes a few ms).
# Status 0: the reply; 1: cancelled by a key (said); 3: unread on the pipes, or a check's daemon gone.
__shellper_wait() {
  local check='' n=0 st
  [[ ${1-} == check ]] && check=1
  [[ -n $check && -n $__shellper_rid ]] && n=-1
  while :; do
    if [[ -z $noted ]] && (( n >= 0 )); then
      [[ -n $tty ]] || tty=$(\command stty -g 2>/dev/null && \command stty -isig 2>/dev/null) || tty=''
      [[ -n $check ]] || __shellper_waiting "${2-}"
      [[ -z $check ]] || printf '\r\033[Kshellper: checking the files again... (Ctrl-C: nothing runs)' >&2
      noted=1
    fi
    if (( n++ < 0 )); then __shellper_poll 0.03; else __shellper_poll 0.05; fi
    st=$?
    if [[ -n $check ]]; then
      (( st == 2 )) && st=3  # (the client answers "same" when no daemon runs)
      (( st != 1 )) && break
      (( n > 60 )) && { st=late; break; }
    fi
    # Keys typed, the reply here or not: pressed before the user could see it.
    if [[ -n $noted ]]; then
      __shellper_keys || { st=cancelled; break; }
      [[ -n $typed ]] && { st=typed; break; }
    fi
    (( st != 1 )) && break
  done
  case $st in
    0) __shellper_close ;;
    2|late) __shellper_close cancel; __shellper_reply=() ;;
    3) __shellper_drain "$__shellper_wfd"; __shellper_close; return 3 ;;  # so that no daemon reads it late
    cancelled) __shellper_close cancel; __shellper_say "cancelled${check:+; nothing ran}"; return 1 ;;
    typed)
      __shellper_close cancel
      __shellper_type_in "$typed"
      __shellper_say "the line changed while ${check:+checking; nothing ran}${check:-translating; suggestion dropped}"
      return 1 ;;
  esac
  [[ -n $check ]] && return 0
  printf '\r\033[K' >&2
  __shellper_apply "${__shellper_reply[@]}"
  return 0
}

# While waiting for request $1: the note, and the request in sight (bash cleared its line).
__shellper_waiting() {
  local REPLY max=$(( ${COLUMNS:-80} - 48 ))
  __shellper_clean "$1"
  (( max < 10 )) && max=10
  (( ${#REPLY} > max )) && REPLY=${REPLY:0:max-3}...
  printf '\r\033[Kshellper: translating... (Ctrl-C cancels) "%s"' "$REPLY" >&2
}

# The keys typed meanwhile: status 1 for Ctrl-C or Ctrl-G; text and Backspace go to the caller's
# typed, other keys are dropped. A plain read (no -n/-s/-d) keeps signals off.
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

# Text $1, typed while waiting, onto the line (Backspace and Delete remove a character).
__shellper_type_in() {
  local typed=$1 c
  while [[ -n $typed ]]; do
    c=${typed:0:1} typed=${typed:1}
    if [[ $c == $'\177' || $c == $'\010' ]]; then READLINE_LINE=${READLINE_LINE%?}; else READLINE_LINE+=$c; fi
  done
  READLINE_POINT=0x7fffffff
}

# Command $1 in REPLY, immune to aliases: after one ending in a blank (`alias mv='mv -i '`) bash
# expands the next word, and past quoted words the one after: later words naming one are quoted.
__shellper_unalias() {
  local LC_ALL=C rest=$1 out='' word piece q plain first=1  # byte by byte, in any locale
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

# The reply's fields: "ok" CMD [LINES] puts CMD on the line; else the line stays, and why.
__shellper_apply() {
  local REPLY
  if [[ ${1-} == ok && -n ${2-} ]]; then
    __shellper_last=$2 __shellper_pending=$2 __shellper_histcmd=${HISTCMD-0} __shellper_asked=$__shellper_line
    __shellper_unalias "$2"
    READLINE_LINE=$REPLY READLINE_POINT=0x7fffffff
    __shellper_inserted=$REPLY __shellper_checked=''
    [[ -z ${3-} ]] || __shellper_say "$3"
    return 0
  fi
  if [[ ${1-} == error ]]; then
    __shellper_say "${3:-${2:-failed}}"
  elif (( $# )); then
    __shellper_say "unexpected answer from the daemon (see \`shellper status\`)"
  elif __shellper_gone; then
    __shellper_say "shellper was uninstalled (its files are gone): \`exec bash\` unloads it from this terminal"
  elif ! ( __shellper_client ) </dev/null >/dev/null 2>&1; then
    __shellper_say "cannot start shellper's client with $__shellper_python (not found, or the shellper package is gone); reinstall with ./install.sh, or remove the shellper lines from ~/.bashrc"
  else
    __shellper_say "no answer from the daemon (see \`shellper status\`)"
  fi
  return 1
}

# Rebind the end of the Enter macro: accept-line, or "" (do nothing).
__shellper_set_chain() {
  [[ $__shellper_chain == "$1" ]] && return 0
  local map to=accept-line
  [[ $1 == accept ]] || to='""'
  for map in emacs-standard vi-insert vi-command; do bind -m "$map" "\"$__shellper_k2\": $to"; done
  __shellper_chain=$1
}

# Enter (the macro's first half): decide whether the line runs.
__shellper_enter() {
  # The report's pipe must be gone before the user's command can reuse its fd number.
  __shellper_report_wait
  if (( __shellper_at_ps1 )) && [[ -n $__shellper_prefix && $READLINE_LINE != *$'\n'* && ${READLINE_LINE#"${READLINE_LINE%%[![:space:]]*}"} == "$__shellper_prefix"* ]]; then
    __shellper_set_chain none && __shellper_run_line
    return 0
  fi
  if (( __shellper_at_ps1 )) && [[ -n $__shellper_inserted && $READLINE_LINE == "$__shellper_inserted" \
      && -n $__shellper_pending && -z $__shellper_checked ]]; then
    __shellper_set_chain none && { __shellper_enter_check || return 0; }
  fi
  __shellper_set_chain accept
  __shellper_inserted='' __shellper_checked=''
  # Readline adds the line to the history after this: its request first.
  [[ -n $__shellper_asked ]] && (( __shellper_at_ps1 )) && __shellper_add_request "$READLINE_LINE"
  # Our own preexec, unless bash-preexec does it: the line run after a suggestion.
  if [[ -n $__shellper_pending && ${__shellper_preexec_mode-} == enter ]]; then
    (( __shellper_at_ps1 )) || __shellper_ran+=$'\n'
    (( __shellper_at_ps1 )) && __shellper_ran=''
    __shellper_ran+=$READLINE_LINE __shellper_ran_set=1
  fi
  __shellper_at_ps1=0
}

# Enter on the suggestion as put: the daemon judges it again (check). Status 1: it stays, and why.
__shellper_enter_check() {
  local msg typed='' n
  __shellper_checking=$READLINE_LINE  # (a Ctrl-C taken as a signal: see __shellper_precmd)
  \builtin export -n READLINE_LINE READLINE_POINT READLINE_MARK 2>/dev/null
  __shellper_ask check "$__shellper_pending" || { __shellper_checking=''; return 1; }
  __shellper_checking=''
  local -a f=("${__shellper_reply[@]}")
  case ${f[0]-}:${f[1]-} in
    same:*) return 0 ;;
    changed:*)
      __shellper_checked=1  # shown now: the next Enter runs it
      msg=${f[2]:-"the files changed since the suggestion (Enter runs it)"} ;;
    error:refused)
      msg=${f[2]:-refused} ;;  # the next Enter asks again
    *)
      __shellper_checked=1
      msg="unexpected answer from the daemon (see \`shellper status\`)"
      (( ${#f[@]} )) || msg="no answer from the daemon in 3 s (see \`shellper status\`)"
      [[ ${f[0]-} == error ]] && msg=${f[2]:-${f[1]:-failed}}
      msg+=$'\n'"press Enter again to run it anyway" ;;
  esac
  __shellper_say "$msg"
  # Keys pressed while it waited were pressed unseen: an Enter must not run it.
  for (( n = 0; n < 16; n++ )); do read -t 0 </dev/tty 2>/dev/null || break; __shellper_keys || break; done
  [[ -n $typed ]] && __shellper_type_in "$typed"
  return 1
}

# "#? REQUEST" into the history before line $1 (about to run) when $1 is the suggestion, edited
# or not (the same command name), unless the setting or the history's own settings say no.
__shellper_add_request() {
  local asked=$__shellper_asked off=${SHELLPER_HISTORY-} REPLY
  __shellper_asked=''
  case ${off,,} in 0|no|false|off) return 0 ;; esac
  [[ -n $__shellper_pending && -o history && -n ${1//[[:space:]]/} ]] || return 0
  local word=${1#"${1%%[![:space:]]*}"} want=${__shellper_pending#"${__shellper_pending%%[![:space:]]*}"}
  word=${word%%[[:space:]]*} want=${want%%[[:space:]]*}
  [[ -n $word && $word == "$want" ]] || return 0
  __shellper_hist_drops "$1" && return 0
  __shellper_hist_drops "$asked" && return 0
  # Only a prefix that makes a comment: recalled where shellper is not loaded, it must not run.
  [[ $__shellper_prefix == '#'* ]] || return 0
  __shellper_request_of "$asked"
  [[ -n $REPLY && $REPLY != *$'\n'* ]] || return 0
  builtin history -s -- "$__shellper_prefix $REPLY"
}

# Does the history drop line $1 (HISTCONTROL ignorespace, as bash-preexec too, HISTIGNORE)?
__shellper_hist_drops() {
  local line=$1 rest=${HISTIGNORE-} pat
  [[ $line == ' '* ]] && [[ ${HISTCONTROL-} == *ignore[sb][po]* || -n ${__bp_ignorespace-} ]] && return 0  # space, both
  while [[ -n $rest ]]; do
    pat=${rest%%:*}
    [[ $rest == *:* ]] && rest=${rest#*:} || rest=''
    # shellcheck disable=SC2053 # HISTIGNORE holds patterns
    [[ -n $pat && $line == $pat ]] && return 0
  done
  return 1
}

# bash-preexec's preexec: the line as typed.
__shellper_preexec() {
  [[ -z $__shellper_pending ]] || __shellper_ran=${1-} __shellper_ran_set=1
}

# Before each prompt: report the line run after a suggestion, with its status.
__shellper_precmd() {
  local st=$?
  __shellper_at_ps1=1
  __shellper_autostart  # (the daemon up: a test of its socket file, no process)
  [[ -n $__shellper_fd$__shellper_wfd ]] && __shellper_forget  # a Ctrl-C ended a request
  if [[ -n $__shellper_checking ]]; then  # a Ctrl-C taken as a signal ended Enter's check (and took the line)
    __shellper_checking=''
    __shellper_say "cancelled; nothing ran (Ctrl-G on the empty line brings the suggestion back)"
  fi
  if [[ ${__shellper_preexec_mode-} == history && -n $__shellper_pending ]] && (( ${HISTCMD-0} != ${__shellper_histcmd:-0} )); then
    # No Enter hook: the last history entry, "%5d%c %s" (`fc -ln -1` is the one before in 5.2).
    __shellper_ran=$(HISTTIMEFORMAT='' \builtin history 1 2>/dev/null)
    __shellper_ran=${__shellper_ran#"${__shellper_ran%%[![:space:]]*}"}
    while [[ $__shellper_ran == [0-9]* ]]; do __shellper_ran=${__shellper_ran:1}; done
    __shellper_ran=${__shellper_ran:2} __shellper_ran_set=1
  fi
  if (( __shellper_ran_set )); then
    local line=$__shellper_ran
    __shellper_ran='' __shellper_ran_set=0 __shellper_pending='' __shellper_asked=''
    # A line the history drops is reported empty: the suggestion is forgotten, the line never stored.
    __shellper_hist_drops "$line" && line=''
    __shellper_report_wait
    # In the background; the client holds the fd open until it is done.
    exec {__shellper_report_fd}< <(__shellper_send executed "$line" "status=$st")
  fi
  return "$st"
}

# Let the last report finish (2 s at most): the daemon settles it before the next request.
__shellper_report_wait() {
  [[ -n ${__shellper_report_fd-} ]] || return 0
  read -r -t 2 -u "$__shellper_report_fd" _ 2>/dev/null
  exec {__shellper_report_fd}<&-
  __shellper_report_fd=''
}

# On exit the daemon forgets this terminal's conversation (in the background); $? goes on.
__shellper_exit() {
  local st=$?
  [[ -n ${__shellper_used-} ]] && [[ -z ${__shellper_socket-} || -S ${__shellper_socket-} ]] \
    && ( __shellper_send closed '' >/dev/null 2>&1 & )
  return "$st"
}

__shellper_init() {
  if (( BASH_VERSINFO[0] < 4 )); then
    printf 'shellper: bash %s is too old (4.0 or later needed; on macOS: brew install bash)\n' "$BASH_VERSION" >&2
    return 1
  fi
  local key=${SHELLPER_KEY-'\C-g'} map enter=0 prev words=()
  # An Enter hook from bash 4.3, not under ble.sh nor with SHELLPER_PREFIX=''.
  [[ -z ${BLE_VERSION-} && -n $__shellper_prefix ]] && (( BASH_VERSINFO[0] > 4 || BASH_VERSINFO[1] >= 3 )) && enter=1
  for map in emacs-standard vi-insert vi-command; do
    [[ -z $key ]] || bind -m "$map" -r "$key" 2>/dev/null  # bash 5.1 breaks on re-binding a bind -x key
    [[ -z $key ]] || bind -m "$map" -x "\"$key\": __shellper_translate"
    (( enter )) || continue
    bind -m "$map" -r "$__shellper_k1" 2>/dev/null
    bind -m "$map" -x "\"$__shellper_k1\": __shellper_enter"
    bind -m "$map" "\"$__shellper_k2\": accept-line"
    bind -m "$map" "\"\\C-m\": \"$__shellper_k1$__shellper_k2\""
    bind -m "$map" "\"\\C-j\": \"$__shellper_k1$__shellper_k2\""
  done
  (( enter )) && __shellper_chain=accept
  # Our precmd first, so it sees the command's $? (and hands it on); bash-preexec's arrays if loaded.
  if [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
    [[ " ${precmd_functions[*]-} " == *" __shellper_precmd "* ]] || precmd_functions+=(__shellper_precmd)
    [[ " ${preexec_functions[*]-} " == *" __shellper_preexec "* ]] || preexec_functions+=(__shellper_preexec)
    __shellper_preexec_mode=bash-preexec
  else
    __shellper_preexec_mode=enter
    (( enter )) || __shellper_preexec_mode=history  # no Enter hook: reports from the history
    if (( __shellper_44 )); then
      [[ -n ${PROMPT_COMMAND+set} ]] && prev=${PROMPT_COMMAND@a}
    else
      prev=$(\builtin declare -p PROMPT_COMMAND 2>/dev/null) prev=${prev#declare -}
    fi
    if [[ $prev == a* ]]; then
      [[ " ${PROMPT_COMMAND[*]} " == *" __shellper_precmd "* ]] || PROMPT_COMMAND=(__shellper_precmd "${PROMPT_COMMAND[@]}")
    else
      # shellcheck disable=SC2128,SC2178 # PROMPT_COMMAND is a string here
      case ";${PROMPT_COMMAND-};" in
        *";__shellper_precmd;"*) ;;
        *) PROMPT_COMMAND="__shellper_precmd${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
      esac
    fi
  fi
  # __shellper_exit in front of the EXIT trap, keeping the user's own (trap -- 'CMD' EXIT).
  prev=$(\builtin trap -p EXIT)
  [[ $prev == *__shellper_exit* ]] && return 0
  [[ -n $prev ]] && \builtin eval "words=($prev)"
  \builtin trap -- "__shellper_exit${words[2]:+; ${words[2]}}" EXIT
}

# No daemon listening (a new terminal; the daemon exited idle, or was stopped): start one in
# the background (no job notice from a subshell's job), at each prompt.
__shellper_autostart() {
  local off=${SHELLPER_AUTOSTART-}
  case ${off,,} in 0|no|false|off) return 0 ;; esac
  [[ -n ${__shellper_socket-} && ! -S $__shellper_socket ]] || return 0
  # After the first prompt (it exited: idle, or stopped) it leaves the model alone until asked.
  local lazy=lazy=1
  [[ -n ${__shellper_prompted-} ]] || lazy=''
  __shellper_prompted=1
  ( __shellper_send start '' $lazy >/dev/null 2>&1 & )
}

[[ $- == *i* ]] && __shellper_init
(( __shellper_had_aliases )) && \builtin shopt -s expand_aliases
\builtin unset -v __shellper_had_aliases
