package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// processRunDelay returns how long the process's threads have waited for a
// CPU while runnable (the second field of each thread's
// /proc/self/task/TID/schedstat, summed), and whether it could be read.
// Threads that exited no longer count: the sum is a lower bound.
func processRunDelay() (time.Duration, bool) {
	paths, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(paths) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		f := bytes.Fields(b)
		if len(f) < 2 {
			return 0, false
		}
		ns, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return 0, false
		}
		sum += time.Duration(ns)
	}
	return sum, true
}
