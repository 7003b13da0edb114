package engine

import (
	"testing"
	"time"
)

func TestSleepers(t *testing.T) {
	for name, s := range map[string]sleeper{"precise": newSleeper(true), "timer": newSleeper(false)} {
		t.Run(name, func(t *testing.T) {
			defer s.close()
			for _, d := range []time.Duration{50 * time.Microsecond, time.Millisecond, 3 * time.Millisecond} {
				start := time.Now()
				if !s.sleep(d, nil) {
					t.Fatalf("sleep(%v) reported a stop", d)
				}
				if got := time.Since(start); got < d {
					t.Errorf("sleep(%v) returned after %v", d, got)
				}
			}
			stop := make(chan struct{})
			close(stop)
			start := time.Now()
			if s.sleep(time.Hour, stop) {
				t.Error("sleep with a closed stop reported the whole wait")
			}
			if got := time.Since(start); got > time.Second {
				t.Errorf("a stopped sleep took %v", got)
			}
		})
	}
}
