package engine

import "time"

// sleeper waits for the next intended start. The portable one is a
// time.Timer; on Linux a precise one is used (see sleep_linux.go), because
// Go's timers wake an idle program up to a millisecond late.
type sleeper interface {
	// sleep waits for d, or until stop closes; it reports whether the
	// whole d passed.
	sleep(d time.Duration, stop <-chan struct{}) bool
	close()
}

type timerSleeper struct{ t *time.Timer }

func newTimerSleeper() *timerSleeper {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timerSleeper{t}
}

func (s *timerSleeper) sleep(d time.Duration, stop <-chan struct{}) bool {
	s.t.Reset(d)
	select {
	case <-s.t.C:
		return true
	case <-stop:
		s.t.Stop()
		return false
	}
}

func (s *timerSleeper) close() { s.t.Stop() }
