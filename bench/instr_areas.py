#!/usr/bin/env python3
"""bench/instr_areas.py A.cg B.cg N: instructions per request by area.

Reads two callgrind profiles of `faya run` (bench/instr.sh run), the second
with N more requests than the first, and prints the difference of each
area's instructions divided by N. An area is a set of functions (exclusive
costs), matched by name below.
"""
import collections
import re
import subprocess
import sys


def area(path, fn):
    if 'hdrhistogram' in fn or 'rawHist).fold' in fn or 'Merge' in fn or 'Flush' in fn:
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


def areas(profile):
    out = subprocess.run(['callgrind_annotate', '--threshold=100', profile],
                         capture_output=True, text=True, check=True).stdout
    total = collections.Counter()
    for line in out.splitlines():
        m = re.match(r'\s*([\d,]+) \([^)]*\)\s+(\S+):(\S+)', line)
        if m:
            total[area(m.group(2), m.group(3))] += int(m.group(1).replace(',', ''))
    return total


def main():
    a, b, n = areas(sys.argv[1]), areas(sys.argv[2]), int(sys.argv[3])
    path = 0.0
    for k in sorted(set(a) | set(b), key=lambda k: a[k] - b[k]):
        v = (b[k] - a[k]) / n
        print('%-45s %7.0f' % (k, v))
        if not k.startswith('per-second') and 'GC' not in k:
            path += v
    print('%-45s %7.0f' % ('request path (all but per-second and GC)', path))
    # The runtime's areas (and the clock, which the scheduler reads too)
    # depend on timing: under a busier machine valgrind's run is slower,
    # more goroutines wait at each poll and the scheduler's counts move by
    # hundreds. faya's own code does the same work per request whatever
    # the load: compare builds by this line when the machine is shared.
    own = sum((b[k] - a[k]) / n for k in set(a) | set(b)
              if not k.startswith(('per-second', 'runtime', 'clock')))
    print('%-45s %7.0f' % ("faya's code (request path less runtime, clock)", own))


if __name__ == '__main__':
    main()
