#!/usr/bin/env bash
# bench/compare.sh: faya against its peers on this machine.
#
#   bench/compare.sh            # every section, about 25 minutes
#   bench/compare.sh closed     # closed job on the Go target and nginx: wrk, hey, bombardier, vegeta,
#                               # faya (h1 engine) and faya --engine net/http
#   bench/compare.sh stalls     # how long the VM takes CPU 0 away when CPU 1 is busy
#   bench/compare.sh rate       # open model at 1,000, 5,000, 20,000 and 50,000 req/s: faya (both engines), vegeta
#   bench/compare.sh memory     # peak RSS at c=1,000 and c=10,000, and after 1M vs 10M requests
#   bench/compare.sh scenario   # CPU per request: a 3-step scenario with a login, an extraction and
#                               # checks, against plain runs of the same three URLs (Go target)
#   bench/compare.sh proxy      # CPU per request through tinyproxy (forwarding) and dante (SOCKS5)
#                               # against direct, both engines (nginx target)
#   bench/compare.sh h2         # HTTP/2 over TLS on nginx: h2load -c 1 -m 100 and -c 10 -m 10 against
#                               # faya --http 2 -c 100 --max-conns-per-host 1 and 10 (and
#                               # --engine net/http when it speaks HTTP/2) and Go's net/http HTTP/2
#                               # client alone (bench/h2nethttp), requests per CPU-second
#   H2_N=500000 REPS=5 bench/compare.sh h2
#   REPS=1 N=50000 D=3s bench/compare.sh closed        # a quick look
#   TOOLS="faya hey" TARGETS=nginx bench/compare.sh closed
#   SAME_D=1 REPS=7 TOOLS="wrk faya" TARGETS=nginx bench/compare.sh closed  # every tool for D
#   TOOLS="wrk faya faya-p8" ...                     # faya-p8: faya with --pipeline 8
#   RATES="5000" RD=5s bench/compare.sh rate
#   RATES=50000 RATE_TOOLS=faya RATE_FLAGS="--max-conns-per-host 100" bench/compare.sh rate
#
# Targets: faya's built-in target (Go net/http; it saturates its core near
# 60k req/s, so it cannot rank the fastest tools) and nginx (one worker,
# config in bench/nginx/nginx.conf), each pinned to CPU 1. Each load tool is
# pinned to CPU 0 (Go tools run with GOMAXPROCS=1). The closed job: 50
# connections/VUs, 200,000 requests, or 10 s for the tools that have no
# request count (wrk, vegeta). CPU is the tool's user+sys from
# /usr/bin/time; requests and connections are what the target counted
# (faya target on an admin port whose connections are not counted; nginx's
# stub_status, less the status requests). Results go to
# bench/results/<timestamp>/ and the tables to stdout.
#
# It installs what is missing: wrk, hey, nginx-light and time from Debian
# (apt-get, as root), vegeta v12.13.0 and bombardier v1.2.6 from the Go
# module proxy into bench/.bin (Debian's "bombardier" package is a game,
# not the HTTP tool).
set -euo pipefail
cd "$(dirname "$0")/.."

SECTIONS=${1:-all}
REPS=${REPS:-3}
N=${N:-200000}
C=${C:-50}
D=${D:-10s}
TOOLS=${TOOLS:-"wrk hey bombardier vegeta faya faya-nethttp"}
TARGETS=${TARGETS:-"go nginx"}
RATES=${RATES:-"1000 5000 20000 50000"}
RATE_TOOLS=${RATE_TOOLS:-"vegeta faya faya-nethttp"}
RD=${RD:-10s}
BIN=$PWD/bench/.bin
OUT=$PWD/bench/results/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$BIN" "$OUT"

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v hey >/dev/null || need_apt+=(hey)
command -v nginx >/dev/null || need_apt+=(nginx-light)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v taskset >/dev/null || need_apt+=(util-linux)
command -v curl >/dev/null || need_apt+=(curl)
if [ "$SECTIONS" = h2 ] || [ "$SECTIONS" = all ]; then
  command -v h2load >/dev/null || need_apt+=(nghttp2-client)
  command -v openssl >/dev/null || need_apt+=(openssl)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
