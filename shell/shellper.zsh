# shellper for zsh: turn a request typed at the prompt into a command.
# Load it from ~/.zshrc with:   eval "$(shellper init zsh)"
# (which sets __shellper_python, __shellper_pkg and __shellper_socket, adds tab
# completion and parses all of it with aliases off).
#
# Ctrl-G: the line is a request; it becomes the command (on an empty line, the
# last one comes back; undo brings the request back). `#? request` + Enter: the
# same. Ctrl-C or Ctrl-G while "translating..." cancels; typing drops the request.
# Enter on a suggestion has the daemon judge it again before it runs.
# Widgets: shellper-translate (Ctrl-G), shellper-accept-line (wraps accept-line).
# Settings, read when this file loads: SHELLPER_KEY (bindkey notation, default ^G;
# '' binds none), SHELLPER_PREFIX (default '#?'; '' : Enter never translates);
# read when used: SHELLPER_AUTOSTART=0 (no daemon started with the shell),
# SHELLPER_HISTORY=0 (no "#? request" history entry). This script only captures
# the line, sends it (protocol.py's request format) and applies the reply.

# Sourced twice: keep the existing wrappers and state, refresh the functions.
typeset -g __shellper_python="${__shellper_python:-python3}" __shellper_prefix="${SHELLPER_PREFIX-#?}"
# The request in flight and its line; the last and the pending suggestion (its next
# line run is reported); the one on the line (Enter checks it); the check in flight.
typeset -g __shellper_pkg __shellper_socket __shellper_fd __shellper_pid __shellper_cpid __shellper_line
typeset -g __shellper_reply __shellper_last __shellper_pending __shellper_asked __shellper_ran __shellper_typed
typeset -g __shellper_inserted __shellper_checked __shellper_checking __shellper_check_fd __shellper_check_pid
typeset -g __shellper_used __shellper_report_fd __shellper_said
typeset -gi __shellper_ran_set

zmodload zsh/system 2>/dev/null
zmodload zsh/net/socket 2>/dev/null  # without it, everything goes through the client

