# Sourced by scripts/device_*_detached.sh: a job on the GPU host that outlives one device call. The host keeps
# a process of a session of its own (setsid) running between calls until the machine goes back.
#   detached_start RUN SCRIPT ARGS...  run `bash SCRIPT ARGS...` detached, its log in RUN/log, its status in RUN/rc
#                                      (RUN/started: a file as old as the job, for `find -newer`)
#   detached_wait RUN SECONDS LINES    return when the job has ended or after SECONDS; print the log's last LINES

detached_start() {
  local run=$1 script=$2
  shift 2
  # a job that wrote its status has ended, even while its pid still answers (on the GPU host an orphan's
  # zombie lingers: nothing reaps it)
  if [ -f "$run/pid" ] && [ ! -f "$run/rc" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null; then
    echo "a job is already running (pid $(cat "$run/pid")); use wait" >&2
    return 2
  fi
  rm -rf "$run" && mkdir -p "$run/out" && touch "$run/started" "$run/log"  # the log exists before the job starts
  OUT="$run/out" setsid nohup bash -c 'bash "$0" "$@"; echo $? > "'"$run"'/rc"' "$script" "$@" \
    >> "$run/log" 2>&1 < /dev/null &
  echo $! > "$run/pid"
  sleep "${DETACHED_SETTLE:-5}"
  echo "started pid $(cat "$run/pid"), log $run/log"
  tail -5 "$run/log"
}

detached_wait() {
  local run=$1 seconds=$2 lines=${3:-20}
  for _ in $(seq 1 "$seconds"); do
    [ -f "$run/rc" ] && break
    sleep 1
  done
  tail -"$lines" "$run/log"
}