[ -x "$BIN/vegeta" ] || GOBIN=$BIN go install github.com/tsenart/vegeta/v12@v12.13.0
[ -x "$BIN/bombardier" ] || GOBIN=$BIN go install github.com/codesenberg/bombardier@v1.2.6
go build -o "$BIN/faya" ./cmd/faya
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done' EXIT

# The Go target.
GP=$(port)
GA=$(port)
taskset -c 1 "$BIN/faya" target --addr "127.0.0.1:$GP" --admin-addr "127.0.0.1:$GA" 2>"$OUT/target.log" &
PIDS+=($!)
# nginx.
NP=$(port)
NS=$(port)
NGX=$OUT/nginx
mkdir -p "$NGX/tmp"
sed -e "s/STATUS_PORT/$NS/; s/PORT/$NP/" bench/nginx/nginx.conf >"$NGX/nginx.conf"
taskset -c 1 nginx -p "$NGX/" -c nginx.conf 2>"$NGX/error.log" &
PIDS+=($!)
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$GA/stats" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$NS/" >/dev/null 2>&1 && break
  sleep 0.05
done

url() {
  case $1 in
    go) echo "http://127.0.0.1:$GP/" ;;
    nginx-h2) echo "https://127.0.0.1:$H2P/" ;;
    *) echo "http://127.0.0.1:$NP/" ;;
  esac
}
# stats TARGET: "requests conns" so far (nginx: less the status requests).
stats() {
  if [ "$1" = go ]; then
    curl -fs "http://127.0.0.1:$GA/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["conns_new"])'
  elif [ "$1" = nginx-h2 ]; then
    curl -fs "http://127.0.0.1:$H2S/" | awk 'NR==3{print $3, $1}'
  else
    curl -fs "http://127.0.0.1:$NS/" | awk 'NR==3{print $3, $1}'
  fi
}
reset() { if [ "$1" = go ]; then curl -fs "http://127.0.0.1:$GA/reset" >/dev/null; fi; }
# settle TARGET: wait (at most 30 s) until the target has no client
# connections left from the last run, so that a tool that overran the target
# (vegeta at high rates keeps thousands of requests queued) does not slow the
# next run down.
settle() {
  for _ in $(seq 300); do
    local active
    if [ "$1" = go ]; then
      active=$(curl -fs "http://127.0.0.1:$GA/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["conns_active"])')
    elif [ "$1" = nginx-h2 ]; then
      active=$(curl -fs "http://127.0.0.1:$H2S/" | awk 'NR==1{print $3 - 1}')
    else
      active=$(curl -fs "http://127.0.0.1:$NS/" | awk 'NR==1{print $3 - 1}')
    fi
    [ "${active:-0}" -le 0 ] && break
    sleep 0.1
  done
  sleep 1
}

# measure TARGET TOOL REP FILE CMD: runs CMD pinned to CPU 0 under
# /usr/bin/time and prints "tool rep wall cpu rss requests conns".
measure() {
  local target=$1 tool=$2 rep=$3 d=$4
  shift 4
  settle "$target"
  reset "$target"
  local before after
  before=$(stats "$target")
  echo "$*" >"$d.cmd"
  echo "[$target] rep $rep: $*" >&2
  eval taskset -c 0 /usr/bin/time -v -o "$d.time" timeout -k 5 300 "$*" >"$d.out" 2>&1 || echo "  $tool exited non-zero" >&2
  after=$(stats "$target")
  python3 - "$tool" "$rep" "$d.time" "$before" "$after" "$target" <<'PY'
import re, sys
tool, rep, tf, before, after, target = sys.argv[1:7]
t = open(tf).read()
def f(label):
    m = re.search(re.escape(label) + r":\s*(\S+)", t)
    return m.group(1) if m else "0"
w = f("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(x) for x in w.split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
cpu = float(f("User time (seconds)")) + float(f("System time (seconds)"))
b, a = [int(x) for x in before.split()], [int(x) for x in after.split()]
if target == "go":
    req, conns = a[0], a[1]
else:  # nginx counts the status requests and connections too: one per reading
    req, conns = a[0] - b[0] - 1, a[1] - b[1] - 1
user, sys_ = float(f("User time (seconds)")), float(f("System time (seconds)"))
print(tool, rep, wall, cpu, f("Maximum resident set size (kbytes)"), req, conns, user, sys_)
PY
}

# SAME_D=1: every tool runs for D (wrk and vegeta always do), so that all
# runs of a rep sample the VM over the same length of time.
closed_cmd() {
  local tool=$1 u=$2 n="-n $N"
  [ "${SAME_D:-0}" = 1 ] && n="-d $D"
  case $tool in
    wrk) echo "wrk -t1 -c$C -d$D $u" ;;
    hey) if [ "${SAME_D:-0}" = 1 ]; then echo "hey -z $D -c $C $u"; else echo "hey -n $N -c $C $u"; fi ;;
    bombardier) echo "$BIN/bombardier -c $C $n -p r $u" ;;
    vegeta) echo "sh -c 'echo GET $u | $BIN/vegeta attack -rate=0 -workers=$C -max-workers=$C -duration=$D > /dev/null'" ;;
    faya) echo "$BIN/faya run -c $C $n $u" ;;
    faya-nethttp) echo "$BIN/faya run --engine net/http -c $C $n $u" ;;
    faya-p8) echo "$BIN/faya run -c $C $n --pipeline 8 $u" ;;
  esac
}

