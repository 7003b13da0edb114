#!/usr/bin/env bash
# bench/compare.sh: faya against its peers on this machine.
#
#   bench/compare.sh          # both sections, about 8 minutes
#   bench/compare.sh closed   # closed job: wrk, hey, bombardier, vegeta, faya; about 4 minutes
#   bench/compare.sh rate     # open model: faya and vegeta at 1,000, 5,000 and 20,000 req/s; about 3 minutes
#   REPS=1 N=50000 D=3s bench/compare.sh closed   # a quick look
#   TOOLS="faya hey" bench/compare.sh closed      # a subset
#   RATES="5000" RD=5s bench/compare.sh rate
#
# Closed section:
# The built-in target (faya target) runs pinned to CPU 1, each load tool
# pinned to CPU 0 (so Go tools run with GOMAXPROCS=1). The job: 50
# connections/VUs, 200,000 requests, or 10 s for the tools that have no
# request count (wrk, vegeta). CPU is the tool's user+sys from
# /usr/bin/time; requests and connections are what the target counted on a
# separate admin port whose connections are not counted. Results go to
# bench/results/<timestamp>/ and the table to stdout.
#
# Rate section: each tool sends a constant arrival rate for 10 s (RD); the
# achieved rate is the target's request count over that time. faya reports
# latency from the intended start and its schedule lag; vegeta's latency is
# from when a worker took the tick.
#
# It installs what is missing: wrk, hey and time from Debian (apt-get, as
# root), vegeta v12.13.0 and bombardier v1.2.6 from the Go module proxy into
# bench/.bin (Debian's "bombardier" package is a game, not the HTTP tool).
set -euo pipefail
cd "$(dirname "$0")/.."

SECTIONS=${1:-all}
REPS=${REPS:-3}
RATES=${RATES:-"1000 5000 20000"}
RD=${RD:-10s}
N=${N:-200000}
C=${C:-50}
D=${D:-10s}
TOOLS=${TOOLS:-"wrk hey bombardier vegeta faya"}
BIN=$PWD/bench/.bin
OUT=$PWD/bench/results/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$BIN" "$OUT"

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v hey >/dev/null || need_apt+=(hey)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v taskset >/dev/null || need_apt+=(util-linux)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
[ -x "$BIN/vegeta" ] || GOBIN=$BIN go install github.com/tsenart/vegeta/v12@v12.13.0
[ -x "$BIN/bombardier" ] || GOBIN=$BIN go install github.com/codesenberg/bombardier@v1.2.6
go build -o "$BIN/faya" ./cmd/faya

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(port)
A=$(port)
URL=http://127.0.0.1:$P/
taskset -c 1 "$BIN/faya" target --addr "127.0.0.1:$P" --admin-addr "127.0.0.1:$A" 2>"$OUT/target.log" &
TPID=$!
trap 'kill $TPID 2>/dev/null' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$A/stats" >/dev/null 2>&1 && break; sleep 0.05; done

# warm up the target
taskset -c 0 wrk -t1 -c"$C" -d2s "$URL" >/dev/null 2>&1 || true

# measure TOOL REP DIR CMD...: runs CMD pinned to CPU 0 under /usr/bin/time
# and appends "tool rep wall cpu rss requests conns" to DIR/runs.txt.
measure() {
  local tool=$1 rep=$2 d=$3
  shift 3
  curl -fs "http://127.0.0.1:$A/reset" >/dev/null
  echo "$*" >"$d.cmd"
  echo "rep $rep: $*" >&2
  eval taskset -c 0 /usr/bin/time -v -o "$d.time" timeout -k 5 120 "$*" >"$d.out" 2>&1 || echo "  $tool exited non-zero" >&2
  local stats
  stats=$(curl -fs "http://127.0.0.1:$A/stats")
  python3 - "$tool" "$rep" "$d.time" "$stats" <<'PY'
import json, re, sys
tool, rep, tf, stats = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
t = open(tf).read()
def f(label):
    m = re.search(re.escape(label) + r":\s*(\S+)", t)
    return m.group(1) if m else "0"
w = f("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(x) for x in w.split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
cpu = float(f("User time (seconds)")) + float(f("System time (seconds)"))
print(tool, rep, wall, cpu, f("Maximum resident set size (kbytes)"), stats["requests"], stats["conns_new"])
PY
}

closed() {
  local out=$OUT/closed
  mkdir -p "$out"
  echo "tool rep wall cpu rss_kb requests conns" >"$out/runs.txt"
  for rep in $(seq "$REPS"); do
    for tool in $TOOLS; do
      case $tool in
        wrk) cmd="wrk -t1 -c$C -d$D $URL" ;;
        hey) cmd="hey -n $N -c $C $URL" ;;
        bombardier) cmd="$BIN/bombardier -c $C -n $N -p r $URL" ;;
        vegeta) cmd="sh -c 'echo GET $URL | $BIN/vegeta attack -rate=0 -workers=$C -max-workers=$C -duration=$D > /dev/null'" ;;
        faya) cmd="$BIN/faya run -c $C -n $N $URL" ;;
      esac
      measure "$tool" "$rep" "$out/$tool.$rep" "$cmd" >>"$out/runs.txt"
    done
  done
  echo
  echo "Closed job: $C connections, $N requests (or $D)"
  python3 - "$out/runs.txt" <<'PY' | tee "$out/summary.md"
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
by = {}
for tool, rep, wall, cpu, rss, req, conns in rows:
    by.setdefault(tool, []).append((float(wall), float(cpu), int(rss), int(req), int(conns)))
