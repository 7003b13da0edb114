#!/usr/bin/env python3
"""bench/instr_areas.py [--cache] A.cg B.cg N: instructions per request by area.

Reads two callgrind profiles of `faya run` (bench/instr.sh run), the second
with N more requests than the first, and prints the difference of each
area's instructions divided by N. An area is a set of functions (exclusive
costs), matched by name below. With --cache (profiles made with
--cache-sim=yes: bench/instr.sh cache) it prints, beside the
instructions, the L1 data-cache misses (reads and writes) and the L1
instruction-cache misses per request.
"""
import collections
import re
import subprocess
import sys


def area(path, fn):
    # memclrNoHeapPointers: the interval's histograms cleared (ResetYield);
    # nothing on a request's path clears that much memory.
    if ('hdrhistogram' in fn or 'rawHist).fold' in fn or 'Merge' in fn or 'Flush' in fn or 'ResetYield' in fn
            or 'memclrNoHeapPointers' in fn):
        return 'per-second: histogram folds and merges'
    if 'sockstat' in fn or 'etlink' in fn or 'cli.' in fn or 'progress' in fn or 'diagnose' in fn:
        return 'per-second: TIME_WAIT count, live view'
    if ('runtime.gc' in fn or 'mgc' in path or 'mbitmap' in path or 'scanObject' in fn or 'findObject' in fn
            or 'greentea' in path or 'mheap' in path or 'mspan' in fn or 'mwbbuf' in path or 'pcvalue' in fn
            or 'runtime.step' in fn):
        return 'runtime: GC (and stack scans)'
    if 'internal/http1' in fn and 'reader.go' in path:
        return 'http1 reader'
    if 'internal/http1' in fn and 'pool.go' in path:
        return 'http1 pool'
    if 'internal/http1' in fn:
        return 'http1 client'
    if 'faya/transport' in fn:
        return 'transport'
    if 'faya/metrics' in fn:
        return 'metrics'
    if 'faya/engine' in fn:
        return 'engine'
    if fn.startswith('time.') or 'nanotime' in fn or 'runtimeNano' in fn or 'time_linux' in path or 'walltime' in fn:
        return 'clock (time, nanotime, vDSO)'
    if 'yscall' in fn:
        return 'runtime: system call entry and exit'
    if (fn.startswith('runtime.') or fn.startswith('internal/poll') or fn.startswith('internal/runtime')
            or 'sync' in fn or fn.startswith('net.')):
        return 'runtime: scheduler, netpoll, locks, maps'
    return 'other (bytes, memmove, ...)'


def areas(profile, events):
    """Each area's total of each event: {event: Counter(area: count)}."""
    out = subprocess.run(['callgrind_annotate', '--threshold=100', '--show=' + ','.join(events), profile],
                         capture_output=True, text=True, check=True).stdout
    total = {e: collections.Counter() for e in events}
    # A line: one "count (pct%)" or "." per event, then file:function.
    cell = r'\s*(?:([\d,]+)(?: \([^)]*\))?|\.)'
    line_re = re.compile(r'^' + cell * len(events) + r'\s+(\S+?):(\S+)')
    for line in out.splitlines():
        m = line_re.match(line)
        if not m or 'PROGRAM' in line or 'file:function' in line:
            continue
        a = area(m.group(len(events) + 1), m.group(len(events) + 2))
        for i, e in enumerate(events):
            if m.group(i + 1):
                total[e][a] += int(m.group(i + 1).replace(',', ''))
    return total


def main():
    args = sys.argv[1:]
    cache = args[:1] == ['--cache']
    if cache:
        args = args[1:]
    events = ['Ir', 'D1mr', 'D1mw', 'I1mr'] if cache else ['Ir']
    ta, tb, n = areas(args[0], events), areas(args[1], events), int(args[2])
    a, b = ta['Ir'], tb['Ir']

    def per(e, k):
        return (tb[e][k] - ta[e][k]) / n

    def row(name, ks):
        cols = '%7.0f' % sum(per('Ir', k) for k in ks)
        if cache:
            r = sum(per('D1mr', k) for k in ks)
            w = sum(per('D1mw', k) for k in ks)
            cols += '  %6.1f %6.1f %6.1f %7.1f' % (r, w, r + w, sum(per('I1mr', k) for k in ks))
        print('%-45s %s' % (name, cols))

    if cache:
        print('%-45s %7s  %6s %6s %6s %7s' % ('area (per request)', 'instr', 'D1mr', 'D1mw', 'D1 miss', 'I1 miss'))
    keys = sorted(set(a) | set(b), key=lambda k: a[k] - b[k])
    for k in keys:
        row(k, [k])
    path = [k for k in keys if not k.startswith('per-second') and 'GC' not in k]
    row('request path (all but per-second and GC)', path)
    # The runtime's areas (and the clock, which the scheduler reads too)
    # depend on timing: under a busier machine valgrind's run is slower,
    # more goroutines wait at each poll and the scheduler's counts move by
    # hundreds. faya's own code does the same work per request whatever
    # the load: compare builds by this line when the machine is shared.
    row("faya's code (request path less runtime, clock)",
        [k for k in keys if not k.startswith(('per-second', 'runtime', 'clock'))])


if __name__ == '__main__':
    main()