closed() {
  for target in $TARGETS; do
    local out=$OUT/closed-$target u
    u=$(url "$target")
    mkdir -p "$out"
    taskset -c 0 wrk -t1 -c"$C" -d2s "$u" >/dev/null 2>&1 || true # warm up
    echo "tool rep wall cpu rss_kb requests conns user sys" >"$out/runs.txt"
    for rep in $(seq "$REPS"); do
      for tool in $TOOLS; do
        measure "$target" "$tool" "$rep" "$out/$tool.$rep" "$(closed_cmd "$tool" "$u")" >>"$out/runs.txt"
      done
    done
    echo
    echo "Closed job, $target target: $C connections, $N requests (or $D)"
    python3 - "$out/runs.txt" <<'PY' | tee "$out/summary.md"
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
by = {}
for tool, rep, wall, cpu, rss, req, conns, user, sys_ in rows:
    by.setdefault(tool, []).append((float(wall), float(cpu), int(rss), int(req), int(conns), float(user), float(sys_)))
wrk = None
if "wrk" in by:
    wrk = st.median(r[3] / r[1] for r in by["wrk"] if r[1])
# vs wrk in the same rep (the runs next to each other), then the median
# over reps: the VM's speed drifts over minutes, less within a rep.
pair = {}
for tool, rs in by.items():
    if wrk and tool != "wrk":
        pair[tool] = st.median((t[3] / t[1]) / (w[3] / w[1]) for t, w in zip(rs, by["wrk"]) if t[1] and w[1])
print("| tool | reps | req/s (median) | CPU-s per 100k req | user µs/req | sys µs/req | req per CPU-s | vs wrk | vs wrk, same rep (median) | peak RSS MB | target conns |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for tool, rs in by.items():
    rps = st.median(r[3] / r[0] for r in rs)
    cpu = st.median(r[1] / r[3] * 1e5 for r in rs if r[3])
    rss = st.median(r[2] for r in rs) / 1024
    conns = sorted(r[4] for r in rs)
    crange = f"{st.median(conns):.0f}" + (f" ({conns[0]}-{conns[-1]})" if conns[0] != conns[-1] else "")
    ratio = f"{1e5 / cpu / wrk:.2f}" if wrk else "-"
    pr = f"{pair[tool]:.2f}" if tool in pair else "-"
    user = st.median(r[5] / r[3] * 1e6 for r in rs if r[3])
    sys_ = st.median(r[6] / r[3] * 1e6 for r in rs if r[3])
    print(f"| {tool} | {len(rs)} | {rps:,.0f} | {cpu:.2f} | {user:.2f} | {sys_:.2f} | {1e5 / cpu:,.0f} | {ratio} | {pr} | {rss:.1f} | {crange} |")
PY
  done
}

rate() {
  local target=nginx out=$OUT/rate u
  u=$(url "$target")
  mkdir -p "$out"
  echo "tool rate rep wall cpu rss_kb requests conns p99_ms lag_p99_ms dropped sec_lag_p99_ms" >"$out/runs.txt"
  local secs=${RD%s}
  for rep in $(seq "$REPS"); do
    for r in $RATES; do
      for tool in $RATE_TOOLS; do
        d=$out/$tool.$r.$rep
        case $tool in
          vegeta) cmd="sh -c 'echo GET $u | $BIN/vegeta attack -rate=$r/s -duration=$RD -output $d.bin'" ;;
          faya) cmd="$BIN/faya run -r $r -d $RD ${RATE_FLAGS:-} --json $d.json $u" ;;
          faya-nethttp) cmd="$BIN/faya run --engine net/http -r $r -d $RD ${RATE_FLAGS:-} --json $d.json $u" ;;
        esac
        line=$(measure "$target" "$tool" "$rep" "$d" "$cmd")
        if [ "$tool" = vegeta ]; then
          "$BIN/vegeta" report -type=json "$d.bin" >"$d.json"
          extra=$(python3 -c "import json; j=json.load(open('$d.json')); print(j['latencies']['99th']/1e6, '-', 0, '-')")
        else
          # also the median over the whole seconds of each second's lag p99
          extra=$(python3 -c "import json, statistics as st; j=json.load(open('$d.json')); s=[p['lag_p99_ns']/1e6 for p in j['timeline'][:int('$secs')]]; print(j['latency_ns']['p99']/1e6, j['schedule_lag_ns']['p99']/1e6, j['schedule']['dropped'], round(st.median(s), 3) if s else '-')")
        fi
        set -- $line
        echo "$1 $r $2 $3 $4 $5 $6 $7 $extra" >>"$out/runs.txt"
      done
    done
  done
  echo
  echo "Open model, $target target: constant arrival rate for $RD"
  python3 - "$out/runs.txt" "$secs" <<'PY' | tee "$out/summary.md"
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
secs = float(sys.argv[2])
by = {}
for tool, rate, rep, wall, cpu, rss, req, conns, p99, lag, dropped, *sec in rows:
    by.setdefault((int(rate), tool), []).append((float(cpu), int(req), int(conns), float(p99), lag, int(dropped), sec[0] if sec else "-"))
