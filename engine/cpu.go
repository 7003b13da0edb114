package engine

import "time"

// cpuMeter measures the process's CPU time (user and system) from the
// moment it was made: the run's start.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func newCPUMeter() cpuMeter {
	c, ok := processCPU()
	return cpuMeter{start: c, ok: ok}
}

// used returns the CPU time used since the meter was made, and whether it
// could be read.
func (m cpuMeter) used() (time.Duration, bool) {
	c, ok := processCPU()
	if !ok || !m.ok {
		return 0, false
	}
	return c - m.start, true
}
