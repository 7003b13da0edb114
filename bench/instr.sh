#!/usr/bin/env bash
# bench/instr.sh: user-space instructions per operation, counted by
# valgrind (callgrind), which a machine shared with other work does not
# disturb. This VM has no hardware counters ("perf stat -e instructions"
# answers <not supported>), so the count is valgrind's.
#
#   bench/instr.sh bench PKG BENCH [N1 N2]   # a Go benchmark: instructions per op
#   bench/instr.sh run URL [N1 N2]           # faya run -c 50 -n N URL: instructions per request, by area
#   bench/instr.sh cache URL [N1 N2]         # the same run with valgrind's cache simulation:
#                                            # instructions, L1 data and instruction misses per request, by area
#   bench/instr.sh lines URL [N1 N2]         # the code lines (64 B) each request runs, by function
#                                            # (bench/hot_lines.py): its instruction-cache footprint
#   FAYA=/path/to/faya bench/instr.sh run URL  # another build (default: this checkout's)
#   FAYA_ARGS="--engine net/http --http 2 --insecure -c 100 --max-conns-per-host 1" bench/instr.sh run URL
#                                            # more flags for faya run (after -c 50: a -c here wins)
#
# Each runs twice, N1 and N2 ops (10,000 and 60,000 for a benchmark,
# 20,000 and 70,000 requests for a run), and divides the difference by
# N2-N1, so that start-up costs drop out. A run under valgrind is about 15x
# slower, so its once-a-second work (the interval's histogram merges, the
# TIME_WAIT count, the live view) weighs about 15x more per request than it
# does at full speed: the areas marked "per-second" are shown apart, and
# the request path is the sum of the others. Go runs with GOMAXPROCS=1 and
# asynchronous preemption off (valgrind and Go's preemption signals do not
# mix well). Profiles stay in $OUT (default /tmp/faya-instr) for
# callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "bench/instr.sh: needs valgrind (apt-get install -y valgrind)" >&2; exit 2; }
OUT=${OUT:-/tmp/faya-instr}
mkdir -p "$OUT"
mode=${1:-}
case $mode in
bench)
  pkg=${2:?package}; bench=${3:?benchmark}; n1=${4:-10000}; n2=${5:-60000}
  bin=$OUT/$(echo "$pkg" | tr / _).test
  go test -c -o "$bin" "$pkg"
  dir=$(go list -f '{{.Dir}}' "$pkg")
  count() {
    (cd "$dir" && GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$OUT/$bench.$1.cg" \
      "$bin" -test.run=NONE -test.bench="^${bench}\$" -test.benchtime="${1}x" -test.benchmem 2>&1 >"$OUT/$bench.$1.out" |
      awk '/Collected/{print $4}')
  }
  a=$(count "$n1"); b=$(count "$n2")
  grep -h "allocs/op" "$OUT/$bench.$n2.out" || true
  python3 -c "print('$bench: %.0f instructions per op' % (($b-$a)/($n2-$n1)))"
  ;;
run | cache | lines)
  url=${2:?URL}; n1=${3:-20000}; n2=${4:-70000}
  faya=${FAYA:-$OUT/faya}
  [ -n "${FAYA:-}" ] || go build -o "$faya" ./cmd/faya
  sim=() areas=()
  # The simulated caches are the host's (valgrind reads CPUID): on this
  # VM a 48 KiB 12-way L1d with 64-byte lines.
  [ "$mode" = cache ] && sim=(--cache-sim=yes) areas=(--cache)
  [ "$mode" = lines ] && sim=(--dump-instr=yes)
  for n in "$n1" "$n2"; do
    GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 taskset -c 0 valgrind --tool=callgrind "${sim[@]}" --callgrind-out-file="$OUT/$mode.$n.cg" \
      "$faya" run -c 50 ${FAYA_ARGS:-} -n "$n" "$url" >"$OUT/$mode.$n.out" 2>"$OUT/$mode.$n.valgrind"
  done
  if [ "$mode" = lines ]; then
    python3 bench/hot_lines.py "$OUT/$mode.$n1.cg" "$OUT/$mode.$n2.cg" $((n2 - n1))
  else
    python3 bench/instr_areas.py "${areas[@]}" "$OUT/$mode.$n1.cg" "$OUT/$mode.$n2.cg" $((n2 - n1))
  fi
  ;;
*)
  sed -n '2,24p' "$0" >&2
  exit 2
  ;;
esac