print("| target req/s | tool | reps | achieved req/s (median) | of target | p99 latency ms | schedule lag p99 ms | lag p99 of a second (median) | dropped | target conns | CPU-s per 100k req |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (rate, tool), rs in sorted(by.items()):
    ach = st.median(r[1] / secs for r in rs)
    p99 = st.median(r[3] for r in rs)
    lag = "-" if rs[0][4] == "-" else f"{st.median(float(r[4]) for r in rs):.3f}"
    conns = sorted(r[2] for r in rs)
    crange = f"{st.median(conns):.0f}" + (f" ({conns[0]}-{conns[-1]})" if conns[0] != conns[-1] else "")
    cpu = st.median(r[0] / r[1] * 1e5 for r in rs if r[1])
    secl = "-" if rs[0][6] == "-" else f"{st.median(float(r[6]) for r in rs):.3f}"
    print(f"| {rate:,} | {tool} | {len(rs)} | {ach:,.0f} | {100 * ach / rate:.2f}% | {p99:.2f} | {lag} | {secl} | {st.median(r[5] for r in rs):.0f} | {crange} | {cpu:.2f} |")
PY
}

memory() {
  local target=nginx out=$OUT/memory u
  u=$(url "$target")
  mkdir -p "$out"
  echo "tool rep wall cpu rss_kb requests conns" >"$out/runs.txt"
  for engine in h1 net/http; do
    name=faya-${engine//\//}
    for c in 1000 10000; do
      measure "$target" "$name-c$c" 1 "$out/$name.c$c" "$BIN/faya run --engine $engine -c $c -n $((c * 50)) --json $out/$name.c$c.json $u" >>"$out/runs.txt"
    done
  done
  for n in 1000000 10000000; do
    measure "$target" "faya-h1-n$n" 1 "$out/faya.n$n" "$BIN/faya run -c $C -n $n $u" >>"$out/runs.txt"
  done
  echo
  echo "Memory, $target target"
  python3 - "$out" <<'PY' | tee "$out/summary.md"
import json, os, sys
out = sys.argv[1]
rows = [l.split() for l in open(os.path.join(out, "runs.txt")).read().splitlines()[1:]]
print("| run | requests the target saw | connections | peak RSS MB | errors |")
print("|---|---|---|---|---|")
for tool, rep, wall, cpu, rss, req, conns, *_ in rows:
    errs = "-"
    j = os.path.join(out, tool.replace("faya-h1-c", "faya-h1.c").replace("faya-nethttp-c", "faya-nethttp.c") + ".json")
    if os.path.exists(j):
        d = json.load(open(j))
        errs = str(d["requests"]["errors"])
    print(f"| {tool} | {int(req):,} | {conns} | {int(rss) / 1024:.1f} | {errs} |")
PY
}

# scenario: the cost of sessions. The scenario: 50 VUs log in once (setup),
# then each iteration lists the items and extracts the first id (JSON path),
# opens that item (a templated URL) with a JSON check, and asks /me with a
# status check. The plain runs: faya run -c 50 on each of the same three
# URLs with the session cookie given by -H, a third of the requests each.
# Compared: the tool's CPU per request the target counted.
scenario() {
  local out=$OUT/scenario iters=${SN:-60000} base="http://127.0.0.1:$GP"
  mkdir -p "$out"
  cat >"$out/shop.yaml" <<YAML
version: 1
base_url: $base
scenarios:
  shop:
    executor: vus
    vus: $C
    iterations: $iters
    setup:
      - name: login
        method: POST
        url: /login
        form: { user: "user{{ .vu }}", password: secret }
    steps:
      - name: list
        url: /items
        extract:
          first: { json: "\$.items[0].id" }
      - name: item
        url: /items/{{ .vars.first }}
        check:
          json: { name: "item {{ .vars.first }}" }
      - name: me
        url: /me
        check: { status: 200 }
YAML
  "$BIN/faya" validate "$out/shop.yaml" >&2
  local cookie
  cookie=$(curl -fs -o /dev/null -c - -d user=bench -d password=secret "$base/login" | awk '$6 == "faya_session" {print $7}')
  echo "tool rep wall cpu rss requests conns" >"$out/runs.txt"
  for rep in $(seq "$REPS"); do
    measure go faya-scenario "$rep" "$out/scenario.$rep" "$BIN/faya run -f $out/shop.yaml" >>"$out/runs.txt"
    for path in /items /items/1 /me; do
      measure go "faya-plain$path" "$rep" "$out/plain$(echo "$path" | tr / _).$rep" \
        "$BIN/faya run -c $C -n $iters -H 'Cookie: faya_session=$cookie' $base$path" >>"$out/runs.txt"
    done
  done
  echo
  echo "Scenario vs plain runs of the same URLs (CPU per request, faya on CPU 0)"
  python3 - "$out" <<'PY' | tee "$out/summary.md"
import os, statistics, sys
out = sys.argv[1]
rows = [l.split() for l in open(os.path.join(out, "runs.txt")).read().splitlines()[1:]]
by = {}
for tool, rep, wall, cpu, rss, req, conns, *_ in rows:
    kind = "scenario" if tool == "faya-scenario" else "plain"
    d = by.setdefault((kind, rep), [0.0, 0, 0.0])
    d[0] += float(cpu); d[1] += int(req); d[2] += float(wall)
print("| run | reps | requests per rep | CPU µs per request (median) | req/s (median) |")
print("|---|---|---|---|---|")
med = {}
for kind in ("plain", "scenario"):
    reps = [v for (k, _), v in by.items() if k == kind]
    per = statistics.median(c / r * 1e6 for c, r, w in reps)
    rps = statistics.median(r / w for c, r, w in reps)
    med[kind] = per
    print(f"| {kind} | {len(reps)} | {reps[0][1]:,} | {per:.1f} | {rps:,.0f} |")
print()
print(f"scenario / plain CPU per request: {med['scenario'] / med['plain']:.2f}x")
PY
}

# proxy: what going through a proxy costs the generator. tinyproxy and
# dante (Debian's packages, as .ci/run installs them) run on CPU 1 with
# nginx; faya on CPU 0 sends PN requests from C VUs to nginx directly,
# through tinyproxy (absolute-form forwarding; tinyproxy closes each
# connection after its answer, so every request dials) and through dante
# (a SOCKS5 tunnel per connection, kept alive). Compared: faya's CPU per
# request nginx counted, and the connections faya made.
proxy() {
  local out=$OUT/proxy n=${PN:-100000} u
  mkdir -p "$out"
  u=$(url nginx)
  local tp=$(port) dp=$(port)
  cat >"$out/tinyproxy.conf" <<CONF
Port $tp
Listen 127.0.0.1
Allow 127.0.0.1
Timeout 60
MaxClients 1024
LogFile "$out/tinyproxy.log"
LogLevel Error
CONF
  taskset -c 1 "$(command -v tinyproxy || echo /usr/bin/tinyproxy)" -d -c "$out/tinyproxy.conf" 2>/dev/null &
  PIDS+=($!)
  cat >"$out/danted.conf" <<CONF
logoutput: $out/danted.log
internal: 127.0.0.1 port = $dp
external: 127.0.0.1
clientmethod: none
socksmethod: none
client pass {
	from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
	from: 127.0.0.0/8 to: 127.0.0.0/8
	command: connect
}
CONF
  taskset -c 1 /usr/sbin/danted -f "$out/danted.conf" -N 1 2>/dev/null &
  PIDS+=($!)
  for _ in $(seq 100); do
    (echo >/dev/tcp/127.0.0.1/$tp) 2>/dev/null && (echo >/dev/tcp/127.0.0.1/$dp) 2>/dev/null && break
    sleep 0.05
  done
  echo "tool rep wall cpu rss requests conns" >"$out/runs.txt"
  for rep in $(seq "$REPS"); do
    for eng in h1 net/http; do
      local e=${eng//\//}
      measure nginx "$e-direct" "$rep" "$out/$e-direct.$rep" "$BIN/faya run --engine $eng -c $C -n $n --json $out/$e-direct.$rep.json $u" >>"$out/runs.txt"
      measure nginx "$e-tinyproxy" "$rep" "$out/$e-tinyproxy.$rep" "$BIN/faya run --engine $eng -c $C -n $n --proxy http://127.0.0.1:$tp --json $out/$e-tinyproxy.$rep.json $u" >>"$out/runs.txt"
      measure nginx "$e-dante" "$rep" "$out/$e-dante.$rep" "$BIN/faya run --engine $eng -c $C -n $n --proxy socks5://127.0.0.1:$dp --json $out/$e-dante.$rep.json $u" >>"$out/runs.txt"
    done
  done
  echo
  echo "Through proxies (nginx target; faya on CPU 0, nginx and the proxies on CPU 1)"
  python3 - "$out" <<'PY' | tee "$out/summary.md"
import json, os, statistics, sys
out = sys.argv[1]
rows = [l.split() for l in open(os.path.join(out, "runs.txt")).read().splitlines()[1:]]
by = {}
for tool, rep, wall, cpu, rss, req, conns, *_ in rows:
    by.setdefault(tool, []).append((float(cpu), int(req), float(wall), rep))
print("| run | reps | requests the target saw | faya CPU µs per request | req/s | connections faya made | errors | proxy phase mean |")
print("|---|---|---|---|---|---|---|---|")
for tool in sorted(by, key=lambda t: (t.split("-")[0], ["direct", "tinyproxy", "dante"].index(t.split("-", 1)[1]))):
    v = by[tool]
    per = statistics.median(c / max(r, 1) * 1e6 for c, r, w, _ in v)
    rps = statistics.median(r / w for c, r, w, _ in v)
    d = json.load(open(os.path.join(out, f"{tool}.{v[0][3]}.json")))
    ph = d.get("phases_ns", {}).get("proxy", {}).get("mean", 0)
    print(f"| {tool} | {len(v)} | {v[0][1]:,} | {per:.1f} | {rps:,.0f} | {d['connections']['dialed']:,} | {d['requests']['errors']} | {ph/1000:.0f} µs |")
PY
}

# stalls: how long CPU 0 is taken from a program that only reads the
# clock, with CPU 1 idle, spinning, and running nginx under wrk. In a VM
# whose two CPUs share the host's time, a busy CPU 1 costs CPU 0 stalls of
# milliseconds: a floor under the open model's schedule lag.
stalls() {
  local out=$OUT/stalls u
  u=$(url nginx)
  mkdir -p "$out"
  go build -o "$BIN/stalls" ./bench/stalls
  echo "CPU 1 idle:       $(taskset -c 0 "$BIN/stalls" -d 5s)" | tee "$out/summary.txt"
  local bg
  timeout 6 taskset -c 1 sh -c 'while :; do :; done' &
  bg=$!
  sleep 0.5
  echo "CPU 1 spinning:   $(taskset -c 0 "$BIN/stalls" -d 5s)" | tee -a "$out/summary.txt"
  wait "$bg" || true
  taskset -c 1 wrk -t1 -c50 -d6s "$u" >/dev/null 2>&1 &
  bg=$!
  sleep 0.5
  echo "CPU 1 nginx+wrk:  $(taskset -c 0 "$BIN/stalls" -d 5s)" | tee -a "$out/summary.txt"
  wait "$bg" || true
}

# h2: HTTP/2 over TLS on its own nginx (bench/nginx/nginx-h2.conf, a
# self-signed certificate made here), pinned to CPU 1; each tool on CPU 0.
# Two shapes: one connection of 100 streams (h2load -c 1 -m 100, faya -c 100
# --max-conns-per-host 1) and ten of ten (h2load -c 10 -m 10, faya -c 100
# --max-conns-per-host 10). Requests and connections are nginx's counts.
# perf stat -e instructions:u, where the machine has the counter, gives
# instructions per request (they do not grow with a loaded machine as CPU
# time does).
h2() {
  local out=$OUT/h2 n=${H2_N:-200000}
  mkdir -p "$out/nginx/tmp"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$out/nginx/key.pem" -out "$out/nginx/cert.pem" 2>/dev/null
  H2P=$(port)
  H2S=$(port)
  sed -e "s/STATUS_PORT/$H2S/; s/PORT/$H2P/" bench/nginx/nginx-h2.conf >"$out/nginx/nginx.conf"
  taskset -c 1 nginx -p "$out/nginx/" -c nginx.conf 2>"$out/nginx/error.log" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$H2S/" >/dev/null 2>&1 && break; sleep 0.05; done
  local u
  u=$(url nginx-h2)
  go build -o "$BIN/h2nethttp" ./bench/h2nethttp
  local tools="h2load faya go-nethttp"
  "$BIN/faya" run --engine net/http --http 2 --insecure -n 1 -q "$u" >/dev/null 2>&1 && tools="$tools faya-nethttp"
  local perf=""
  perf stat -e instructions:u -x, -- true 2>&1 | grep -q '^[0-9]' && perf="perf stat -e instructions:u -x, -o"
  echo "tool rep wall cpu rss_kb requests conns user sys" >"$out/runs.txt"
  taskset -c 0 h2load -n 20000 -c 1 -m 100 "$u" >/dev/null 2>&1 || true # warm up
  for rep in $(seq "$REPS"); do
    for shape in 1 10; do
      for tool in $tools; do
        local cmd=""
        case $tool in
          h2load) cmd="h2load -n $n -c $shape -m $((100 / shape)) $u" ;;
          faya) cmd="$BIN/faya run --http 2 -c 100 --max-conns-per-host $shape -n $n --insecure -q --json $out/$tool-$shape.$rep.json $u" ;;
          go-nethttp) cmd="$BIN/h2nethttp -c 100 -m $shape -n $n $u" ;;
          faya-nethttp) cmd="$BIN/faya run --engine net/http --http 2 -c 100 --max-conns-per-host $shape -n $n --insecure -q --json $out/$tool-$shape.$rep.json $u" ;;
        esac
        [ -n "$perf" ] && cmd="$perf $out/$tool-$shape.$rep.perf $cmd"
        measure nginx-h2 "$tool-$shape" "$rep" "$out/$tool-$shape.$rep" "$cmd" >>"$out/runs.txt"
      done
    done
  done
  echo
  echo "HTTP/2 over TLS, nginx target: $n requests per run"
  python3 - "$out" <<'PY' | tee "$out/summary.md"
