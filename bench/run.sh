#!/usr/bin/env bash
# Load benchmark: tollgate vs a plain nginx keep-alive reverse proxy vs the static upstream itself.
#
# What it does (all traffic on 127.0.0.1, default run ~2.5 min plus the build):
#   1. builds tollgate in Release into build/release (skipped when TOLLGATE_BIN is set);
#   2. starts three servers from a private temp dir (non-root friendly, logs off):
#        direct   nginx + echo module answering POST /v1/chat/completions with a fixed
#                 chat.completion JSON, or a fixed 20-chunk SSE stream (+ usage chunk, [DONE])
#                 when the body has "stream": true            (bench/nginx-upstream.conf)
#        proxy    nginx as a plain keep-alive reverse proxy in front of it  (bench/nginx-proxy.conf)
#        tollgate tollgate in front of the same upstream, cache/dedup off    (bench/tollgate.yaml)
#   3. checks every target answers 200 with the expected body (curl), warms each one up, then
#      measures with wrk (bench/chat.lua posting bench/chat-request.json, a ~300-byte chat
#      request for model "bench") in rounds, ALTERNATING the targets inside each round (the first
#      target rotates per round) so slow drift of the machine hits all of them alike; at each
#      connection count and mode (json, sse).
#      Cache modes (opt-in: BENCH_MODES="cache" or "cache-json cache-sse", or added to the default
#      "json sse"): a fourth server, tollgate-cache, is tollgate with the exact response cache and
#      dedup on (bench/tollgate-cache.yaml). wrk repeats one request, so once the check request has
#      stored the answer every request is a cache hit; each cache mode alternates tollgate-cache
#      with the direct upstream (same body), which is what a cache hit competes with. A buffered and
#      a streamed answer share one cache key, so before each measured run one request of the run's
#      kind with `x-tollgate-cache: refresh` stores it again (not counted): cache-json serves a
#      stored body, cache-sse replays a stored transcript. The check requests must see
#      `x-tollgate-cache: hit`, and around every measured run tollgate_cache_requests_total
#      {result="hit"} must grow by wrk's request count (plus at most one request per connection
#      still in flight when wrk stopped) with no miss or bypass; otherwise the run is flagged
#      INVALID.
#   4. prints per mode × connections × target: requests/s (median of rounds, and min–max), p50 and
#      p99 latency (medians of the rounds' wrk --latency figures), server CPU per request, errors;
#      then tollgate/proxy ratios for rps and p50 (cache modes: tollgate-cache/direct). CPU per
#      request = utime+stime from /proc/PID/stat around each run, summed over rounds, divided by
#      requests: for tollgate the whole process, for nginx its worker (direct: the upstream worker,
#      proxy: the proxy worker).
#      Any non-2xx response or socket error is flagged: a benchmark of errors is worthless
#      (exit status 1 then).
#
# CPU pinning (2-core machine): the load generator must not steal CPU from the server under test,
# so wrk runs with 1 thread on core BENCH_CLIENT_CPUS (1) and every server on BENCH_SERVER_CPUS (0):
# nginx worker_processes 1, tollgate server.threads 1. The proxied targets share core 0 with the
# upstream they call, alike for proxy and tollgate, so their ratio compares like with like. The
# direct row is the upstream alone; with SSE it can be slower than the proxy, whose unbuffered
# relay coalesces the upstream's 22 small writes into fewer, larger ones towards wrk.
# A cache hit never calls the upstream, so tollgate-cache has core 0 to itself, as the direct
# upstream does: the cache rows compare like with like too.
# BENCH_PIN=0 disables pinning (also automatic when nproc < 2 or taskset is missing).
# Other load on the machine skews everything: the load average is printed at start and end.
#
# Environment:
#   TOLLGATE_BIN            binary to measure instead of building build/release/tollgate
#   BENCH_DURATION=4        seconds per measured run        BENCH_ROUNDS=3   rounds
#   BENCH_WARMUP=1          seconds of warm-up per target and mode (not recorded)
#   BENCH_CONNECTIONS="16 64"  BENCH_TOLLGATE_THREADS=1
#   BENCH_MODES="json sse"  any of json, sse, cache-json, cache-sse; "cache" = cache-json cache-sse
#   BENCH_PORT_BASE=28180   upstream +1, proxy +2, tollgate +3, tollgate-cache +4
#   BENCH_SSE_FLUSH=1       upstream writes each SSE event separately (as a real LLM does);
#                           0 sends the whole stream in one write
#   BENCH_PIN=auto|0        BENCH_SERVER_CPUS=0  BENCH_CLIENT_CPUS=1
#   BENCH_BUILD_JOBS=2      parallel jobs for the Release build
#   BENCH_KEEP=1            keep the temp dir (configs, server logs, raw wrk output)
#   BENCH_AUTH=virtual-key  tollgate runs with auth on and every request carries a virtual key
#                           issued through the admin API (the production path: auth, rate-limit
#                           check, request audit); "open" runs it with auth off. Every target gets
#                           an Authorization header (each tollgate instance issues its own key, of
#                           the same length), so the requests have the same size everywhere.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_dir=$repo/bench

