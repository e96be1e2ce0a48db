# shellper on a server, for zsh: Ctrl-G and `#? request` answered by your laptop's shellper
# through `shellper ssh` (a forwarded socket; no Python and no model here). Installed by
# `shellper ssh --setup HOST`; it does nothing in a session that `shellper ssh` did not open.
# It sends the request, then what the suggestion's paths are here (type, size, mode, what you
# may do with them, counts, small files' lines), and puts the judged command on the line.

zmodload zsh/net/socket zsh/stat zsh/system zsh/files zsh/mapfile 2>/dev/null || return 0

typeset -g __shellper_r_sock=${LC_SHELLPER_SOCK-} __shellper_r_token=${LC_SHELLPER_TOKEN-}
typeset -g __shellper_r_own=${LC_SHELLPER_TOKEN:+1}  # the shell ssh started: its exit ends the forward's files
typeset +x LC_SHELLPER_TOKEN 2>/dev/null  # never handed on to the programs this shell runs
typeset -g __shellper_r_prefix=${SHELLPER_PREFIX-'#?'}

# Sockets of earlier sessions of ours that nothing answers any more (ssh leaves them behind).
__shellper_r_sweep() {
  emulate -L zsh
  local s fd
  for s in /tmp/shellper-*.sock(N=U); do
    [[ $s == $__shellper_r_sock ]] && continue
    if zsocket $s 2>/dev/null; then
      fd=$REPLY
      exec {fd}>&-
    else
      zf_rm -f -- $s 2>/dev/null
    fi
  done
}
__shellper_r_sweep

# A shell that ssh did not start (a tmux window, say) has no LC_SHELLPER_*: it uses the latest
# connection's forward, which the shell ssh started notes in a private file, as SSH_AUTH_SOCK setups do.
typeset -g __shellper_r_note=${XDG_CONFIG_HOME:-$HOME/.config}/shellper/forward
if [[ -n $__shellper_r_sock && -n $__shellper_r_token ]]; then
  () {
    emulate -L zsh
    local old=$(umask)
    umask 077
    [[ -d ${__shellper_r_note:h} ]] || mkdir -p -- ${__shellper_r_note:h} 2>/dev/null
    print -r -- $__shellper_r_sock$'\n'$__shellper_r_token >| $__shellper_r_note 2>/dev/null
    umask $old
  }
elif [[ -f $__shellper_r_note && -O $__shellper_r_note ]]; then
  () {
    local -a noted=("${(@f)$(<$__shellper_r_note)}")
    __shellper_r_sock=${noted[1]-} __shellper_r_token=${noted[2]-}
  }
fi
[[ -n $__shellper_r_sock && -n $__shellper_r_token ]] || return 0

