# Sourced by the reproduce scripts (from the repository root): where a study's summary and
# figures go, so that a run never writes over the committed results by accident.
#
#   choose_output_dir COMMITTED [ARGS...]
#
# COMMITTED is the study's committed results folder (results/cpu_study ...), ARGS the script's
# arguments. The results go to, first match:
#   --results-dir DIR among ARGS, or $OUTPUT_DIR     the folder named
#   REPLACE=1, or --replace among ARGS               COMMITTED itself
#   otherwise                                        a fresh COMMITTED_<yyyymmdd-hhmmss>
# A named folder that holds committed results (files git tracks there; outside a git work tree:
# COMMITTED itself, not empty) is refused in one line unless REPLACE=1 or --replace asks for it.
# Sets output_name (the folder as the user would type it, relative to the repository root),
# output_dir (absolute), replacing (1 or 0) and sweep_args (ARGS without --replace and
# --results-dir DIR, for jlonevae-sweep run).

holds_committed_results() {  # DIR COMMITTED
  local dir=$1 committed=$2
  [ -d "$dir" ] || return 1
  if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    # Paths outside the work tree make git fail: nothing committed there.
    [ -n "$(git ls-files -- "$dir" 2> /dev/null | head -n 1)" ]
  else
    [ "$dir" = "$(realpath -m "$committed")" ] && [ -n "$(ls -A "$dir")" ]
  fi
}

choose_output_dir() {
  local committed=$1 named=${OUTPUT_DIR:-}
  shift
  replacing=0
  [ "${REPLACE:-0}" = 1 ] && replacing=1
  sweep_args=()
  while [ $# -gt 0 ]; do
    case $1 in
      --replace) replacing=1 ;;
      --results-dir) named=${2:?--results-dir needs a folder}; shift ;;
      --results-dir=*) named=${1#--results-dir=} ;;
      *) sweep_args+=("$1") ;;
    esac
    shift
  done
  if [ -n "$named" ]; then
    output_name=$named
  elif [ "$replacing" = 1 ]; then
    output_name=$committed
  else
    output_name=${committed}_$(date +%Y%m%d-%H%M%S)
  fi
  output_dir=$(realpath -m "$output_name")
  if [ "$replacing" != 1 ] && holds_committed_results "$output_dir" "$committed"; then
    echo "error: $output_name holds committed results; to replace them run again with" \
         "REPLACE=1 (or --replace), or name another folder (leave OUTPUT_DIR unset for a" \
         "fresh one)" >&2
    exit 2
  fi
  if [ "$replacing" = 1 ]; then
    echo "Results go to $output_name (replacing what is there)"
  else
    echo "Results go to $output_name"
  fi
}