import glob, os, statistics as st, sys
out = sys.argv[1]
rows = [l.split() for l in open(os.path.join(out, "runs.txt")).read().splitlines()[1:]]
by = {}
for tool, rep, wall, cpu, rss, req, conns, user, sys_ in rows:
    by.setdefault(tool, []).append((float(wall), float(cpu), int(req), int(conns), float(user), float(sys_), rep))
def instr(tool, rep, req):
    f = os.path.join(out, f"{tool}.{rep}.perf")
    if not os.path.exists(f):
        return None
    for line in open(f):
        p = line.split(",")
        if len(p) > 2 and p[2].startswith("instructions") and p[0].isdigit():
            return int(p[0]) / max(req, 1)
    return None
print("| tool, shape | reps | req/s (median) | req per CPU-s (median) | user µs/req | sys µs/req | vs h2load, same rep (median) | instructions:u per req | target conns |")
print("|---|---|---|---|---|---|---|---|---|")
for tool in sorted(by, key=lambda t: (t.rsplit("-", 1)[1].zfill(3), t)):
    rs = by[tool]
    shape = tool.rsplit("-", 1)[1]
    base = by.get("h2load-" + shape)
    rpc = st.median(r[2] / r[1] for r in rs if r[1])
    vs = "—"
    if base and not tool.startswith("h2load"):
        vs = "%.2fx" % st.median((t[2] / t[1]) / (b[2] / b[1]) for t, b in zip(rs, base) if t[1] and b[1])
    ins = [i for i in (instr(tool, r[6], r[2]) for r in rs) if i]
    insn = "%.0f" % st.median(ins) if ins else "n/a"
    print(f"| {tool} | {len(rs)} | {st.median(r[2] / r[0] for r in rs):,.0f} | {rpc:,.0f} | {st.median(r[4] / r[2] * 1e6 for r in rs):.2f} | {st.median(r[5] / r[2] * 1e6 for r in rs):.2f} | {vs} | {insn} | {rs[0][3]} |")
PY
}

case $SECTIONS in
  closed) closed ;;
  h2) h2 ;;
  stalls) stalls ;;
  rate) rate ;;
  memory) memory ;;
  scenario) scenario ;;
  proxy) proxy ;;
  all) closed; rate; memory; scenario; proxy; h2 ;;
  *) echo "usage: bench/compare.sh [closed|rate|memory|scenario|proxy|h2|stalls|all]" >&2; exit 2 ;;
esac
echo "raw records: $OUT" >&2