duration=${BENCH_DURATION:-4}
rounds=${BENCH_ROUNDS:-3}
warmup=${BENCH_WARMUP:-1}
conns_list=${BENCH_CONNECTIONS:-16 64}
modes=
for m in ${BENCH_MODES:-json sse}; do
  [ "$m" = cache ] && m="cache-json cache-sse"
  for x in $m; do [[ " $modes " == *" $x "* ]] || modes="${modes:+$modes }$x"; done
done
[ -n "$modes" ] || { echo "bench: BENCH_MODES is empty" >&2; exit 2; }
tollgate_threads=${BENCH_TOLLGATE_THREADS:-1}
auth=${BENCH_AUTH:-virtual-key}
case "$auth" in virtual-key|open) ;; *) echo "bench: BENCH_AUTH must be virtual-key or open" >&2; exit 2 ;; esac
port_base=${BENCH_PORT_BASE:-28180}
sse_flush=${BENCH_SSE_FLUSH:-1}
pin=${BENCH_PIN:-auto}
server_cpus=${BENCH_SERVER_CPUS:-0}
client_cpus=${BENCH_CLIENT_CPUS:-1}
build_jobs=${BENCH_BUILD_JOBS:-2}
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so

die() { echo "bench: $*" >&2; exit 2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

for v in duration rounds warmup tollgate_threads port_base build_jobs; do
  is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
[ "$duration" -ge 1 ] && [ "$rounds" -ge 1 ] || die "BENCH_DURATION and BENCH_ROUNDS must be >= 1"
for c in $conns_list; do is_uint "$c" && [ "$c" -ge 1 ] || die "bad connection count '$c'"; done
for m in $modes; do
  [[ $m =~ ^(json|sse|cache-json|cache-sse)$ ]] || die "bad mode '$m' (json|sse|cache-json|cache-sse|cache)"
done

# The targets a mode alternates, and the body wrk sends for it (bench/chat.lua: json or sse).
mode_targets() { case $1 in cache-*) echo direct tollgate-cache ;; *) echo direct proxy tollgate ;; esac; }
wrk_mode() { case $1 in *sse) echo sse ;; *) echo json ;; esac; }
is_cache_target() { [ "$1" = tollgate-cache ]; }
declare -A needed
for m in $modes; do for t in $(mode_targets "$m"); do needed[$t]=1; done; done

for tool in nginx wrk curl; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh --test installs it)"
done
[ -f "$echo_module" ] || die "$echo_module missing (Debian package nginx-light)"

if [ "$pin" = auto ]; then
  if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then pin=1; else pin=0; fi
fi
server_run=()
client_run=()
if [ "$pin" = 1 ]; then
  server_run=(taskset -c "$server_cpus")
  client_run=(taskset -c "$client_cpus")
fi

upstream_port=$((port_base + 1))
proxy_port=$((port_base + 2))
tollgate_port=$((port_base + 3))
tollgate_cache_port=$((port_base + 4))
for p in $upstream_port $proxy_port $tollgate_port $tollgate_cache_port; do
  [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] || die "port $p is busy; set BENCH_PORT_BASE"
done

# --- the binary -------------------------------------------------------------------------------
if [ -n "${TOLLGATE_BIN:-}" ]; then
  bin=$(readlink -f "$TOLLGATE_BIN")
  bin_note="TOLLGATE_BIN (not the Release build of this script)"
