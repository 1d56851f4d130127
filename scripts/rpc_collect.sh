#!/usr/bin/env bash
# Measure a replay shard on every device of this host at once, through a TVM RPC tracker on loopback: one
# tracker, one RPC server per device, and one `tenset-study collect` that sends as many measurements at a time
# as there are servers (--rpc-workers), so that every batch is spread over all of them. Tracker, servers and
# collect each run in a session of their own; all of them are stopped on exit, error or Ctrl-C.
#   usage: bash scripts/rpc_collect.sh [--gpus [N] | --cpu-servers N [--server-cores SETS]] [OPTIONS] -- COLLECT FLAGS
#   e.g.   bash scripts/rpc_collect.sh --gpus -- --dataset data/v1 --platform h100 --replay --gpu sm_90
# --gpus [N]          N servers, server i on the i-th GPU (CUDA_VISIBLE_DEVICES: the i-th of its entries when it
#                     is set, else GPU i); default: every GPU that nvidia-smi lists. Name the GPU after -- (--gpu).
# --cpu-servers N     N servers on this CPU (tests, CPU hosts); with --server-cores 0-3,4-7 server i runs on the
#                     i-th core set (taskset, one TVM thread per core), the sets disjoint.
# --per-device-check  instead of the shard: measure the fixed sample (--replay --replay-subset, see
#                     --check-subset, default 8) on each server alone as platform <platform>-dev<i>, then print
#                     how alike the devices rank the programs (tenset-study device-agreement; status 1 when a
#                     device disagrees, by more than --margin, default 0.1). Devices that agree can share a platform.
# --rpc-key KEY       the servers' key (default tenset-study; KEY-dev<i> per device with --per-device-check)
# --log-dir DIR       the tracker's, servers' and collect's logs (default: a new folder under /tmp)
# --server-timeout S  seconds to wait for the servers to register at the tracker (default 120)
# PYTHON              the interpreter (default: the project's .venv, else python3); src/ goes on PYTHONPATH.
# At the end: programs measured per minute, and how many sessions each server served and how many at once.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

mode=gpu count="" core_sets="" check=0 check_subset=8 margin=0.1 key=tenset-study log_dir="" server_timeout=120
groups=()        # process groups started here (each a session's leader): stopped on exit
server_pids=()   # the RPC servers, by index
server_env=()    # per server: environment assignments (its GPU, its thread count)
server_cores=()  # per server: the cores it is pinned to, or ""
server_device=() # per server: what it measures, in words
collect_args=()

say() { echo "rpc_collect.sh: $*"; }
die() { echo "rpc_collect.sh: $*" >&2; exit 2; }
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

parse_options() {
  while [ $# -gt 0 ]; do
    case $1 in
      --gpus) mode=gpu; if is_count "${2:-}"; then count=$2; shift; fi ;;
      --cpu-servers) mode=cpu; count=${2:-}; is_count "$count" || die "--cpu-servers: expected a number of servers >= 1, got '$count'"; shift ;;
      --server-cores) core_sets=${2:-}; shift ;;
      --per-device-check) check=1 ;;
      --check-subset) check_subset=${2:-}; is_count "$check_subset" || die "--check-subset: expected a count >= 1, got '$check_subset'"; shift ;;
      --margin) margin=${2:-}; [[ $margin =~ ^[0-9]*\.?[0-9]+$ ]] || die "--margin: expected a number >= 0, got '$margin'"; shift ;;
      --rpc-key) key=${2:-}; [[ $key =~ ^[A-Za-z0-9._-]+$ ]] || die "--rpc-key: expected letters, digits, '.', '_' or '-', got '$key'"; shift ;;
      --log-dir) log_dir=${2:-}; [ -n "$log_dir" ] || die "--log-dir: expected a folder"; shift ;;
      --server-timeout) server_timeout=${2:-}; is_count "$server_timeout" || die "--server-timeout: expected seconds >= 1, got '$server_timeout'"; shift ;;
      -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      --) shift; collect_args=("$@"); return ;;
      *) die "unknown option '$1' (the collect flags go after --; see --help)" ;;
    esac
    shift
  done
  die "give collect's flags after --, e.g. -- --dataset D --platform P --replay"
}

