package engine

import "time"

// cpuMeter measures the process's CPU time (user and system), and the
// time its threads waited for a CPU, from the moment it was made: the
// run's start.
type cpuMeter struct {
	start, delay time.Duration
	ok, delayOK  bool
}

func newCPUMeter() cpuMeter {
	c, ok := processCPU()
	d, dok := processRunDelay()
	return cpuMeter{start: c, ok: ok, delay: d, delayOK: dok}
}

// waited returns how long the process's threads waited for a CPU while
// runnable since the meter was made, and whether it could be read.
func (m cpuMeter) waited() (time.Duration, bool) {
	d, ok := processRunDelay()
	if !ok || !m.delayOK {
		return 0, false
	}
	return max(d-m.delay, 0), true
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
