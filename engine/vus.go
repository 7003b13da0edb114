package engine

import (
	"context"
	"sync/atomic"

	"github.com/faya-load/faya/metrics"
	"golang.org/x/sync/errgroup"
)

// client sends requests for one VU. Each VU has its own, used by one
// goroutine at a time.
type client interface {
	// do sends step's request, reads the response, and fills s (zeroed by
	// the caller). It returns the request's error, which is also
	// classified in s.Err; the error is data, not a reason to stop.
	do(ctx context.Context, step int, s *metrics.Sample) error
}

// clientFactory returns the client for VU vu (0-based, unique in the run)
// of scenario sc.
type clientFactory func(sc *Scenario, vu int) (client, error)

// runClosed runs the scenario's VUs until they are done. Each VU loops
// over iterations until stop is done, the scenario's duration is over, or
// the scenario's iterations are used up. Requests run under reqCtx, so
// that the ones in flight when the run stops finish.
func runClosed(stop, reqCtx context.Context, sc *Scenario, firstVU int, newClient clientFactory, rec *metrics.Recorder) error {
	ex := sc.Executor
	if ex.Duration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeout(stop, ex.Duration)
		defer cancel()
	}
	var tickets atomic.Int64
	var g errgroup.Group
	for i := range ex.VUs {
		vu := firstVU + i
		g.Go(func() error {
			c, err := newClient(sc, vu)
			if err != nil {
				return err
			}
			shard := rec.Shard(vu)
			var s metrics.Sample
			for stop.Err() == nil {
				if ex.Iterations > 0 && tickets.Add(1) > ex.Iterations {
					return nil
				}
				for step := range sc.Steps {
					s = metrics.Sample{}
					err := c.do(reqCtx, step, &s)
					shard.Record(&s, err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}
