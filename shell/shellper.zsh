# shellper for zsh: turn a request typed at the prompt into a command.
#
# Load it from ~/.zshrc with:   eval "$(shellper init zsh)"
# (`shellper init zsh` prints three settings, __shellper_python,
# __shellper_pkg and __shellper_socket, then this file, wrapped so that it is parsed with
# aliases off: your aliases of the builtins used here (`alias print=...`,
# global aliases) cannot change these functions. Sourced on its own, it uses
# `python3`, always goes through the client, and is parsed with your aliases.)
#
# Use:
#   Ctrl-G             the whole line is a request; it is replaced by the
#                      command, ready to edit or run. On an empty line, the
#                      last suggestion comes back. Words an alias would
#                      rewrite are quoted (global aliases such as `G` or
#                      `...`); your own alias for the command name itself
#                      (rm='rm -i') still applies.
#   #? request  Enter  the same, instead of running the line.
#   Ctrl-C (or Ctrl-G) while "translating..." shows: cancel, the request
#                      stays on the line.
#   typing while "translating..." shows: the keys edit the line as usual and
#                      the request is dropped ("suggestion dropped"); Enter
#                      keeps waiting (the request never runs).
#   undo (Ctrl-_ / Ctrl-X u in emacs mode, u in vi command mode) after a
#                      suggestion brings the request back.
#
# Settings (read once, when this file is loaded):
#   SHELLPER_KEY       the key, in bindkey notation (default ^G), bound in
#                      the emacs, viins and vicmd keymaps; SHELLPER_KEY=''
#                      binds no key (bind shellper-translate yourself).
#   SHELLPER_PREFIX    what marks a request on Enter (default '#?');
#                      SHELLPER_PREFIX='' : Enter never translates (while a
#                      request is in flight it still only waits).
#   SHELLPER_AUTOSTART 0 (or no, false, off): do not start the daemon in the
#                      background when a shell starts and none is running.
#   SHELLPER_HISTORY   0 (or no, false, off): a suggestion run does not put
#                      "#? request" into the history before it (read as the
#                      line runs; ignore-space keeps either line out too).
#
# Widgets, for your own bindings:
#   shellper-translate     what Ctrl-G does
#   shellper-accept-line   wraps accept-line to catch "#? request" lines
#
# Tab completion for the shellper command: _shellper, registered with
# compdef once compinit has run (before or after this file).
#
# Everything here is named shellper-* (widgets) or __shellper_* (functions
# and variables), but _shellper (completion functions are _COMMAND). No
# shell option is changed outside these functions; the modules zsh/system
# and zsh/net/socket are loaded if present.
#
# The pattern shellper.zsh and shellper.bash both follow (same function
# names for the same jobs, same messages):
#   __shellper_request_of LINE   the request in a line (all of it, or what
#                                follows "#?"), in REPLY
#   __shellper_start REQ LINE    send the request (JSON line to the daemon's
#                                socket, or REQ on the client's stdin, never
#                                argv); LINE is the line it came from
#   waiting                      zsh: zle -F calls __shellper_reply_widget
#                                as the reply arrives; bash: __shellper_wait
#                                reads keys until it is there. A key that
#                                changes the line drops the request; Ctrl-C
#                                cancels it and puts the line back.
#   __shellper_apply REPLY       the reply's NUL-separated fields: "ok"
#                                CMD [NOTE] puts CMD on the line (one undo
#                                step), "error" KIND MSG and anything else
#                                leave the line and say why
#   __shellper_say MSG           every message, as "shellper: MSG", with
#                                control and bidi characters shown as "?"
#   __shellper_enter_check       Enter on the suggestion as it was put on the
#                                line: the daemon judges it again (check, at
#                                most 3 s); "same" runs it, "changed" shows the
#                                new lines and a second Enter runs it, "error"
#                                "refused" runs nothing (the next Enter asks
#                                again), any other error or no answer: a
#                                second Enter runs it; keys pressed while it
#                                waited never run it unseen (bash and zsh take
#                                them off the terminal, fish's client does;
#                                typed text goes on the line). Other lines:
#                                never asked.
#   __shellper_preexec/precmd    note the line run right after a suggestion;
#   __shellper_report LINE ST    report it (and only it) with its status;
#   __shellper_report_wait       let that report finish before the next
#                                request or command
# Shell-specific parts stay in their own script: zsh's JSON encoder and
# socket, its alias quoting (__shellper_unalias) and syntax highlighting;
# bash's Enter macro and terminal modes.

# Sourced twice: keep the existing wrappers and state, refresh the functions.
typeset -g __shellper_python="${__shellper_python:-python3}"
typeset -g __shellper_pkg="${__shellper_pkg-}"  # the folder holding shellper_hook, if known
typeset -g __shellper_socket="${__shellper_socket-}"
# Read at each load, as SHELLPER_KEY is.
typeset -g __shellper_prefix="${SHELLPER_PREFIX-#?}"

