package transport

import (
	"math/bits"
	"time"

	"github.com/faya-load/faya/metrics"
)

// FillTimes sets a sample's end, latency, service time, schedule lag and
// phases from a request's start and end (on the run's clock) and its
// timings. intended is the request's intended start for an open-model
// request, and negative otherwise: then the latency runs from the actual
// start. Every engine (and inspect) measures through it, so they measure
// the same way.
func FillTimes(s *metrics.Sample, start, end, intended time.Duration, tm *Timings) {
	s.End = end
	s.Latency = end - start
	blocked, _ := tm.Get(metrics.PhaseBlocked)
	streamWait, _ := tm.Get(metrics.PhaseStreamWait) // HTTP/2: a client-side queue too
	s.ServiceTime = s.Latency - blocked - streamWait
	if intended >= 0 {
		s.Scheduled = true
		s.Lag = start - intended
		s.Latency = end - intended
	}
	// The phases that happened (a kept-alive request has four of nine).
	for set := tm.set; set != 0; set &= set - 1 {
		i := bits.TrailingZeros16(set)
		s.Phases[i] = tm.d[i]
	}
	s.PhaseSet |= tm.set
}

// Measure fills s with what the tracer saw of the request that started
// at start and ended at end: its times (see [FillTimes]), the wait for a
// 100 Continue, the connections it got (the protocol of the last), whether the last was idle, and
// the retries and redirects. It ends the request's last hop; the bytes
// come with [Tracer.Release].
func (t *Tracer) Measure(s *metrics.Sample, start, end, intended time.Duration) {
	FillTimes(s, start, end, intended, t.Finish(end))
	s.Expect, s.ContinueWait = t.Expect()
	s.Fresh, s.Reused = t.Uses()
	s.WasIdle, s.IdleTime = t.Idle()
	s.Retries, s.Redirects = t.Retries(), t.Redirects()
	if c := t.conn; c != nil {
		s.Proto = c.Proto
		s.Dest = c.Dest
	}
}