print("| tool | reps | req/s (median) | CPU-s per 100k req | req per CPU-s | peak RSS MB | target conns |")
print("|---|---|---|---|---|---|---|")
for tool, rs in by.items():
    rps = st.median(r[3] / r[0] for r in rs)
    cpu = st.median(r[1] / r[3] * 1e5 for r in rs if r[3])
    rss = st.median(r[2] for r in rs) / 1024
    conns = sorted(r[4] for r in rs)
    crange = f"{st.median(conns):.0f}" + (f" ({conns[0]}-{conns[-1]})" if conns[0] != conns[-1] else "")
    print(f"| {tool} | {len(rs)} | {rps:,.0f} | {cpu:.2f} | {1e5 / cpu:,.0f} | {rss:.1f} | {crange} |")
PY
}

rate() {
  local out=$OUT/rate
  mkdir -p "$out"
  echo "tool rate rep wall cpu rss_kb requests conns p99_ms lag_p99_ms dropped" >"$out/runs.txt"
  local secs=${RD%s}
  for rep in $(seq "$REPS"); do
    for r in $RATES; do
      for tool in vegeta faya; do
        d=$out/$tool.$r.$rep
        case $tool in
          vegeta) cmd="sh -c 'echo GET $URL | $BIN/vegeta attack -rate=$r/s -duration=$RD -output $d.bin'" ;;
          faya) cmd="$BIN/faya run -r $r -d $RD --json $d.json $URL" ;;
        esac
        line=$(measure "$tool" "$rep" "$d" "$cmd")
        if [ "$tool" = vegeta ]; then
          "$BIN/vegeta" report -type=json "$d.bin" >"$d.json"
          extra=$(python3 -c "import json; j=json.load(open('$d.json')); print(j['latencies']['99th']/1e6, '-', 0)")
        else
          extra=$(python3 -c "import json; j=json.load(open('$d.json')); print(j['latency_ns']['p99']/1e6, j['schedule_lag_ns']['p99']/1e6, j['schedule']['dropped'])")
        fi
        set -- $line
        echo "$1 $r $2 $3 $4 $5 $6 $7 $extra" >>"$out/runs.txt"
      done
    done
  done
  echo
  echo "Open model: constant arrival rate for $RD"
  python3 - "$out/runs.txt" "$secs" <<'PY' | tee "$out/summary.md"
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
secs = float(sys.argv[2])
by = {}
for tool, rate, rep, wall, cpu, rss, req, conns, p99, lag, dropped in rows:
    by.setdefault((int(rate), tool), []).append((float(cpu), int(req), int(conns), float(p99), lag, int(dropped)))
print("| target req/s | tool | reps | achieved req/s (median) | of target | p99 latency ms | schedule lag p99 ms | dropped | target conns | CPU-s per 100k req |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (rate, tool), rs in sorted(by.items()):
    ach = st.median(r[1] / secs for r in rs)
    p99 = st.median(r[3] for r in rs)
    lag = "-" if rs[0][4] == "-" else f"{st.median(float(r[4]) for r in rs):.3f}"
    conns = sorted(r[2] for r in rs)
    crange = f"{st.median(conns):.0f}" + (f" ({conns[0]}-{conns[-1]})" if conns[0] != conns[-1] else "")
    cpu = st.median(r[0] / r[1] * 1e5 for r in rs if r[1])
    print(f"| {rate:,} | {tool} | {len(rs)} | {ach:,.0f} | {100 * ach / rate:.2f}% | {p99:.2f} | {lag} | {st.median(r[5] for r in rs):.0f} | {crange} | {cpu:.2f} |")
PY
}

case $SECTIONS in
  closed) closed ;;
  rate) rate ;;
  all) closed; rate ;;
  *) echo "usage: bench/compare.sh [closed|rate|all]" >&2; exit 2 ;;
esac
echo "raw records: $OUT" >&2