# The forwarded socket must be ours: a socket owned by this user, mode 0600 (else another
# user may have made that path first, to read what is asked).
__shellper_r_trusted() {
  emulate -L zsh
  local -A st
  [[ -S $__shellper_r_sock && -O $__shellper_r_sock ]] || return 1
  zstat -L -H st -- $__shellper_r_sock 2>/dev/null || return 1
  (( (st[mode] & 8#777) == 8#600 ))
}

# Send NUL fields $@ (and the end), read the whole reply into reply (fields split on NUL).
__shellper_r_ask() {
  emulate -L zsh
  local fd chunk data= f
  __shellper_r_trusted || { reply=(error denied "the socket $__shellper_r_sock is not this user's (mode 0600); not used"); return 1 }
  zsocket $__shellper_r_sock 2>/dev/null || { reply=(error gone "the laptop is not reachable (is shellper ssh still connected?)"); return 1 }
  fd=$REPLY
  for f in "$@" ''; do syswrite -o $fd -- "$f"$'\0' || break; done
  while sysread -i $fd -t 300 chunk; do data+=$chunk; done
  exec {fd}>&-
  reply=("${(@0)data}")
  [[ -n $data ]] || { reply=(error none "no answer from the laptop's shellper"); return 1 }
}

# One fact about path $1 (deep $2: count what is in a folder), as remote.py reads it.
__shellper_r_fact() {
  emulate -L zsh
  setopt localoptions extendedglob nullglob
  local p=$1 deep=$2 kind access= link= data
  local -A st
  local -a files dirs
  local -i files_n=0 dirs_n=0 total=0 complete=1 lines=-1 nlend=1 size
  [[ $p == *$'\x1f'* ]] && return 1
  zstat -L -H st -- $p 2>/dev/null || return 1
  case $(( st[mode] & 8#170000 )) in
    $(( 8#100000 ))) kind=f ;;
    $(( 8#040000 ))) kind=d ;;
    $(( 8#120000 ))) kind=l link=$st[link] ;;
    *) kind=o ;;
  esac
  [[ -r $p ]] && access+=r
  [[ -w $p ]] && access+=w
  [[ -x $p ]] && access+=x
  size=$st[size]
  if [[ $kind == d && $deep == 1 ]]; then
    files=($p/**/*(DN.Y2001)) dirs=($p/**/*(DN/Y2001))
    (( $#files > 2000 || $#dirs > 2000 )) && complete=0
    files_n=$(( $#files > 2000 ? 2000 : $#files )) dirs_n=$(( $#dirs > 2000 ? 2000 : $#dirs ))
    local f
    local -a sz
    for f in $files[1,2000]; do zstat -L -A sz +size -- $f 2>/dev/null && (( total += sz[1] )); done
  elif [[ $kind == f && -r $p ]] && (( size <= 1048576 )); then
    data=$mapfile[$p]
    lines=${#data//[^$'\n']/}
    [[ -n $data && $data[-1] != $'\n' ]] && nlend=0 lines+=1
  fi
  REPLY="$p"$'\x1f'$kind$'\x1f'$size$'\x1f'$(( [##8] st[mode] & 8#7777 ))$'\x1f'$access$'\x1f'$link$'\x1f'$files_n$'\x1f'$dirs_n$'\x1f'$total$'\x1f'$complete$'\x1f'$lines$'\x1f'$nlend$'\x1f'$st[mtime]
}

# Ask the laptop for request $1; the command goes on the line, what it does below it.
__shellper_r_translate() {
  emulate -L zsh
  local text=$1 REPLY w
  local -a reply facts
  zle -M "shellper: asking the laptop..." && zle -R
  __shellper_r_ask translate $$ zsh "$PWD" "$text" "token=$__shellper_r_token" "HOME=$HOME"
  if [[ $reply[1] == facts ]]; then
    local id=$reply[2]
    for w in "${(@)reply[3,-1]}"; do
      [[ -n $w ]] || continue
      __shellper_r_fact "${w%$'\x1f'*}" "${w##*$'\x1f'}" && facts+=("fact=$REPLY")
    done
    __shellper_r_ask facts $$ zsh "$PWD" "$id" "token=$__shellper_r_token" "${facts[@]}"
  fi
  if [[ $reply[1] == ok && -n $reply[2] ]]; then
    BUFFER=$reply[2] CURSOR=${#reply[2]}
    zle -M "shellper: ${reply[3]//$'\n'/$'\n'shellper: }"
  else
    zle -M "shellper: ${reply[3]:-${reply[2]:-no answer}}"
  fi
}

shellper-remote-translate() {
  emulate -L zsh
  [[ -n ${BUFFER//[[:space:]]/} ]] || { zle -M "shellper: type a request first"; return 0 }
  __shellper_r_translate "$BUFFER"
}

shellper-remote-accept-line() {
  emulate -L zsh -o extendedglob
  if [[ -n $__shellper_r_prefix && $BUFFER == [[:space:]]#"$__shellper_r_prefix"* ]]; then
    local text=${BUFFER#*"$__shellper_r_prefix"}
    __shellper_r_translate "${text## #}"
    return 0
  fi
  zle .accept-line
}

__shellper_r_exit() {
  [[ -n $__shellper_r_own ]] || return 0  # (a shell ssh did not start leaves the forward to that one)
  [[ -S $__shellper_r_sock && -O $__shellper_r_sock ]] && zf_rm -f -- $__shellper_r_sock 2>/dev/null
  [[ -f $__shellper_r_note && "$(<$__shellper_r_note)" == $__shellper_r_sock$'\n'* ]] && zf_rm -f -- $__shellper_r_note 2>/dev/null
  return 0
}

zle -N shellper-remote-translate
zle -N accept-line shellper-remote-accept-line
bindkey '^G' shellper-remote-translate
autoload -Uz add-zsh-hook && add-zsh-hook zshexit __shellper_r_exit