# The request in flight: its connection, its client (if any), the line it
# came from, and the reply read so far.
typeset -g __shellper_fd="${__shellper_fd-}"
typeset -g __shellper_pid="${__shellper_pid-}"
typeset -g __shellper_line="${__shellper_line-}"
typeset -g __shellper_reply="${__shellper_reply-}"
# The last command suggested, and the suggestion waiting to be run (its
# next executed line is reported to the daemon, and nothing else is).
typeset -g __shellper_last="${__shellper_last-}"
typeset -g __shellper_pending="${__shellper_pending-}"
typeset -g __shellper_ran="${__shellper_ran-}"
typeset -gi __shellper_ran_set="${__shellper_ran_set:-0}"
# The line the pending suggestion was asked from: its request goes into the
# history just before the line that runs.
typeset -g __shellper_asked="${__shellper_asked-}"
typeset -g __shellper_used="${__shellper_used-}"  # 1 once this terminal asked: it has a conversation
# The suggestion as it stands on the line (what Enter has the daemon judge
# again), 1 once Enter needs not ask again, and the check in flight (its line,
# connection and client: Ctrl-C while it waits leaves them to line-init).
typeset -g __shellper_inserted="${__shellper_inserted-}"
typeset -g __shellper_checked="${__shellper_checked-}"
typeset -g __shellper_checking="${__shellper_checking-}"
typeset -g __shellper_check_fd="${__shellper_check_fd-}"
typeset -g __shellper_check_pid="${__shellper_check_pid-}"
# The line as typed, when that entry was added (preexec's $1 is empty then).
typeset -g __shellper_typed="${__shellper_typed-}"
typeset -g __shellper_report_fd="${__shellper_report_fd-}"
# The line a message of ours is about: the message goes once the line changes.
typeset -g __shellper_said="${__shellper_said-}"

# Load the modules quietly: without zsh/net/socket we use the client.
zmodload zsh/system 2>/dev/null
zmodload zsh/net/socket 2>/dev/null