else
  echo "building tollgate (Release) in build/release ..." >&2
  cmake -S "$repo" -B "$repo/build/release" -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_TESTS=OFF >/dev/null
  cmake --build "$repo/build/release" -j"$build_jobs" --target tollgate >&2
  bin=$repo/build/release/tollgate
  bin_note="build/release (Release)"
fi
[ -x "$bin" ] || die "no executable at $bin"

# --- processes and cleanup --------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")
mkdir -p "$work/tmp" "$work/data" "$work/wrk"
pids=()

cleanup() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until URL answers anything over HTTP (any status), or fails after ~10 s or if PID exits.
wait_http() {
  local url=$1 pid=$2 log=$3 i
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench: process for $url exited; its log:" >&2
      tail -n 30 "$log" >&2 || true
      exit 2
    fi
    sleep 0.1
  done
  echo "bench: $url did not come up; log:" >&2
  tail -n 30 "$log" >&2 || true
  exit 2
}

# The single worker of an nginx master.
nginx_worker() {
  local master=$1 w i
  for ((i = 0; i < 50; i++)); do
    w=$(pgrep -P "$master" | head -n 1 || true)
    [ -n "$w" ] && { echo "$w"; return 0; }
    sleep 0.1
  done
  die "nginx $master has no worker"
}

sed -e "s/__UPSTREAM_PORT__/$upstream_port/g" "$bench_dir/nginx-upstream.conf" > "$work/upstream.conf"
[ "$sse_flush" = 1 ] || sed -i '/echo_flush;/d' "$work/upstream.conf"
sed -e "s/__UPSTREAM_PORT__/$upstream_port/g" -e "s/__PROXY_PORT__/$proxy_port/g" \
  "$bench_dir/nginx-proxy.conf" > "$work/proxy.conf"
auth_mode=open
[ "$auth" = virtual-key ] && auth_mode=virtual-keys

declare -A url cpu_pid bearer_of
"${server_run[@]}" nginx -p "$work" -c "$work/upstream.conf" >"$work/upstream.out" 2>&1 &
pids+=($!)
upstream_pid=$!
wait_http "http://127.0.0.1:$upstream_port/" "$upstream_pid" "$work/upstream.out"
url[direct]=http://127.0.0.1:$upstream_port/v1/chat/completions
cpu_pid[direct]=$(nginx_worker "$upstream_pid")
if [ -n "${needed[proxy]:-}" ]; then
  "${server_run[@]}" nginx -p "$work" -c "$work/proxy.conf" >"$work/proxy.out" 2>&1 &
  pids+=($!)
  proxy_pid=$!
  wait_http "http://127.0.0.1:$proxy_port/" "$proxy_pid" "$work/proxy.out"
  url[proxy]=http://127.0.0.1:$proxy_port/v1/chat/completions
  cpu_pid[proxy]=$(nginx_worker "$proxy_pid")
fi

# A fresh master key per run, for issuing the benchmark's virtual keys.
master_key=bench-master-$RANDOM$RANDOM$RANDOM

# start_tollgate TARGET CONFIG PORT: starts one tollgate instance from bench/CONFIG, records its
# URL, PID and (BENCH_AUTH=virtual-key) a virtual key it issued. Its files: $work/TARGET.*.
start_tollgate() {
  local target=$1 config=$2 port=$3 pid key
  sed -e "s/__UPSTREAM_PORT__/$upstream_port/g" -e "s/__THREADS__/$tollgate_threads/g" \
    -e "s/__AUTH_MODE__/$auth_mode/g" "$bench_dir/$config" > "$work/$target.yaml"
  if ! (cd "$repo" && "$bin" check-config --config "$work/$target.yaml") >"$work/$target.check-config.out" 2>&1; then
    echo "bench: tollgate check-config rejected bench/$config:" >&2
    cat "$work/$target.check-config.out" >&2
    exit 2
  fi
  mkdir -p "$work/data-$target"
  # From the repo root so the default pricing file (config/prices.json) resolves.
  (cd "$repo" && exec env -u TOLLGATE_CONFIG TOLLGATE_MASTER_KEY="$master_key" "${server_run[@]}" "$bin" \
    --config "$work/$target.yaml" --port "$port" --data-dir "$work/data-$target" \
    --log-level warn) >"$work/$target.out" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/health" "$pid" "$work/$target.out"
  url[$target]=http://127.0.0.1:$port/v1/chat/completions
  cpu_pid[$target]=$pid
  bearer_of[$target]=unused
  if [ "$auth" = virtual-key ]; then
    key=$(curl -sS --max-time 10 -H "Authorization: Bearer $master_key" \
      --data '{"name":"bench","models":["bench"],"rpm":1000000000,"tpm":1000000000000}' \
      "http://127.0.0.1:$port/api/v1/virtual-keys" | sed -n 's/.*"key":"\(tg-[0-9A-Za-z]*\)".*/\1/p')
    [ -n "$key" ] || die "could not issue the benchmark's virtual key (see $work/$target.out)"
    bearer_of[$target]=$key
  fi
}