# Line $1 in REPLY with the words an alias would rewrite quoted: global aliases, and regular
# ones but in the first word (the user's `rm='rm -i'` stays). Status 1: it did not split.
__shellper_unalias() {
  emulate -L zsh
  setopt localoptions extendedglob
  local rest=$1 out= tok gap
  local -i first=1
  for tok in "${(@z)1}"; do
    gap=${(M)rest##[[:blank:]]#}
    rest=${rest:$#gap}
    [[ ${rest:0:$#tok} == "$tok" ]] || { REPLY=$1; return 1 }
    rest=${rest:$#tok}
    (( $+galiases[$tok] || ! first && $+aliases[$tok] )) && tok=${(qq)tok}
    out+=$gap$tok first=0
  done
  REPLY=$out$rest
}

# Connect to the daemon (fd in REPLY); -O: a socket another user made is not ours.
__shellper_connect() {
  emulate -L zsh
  [[ -n $__shellper_socket && -S $__shellper_socket && -O $__shellper_socket ]] || return 1
  (( $+builtins[zsocket] )) && zsocket $__shellper_socket 2>/dev/null
}
# Run the client in place of this subshell, never with the user's folder on
# Python's path (a json.py there would run): `python -I -S` with the package's folder.
__shellper_client() {
  [[ -n $__shellper_socket ]] && export SHELLPER_SOCKET=$__shellper_socket  # the one this shell tests and connects to
  [[ -n $__shellper_pkg && -d $__shellper_pkg/shellper_hook ]] &&
    exec "$__shellper_python" -I -S -c 'import sys; sys.path.append(sys.argv.pop(1)); from shellper_hook.client import main; main()' "$__shellper_pkg"
  builtin cd -q / && exec "$__shellper_python" -m shellper_hook.client
}
# Request OP ($1) TEXT ($2) FIELDS ($3...) in REPLY: OP PID SHELL CWD TEXT, the fields,
# the exported SHELLPER_*, HOME and XDG_CONFIG_HOME, CDPATH if set, each ended by
# NUL, then an empty field. Python alone reads what they mean.
__shellper_request() {
  emulate -L zsh
  setopt localoptions no_xtrace  # (a `set -x` would show the exported API key)
  local n
  local -a f=("$1" $$ zsh "$PWD" "${2-}" "${@[3,-1]}")
  for n in ${(M)${(k)parameters[(R)*export*]}:#(SHELLPER_*|HOME|XDG_CONFIG_HOME)}; do f+=("$n=${(P)n}"); done
  (( ${+CDPATH} )) && f+=("CDPATH=$CDPATH")
  f=("${(@)f//$'\0'/}")
  REPLY=${(pj:\0:)f}$'\0\0'
}

# Send a request (__shellper_request's arguments) on the socket, else on a client's stdin
# (never argv, which others can read). The reply's fd in REPLY, the client's pid in __shellper_cpid.
__shellper_send() {
  emulate -L zsh
  setopt localoptions no_aliases no_xtrace  # process substitutions are parsed when they run; the key
  local req fd
  __shellper_request "$@"
  req=$REPLY __shellper_cpid=
  if __shellper_connect; then
    print -rn -u $REPLY -- "$req" 2>/dev/null && return 0
    exec {REPLY}<&-
  fi
  # The subshell says its pid first, so Ctrl-C can stop the client.
  exec {fd}< <(print -r -- $sysparams[pid]; __shellper_client 2>/dev/null < <(print -rn -- "$req"))
  IFS= read -r -u $fd __shellper_cpid
  REPLY=$fd
}

# Forget the request in flight: drop its handler, close it, stop its client. (Braces: a
# bare `exec {fd}<&- 2>/dev/null` would silence the shell for good.)
__shellper_drop() {
  emulate -L zsh
  [[ -n $__shellper_fd ]] && { zle -F $__shellper_fd; { exec {__shellper_fd}<&- } } 2>/dev/null
  [[ -n $__shellper_pid ]] && kill -TERM $__shellper_pid 2>/dev/null
  __shellper_fd= __shellper_pid= __shellper_reply=
}
# Translate the request in the line (Ctrl-G, or Enter on a prefixed line).
__shellper_start() {
  emulate -L zsh
  __shellper_request_of "$BUFFER"
  [[ -n $REPLY ]] || { __shellper_say "type a request after $__shellper_prefix"; return 0 }
  __shellper_drop
  __shellper_report_wait
  __shellper_line=$BUFFER __shellper_reply= __shellper_asked= __shellper_used=1
  __shellper_inserted= __shellper_checked=
  __shellper_send translate "$REPLY"
  __shellper_fd=$REPLY __shellper_pid=$__shellper_cpid
  zle -F -w $__shellper_fd _shellper-reply
  __shellper_say "translating... (Ctrl-C cancels)"
  __shellper_said=  # shown until the reply, whatever the line does
}

# zle -F handler: the reply is readable (or the peer hung up).
__shellper_reply_widget() {
  emulate -L zsh
  local fd=$1 chunk st REPLY
  [[ $fd == $__shellper_fd ]] || { zle -F $fd 2>/dev/null; { exec {fd}<&- } 2>/dev/null; return 0 }
  sysread -i $fd -s 65536 -t 1 chunk
  st=$?
  if (( st == 0 )); then
    __shellper_reply+=$chunk
    [[ -z ${2-} ]] && return 0
    while sysread -i $fd -s 65536 -t 1 chunk; do __shellper_reply+=$chunk; done  # hung up: drain
  elif (( st == 4 )); then
    return 0  # nothing yet after all
  fi
  local reply=$__shellper_reply
  __shellper_pid=  # the client has exited (or will on its own)
  __shellper_drop
  __shellper_apply "$reply"
}

# Apply a reply: the command on the line, or the request kept and a message.
__shellper_apply() {
  emulate -L zsh
  local REPLY
  local -a f
  [[ $1 == *$'\0' ]] && f=("${(@0)1}")  # a reply cut short is not used
  if [[ $BUFFER != $__shellper_line ]]; then
    [[ ${f[1]-} == ok ]] && __shellper_pending=${f[2]-}
    __shellper_say "the line changed while translating; suggestion dropped"
    return 0
  fi
  if [[ ${f[1]-} == ok && -n ${f[2]-} ]]; then
    __shellper_last=${f[2]} __shellper_pending=${f[2]} __shellper_asked=$__shellper_line
    __shellper_set_line "${f[2]}"
    __shellper_inserted=$BUFFER __shellper_checked=
    REPLY=${${f[3]-}//$'\n'/$'\n'shellper: }  # (unquoted: in "..." $'\n' stays as written)
  elif [[ ${f[1]-} == error ]]; then
    REPLY=${f[3]:-${f[2]:-failed}}
  elif [[ -z $1 ]] && { [[ $__shellper_python == */* && ! -e $__shellper_python ]] ||
    [[ -n $__shellper_pkg && ! -d $__shellper_pkg/shellper_hook ]] }; then  # ./install.sh --uninstall
    REPLY="shellper was uninstalled (its files are gone): \`exec zsh\` unloads it from this terminal"
  else
    REPLY="${${1:+unexpected}:-no} answer from the daemon (see \`shellper status\`)"
  fi
  zle -R
  __shellper_say "$REPLY"
  return 0
}

# Put command $1 on the line (unaliased unless $2), in one assignment: one undo step.
__shellper_set_line() {
  emulate -L zsh
  local REPLY=$1
  [[ -n ${2-} ]] || __shellper_unalias "$1"
  BUFFER=$REPLY CURSOR=${#REPLY}
  # zsh-syntax-highlighting colours after the widgets it wrapped; ours may be newer.
  (( ${+functions[_zsh_highlight]} )) && _zsh_highlight
  return 0
}

# Every message, as "shellper: MSG" below the line ("" clears it); it goes once
# the line changes. zle -M escapes C0 and C1 but not bidi controls: those as "?".
__shellper_say() {
  emulate -L zsh
  local bidi=$'(\xd8\x9c|\xe2\x80\x8e|\xe2\x80\x8f|\xe2\x80\xa8|\xe2\x80\xa9|\xe2\x80\xaa|\xe2\x80\xab|\xe2\x80\xac|\xe2\x80\xad|\xe2\x80\xae|\xe2\x81\xa6|\xe2\x81\xa7|\xe2\x81\xa8|\xe2\x81\xa9)'
  zle -M "${1:+shellper: ${1//${~bidi}/?}}"
  __shellper_said=${1:+x$BUFFER}  # x: set even for an empty line
}

# Before each redraw: a key that changed the line drops the request; an old message goes.
__shellper_pre_redraw() {
  [[ -n $__shellper_fd$__shellper_said ]] || return 0
  emulate -L zsh
  if [[ -n $__shellper_fd && $BUFFER != $__shellper_line ]]; then
    __shellper_drop
    __shellper_say "the line changed while translating; suggestion dropped"
    __shellper_said=  # the next keys keep it
  elif [[ -z $__shellper_fd && x$BUFFER != $__shellper_said ]]; then
    __shellper_say ""
  fi
  return 0
}

# The request in a line (all of it, or what follows the prefix), in REPLY.
__shellper_request_of() {
  emulate -L zsh
  setopt localoptions extendedglob
  local text=$1
  [[ -n $__shellper_prefix ]] && text=${text#[[:space:]]#"$__shellper_prefix"}
  text=${text##[[:space:]]##}
  REPLY=${text%%[[:space:]]##}
}

# Ctrl-G.
shellper-translate() {
  emulate -L zsh
  local REPLY  # keep the user's
  if [[ -z ${BUFFER//[[:space:]]/} && -n $__shellper_last ]]; then
    __shellper_set_line "$__shellper_last"
  elif [[ -z ${BUFFER//[[:space:]]/} ]]; then
    __shellper_say "type a request first, then press ${SHELLPER_KEY-^G}"
  elif [[ -n $__shellper_fd && $BUFFER == $__shellper_line ]]; then
    __shellper_drop  # Ctrl-G again on the line being translated: never mind
    __shellper_say "cancelled"
  else
    __shellper_start
  fi
  return 0
}

# Enter: "#? request" lines are translated; others run, through the wrapper we chain
# (no emulate here: it runs with the user's own options).
shellper-accept-line() {
  __shellper_accept_own || zle ${${widgets[_shellper-orig-accept-line]+_shellper-orig-accept-line}:-.accept-line} -- "$@"
}

# Handle Enter ourselves (status 0), or let the line run (status 1).
__shellper_accept_own() {
  emulate -L zsh
  setopt localoptions extendedglob
  local REPLY
  if [[ -n $__shellper_fd && $BUFFER == $__shellper_line ]]; then
    __shellper_say "still translating... (Ctrl-C cancels)"  # the request never runs
    __shellper_said=
  elif [[ -n $__shellper_prefix && ${CONTEXT-} == start && $BUFFER != *$'\n'* && $BUFFER == [[:space:]]#"$__shellper_prefix"* ]]; then
    __shellper_start
  else
    [[ -n $__shellper_fd ]] && __shellper_drop  # running something else
    [[ -n $__shellper_inserted && -z $__shellper_checked && $BUFFER == $__shellper_inserted ]] || return 1
    __shellper_enter_check
  fi
}

# Enter on the suggestion as it was put on the line: the daemon judges it again
# (at most 3 s; Ctrl-C: nothing runs). Status 1: run it; 0: it stays, and why is shown.
__shellper_enter_check() {
  emulate -L zsh
  local REPLY msg reply
  local -a f
  __shellper_checking=$BUFFER
  __shellper_check "$__shellper_pending"
  __shellper_checking= reply=$REPLY
  [[ $reply == *$'\0' ]] && f=("${(@0)reply}")
  [[ ${f[1]-} == same ]] && return 1
  __shellper_keys_meanwhile  # keys pressed while it waited: an Enter among them must not run it
  if [[ ${f[1]-} == changed ]]; then
    __shellper_checked=1 msg=${f[3]-}  # shown now: the next Enter runs it
  elif [[ ${f[1]-} == error && ${f[2]-} == refused ]]; then
    msg=${f[3]:-refused}  # nothing runs; the next Enter asks again
  else
    __shellper_checked=1 msg=${f[3]:-${f[2]:-failed}}
    [[ ${f[1]-} == error ]] || msg="${${reply:+unexpected}:-no} answer from the daemon (see \`shellper status\`)"
    msg+=$'\n'"press Enter again to run it anyway"
  fi
  msg=${msg//$'\n'/$'\n'shellper: }  # (unquoted, as above)
  __shellper_say "$msg"
  return 0
}

# Keys typed while Enter waited, taken off the terminal before zle reads them: text and
# Backspace go on the line; Enter, control keys and escape sequences go.
__shellper_keys_meanwhile() {
  emulate -L zsh
  setopt localoptions extendedglob
  local keys= chunk c line=$BUFFER
  local -i fd n
  { exec {fd}</dev/tty } 2>/dev/null || return 0
  while (( n++ < 16 )) && sysread -i $fd -s 4096 -t 0 chunk 2>/dev/null; do keys+=$chunk; done
  { exec {fd}<&- } 2>/dev/null
  while [[ -n $keys ]]; do
    c=${keys[1]} keys=${keys[2,-1]}
    if [[ $c == $'\e' ]]; then  # a CSI or SS3 (parameter and intermediate bytes, a final one), or Alt-key
      keys=${keys##([\[O][$'\x20'-$'\x3f']#?|?)}
    elif [[ $c == ($'\177'|$'\b') ]]; then
      line=${line%?}
    elif [[ $c != [[:cntrl:]] ]]; then
      line+=$c
    fi
  done
  [[ $line == $BUFFER ]] || __shellper_set_line "$line" as-is
}

# Have the daemon judge command $1 again (the client never starts one); at most 3 s.
# The reply in REPLY ('' if none came).
__shellper_check() {
  emulate -L zsh
  local fd chunk st reply= wait=0.25 noted=
  __shellper_send check "$1"
  fd=$REPLY __shellper_check_fd=$REPLY __shellper_check_pid=$__shellper_cpid
  while :; do  # mostly ms: a note says why Enter waits only after 0.25 s
    sysread -i $fd -s 65536 -t $wait chunk
    st=$?
    if (( st == 4 )) && [[ -z $noted$reply ]]; then
      noted=1 wait=2.75
      (( ${+WIDGET} )) && zle -M "shellper: checking the files again... (Ctrl-C: nothing runs)" && zle -R
    elif (( st == 0 )); then
      reply+=$chunk wait=1
    else
      break
    fi
  done
  # End of file: the answer, and the client has exited; else none came in time.
  (( st == 5 )) && __shellper_check_pid= || reply=
  __shellper_check_done
  REPLY=$reply
}

# Close the check's connection and stop its client, if any.
__shellper_check_done() {
  emulate -L zsh
  [[ -n $__shellper_check_fd ]] && { exec {__shellper_check_fd}<&- } 2>/dev/null
  [[ -n $__shellper_check_pid ]] && kill -TERM $__shellper_check_pid 2>/dev/null
  __shellper_check_fd= __shellper_check_pid=
}
# line-init after Ctrl-C during a request or a check: cancel it, put the line back.
__shellper_line_init() {
  emulate -L zsh
  [[ -n $__shellper_checking$__shellper_fd ]] || return 0
  local line=${__shellper_checking:-$__shellper_line}
  __shellper_checking=
  __shellper_check_done
  __shellper_drop
  [[ -n $BUFFER ]] || __shellper_set_line "$line" as-is
  __shellper_say "cancelled"
}

# preexec: note the line run after a suggestion.
__shellper_preexec() {
  emulate -L zsh
  # The report's pipe must be gone before the user's command can reuse its fd.
  [[ -n $__shellper_report_fd ]] && __shellper_report_wait
  [[ -n $__shellper_pending ]] || return 0
  __shellper_inserted= __shellper_checked=
  __shellper_ran=${1:-${__shellper_typed:-${3-}}}
  __shellper_ran_set=1 __shellper_typed=
}
# zshaddhistory: before the suggestion (edited or not) enters the history, its
# request does, as "#? REQUEST". Status 0: the line itself is added as usual.
__shellper_addhistory() {
  [[ -n $__shellper_asked ]] || return 0
  emulate -L zsh
  setopt localoptions extendedglob
  local asked=$__shellper_asked line=${1%$'\n'} REPLY prefix=${__shellper_prefix-'#?'}
  __shellper_asked=
  [[ -n $__shellper_pending && ${(L)SHELLPER_HISTORY:-1} != (0|no|false|off) ]] || return 0
  # Only when the suggestion runs (the same command name first).
  local word=${${line##[[:space:]]#}%%[[:space:]]*} want=${${__shellper_pending##[[:space:]]#}%%[[:space:]]*}
  [[ -n $word && $word == "$want" ]] || return 0
  [[ -o histignorespace && ( $asked == ' '* || $line == ' '* ) ]] && return 0
  [[ -n ${HISTORY_IGNORE-} && $line == ${~HISTORY_IGNORE} ]] && return 0
  # Only a prefix that makes a comment: recalled where shellper is not loaded, it must not run.
  [[ $prefix == '#'* ]] || return 0
  __shellper_request_of "$asked"
  [[ -n $REPLY && $REPLY != *$'\n'* ]] || return 0
  print -rs -- "$prefix $REPLY"
  __shellper_typed=$line
  return 0
}

# precmd: report that line and its status (through the client: in the background).
__shellper_precmd() {
  local st=$?
  emulate -L zsh
  __shellper_autostart  # (a daemon that exited, idle or stopped, comes back before the next Ctrl-G)
  (( __shellper_ran_set )) || return $st
  local line=$__shellper_ran REPLY
  __shellper_ran= __shellper_ran_set=0 __shellper_pending= __shellper_asked=
  # A line the history drops is reported empty: the suggestion is forgotten.
  [[ $line == ' '* && -o histignorespace ]] || [[ -n ${HISTORY_IGNORE-} && $line == ${~HISTORY_IGNORE} ]] && line=
  __shellper_report_wait
  __shellper_send executed "$line" status=$st
  # A client keeps its pipe open until it is done; the socket's answer is not read.
  [[ -n $__shellper_cpid ]] && __shellper_report_fd=$REPLY || exec {REPLY}<&-
  return $st
}
# Let the last report through a client finish (at most 2 s): the daemon settles it first.
__shellper_report_wait() {
  emulate -L zsh
  [[ -n $__shellper_report_fd ]] || return 0
  local done
  read -r -t 2 -u $__shellper_report_fd done 2>/dev/null
  { exec {__shellper_report_fd}<&- } 2>/dev/null
  __shellper_report_fd=
}
# zshexit: the daemon forgets this terminal's conversation now (none if it never asked),
# over the socket or through a detached client: the exit never waits.
__shellper_exit() {
  emulate -L zsh
  setopt localoptions no_xtrace
  local REPLY req
  [[ -n $__shellper_used ]] || return 0
  __shellper_request closed && req=$REPLY
  if __shellper_connect; then
    print -rn -u $REPLY -- "$req" 2>/dev/null
    exec {REPLY}<&-
  elif [[ -z $__shellper_socket || -S $__shellper_socket ]]; then
    print -rn -- "$req" | __shellper_client >/dev/null 2>&1 &!
  fi
  return 0
}

# Other plugins, now and again at the first prompt (they may load after us):
# zsh-autosuggestions (Ctrl-G clears its grey text; its list is only extended, never
# created: it would lose its defaults), and the completion.
__shellper_plugins() {
  emulate -L zsh
  (( ${+ZSH_AUTOSUGGEST_CLEAR_WIDGETS} && ! ${ZSH_AUTOSUGGEST_CLEAR_WIDGETS[(Ie)shellper-translate]:-0} )) &&
    ZSH_AUTOSUGGEST_CLEAR_WIDGETS+=(shellper-translate)
  __shellper_compdef
}
# Register _shellper (`shellper init zsh` prints it) once compinit has run; a
# completion the user set for shellper stays.
__shellper_compdef() {
  emulate -L zsh
  (( ${+functions[compdef]} )) || return 0
  [[ -n ${_comps[shellper]-} && ${_comps[shellper]-} != _shellper ]] || compdef _shellper shellper
}
__shellper_first_prompt() {
  emulate -L zsh
  add-zsh-hook -d precmd __shellper_first_prompt
  __shellper_plugins
  # A zle-line-init set with `zle -N` after us replaced our Ctrl-C recovery: chain theirs.
  local init=${widgets[zle-line-init]-}
  if [[ $init == user:* && $init != user:azhw:zle-line-init && $init != user:__shellper_chained_line_init ]]; then
    zle -N _shellper-orig-line-init "${init#user:}"
    zle -N zle-line-init __shellper_chained_line_init
  fi
}
__shellper_chained_line_init() {
  zle _shellper-line-init
  zle _shellper-orig-line-init -- "$@"
}

# No daemon: have the client start one in the background (from a subshell: no job
# notice, $! stays); the prompt never waits. At the shell's start a connect also finds
# a crashed one; at each prompt, only the socket file (gone with a daemon that exited).
__shellper_autostart() {
  emulate -L zsh
  setopt localoptions no_xtrace
  [[ -o interactive && -n $__shellper_socket && ${(L)SHELLPER_AUTOSTART:-1} != (0|no|false|off) ]] || return 0
  local REPLY
  if [[ -n ${1-} ]] && __shellper_connect; then
    exec {REPLY}<&-
    return 0
  fi
  [[ -n ${1-} || ! -S $__shellper_socket ]] || return 0
  # At a prompt (it exited: idle, or stopped) it leaves the model alone until asked.
  local -a lazy=(lazy=1)
  [[ -n ${1-} ]] && lazy=()
  __shellper_request start '' $lazy
  ( print -rn -- "$REPLY" | __shellper_client >/dev/null 2>&1 &! )
}
() {
  emulate -L zsh
  zle -N shellper-translate
  zle -N shellper-accept-line
  zle -N _shellper-reply __shellper_reply_widget
  zle -N _shellper-line-init __shellper_line_init
  zle -N _shellper-pre-redraw __shellper_pre_redraw
  # Wrap accept-line once, keeping whatever wrapper was there.
  if [[ ${widgets[accept-line]-} != user:shellper-accept-line ]] && (( ! ${+__shellper_wrapped} )); then
    [[ ${widgets[accept-line]-} == user:* ]] && zle -N _shellper-orig-accept-line "${widgets[accept-line]#user:}"
    zle -N accept-line shellper-accept-line
    typeset -g __shellper_wrapped=1
  fi
  autoload -Uz add-zle-hook-widget add-zsh-hook
  add-zle-hook-widget line-init _shellper-line-init
  add-zle-hook-widget line-pre-redraw _shellper-pre-redraw
  add-zsh-hook zshaddhistory __shellper_addhistory
  add-zsh-hook preexec __shellper_preexec
  add-zsh-hook precmd __shellper_precmd
  add-zsh-hook zshexit __shellper_exit
  add-zsh-hook precmd __shellper_first_prompt
  local key=${SHELLPER_KEY-^G} map REPLY
  [[ -n $key ]] && for map in emacs viins vicmd; do bindkey -M $map "$key" shellper-translate; done
  __shellper_plugins
  __shellper_autostart connect
}