# One JSON string literal (quotes included) in REPLY.
__shellper_json() {
  emulate -L zsh
  # Byte by byte, whatever the locale: in GBK, Big5 or Shift_JIS a
  # character's second byte can be the backslash that needs escaping.
  setopt localoptions extendedglob no_multibyte
  local s=$1 MATCH MBEGIN MEND  # (#m) sets these
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  # Control bytes as \u00XX (the code of the matched byte); not [[:cntrl:]],
  # which takes bytes above 127 in some locales.
  s=${s//(#m)[$'\0'-$'\x1f'$'\x7f']/\\u${(l:4::0:)$(( [##16] #MATCH ))}}
  REPLY="\"$s\""
}

# This terminal's settings, as a JSON object in REPLY, as the client sends
# them (protocol.settings_origin): the SHELLPER_* settings variables set here,
# and which config file applies (paths.config_file). The daemon says when it
# started with others. Tests keep the list equal to protocol.SETTINGS_ENV.
__shellper_settings() {
  emulate -L zsh
  setopt localoptions extendedglob
  # Exported ones only: the client and a daemon started from here see no others.
  local name out= config= base=
  [[ ${(t)SHELLPER_CONFIG-} == *export* ]] && config=$SHELLPER_CONFIG
  [[ ${(t)XDG_CONFIG_HOME-} == *export* ]] && base=$XDG_CONFIG_HOME
  for name in SHELLPER_BASE_URL SHELLPER_MODEL SHELLPER_API_KEY SHELLPER_TIMEOUT SHELLPER_MAX_TURNS \
      SHELLPER_ALLOW_RECURSIVE SHELLPER_SYSTEM_PROMPT SHELLPER_IDLE_EXIT SHELLPER_COLLECT_CORRECTIONS \
      SHELLPER_CORRECTIONS_DAYS SHELLPER_KEEP_ALIVE SHELLPER_MAX_TOKENS; do
    [[ ${(tP)name-} == *export* ]] || continue
    [[ -n ${${(P)name-}//[[:space:]]/} ]] || continue  # an empty one counts as unset
    __shellper_json "${(P)name}"
    out+="\"$name\":$REPLY,"
  done
  # Blank counts as unset; a set value counts stripped of blanks at both ends.
  config=${${config##[[:space:]]#}%%[[:space:]]#}
  base=${${base##[[:space:]]#}%%[[:space:]]#}
  if [[ -z $config ]]; then
    # As Python joins them: the home without its trailing slashes, no slash doubled.
    local home=${HOME%%/##}
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

# The command line $1 in REPLY, with every word that an alias would rewrite
# quoted, so it runs the argv it shows whatever aliases are defined (oh-my-zsh
# has `alias -g G='| grep'` and `...='../..'`). Global aliases are quoted
# everywhere; regular ones everywhere but the first word, so the user's own
# command aliases (`rm='rm -i'`) still apply. Words the renderer leaves
# unquoted hold only characters that mean themselves, so quoting keeps their
# value. Status 1 (REPLY=$1) if the line does not split as expected.
__shellper_unalias() {
  emulate -L zsh
  setopt localoptions extendedglob
  local rest=$1 out= tok gap
  local -i first=1
  for tok in "${(@z)1}"; do
    # Copy the blanks before the token, then the token itself, from $1.
    gap=${(M)rest##[[:blank:]]#}
    rest=${rest:$#gap}
    if [[ ${rest:0:$#tok} != "$tok" ]]; then
      REPLY=$1
      return 1
    fi
    rest=${rest:$#tok}
    if (( $+galiases[$tok] )) || (( ! first && $+aliases[$tok] )); then
      tok=${(qq)tok}
    fi
    out+=$gap$tok
    first=0
  done
  REPLY=$out$rest
}

# Connect to the daemon without spawning anything; the fd is in REPLY.
__shellper_connect() {
  emulate -L zsh
  # -O: a socket someone else made at our path is not our daemon.
  [[ -n $__shellper_socket && -S $__shellper_socket && -O $__shellper_socket ]] || return 1
  (( $+builtins[zsocket] )) || return 1
  zsocket $__shellper_socket 2>/dev/null
}

# Forget the request in flight: drop its handler, close it, stop its client.
__shellper_drop() {
  emulate -L zsh
  if [[ -n $__shellper_fd ]]; then
    zle -F $__shellper_fd 2>/dev/null
    # Braces: `exec` with only redirections applies them to the shell
    # itself, so a bare `2>/dev/null` here would silence it for good.
    { exec {__shellper_fd}<&- } 2>/dev/null
  fi
  if [[ -n $__shellper_pid ]]; then
    kill -TERM $__shellper_pid 2>/dev/null
  fi
  __shellper_fd= __shellper_pid= __shellper_reply=
}

# Run the client with arguments $@ in place of this subshell (call it only
# in one). Never with the user's folder on Python's path, where a json.py
# would run instead of the module: with the package's folder known, as
# `python -I -S` (isolated, and no site-packages scan: half the start);
# else from / (-q: no chpwd hooks).
__shellper_client() {
  if [[ -n $__shellper_pkg && -d $__shellper_pkg/shellper_hook ]]; then  # (gone: a venv rebuilt)
    exec "$__shellper_python" -I -S -c 'import sys; sys.path.append(sys.argv.pop(1)); from shellper_hook.client import main; main()' "$__shellper_pkg" "$@"
  fi
  builtin cd -q / && exec "$__shellper_python" -m shellper_hook.client "$@"
}

# Start translating $1 (the request); $2 is the line to put back on failure.
__shellper_start() {
  emulate -L zsh
  # The process substitutions below are parsed when they run: no aliases then either.
  setopt localoptions no_aliases
  __shellper_drop
  local text=$1 fd
  __shellper_report_wait
  __shellper_line=$2 __shellper_reply= __shellper_asked= __shellper_used=1
  __shellper_inserted= __shellper_checked=
  if __shellper_connect; then
    fd=$REPLY
    local cwd session=$$ settings dirs
    __shellper_settings; settings=$REPLY
    __shellper_json "$PWD"; cwd=$REPLY
    # The shell's CDPATH ("" when unset), for where cd goes.
    __shellper_json "${CDPATH-}"; dirs=$REPLY
    __shellper_json "$text"
    if ! print -rn -u $fd -- "{\"v\":1,\"op\":\"translate\",\"session\":$session,\"shell\":\"zsh\",\"cwd\":$cwd,\"text\":$REPLY,\"reply\":\"nul\",\"cdpath\":$dirs,\"settings\":$settings}"$'\n' 2>/dev/null; then
      exec {fd}<&-
      fd=
    fi
  fi
  if [[ -z $fd ]]; then
    # No daemon reachable: the client starts it and prints the same reply.
    # The subshell says its pid first, so Ctrl-C can stop the client.
    # The text and cwd go through a pipe, never argv (/proc/PID/cmdline is world-readable).
    local here=$PWD dirs=${CDPATH-}
    exec {fd}< <(print -r -- $sysparams[pid]; __shellper_client translate $$ zsh cdpath 2>/dev/null \
      < <(builtin print -rn -- "$here"$'\0'"$dirs"$'\0'"$text"$'\0'))
    IFS= read -r -u $fd __shellper_pid
  fi
  __shellper_fd=$fd
  zle -F -w $fd _shellper-reply
  __shellper_say "translating... (Ctrl-C cancels)"
  __shellper_said=  # shown until the reply, whatever the line does
}

# Called by zle when the daemon's reply is readable (or the peer hung up).
__shellper_reply_widget() {
  emulate -L zsh
  local fd=$1 chunk st REPLY
  [[ $fd == $__shellper_fd ]] || { zle -F $fd 2>/dev/null; { exec {fd}<&- } 2>/dev/null; return 0 }
  sysread -i $fd -s 65536 -t 1 chunk
  st=$?
  if (( st == 0 )); then
    __shellper_reply+=$chunk
    [[ -z ${2-} ]] && return 0
    # Hung up with data: drain what is left.
    while sysread -i $fd -s 65536 -t 1 chunk; do __shellper_reply+=$chunk; done
  elif (( st == 4 )); then
    return 0  # nothing yet after all: wait for the next call
  fi
  # End of the reply.
  local reply=$__shellper_reply
  __shellper_pid=  # the client has exited (or will on its own)
  __shellper_drop
  __shellper_apply "$reply"
}

# Show the outcome: the command on the line, or the request kept and a message.
__shellper_apply() {
  emulate -L zsh
  local -a f
  # A whole reply ends in NUL; one cut short (the daemon died mid-write) is not used.
  [[ $1 == *$'\0' ]] && f=("${(@0)1}")
  if [[ $BUFFER != $__shellper_line ]]; then
    # The user changed the line while waiting: keep their text.
    [[ ${f[1]-} == ok ]] && __shellper_pending=${f[2]-}
    __shellper_say "the line changed while translating; suggestion dropped"
    return 0
  fi
  if [[ ${f[1]-} == ok && -n ${f[2]-} ]]; then
    __shellper_last=${f[2]} __shellper_pending=${f[2]} __shellper_asked=$__shellper_line
    __shellper_set_line "${f[2]}"
    __shellper_inserted=$BUFFER __shellper_checked=
  fi
  zle -R
  if [[ ${f[1]-} == ok && -n ${f[2]-} ]]; then
    if [[ -n ${f[3]-} ]]; then
      # Unquoted: inside "..." $'\n' in the replacement stayed literal text.
      local note=${${f[3]}//$'\n'/$'\n'shellper: }
      __shellper_say "$note"
    else
      __shellper_say ""
    fi
  elif [[ ${f[1]-} == error ]]; then
    __shellper_say "${f[3]:-${f[2]:-failed}}"
  elif [[ -z $1 ]] && __shellper_gone; then
    __shellper_say "shellper was uninstalled (its files are gone): \`exec zsh\` unloads it from this terminal"
  elif [[ -z $1 ]]; then
    __shellper_say "no answer from the daemon (see \`shellper status\`)"
  else
    __shellper_say "unexpected answer from the daemon (see \`shellper status\`)"
  fi
  return 0
}

# Status 0 if the client this shell was given is gone (./install.sh
# --uninstall removed the environment): its Python, or its package's folder.
__shellper_gone() {
  emulate -L zsh
  [[ $__shellper_python == */* && ! -e $__shellper_python ]] && return 0
  [[ -n $__shellper_pkg && ! -d $__shellper_pkg/shellper_hook ]]
}

# Put command $1 on the line: no alias may change what it means; one
# assignment, so a single undo step brings the request back.
__shellper_set_line() {
  emulate -L zsh
  local REPLY
  __shellper_unalias "$1"
  BUFFER=$REPLY
  CURSOR=$#BUFFER
  __shellper_highlight
}

# zsh-syntax-highlighting colours a line when one of the widgets it wrapped
# ran; ours may have been made after it loaded (or be a zle -F handler), so
# colour the new line through its own entry point.
__shellper_highlight() {
  (( ${+functions[_zsh_highlight]} )) && _zsh_highlight
  return 0
}

# Every message, below the line; "" clears it. The line it is about is
# remembered, so that the message goes once the line changes.
__shellper_say() {
  emulate -L zsh
  # zle -M shows C0 and C1 escaped but bidi controls and separators raw: as
  # UTF-8 bytes (U+061C, 200E-F, 2028-202E, 2066-9), so any locale sees them.
  local bidi=$'(\xd8\x9c|\xe2\x80\x8e|\xe2\x80\x8f|\xe2\x80\xa8|\xe2\x80\xa9|\xe2\x80\xaa|\xe2\x80\xab|\xe2\x80\xac|\xe2\x80\xad|\xe2\x80\xae|\xe2\x81\xa6|\xe2\x81\xa7|\xe2\x81\xa8|\xe2\x81\xa9)'
  if [[ -z $1 ]]; then
    zle -M ""
    __shellper_said=
  else
    zle -M "shellper: ${1//${~bidi}/?}"
    __shellper_said=x$BUFFER  # x: set even for an empty line
  fi
}

# Before each redraw: a key that changed the line drops the request in
# flight (the keys win), and a message about another line goes.
__shellper_pre_redraw() {
  [[ -n $__shellper_fd$__shellper_said ]] || return 0
  emulate -L zsh
  if [[ -n $__shellper_fd && $BUFFER != $__shellper_line ]]; then
    __shellper_drop
    __shellper_say "the line changed while translating; suggestion dropped"
    __shellper_said=  # it is about the change: the next keys keep it
  elif [[ -z $__shellper_fd && x$BUFFER != $__shellper_said ]]; then
    zle -M ""
    __shellper_said=
  fi
  return 0
}

# The request in a line: the line itself, or what follows "#?".
__shellper_request_of() {
  emulate -L zsh
  setopt localoptions extendedglob
  local text=$1
  if [[ -n $__shellper_prefix && $text == [[:space:]]#"$__shellper_prefix"* ]]; then
    text=${text#[[:space:]]#"$__shellper_prefix"}
  fi
  text=${text##[[:space:]]##}
  text=${text%%[[:space:]]##}
  REPLY=$text
}

# Ctrl-G.
shellper-translate() {
  emulate -L zsh
  local REPLY  # our helpers answer in REPLY: keep the user's
  if [[ -z ${BUFFER//[[:space:]]/} ]]; then
    if [[ -n $__shellper_last ]]; then
      __shellper_set_line "$__shellper_last"
    else
      __shellper_say "type a request first, then press ${SHELLPER_KEY-^G}"
    fi
    return 0
  fi
  if [[ -n $__shellper_fd && $BUFFER == $__shellper_line ]]; then
    # Ctrl-G again while this line is translated: never mind (as Ctrl-C, and
    # as bash and fish do); the request stays on the line.
    __shellper_drop
    __shellper_say "cancelled"
    return 0
  fi
  __shellper_request_of "$BUFFER"
  if [[ -z $REPLY ]]; then
    __shellper_say "type a request after $__shellper_prefix"
    return 0
  fi
  __shellper_start "$REPLY" "$BUFFER"
}

# Enter: "#? request" lines are translated, every other line runs as before.
# No emulate here: the wrapper we chain runs with the user's own options.
shellper-accept-line() {
  __shellper_accept_own && return 0
  if (( ${+widgets[_shellper-orig-accept-line]} )); then
    zle _shellper-orig-accept-line -- "$@"
  else
    zle .accept-line -- "$@"
  fi
}

# Handle Enter ourselves (status 0), or say the line runs (status 1).
__shellper_accept_own() {
  emulate -L zsh
  setopt localoptions extendedglob
  local REPLY
  if [[ -n $__shellper_fd && $BUFFER == $__shellper_line ]]; then
    # Enter on the request being translated: keep waiting, never run it.
    __shellper_say "still translating... (Ctrl-C cancels)"
    __shellper_said=
    return 0
  fi
  if [[ -n $__shellper_prefix && ${CONTEXT-} == start && $BUFFER != *$'\n'* && $BUFFER == [[:space:]]#"$__shellper_prefix"* ]]; then
    __shellper_request_of "$BUFFER"
    if [[ -z $REPLY ]]; then
      __shellper_say "type a request after $__shellper_prefix"
      return 0
    fi
    __shellper_start "$REPLY" "$BUFFER"
    return 0
  fi
  # Running something else: the request in flight is no longer wanted.
  [[ -n $__shellper_fd ]] && __shellper_drop
  # The suggestion as it was put on the line: judged again first. Any other line runs as is.
  if [[ -n $__shellper_inserted && -z $__shellper_checked && $BUFFER == $__shellper_inserted ]]; then
    __shellper_enter_check
    return
  fi
  return 1
}

# Enter on the suggestion: the daemon judges it again on the files as they are
# now, and the shell waits for its answer (at most 3 s; Ctrl-C: nothing runs,
# the line stays). Status 1: run it; 0: it stays on the line, and why is shown.
__shellper_enter_check() {
  emulate -L zsh
  local REPLY
  local -a f
  __shellper_checking=$BUFFER
  __shellper_check "$__shellper_pending"
  __shellper_checking=
  [[ $REPLY == *$'\0' ]] && f=("${(@0)REPLY}")
  [[ ${f[1]-} == same ]] && return 1
  # Keys pressed while it waited were pressed unseen: an Enter among them must not run it.
  __shellper_keys_meanwhile
  if [[ ${f[1]-} == changed ]]; then
    __shellper_checked=1  # shown now: the next Enter runs it
    REPLY=${f[3]//$'\n'/$'\n'shellper: }  # (unquoted: in "..." the $'\n' would stay as written)
    __shellper_say "$REPLY"
  elif [[ ${f[1]-} == error && ${f[2]-} == refused ]]; then
    REPLY=${${f[3]:-refused}//$'\n'/$'\n'shellper: }
    __shellper_say "$REPLY"  # nothing runs; the next Enter asks again
  else
    __shellper_checked=1
    if [[ ${f[1]-} == error ]]; then
      REPLY=${f[3]:-${f[2]:-failed}}
    elif [[ -z $REPLY ]]; then
      REPLY="no answer from the daemon (see \`shellper status\`)"
    else
      REPLY="unexpected answer from the daemon (see \`shellper status\`)"
    fi
    REPLY=${REPLY//$'\n'/$'\n'shellper: }
    __shellper_say "$REPLY"$'\n'"shellper: press Enter again to run it anyway"
  fi
  return 0
}

# The keys typed while Enter waited for a check that did not answer "same",
# taken off the terminal before zle reads them: text and Backspace go on the
# end of the line (as bash and fish do); Enter, other control keys and escape
# sequences (arrows...) are dropped.
__shellper_keys_meanwhile() {
  emulate -L zsh
  local keys= chunk c typed=
  local -i fd n
  { exec {fd}</dev/tty } 2>/dev/null || return 0
  for (( n = 0; n < 16; n++ )); do
    sysread -i $fd -s 4096 -t 0 chunk 2>/dev/null || break
    keys+=$chunk
  done
  { exec {fd}<&- } 2>/dev/null
  while [[ -n $keys ]]; do
    c=${keys[1]} keys=${keys[2,-1]}
    if [[ $c == $'\e' ]]; then
      if [[ $keys == [\[O]* ]]; then
        keys=${keys[2,-1]}
        # A CSI's parameter and intermediate bytes (a terminal's reply has ? and <), then its final one.
        while [[ $keys == [$'\x20'-$'\x3f']* ]]; do keys=${keys[2,-1]}; done
      fi
      keys=${keys[2,-1]}
    elif [[ $c == ($'\177'|$'\b') || $c != [[:cntrl:]] ]]; then
      typed+=$c
    fi
  done
  [[ -n $typed ]] || return 0
  while [[ -n $typed ]]; do
    c=${typed[1]} typed=${typed[2,-1]}
    if [[ $c == ($'\177'|$'\b') ]]; then
      BUFFER=${BUFFER%?}
    else
      BUFFER+=$c
    fi
  done
  CURSOR=$#BUFFER
  __shellper_highlight
}

# Ask the daemon to judge command $1 again (op check), over its socket, or
# through the client (which never starts one); wait at most 3 s. The NUL reply
# is in REPLY ('' if none came).
__shellper_check() {
  emulate -L zsh
  # The process substitutions below are parsed when they run: no aliases then either.
  setopt localoptions no_aliases
  local text=$1 fd= chunk cwd reply= here dirs
  local -i st
  if __shellper_connect; then
    fd=$REPLY
    __shellper_json "$PWD"; cwd=$REPLY
    __shellper_json "${CDPATH-}"; dirs=$REPLY
    __shellper_json "$text"
    if ! print -rn -u $fd -- "{\"v\":1,\"op\":\"check\",\"session\":$$,\"shell\":\"zsh\",\"cwd\":$cwd,\"command\":$REPLY,\"reply\":\"nul\",\"cdpath\":$dirs}"$'\n' 2>/dev/null; then
      exec {fd}<&-
      fd=
    fi
  fi
  if [[ -z $fd ]]; then
    # The cwd and the line through a pipe, never argv; the subshell says its pid first.
    here=$PWD dirs=${CDPATH-}
    exec {fd}< <(print -r -- $sysparams[pid]; __shellper_client enter $$ zsh cdpath 2>/dev/null \
      < <(builtin print -rn -- "$here"$'\0'"$dirs"$'\0'"$text"$'\0'))
    IFS= read -r -u $fd __shellper_check_pid
  fi
  __shellper_check_fd=$fd
  # The answer comes whole once the daemon has looked (in ms, mostly: a note
  # says why Enter waits only after 0.25 s); the rest of it follows at once.
  local wait=0.25 noted=
  while :; do
    sysread -i $fd -s 65536 -t $wait chunk
    st=$?
    if (( st == 4 )) && [[ -z $noted$reply ]]; then
      noted=1 wait=2.75
      if (( ${+WIDGET} )); then
        zle -M "shellper: checking the files again... (Ctrl-C: nothing runs)"
        zle -R
      fi
      continue
    fi
    (( st == 0 )) || break
    reply+=$chunk wait=1
  done
  if (( st == 5 )); then
    __shellper_check_pid=  # the client has exited
  else
    reply=  # no end (no answer in time, or a read error): no answer
  fi
  __shellper_check_done
  REPLY=$reply
}

# Close the check's connection and stop its client, if any.
__shellper_check_done() {
  emulate -L zsh
  if [[ -n $__shellper_check_fd ]]; then
    { exec {__shellper_check_fd}<&- } 2>/dev/null
  fi
  [[ -n $__shellper_check_pid ]] && kill -TERM $__shellper_check_pid 2>/dev/null
  __shellper_check_fd= __shellper_check_pid=
  return 0
}

# A new line while a request was in flight: the last one was interrupted
# (Ctrl-C), so cancel the request and put it back.
__shellper_line_init() {
  emulate -L zsh
  [[ -n $__shellper_checking ]] && __shellper_check_cancelled
  [[ -n $__shellper_fd ]] || return 0
  __shellper_drop
  if [[ -z $BUFFER ]]; then
    BUFFER=$__shellper_line
    CURSOR=$#BUFFER
    __shellper_highlight
  fi
  __shellper_say "cancelled"
}

# A new line while Enter waited for the check: Ctrl-C; nothing ran, the line comes back.
__shellper_check_cancelled() {
  emulate -L zsh
  __shellper_check_done
  if [[ -z $BUFFER ]]; then
    BUFFER=$__shellper_checking
    CURSOR=$#BUFFER
    __shellper_highlight
  fi
  __shellper_checking=
  __shellper_say "cancelled"
}

# preexec: note the line run after a suggestion.
__shellper_preexec() {
  emulate -L zsh
  # The report's pipe must be gone before the user's command can reuse its fd number.
  [[ -n $__shellper_report_fd ]] && __shellper_report_wait
  [[ -n $__shellper_pending ]] || return 0
  __shellper_inserted= __shellper_checked=
  __shellper_ran=${1:-${__shellper_typed:-${3-}}}
  __shellper_ran_set=1 __shellper_typed=
}

# zshaddhistory: before the line run after a suggestion enters the history,
# its request does, as "#? REQUEST" (Enter on it translates again), when
# that line is the suggestion (edited or not). Status 0: the line itself is
# added as usual.
__shellper_addhistory() {
  [[ -n $__shellper_asked ]] || return 0
  emulate -L zsh
  local asked=$__shellper_asked line=${1%$'\n'} REPLY
  __shellper_asked=
  [[ -n $__shellper_pending && ${(L)SHELLPER_HISTORY:-1} != (0|no|false|off) ]] || return 0
  # Only when the suggestion runs (as it was put on the line, or edited: the
  # same command name first). Cleared and another line typed: it was discarded.
  setopt localoptions extendedglob
  local word=${${line##[[:space:]]#}%%[[:space:]]*} want=${${__shellper_pending##[[:space:]]#}%%[[:space:]]*}
  [[ -n $word && $word == "$want" ]] || return 0
  # Not when zsh keeps the request's line or the command out of its history.
  [[ -o histignorespace && ( $asked == ' '* || $line == ' '* ) ]] && return 0
  [[ -n ${HISTORY_IGNORE-} && $line == ${~HISTORY_IGNORE} ]] && return 0
  # Only a prefix that makes a comment: recalled where shellper is not
  # loaded (a shared history file), the entry must not run.
  local prefix=${__shellper_prefix-'#?'}
  [[ $prefix == '#'* ]] || return 0
  __shellper_request_of "$asked"
  # A request of several lines would not come back as one "#?" line.
  [[ -n $REPLY && $REPLY != *$'\n'* ]] || return 0
  print -rs -- "$prefix $REPLY"
  __shellper_typed=$line
  return 0
}

# precmd: report that line and its status; nothing happens otherwise.
__shellper_precmd() {
  local st=$?
  emulate -L zsh
  (( __shellper_ran_set )) || return $st
  local line=$__shellper_ran
  __shellper_ran= __shellper_ran_set=0 __shellper_pending= __shellper_asked=
  # A line zsh's history drops is reported empty: the suggestion is forgotten, the line never stored.
  if [[ $line == ' '* && -o histignorespace ]] || [[ -n ${HISTORY_IGNORE-} && $line == ${~HISTORY_IGNORE} ]]; then
    line=
  fi
  __shellper_report "$line" $st
  return $st
}

# Tell the daemon that line $1 ran with status $2 (in the background when
# it goes through the client).
__shellper_report() {
  emulate -L zsh
  # The process substitutions below are parsed when they run: no aliases then either.
  setopt localoptions no_aliases
  local REPLY
  if __shellper_connect; then
    local fd=$REPLY
    __shellper_json "$1"
    print -rn -u $fd -- "{\"v\":1,\"op\":\"executed\",\"session\":$$,\"command\":$REPLY,\"status\":$2}"$'\n' 2>/dev/null
    exec {fd}<&-
  else
    __shellper_report_wait
    # The client keeps the pipe open until it is done (it prints nothing).
    exec {__shellper_report_fd}< <(__shellper_client executed $$ $2 2>/dev/null < <(builtin print -rn -- "$1"$'\0'))
  fi
}

# Let the last report sent through the client finish (at most 2 s), so the
# daemon settles it before the next request arrives.
__shellper_report_wait() {
  emulate -L zsh
  [[ -n $__shellper_report_fd ]] || return 0
  local done
  read -r -t 2 -u $__shellper_report_fd done 2>/dev/null
  { exec {__shellper_report_fd}<&- } 2>/dev/null
  __shellper_report_fd=
}

# zshexit: the daemon forgets this terminal's conversation now, not at its
# next sweep minutes later. Over the socket if we can (no process), else a
# detached client: the exit never waits for it.
__shellper_exit() {
  emulate -L zsh
  setopt localoptions no_aliases
  local REPLY
  # A terminal that never asked has no conversation to forget.
  [[ -n $__shellper_used ]] || return 0
  if __shellper_connect; then
    local fd=$REPLY
    print -rn -u $fd -- "{\"v\":1,\"op\":\"closed\",\"session\":$$}"$'\n' 2>/dev/null
    exec {fd}<&-
  elif [[ -z $__shellper_socket || -S $__shellper_socket ]]; then
    __shellper_client closed $$ </dev/null >/dev/null 2>&1 &!
  fi
  return 0
}

# zsh-autosuggestions: Ctrl-G clears the grey suggestion, so none sticks to
# the command. Its list is only extended, never created (creating it would
# cost zsh-autosuggestions its defaults when it loads after us), so this
# runs again at the first prompt, after the whole .zshrc.
__shellper_autosuggest() {
  emulate -L zsh
  (( ${+ZSH_AUTOSUGGEST_CLEAR_WIDGETS} )) || return 0
  (( ${ZSH_AUTOSUGGEST_CLEAR_WIDGETS[(Ie)shellper-translate]} )) || ZSH_AUTOSUGGEST_CLEAR_WIDGETS+=(shellper-translate)
}
__shellper_first_prompt() {
  emulate -L zsh
  add-zsh-hook -d precmd __shellper_first_prompt
  __shellper_autosuggest
  __shellper_compdef  # compinit may have run after us (or reset _comps)
  # An rc file that set zle-line-init with `zle -N` after us replaced the hook
  # dispatcher, and with it our Ctrl-C recovery: chain theirs behind ours.
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

# Tab completion for the shellper command: subcommands, their options,
# shells for `init`, files where a file is expected. Static lists, kept in
# step with `shellper --help` by tests/test_completion.py.
_shellper() {
  local curcontext=$curcontext state state_descr line ret=1
  typeset -A opt_args
  local -a cmds help
  cmds=(
    'ask:translate a request into a command and print it'
    'explain:say what a command will do to your files'
    "history:show this terminal's conversation"
    "reset:forget this terminal's conversation"
    'status:show the daemon, its sessions and the model server'
    'stop:stop the daemon'
    'daemon:run the daemon in the foreground'
    'doctor:check everything shellper needs'
    'config:show the effective settings and their sources'
    'init:print the shell integration'
    'export:write your corrected suggestions as training data'
    "eval:measure the model's tool-call accuracy on a test set"
    'setup-model:download the SHELLper model and create it in Ollama'
  )
  help=('(- *)-h[show help]' '(- *)--help[show help]')
  _arguments -C '(- *)--version[show the version]' $help '1: :->cmd' '*:: :->args' && ret=0
  case $state in
    cmd) _describe -t commands 'shellper command' cmds && ret=0 ;;
    args)
      curcontext=${curcontext%:*:*}:shellper-${words[1]}:
      case ${words[1]} in
        ask) _arguments $help '--session[use the conversation of terminal PID]:pid:' \
          '--no-commit[keep the answer pending]' '--json[print JSON]' '*:request: ' && ret=0 ;;
        explain) _arguments '*::command:_normal' && ret=0 ;;
        history) _arguments $help '--session[use the conversation of terminal PID]:pid:' '--json[print JSON]' && ret=0 ;;
        reset) _arguments $help '--session[use the conversation of terminal PID]:pid:' \
          '--all[delete all stored conversations and corrections]' && ret=0 ;;
        status|config) _arguments $help '--json[print JSON]' && ret=0 ;;
        stop|daemon|doctor) _arguments $help && ret=0 ;;
        init) _arguments $help '--static[print lines that source the installed script]' \
          '1:shell:(zsh bash fish)' && ret=0 ;;
        export) _arguments $help '--since[only corrections made on or after DATE]:date:' \
          '(-o --output)-o[write to FILE]:file:_files' '(-o --output)--output[write to FILE]:file:_files' && ret=0 ;;
        eval) _arguments $help '--base-url[model server]:url:' '*--model[model name (repeat to compare)]:name:' '--json[print JSON]' \
          '--concurrency[requests in flight at once]:number:' '1:test set:_files -g "*.jsonl(-.)"' && ret=0 ;;
        setup-model) _arguments $help '--quantize[how to quantize the model]:level:(q8_0 q4_K_M fp16)' \
          '--repo[Hugging Face repository or folder]:repository or folder:_files -/' \
          '--dir[where to keep the downloaded files]:folder:_files -/' \
          '--yes[do not ask before installing the download helper]' && ret=0 ;;
      esac ;;
  esac
  return ret
}

# Register _shellper once compinit has defined compdef; a completion the
# user set for shellper stays.
__shellper_compdef() {
  emulate -L zsh
  (( ${+functions[compdef]} )) || return 0
  [[ -n ${_comps[shellper]-} && ${_comps[shellper]-} != _shellper ]] && return 0
  compdef _shellper shellper
}

() {
  emulate -L zsh
  zle -N shellper-translate
  zle -N _shellper-reply __shellper_reply_widget
  zle -N _shellper-line-init __shellper_line_init
  # Wrap accept-line once, keeping whatever wrapper was there (magic-enter
  # pattern); a second source must not wrap our own wrapper.
  if [[ ${widgets[accept-line]-} != user:shellper-accept-line ]] && (( ! ${+__shellper_wrapped} )); then
    if [[ ${widgets[accept-line]-} == user:* ]]; then
      zle -N _shellper-orig-accept-line "${widgets[accept-line]#user:}"
    fi
    zle -N accept-line shellper-accept-line
    typeset -g __shellper_wrapped=1
  fi
  zle -N shellper-accept-line

  autoload -Uz add-zle-hook-widget add-zsh-hook
  add-zle-hook-widget line-init _shellper-line-init
  zle -N _shellper-pre-redraw __shellper_pre_redraw
  add-zle-hook-widget line-pre-redraw _shellper-pre-redraw
  add-zsh-hook zshaddhistory __shellper_addhistory
  add-zsh-hook preexec __shellper_preexec
  add-zsh-hook precmd __shellper_precmd
  add-zsh-hook zshexit __shellper_exit

  # SHELLPER_KEY='': no key; the user binds shellper-translate.
  local key=${SHELLPER_KEY-^G} map
  if [[ -n $key ]]; then
    for map in emacs viins vicmd; do
      bindkey -M $map "$key" shellper-translate
    done
  fi

  __shellper_autosuggest
  __shellper_compdef
  add-zsh-hook precmd __shellper_first_prompt
}

# No daemon listening: start one in the background, so the first Ctrl-G finds
# it ready; the prompt never waits for it. Started from a subshell: no job
# notice, and the user's $! stays. A running daemon costs one zsocket, no
# process. SHELLPER_AUTOSTART=0: never.
() {
  emulate -L zsh
  local REPLY
  [[ -o interactive && -n $__shellper_socket && ${(L)SHELLPER_AUTOSTART:-1} != (0|no|false|off) ]] || return 0
  if __shellper_connect; then
    exec {REPLY}<&-
    return 0
  fi
  ( __shellper_client start </dev/null >/dev/null 2>&1 &! )
}