[ -z "${needed[tollgate]:-}" ] || start_tollgate tollgate tollgate.yaml "$tollgate_port"
[ -z "${needed[tollgate-cache]:-}" ] || start_tollgate tollgate-cache tollgate-cache.yaml "$tollgate_cache_port"
# The nginx targets carry a key of the same length (any tollgate's), so every request has one size.
first_tollgate=tollgate
[ -n "${needed[tollgate]:-}" ] || first_tollgate=tollgate-cache
bearer_of[direct]=${bearer_of[$first_tollgate]}
bearer_of[proxy]=${bearer_of[$first_tollgate]}

# --- facts --------------------------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
rev=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] && ! git -C "$repo" diff --quiet HEAD -- 2>/dev/null; then
  rev="$rev + uncommitted changes"
fi
n_conns=$(wc -w <<<"$conns_list")
runs_per_round=0
for m in $modes; do runs_per_round=$((runs_per_round + $(wc -w <<<"$(mode_targets "$m")"))); done
estimate=$(( warmup * runs_per_round + rounds * n_conns * runs_per_round * duration ))

echo "== tollgate benchmark =="
echo "machine:   $(nproc) CPUs, ${cpu_model:-unknown CPU}, Linux $(uname -r)"
echo "tollgate:  git $rev, binary $bin_note, server.threads $tollgate_threads, auth $auth"
echo "tools:     $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}')"
if [ "$pin" = 1 ]; then
  echo "pinning:   servers on CPU $server_cpus, wrk (1 thread) on CPU $client_cpus"
else
  echo "pinning:   none"
fi
if [ -n "${needed[tollgate-cache]:-}" ]; then
  echo "cache:     tollgate-cache = bench/tollgate-cache.yaml (cache exact, dedup on); every measured request must be a hit"
fi
load_start=$(cut -d' ' -f1 /proc/loadavg)
echo "load avg:  $load_start at start (1 min)"
echo "plan:      $rounds rounds × ${duration}s per target, connections: $conns_list, modes: $modes," \
     "SSE flush per event: $sse_flush; ~${estimate}s"
echo

# --- sanity: each target answers what a client expects --------------------------------------
failures=()
json_body=$(<"$bench_dir/chat-request.json")
sse_body="${json_body%\}},\"stream\":true}"

# post_check TARGET MODE OUT [HEADER]: one check request of MODE's kind to TARGET, with HEADER if
# given; prints the HTTP status, leaves the answer in OUT.body, OUT.head, OUT.err.
post_check() {
  local target=$1 mode=$2 out=$3 extra=${4:-X-Bench: check} body=$json_body status
  [ "$(wrk_mode "$mode")" = sse ] && body=$sse_body
  status=$(curl -sS --max-time 10 -o "$out.body" -D "$out.head" -w '%{http_code}' \
    -H 'Content-Type: application/json' -H "Authorization: Bearer ${bearer_of[$target]}" -H "$extra" \
    --data-binary "$body" "${url[$target]}" 2>"$out.err") || status=000
  echo "$status"
}

# store_answer TARGET MODE OUT: makes tollgate-cache hold an answer of MODE's kind (a buffered body
# or a stream transcript) for the benchmark request. `x-tollgate-cache: refresh` skips the read
# and stores the fresh answer: a buffered and a streamed request share one cache key (`stream` is
# not part of it), and an entry of either kind may serve both, so without it a cache-sse run could
# measure a buffered answer split into chunks instead of the replay of a stored transcript.
store_answer() { post_check "$1" "$2" "$3" 'x-tollgate-cache: refresh'; }