has_flag() {  # has_flag FLAG: whether the collect flags hold FLAG (or FLAG=VALUE)
  local arg
  for arg in "${collect_args[@]}"; do [[ $arg == "$1" || $arg == "$1="* ]] && return 0; done
  return 1
}

flag_value() {  # flag_value FLAG: the value of FLAG's last occurrence in the collect flags (none: status 1)
  local i value="" found=1
  for ((i = 0; i < ${#collect_args[@]}; i++)); do
    case ${collect_args[i]} in
      "$1") value=${collect_args[i + 1]:-}; found=0 ;;
      "$1="*) value=${collect_args[i]#*=}; found=0 ;;
    esac
  done
  echo "$value"
  return $found
}

check_collect_flags() {
  [ ${#collect_args[@]} -gt 0 ] || die "give collect's flags after --, e.g. -- --dataset D --platform P --replay"
  local flag
  for flag in --rpc-tracker --rpc-key --rpc-workers; do
    ! has_flag "$flag" || die "$flag after --: the script sets it (name the servers' key with --rpc-key before --)"
  done
  if [ "$mode" = gpu ]; then
    has_flag --gpu || has_flag --target || die "--gpus: name the GPU after --, e.g. -- ... --gpu sm_90"
  else
    ! has_flag --gpu || die "--cpu-servers: the servers measure this CPU; drop --gpu after --"
  fi
}

gpu_list() {  # the GPUs servers may use, one a line: CUDA_VISIBLE_DEVICES's entries, else nvidia-smi's indices
  if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES"; return; fi
  command -v nvidia-smi > /dev/null || return 0
  nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' '
}

plan_gpu_servers() {  # server i: the i-th GPU, alone visible to it
  local gpus
  mapfile -t gpus < <(gpu_list)
  [ ${#gpus[@]} -gt 0 ] || die "--gpus: nvidia-smi lists no GPU here (measure a CPU with --cpu-servers N)"
  count=${count:-${#gpus[@]}}
  [ "$count" -le ${#gpus[@]} ] || die "--gpus $count: this host has ${#gpus[@]} GPU(s) (${gpus[*]})"
  [ -z "$core_sets" ] || die "--server-cores: only with --cpu-servers"
  local i
  for ((i = 0; i < count; i++)); do
    server_env[i]="CUDA_VISIBLE_DEVICES=${gpus[i]}" server_cores[i]="" server_device[i]="GPU ${gpus[i]}"
  done
}

plan_cpu_servers() {  # server i: every core, or the i-th of --server-cores' disjoint sets (one thread per core)
  local i sets=() seen=() low high core
  for ((i = 0; i < count; i++)); do
    server_env[i]="CUDA_VISIBLE_DEVICES=" server_cores[i]="" server_device[i]="every core"
  done
  [ -n "$core_sets" ] || return 0
  IFS=, read -ra sets <<< "$core_sets"
  [ ${#sets[@]} -eq "$count" ] || die "--server-cores: $count servers need $count core sets, got '$core_sets'"
  for ((i = 0; i < count; i++)); do
    [[ ${sets[i]} =~ ^([0-9]+)(-([0-9]+))?$ ]] || die "--server-cores: '${sets[i]}' is not a core or a range like 4-7"
    low=${BASH_REMATCH[1]} high=${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}
    [ "$high" -ge "$low" ] || die "--server-cores: '${sets[i]}' is an empty range"
    for ((core = low; core <= high; core++)); do
      [ -z "${seen[core]:-}" ] || die "--server-cores: core $core is in two sets ('$core_sets'); the sets must be disjoint"
      seen[core]=1
    done
    taskset -c "${sets[i]}" true 2> /dev/null || die "--server-cores: this process cannot run on cores ${sets[i]}"
    server_env[i]="CUDA_VISIBLE_DEVICES= TVM_NUM_THREADS=$((high - low + 1))"
    server_cores[i]=${sets[i]} server_device[i]="cores ${sets[i]}"
  done
}

free_ports() {  # free_ports N: N distinct free TCP ports on loopback, one a line
  "$PYTHON" -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

start_group() {  # start_group LOG CMD...: CMD in a session (and process group) of its own, output to LOG
  # (a background child of a script is no group leader, so setsid does not fork: $! leads the new group)
  setsid "${@:2}" > "$1" 2>&1 < /dev/null &
  groups+=("$!")
}

group_alive() {  # group_alive PGID: whether a process of the group runs (zombies have ended)
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {found = 1} END {exit !found}'
}

stop_all() {  # on exit: TERM every group started here, KILL what is left after 10 s
  local status=$? g tries
  trap - INT TERM HUP
  [ ${#groups[@]} -gt 0 ] || return 0
  for g in "${groups[@]}"; do kill -TERM -- "-$g" 2> /dev/null; done
  for ((tries = 0; tries < 50; tries++)); do
    any_group_alive || break
    sleep 0.2
  done
  for g in "${groups[@]}"; do group_alive "$g" && kill -KILL -- "-$g" 2> /dev/null; done
  sleep 0.2
  if any_group_alive; then
    echo "rpc_collect.sh: processes of groups ${groups[*]} survived SIGKILL" >&2
    exit $((status == 0 ? 1 : status))
  fi
  say "tracker and ${#server_pids[@]} server(s) stopped"
}

any_group_alive() {
  local g
  for g in "${groups[@]}"; do group_alive "$g" && return 0; done
  return 1
}

start_tracker() {  # the tracker on a free loopback port; returns once it listens
  tracker_port=$1
  start_group "$log_dir/tracker.log" "$PYTHON" -m tvm.exec.rpc_tracker --host 127.0.0.1 --port "$tracker_port" \
    --port-end "$((tracker_port + 1))"
  local pid=$! deadline=$((SECONDS + server_timeout))
  until grep -q "bind to" "$log_dir/tracker.log" 2> /dev/null; do
    group_alive "$pid" || die "the RPC tracker ended at its start: $(tail -n 3 "$log_dir/tracker.log")"
    [ $SECONDS -lt $deadline ] || die "the RPC tracker did not start within ${server_timeout} s ($log_dir/tracker.log)"
    sleep 0.2
  done
}

start_server() {  # start_server I KEY PORT: server I on its device under KEY, logging to server-I.log
  local i=$1 pin=()
  [ -z "${server_cores[i]}" ] || pin=(taskset -c "${server_cores[i]}")
  # shellcheck disable=SC2086  # server_env holds assignments without spaces
  start_group "$log_dir/server-$i.log" env ${server_env[i]} "${pin[@]}" "$PYTHON" -m tvm.exec.rpc_server \
    --tracker "127.0.0.1:$tracker_port" --key "$2" --host 127.0.0.1 --port "$3" --port-end "$(($3 + 1))"
  server_pids[i]=$!
}

wait_for_servers() {  # wait_for_servers KEY=COUNT,...: until the tracker has them free (a server's end stops it)
  "$PYTHON" -c 'import sys
from tenset_study.collect.measure import wait_for_rpc_servers
wanted = {key: int(count) for key, _, count in (item.rpartition("=") for item in sys.argv[3].split(","))}
try:
    wait_for_rpc_servers(sys.argv[1], wanted, float(sys.argv[2]), watch=tuple(map(int, sys.argv[4:])),
                         log=lambda line: print("rpc_collect.sh:", line, flush=True))
except RuntimeError as err:
    sys.exit(f"rpc_collect.sh: {err}")
except KeyboardInterrupt:
    sys.exit(130)' "127.0.0.1:$tracker_port" "$server_timeout" "$1" "${server_pids[@]}" \
    || die "see the servers' logs in $log_dir"
}

describe_servers() {
  local i line=""
  for ((i = 0; i < count; i++)); do line+=" server $i on ${server_device[i]},"; done
  say "tracker at 127.0.0.1:$tracker_port;${line%,} (logs in $log_dir)"
}

run_collect() {  # run_collect OUT FLAGS...: tenset-study collect in a session of its own (stdout to OUT); its status
  setsid "$PYTHON" -m tenset_study.cli collect "${@:2}" > "$1" < /dev/null &
  local pid=$!
  groups+=("$pid")
  wait "$pid"
}

sessions_report() {  # sessions each server served (its log's "connected from" lines) and the most at once
  local i line=""
  for ((i = 0; i < count; i++)); do line+=" server $i: $(grep -c 'connected from' "$log_dir/server-$i.log")"; done
  local most
  most=$(grep -h -e 'connected from' -e 'finish serving' "$log_dir"/server-*.log \
    | awk '{print $1 " " $2 " " ($4 == "connected" ? 1 : -1)}' | sort | awk '{n += $3; if (n > m) m = n} END {print m + 0}')
  say "sessions served:$line; at most $most at once"
}

collect_shard() {  # the shard on every server at once: --rpc-workers = the number of servers
  local out="$log_dir/collect.out" start status measured
  start=$(date +%s.%N)
  run_collect "$out" "${collect_args[@]}" --rpc-tracker "127.0.0.1:$tracker_port" --rpc-key "$key" \
    --rpc-workers "$count"
  status=$?
  cat "$out"
  [ "$status" -eq 0 ] || { echo "rpc_collect.sh: collect failed (status $status)" >&2; return "$status"; }
  measured=$(sed -n 's/.* \([0-9][0-9]*\) programs measured.*/\1/p' "$out" | tail -n 1)
  sessions_report
  awk -v n="${measured:-0}" -v s="$start" -v e="$(date +%s.%N)" -v c="$count" 'BEGIN {
    printf "rpc_collect.sh: %d programs measured on %d server(s) in %.1f s: %.1f programs/min\n", n, c, e - s, 60 * n / (e - s) }'
}

device_check() {  # the fixed sample on each server alone (platform <platform>-dev<i>), then the devices' agreement
  local platform dataset i pids=() platforms=() status=0
  platform=$(flag_value --platform) && [ -n "$platform" ] \
    || die "--per-device-check: pass --platform P after -- (the devices become P-dev0, P-dev1, ...)"
  dataset=$(flag_value --dataset) || die "--per-device-check: pass --dataset D after --"
  say "measuring the first $check_subset programs of each task on each of $count server(s) alone (progress: $log_dir/check-dev*.log)"
  for ((i = 0; i < count; i++)); do
    platforms+=("$platform-dev$i")
    setsid "$PYTHON" -m tenset_study.cli collect "${collect_args[@]}" --replay --replay-subset "$check_subset" \
      --platform "$platform-dev$i" --rpc-tracker "127.0.0.1:$tracker_port" --rpc-key "$key-dev$i" --rpc-workers 1 \
      > "$log_dir/check-dev$i.out" 2> "$log_dir/check-dev$i.log" < /dev/null &
    pids[i]=$!
    groups+=("$!")
  done
  for ((i = 0; i < count; i++)); do
    if wait "${pids[i]}"; then cat "$log_dir/check-dev$i.out"
    else status=$?; echo "rpc_collect.sh: device $i: collect failed (status $status): $(tail -n 2 "$log_dir/check-dev$i.log")" >&2
    fi
  done
  [ "$status" -eq 0 ] || return "$status"
  sessions_report
  "$PYTHON" -m tenset_study.cli device-agreement --dataset "$dataset" --platforms "${platforms[@]}" --margin "$margin"
}

main() {
  parse_options "$@"
  check_collect_flags
  if [ "$mode" = gpu ]; then plan_gpu_servers; else plan_cpu_servers; fi
  [ -n "$log_dir" ] || log_dir=$(mktemp -d "${TMPDIR:-/tmp}/rpc-collect.XXXXXX")
  mkdir -p "$log_dir" || die "--log-dir: cannot create $log_dir"
  trap stop_all EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  local ports i wanted=""
  mapfile -t ports < <(free_ports $((count + 1)))
  start_tracker "${ports[0]}"
  for ((i = 0; i < count; i++)); do
    if [ "$check" = 1 ]; then start_server "$i" "$key-dev$i" "${ports[i + 1]}"; wanted+="$key-dev$i=1,"
    else start_server "$i" "$key" "${ports[i + 1]}"; fi
  done
  [ "$check" = 1 ] || wanted="$key=$count,"
  describe_servers
  wait_for_servers "${wanted%,}"
  if [ "$check" = 1 ]; then device_check; else collect_shard; fi
}

main "$@"
