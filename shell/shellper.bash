# shellper for bash: turn a request typed at the prompt into a command.
#
# Load it from ~/.bashrc with:   eval "$(shellper init bash)"
# (`shellper init bash` prints two settings, __shellper_python and
# __shellper_socket, then this file. Sourced on its own, it uses `python3`.)
#
# Use:
#   Ctrl-G             the whole line is a request; it is replaced by the
#                      command, ready to edit or run. On an empty line, the
#                      last suggestion comes back.  (bash >= 4.0)
#   #? request  Enter  the same, instead of running the line.  (bash >= 4.3)
#   Ctrl-C (or Ctrl-G) while "translating..." shows: cancel, the request
#                      stays on the line.
#   undo right after a suggestion brings the request back: Ctrl-_ in emacs
#                      and vi insert mode; u in vi command mode when the
#                      key was pressed there (readline's vi undo does not
#                      reach back into an insert session).
#
# Settings (read once, when this file is loaded):
#   SHELLPER_KEY       the key, in readline notation (default \C-g), bound in
#                      the emacs-standard, vi-insert and vi-command keymaps.
#
# Functions, for your own bindings (bind -x '"KEY": FUNCTION'):
#   __shellper_translate   what Ctrl-G does
#   __shellper_enter       the Enter hook (see __shellper_bind_enter)
#
# Everything here is named __shellper_*. Keys typed while a request is in
# flight are discarded, except Ctrl-C / Ctrl-G, which cancel it. Under
# ble.sh only the key is bound (no "#?" on Enter).

__shellper_python=${__shellper_python:-python3}
__shellper_socket=${__shellper_socket-}
__shellper_last=${__shellper_last-}       # the last command suggested
__shellper_pending=${__shellper_pending-} # suggested and not yet run
__shellper_ran=${__shellper_ran-}         # the line run after it
__shellper_ran_set=${__shellper_ran_set:-0}
__shellper_at_ps1=${__shellper_at_ps1:-1} # 1 at the first line of a command
__shellper_chain=${__shellper_chain-}     # what the Enter macro ends with now
__shellper_report_fd=${__shellper_report_fd-} # the report in flight

# Private key sequences for the Enter macro (no \e: vi-insert mishandles it).
__shellper_k1='\C-x\C-_S1\a'   # runs __shellper_enter
__shellper_k2='\C-x\C-_S2\a'   # accept-line, or nothing after a "#?" line