check_target() {
  local target=$1 mode=$2 out=$work/check-$1-$2 status ok=1 why=""
  if is_cache_target "$target"; then
    # The first request stores the answer; the same request again must be answered from the cache.
    status=$(store_answer "$target" "$mode" "$out.store")
    [ "$status" = 200 ] || why=", storing the answer got HTTP $status"
    status=$(post_check "$target" "$mode" "$out")
    grep -qi '^x-tollgate-cache: *hit\b' "$out.head" || { ok=0; why="$why, no 'x-tollgate-cache: hit' on the repeated request"; }
  else
    status=$(post_check "$target" "$mode" "$out")
  fi
  [ "$status" = 200 ] || ok=0
  if [ "$(wrk_mode "$mode")" = json ]; then
    grep -Eq '"object" *: *"chat\.completion"' "$out.body" || ok=0
    grep -Eq '"total_tokens" *: *79' "$out.body" || ok=0
  else
    grep -qi '^content-type: *text/event-stream' "$out.head" || ok=0
    [ "$(grep -c '^data: {' "$out.body" || true)" -ge 20 ] || ok=0
    grep -q 'It keeps upstream load steady\.' "$out.body" || ok=0
    [ "$(grep -v '^\s*$' "$out.body" | tail -n 1 | tr -d '\r')" = "data: [DONE]" ] || ok=0
  fi
  if [ "$ok" = 0 ]; then
    failures+=("$target $mode: unexpected answer to the check request (HTTP $status$why, printed above)")
    echo "!! $target $mode: HTTP $status$why; head of the answer:" >&2
    grep -i '^x-tollgate' "$out.head" >&2 || true
    head -c 600 "$out.body" >&2 || true
    cat "$out.err" >&2 || true
    echo >&2
  fi
}

for mode in $modes; do
  for target in $(mode_targets "$mode"); do check_target "$target" "$mode"; done
done

# --- measurement ------------------------------------------------------------------------------
cpu_ticks() {
  local stat rest
  stat=$(<"/proc/$1/stat")
  rest=${stat##*) }
  read -r -a f <<<"$rest"
  # After "pid (comm) ": state is f[0], utime f[11], stime f[12] (fields 14 and 15 of proc(5)).
  echo $((f[11] + f[12]))
}

declare -A rps_r p50_r p99_r reqs ticks bad
# Runs wrk once into LOG; fails when wrk fails or printed no BENCH line (see bench/chat.lua).
run_wrk() {
  local target=$1 conns=$2 mode=$3 secs=$4 log=$5
  "${client_run[@]}" wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s --latency \
    -s "$bench_dir/chat.lua" "${url[$target]}" -- "$(wrk_mode "$mode")" "$bench_dir/chat-request.json" \
    "${bearer_of[$target]}" >"$log" 2>&1 \
    || return 1
  grep -q '^BENCH ' "$log" || return 1
}

parse_field() {  # parse_field LOG NAME
  sed -n "s/^BENCH .*\b$2=\([0-9]*\).*/\1/p" "$1"
}

# tollgate-cache's tollgate_cache_requests_total as "HIT MISS BYPASS"; prints nothing when /metrics
# does not answer.
cache_counts() {
  local text
  text=$(curl -sS --max-time 10 "http://127.0.0.1:$tollgate_cache_port/metrics") || return 0
  awk '/^tollgate_cache_requests_total\{/ {
         if ($0 ~ /result="hit"/) h = $NF + 0; else if ($0 ~ /result="miss"/) m = $NF + 0
         else if ($0 ~ /result="bypass"/) b = $NF + 0 }
       END { printf "%.0f %.0f %.0f\n", h, m, b }' <<<"$text"
}

declare -A cache_hits cache_seen
echo "warm-up ..." >&2
for mode in $modes; do
  for target in $(mode_targets "$mode"); do
    [ "$warmup" -gt 0 ] || continue
    run_wrk "$target" 64 "$mode" "$warmup" "$work/wrk/warmup-$target-$mode.txt" || true
  done
done

