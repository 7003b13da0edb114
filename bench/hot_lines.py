#!/usr/bin/env python3
"""bench/hot_lines.py A.cg B.cg N [MIN]: the code a request runs, in cache lines.

Reads two callgrind profiles of `faya run` made with --dump-instr=yes
(bench/instr.sh lines), the second with N more requests than the first,
and counts the 64-byte lines of code that hold an instruction run at
least MIN times per request (default 0.5), by function: the request's
code footprint, which the L1 instruction cache (32 KiB here) has to hold
from one request to the next. The once-a-second work (histogram folds,
merges and reads) is left out, as bench/instr_areas.py leaves it out of
the request path.
"""
import collections
import re
import sys


def load(path):
    """Instructions run at each address, and each address's function."""
    runs, fn_of, names = collections.Counter(), {}, {}
    fn, last, skip = None, [0, 0], False
    with open(path) as f:
        for line in f:
            if not line or line[0] in '#\n':
                continue
            if line[0].isalpha():
                if line.startswith('calls='):
                    skip = True  # the next line is the call's inclusive cost
                    continue
                m = re.match(r'(c?fn)=\((\d+)\)(?: (.*))?', line.strip())
                if m:
                    if m.group(3):
                        names[m.group(2)] = m.group(3)
                    if m.group(1) == 'fn':
                        fn = names.get(m.group(2))
                continue
            parts = line.split()
            pos = []
            for i in range(2):  # positions: instr line (compressed)
                t = parts[i]
                if t == '*':
                    v = last[i]
                elif t[0] in '+-':
                    v = last[i] + int(t, 0)
                else:
                    v = int(t, 0)
                pos.append(v)
            last = pos
            if skip:
                skip = False
                continue
            runs[pos[0]] += int(parts[2]) if len(parts) > 2 else 0
            fn_of[pos[0]] = fn
    return runs, fn_of


def per_second(fn):
    return 'hdrhistogram' in fn or 'fold' in fn or 'Merge' in fn or 'memclrNoHeapPointers' in fn


def main():
    a, _ = load(sys.argv[1])
    b, fn_of = load(sys.argv[2])
    n = int(sys.argv[3])
    least = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
    lines = set()
    by_fn = collections.defaultdict(set)
    for addr, v in b.items():
        fn = (fn_of.get(addr) or '?').replace("'2", '')
        if (v - a.get(addr, 0)) / n >= least and not per_second(fn):
            lines.add(addr >> 6)
            by_fn[fn].add(addr >> 6)
    faya = set().union(*[s for f, s in by_fn.items() if 'faya-load/faya' in f] or [set()])
    print('code lines run per request (>= %.2f times): %d (%.1f KiB); faya\'s code %d, the rest %d'
          % (least, len(lines), len(lines) * 64 / 1024, len(faya), len(lines - faya)))
    for f, s in sorted(by_fn.items(), key=lambda kv: -len(kv[1]))[:40]:
        print('%5d  %s' % (len(s), f))


if __name__ == '__main__':
    main()
