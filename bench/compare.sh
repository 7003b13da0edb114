#!/usr/bin/env bash
# bench/compare.sh: faya against wrk, hey, bombardier and vegeta on one closed
# job, on this machine.
#
#   bench/compare.sh                  # 3 reps of every tool, about 4 minutes
#   REPS=1 N=50000 D=3s bench/compare.sh   # a quick look
#   TOOLS="faya hey" bench/compare.sh      # a subset
#
# The built-in target (faya target) runs pinned to CPU 1, each load tool
# pinned to CPU 0 (so Go tools run with GOMAXPROCS=1). The job: 50
# connections/VUs, 200,000 requests, or 10 s for the tools that have no
# request count (wrk, vegeta). CPU is the tool's user+sys from
# /usr/bin/time; requests and connections are what the target counted on a
# separate admin port whose connections are not counted. Results go to
# bench/results/<timestamp>/ and the table to stdout.
#
# It installs what is missing: wrk, hey and time from Debian (apt-get, as
# root), vegeta v12.13.0 and bombardier v1.2.6 from the Go module proxy into
# bench/.bin (Debian's "bombardier" package is a game, not the HTTP tool).
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
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

cmdline() {
  case $1 in
    wrk) echo "wrk -t1 -c$C -d$D $URL" ;;
    hey) echo "hey -n $N -c $C $URL" ;;
    bombardier) echo "$BIN/bombardier -c $C -n $N -p r $URL" ;;
    vegeta) echo "sh -c 'echo GET $URL | $BIN/vegeta attack -rate=0 -workers=$C -max-workers=$C -duration=$D > /dev/null'" ;;
    faya) echo "$BIN/faya run -c $C -n $N $URL" ;;
  esac
}

# warm up the target
taskset -c 0 wrk -t1 -c"$C" -d2s "$URL" >/dev/null 2>&1 || true

echo "tool rep wall user sys rss_kb requests conns" >"$OUT/runs.txt"
for rep in $(seq "$REPS"); do
  for tool in $TOOLS; do
    d=$OUT/$tool.$rep
    curl -fs "http://127.0.0.1:$A/reset" >/dev/null
    cmd=$(cmdline "$tool")
    echo "$cmd" >"$d.cmd"
    echo "rep $rep: $cmd" >&2
    eval taskset -c 0 /usr/bin/time -v -o "$d.time" timeout -k 5 120 "$cmd" >"$d.out" 2>&1 || echo "  $tool exited non-zero" >&2
    stats=$(curl -fs "http://127.0.0.1:$A/stats")
    python3 - "$tool" "$rep" "$d.time" "$stats" >>"$OUT/runs.txt" <<'PY'
import json, re, sys
tool, rep, tf, stats = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
t = open(tf).read()
def f(label):
    m = re.search(re.escape(label) + r":\s*(\S+)", t)
    return m.group(1) if m else "0"
w = f("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(x) for x in w.split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
print(tool, rep, wall, f("User time (seconds)"), f("System time (seconds)"),
      f("Maximum resident set size (kbytes)"), stats["requests"], stats["conns_new"])
PY
  done
done

python3 - "$OUT/runs.txt" "$REPS" <<'PY' | tee "$OUT/summary.md"
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
by = {}
for tool, rep, wall, user, sys_, rss, req, conns in rows:
    by.setdefault(tool, []).append((float(wall), float(user) + float(sys_), int(rss), int(req), int(conns)))
print(f"| tool | reps | req/s (median) | CPU-s per 100k req | req per CPU-s | peak RSS MB | target conns |")
print("|---|---|---|---|---|---|---|")
for tool, rs in by.items():
    rps = st.median(r[3] / r[0] for r in rs)
    cpu = st.median(r[1] / r[3] * 1e5 for r in rs if r[3])
    rss = st.median(r[2] for r in rs) / 1024
    conns = sorted(r[4] for r in rs)
    crange = f"{st.median(conns):.0f}" + (f" ({conns[0]}–{conns[-1]})" if conns[0] != conns[-1] else "")
    print(f"| {tool} | {len(rs)} | {rps:,.0f} | {cpu:.2f} | {1e5 / cpu:,.0f} | {rss:.1f} | {crange} |")
PY
echo "raw records: $OUT" >&2