for ((round = 1; round <= rounds; round++)); do
  for conns in $conns_list; do
    for mode in $modes; do
      read -r -a targets <<<"$(mode_targets "$mode")"
      for ((k = 0; k < ${#targets[@]}; k++)); do
        target=${targets[$(((k + round - 1) % ${#targets[@]}))]}
        key="$mode|$conns|$target"
        log=$work/wrk/$round-$mode-$conns-$target.txt
        echo "round $round/$rounds: $mode c=$conns $target" >&2
        if is_cache_target "$target"; then
          # The other cache mode's last run may have left the other kind of answer (see store_answer).
          prime=$(store_answer "$target" "$mode" "$work/store-$mode")
          [ "$prime" = 200 ] || bad[$key]="${bad[$key]:-}storing the answer got HTTP $prime (round $round); "
          read -r hit0 miss0 bypass0 <<<"$(cache_counts)" || true
        fi
        if ! kill -0 "${cpu_pid[$target]}" 2>/dev/null; then
          echo "bench: the $target server (pid ${cpu_pid[$target]}) has exited; the end of its log:" >&2
          tail -n 20 "$work/$target.out" >&2 2>/dev/null || true
          exit 2
        fi
        before=$(cpu_ticks "${cpu_pid[$target]}")
        if ! run_wrk "$target" "$conns" "$mode" "$duration" "$log"; then
          bad[$key]="${bad[$key]:-}wrk failed (round $round); "
          sed 's/^/   | /' "$log" >&2 || true
          continue
        fi
        after=$(cpu_ticks "${cpu_pid[$target]}")
        n=$(parse_field "$log" requests)
        if is_cache_target "$target"; then
          # Every request wrk completed must have been a hit; a few more hits are the requests still
          # in flight when wrk stopped (at most one per connection).
          read -r hit1 miss1 bypass1 <<<"$(cache_counts)" || true
          if [ -z "${hit0:-}" ] || [ -z "${hit1:-}" ]; then
            bad[$key]="${bad[$key]:-}could not read tollgate_cache_requests_total from /metrics (round $round); "
          else
            dh=$((hit1 - hit0)) dm=$((miss1 - miss0)) db=$((bypass1 - bypass0))
            cache_hits[$key]=$(( ${cache_hits[$key]:-0} + dh ))
            cache_seen[$key]=$(( ${cache_seen[$key]:-0} + n ))
            if [ "$dh" -lt "$n" ] || [ "$dh" -gt $((n + conns)) ] || [ "$dm" -ne 0 ] || [ "$db" -ne 0 ]; then
              bad[$key]="${bad[$key]:-}cache counted $dh hits, $dm misses, $db bypasses for $n requests (round $round); "
            fi
          fi
          hit0= hit1=
        fi
        dur=$(parse_field "$log" duration_us)
        rps_r[$key]="${rps_r[$key]:-} $(awk -v n="$n" -v d="$dur" 'BEGIN {printf "%.1f", n * 1e6 / d}')"
        p50_r[$key]="${p50_r[$key]:-} $(parse_field "$log" p50_us)"
        p99_r[$key]="${p99_r[$key]:-} $(parse_field "$log" p99_us)"
        reqs[$key]=$(( ${reqs[$key]:-0} + n ))
        ticks[$key]=$(( ${ticks[$key]:-0} + after - before ))
        non2xx=$(parse_field "$log" non2xx)
        sock=$(( $(parse_field "$log" connect) + $(parse_field "$log" read) + $(parse_field "$log" write) \
                 + $(parse_field "$log" timeout) ))
        [ "$non2xx" -eq 0 ] || bad[$key]="${bad[$key]:-}$non2xx non-2xx (round $round); "
        [ "$sock" -eq 0 ] || bad[$key]="${bad[$key]:-}$sock socket errors (round $round); "
      done
    done
  done
done

# --- report -----------------------------------------------------------------------------------
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {
  if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
span() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {
  if (NR) printf "%.0f-%.0f", lo, hi; else print "-" }'; }
fmt_us() { awk -v u="$1" 'BEGIN { if (u == "nan") print "-"; else if (u >= 10000) printf "%.1fms", u / 1000;
  else if (u >= 1000) printf "%.2fms", u / 1000; else printf "%dus", u }'; }

echo
printf '%-10s %5s %-14s %10s %15s %9s %9s %12s  %s\n' \
  mode conns target "rps(med)" "rps(min-max)" p50 p99 "cpu us/req" status
printf '%.0s-' {1..106}; echo
declare -A med_rps med_p50
for mode in $modes; do
  for conns in $conns_list; do
    for target in $(mode_targets "$mode"); do
      key="$mode|$conns|$target"
      med_rps[$key]=$(median "${rps_r[$key]:-}")
      med_p50[$key]=$(median "${p50_r[$key]:-}")
      p99=$(median "${p99_r[$key]:-}")
      cpu=$(awk -v t="${ticks[$key]:-0}" -v n="${reqs[$key]:-0}" -v hz="$clk_tck" \
        'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')
      status=ok
      [ -z "${bad[$key]:-}" ] || { status="ERRORS: ${bad[$key]}"; failures+=("$key: ${bad[$key]}"); }
      printf '%-10s %5s %-14s %10.0f %15s %9s %9s %12s  %s\n' "$mode" "$conns" "$target" \
        "$(awk -v v="${med_rps[$key]}" 'BEGIN { print (v == "nan") ? 0 : v }')" \
        "$(span "${rps_r[$key]:-}")" "$(fmt_us "${med_p50[$key]}")" "$(fmt_us "$p99")" "$cpu" "$status"
    done
  done
done

# print_ratios TITLE TARGET REFERENCE MODE...: TARGET/REFERENCE medians per mode and connections.
print_ratios() {
  local title=$1 target=$2 ref=$3 mode conns t p note
  shift 3
  [ $# -gt 0 ] || return 0
  echo
  echo "$title (medians; rps: higher is better, p50: lower is better)"
  printf '%-10s %5s %10s %10s %16s\n' mode conns "rps ratio" "p50 ratio" "p50 extra"
  for mode in "$@"; do
    for conns in $conns_list; do
      t="$mode|$conns|$target"
      p="$mode|$conns|$ref"
      note=""
      [ -z "${bad[$t]:-}${bad[$p]:-}" ] || note="  INVALID (errors)"
      awk -v m="$mode" -v c="$conns" -v tr="${med_rps[$t]}" -v pr="${med_rps[$p]}" \
          -v tl="${med_p50[$t]}" -v pl="${med_p50[$p]}" -v note="$note" 'BEGIN {
        rr = (pr + 0 > 0 && tr != "nan") ? sprintf("%.2f", tr / pr) : "-"
        lr = (pl + 0 > 0 && tl != "nan") ? sprintf("%.2f", tl / pl) : "-"
        ex = (tl != "nan" && pl != "nan") ? sprintf("%+dus", tl - pl) : "-"
        printf "%-10s %5s %10s %10s %16s%s\n", m, c, rr, lr, ex, note }'
    done
  done
}
proxied_modes=() cache_modes=()
for mode in $modes; do
  case $mode in cache-*) cache_modes+=("$mode") ;; *) proxied_modes+=("$mode") ;; esac
done
print_ratios "tollgate / nginx proxy" tollgate proxy "${proxied_modes[@]}"
print_ratios "tollgate cache hit / nginx static upstream (direct)" tollgate-cache direct "${cache_modes[@]}"
if [ ${#cache_modes[@]} -gt 0 ]; then
  echo
  echo "cache check (tollgate_cache_requests_total over the measured runs; misses and bypasses must be 0):"
  for mode in "${cache_modes[@]}"; do
    for conns in $conns_list; do
      key="$mode|$conns|tollgate-cache"
      printf '  %-10s c=%-4s %10s requests completed (wrk), %10s hits counted by tollgate%s\n' "$mode" "$conns" \
        "${cache_seen[$key]:-0}" "${cache_hits[$key]:-0}" "$([ -z "${bad[$key]:-}" ] || echo '  INVALID')"
    done
  done
fi

echo
load_end=$(cut -d' ' -f1 /proc/loadavg)
echo "load avg:  $load_start at start, $load_end at end (1 min; this script's own share is about 2)"
if awk -v a="$load_start" 'BEGIN { exit !(a > 0.5) }'; then
  echo "!! the machine was busy before the benchmark started: other processes skew these figures"
fi
echo "cpu us/req: utime+stime of the serving process per request (direct: upstream nginx worker," \
     "proxy: proxy nginx worker, tollgate and tollgate-cache: whole process); clock tick ${clk_tck} Hz."
if [ ${#failures[@]} -gt 0 ]; then
  echo
  echo "!! INVALID RESULTS — errors were seen:"
  printf '   %s\n' "${failures[@]}"
  for target in tollgate tollgate-cache; do
    [ -f "$work/$target.out" ] || continue
    grep -v '^\s*$' "$work/$target.out" | tail -n 5 | sed "s/^/   $target log: /" || true
  done
  exit 1
fi