# Print a message on its own line above the prompt (control characters
# shown as "?", so no reply can drive the terminal).
__shellper_say() {
  # C1, line separators and bidi controls are matched as UTF-8 bytes: the C
  # locale's [[:cntrl:]] knows only C0 and DEL.
  local m=${1//[[:cntrl:]]/?}
  m=${m//$'\xc2'[$'\x80'-$'\x9f']/?}
  m=${m//$'\xe2\x80'[$'\x8e\x8f\xa8'-$'\xae']/?}
  m=${m//$'\xe2\x81'[$'\xa6'-$'\xa9']/?}
  m=${m//$'\xd8\x9c'/?}
  printf '\r\033[Kshellper: %s\n' "$m" >&2
}

# The request in a line: the line itself, or what follows "#?".
__shellper_request_of() {
  local text=$1
  # Patterns, not =~, here and in __shellper_enter: =~ overwrites the user's BASH_REMATCH.
  if [[ ${text#"${text%%[![:space:]]*}"} == '#?'* ]]; then
    text=${text#"${text%%[![:space:]]*}"}
    text=${text#'#?'}
  fi
  text=${text#"${text%%[![:space:]]*}"}
  text=${text%"${text##*[![:space:]]}"}
  REPLY=$text
}

# Ask the daemon (through the client) to translate $1; on success the
# command replaces the line. Ctrl-C (or the key) cancels.
__shellper_run() {
  local text=$1 fd pid key cancelled=0 part
  local -a f=()
  __shellper_report_wait
  printf '\r\033[Kshellper: translating... (Ctrl-C cancels)' >&2
  # Ctrl-C must not reach bash here (it would abort readline's line), so
  # it arrives as a key instead; the child reports the reply on a pipe.
  command stty -isig 2>/dev/null
  local before=${!-}
  # The text and cwd go through a pipe, never argv (/proc/PID/cmdline is
  # world-readable) nor the environment (bind -x exports READLINE_LINE).
  exec {fd}< <(builtin unset -v READLINE_LINE READLINE_POINT READLINE_MARK
    exec "$__shellper_python" -m shellper_hook.client translate "$$" 2>/dev/null \
    < <(builtin printf '%s\0%s\0' "$PWD" "$text"))
  pid=${!-}
  [[ $pid == "$before" ]] && pid=  # a bash that does not give us its pid
  while ! read -t 0 -u "$fd" 2>/dev/null; do
    # Wait a little for a key; a plain read (no -n/-s/-d) keeps signals off.
    key=
    IFS= read -r -t 0.05 key 2>/dev/null </dev/tty
    if [[ $key == *$'\003'* || $key == *$'\007'* ]]; then
      cancelled=1
      break
    fi
  done
  if (( cancelled )); then
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
  else
    while IFS= read -r -d '' part <&"$fd"; do
      f+=("$part")
    done
  fi
  exec {fd}<&-
  command stty isig 2>/dev/null
  printf '\r\033[K' >&2
  if (( cancelled )); then
    __shellper_say "cancelled"
    return 1
  fi
  if [[ ${f[0]-} == ok && -n ${f[1]-} ]]; then
    __shellper_last=${f[1]} __shellper_pending=${f[1]} __shellper_histcmd=${HISTCMD-0}
    READLINE_LINE=${f[1]}
    READLINE_POINT=0x7fffffff
    local w
    if [[ -n ${f[2]-} ]]; then
      while IFS= read -r w; do __shellper_say "$w"; done <<<"${f[2]}"
    fi
    return 0
  fi
  if [[ ${f[0]-} == error ]]; then
    __shellper_say "${f[2]:-${f[1]:-failed}}"
  elif (( ${#f[@]} == 0 )); then
    __shellper_say "no answer from the daemon (see \`shellper status\`)"
  else
    __shellper_say "unexpected answer from the daemon (see \`shellper status\`)"
  fi
  return 1
}

# Ctrl-G.
__shellper_translate() {
  if [[ -z ${READLINE_LINE//[[:space:]]/} ]]; then
    if [[ -n $__shellper_last ]]; then
      READLINE_LINE=$__shellper_last
      READLINE_POINT=0x7fffffff
    else
      __shellper_say "type a request first, then press ${SHELLPER_KEY:-Ctrl-G}"
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
    __shellper_say "type a request after #?"
    return 0
  fi
  __shellper_run "$REPLY"
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
  if (( __shellper_at_ps1 )) && [[ $READLINE_LINE != *$'\n'* && ${READLINE_LINE#"${READLINE_LINE%%[![:space:]]*}"} == '#?'* ]]; then
    __shellper_set_chain none
    __shellper_run_line
    return 0
  fi
  __shellper_set_chain accept
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
  if [[ ${__shellper_preexec_mode-} == history && -n $__shellper_pending ]] && (( ${HISTCMD-0} != ${__shellper_histcmd:-0} )); then
    # bash < 4.3 (no Enter hook): the line run is the last history entry.
    __shellper_ran=$(HISTTIMEFORMAT='' builtin fc -ln -1 2>/dev/null)
    __shellper_ran=${__shellper_ran#"${__shellper_ran%%[![:space:]]*}"}
    __shellper_ran_set=1
  fi
  if (( __shellper_ran_set )); then
    local line=$__shellper_ran
    __shellper_ran= __shellper_ran_set=0 __shellper_pending=
    # A line bash's history drops is reported empty: the suggestion is forgotten, the line never stored.
    __shellper_hist_drops "$line" && line=
    __shellper_report_wait
    # The client keeps the pipe open until it is done (it prints nothing).
    exec {__shellper_report_fd}< <(exec "$__shellper_python" -m shellper_hook.client executed "$$" "$st" 2>/dev/null \
      < <(builtin printf '%s\0' "$line"))
  fi
  return "$st"
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
    [[ -n $pat && $line == $pat ]] && return 0
  done
  return 1
}

# Let the last report (sent in the background) finish, for at most 2 s, so
# the daemon settles it before the next request arrives.
__shellper_report_wait() {
  [[ -n ${__shellper_report_fd-} ]] || return 0
  local done
  read -r -t 2 -u "$__shellper_report_fd" done 2>/dev/null
  exec {__shellper_report_fd}<&-
  __shellper_report_fd=
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
  if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
    [[ " ${PROMPT_COMMAND[*]} " == *" __shellper_precmd "* ]] || PROMPT_COMMAND=(__shellper_precmd "${PROMPT_COMMAND[@]}")
  else
    case ";${PROMPT_COMMAND-};" in
      *";__shellper_precmd;"*) ;;
      *) PROMPT_COMMAND="__shellper_precmd${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
    esac
  fi
  __shellper_preexec_mode=enter
}

__shellper_init() {
  if (( BASH_VERSINFO[0] < 4 )); then
    printf 'shellper: bash %s is too old (4.0 or later needed; on macOS: brew install bash)\n' "$BASH_VERSION" >&2
    return 1
  fi
  local key=${SHELLPER_KEY:-'\C-g'} map
  for map in emacs-standard vi-insert vi-command; do
    bind -m "$map" -r "$key" 2>/dev/null   # bash 5.1 breaks on re-binding a bind -x key
    bind -m "$map" -x "\"$key\": __shellper_translate"
  done
  __shellper_hook_prompt
  if [[ -z ${BLE_VERSION-} ]] && (( BASH_VERSINFO[0] > 4 || BASH_VERSINFO[1] >= 3 )); then
    __shellper_bind_enter
  else
    # No Enter hook: report runs from history instead.
    [[ ${__shellper_preexec_mode-} == enter ]] && __shellper_preexec_mode=history
  fi
}

[[ $- == *i* ]] && __shellper_init
