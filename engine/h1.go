package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/faya-load/faya/http1"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// h1Clients builds the http1 pools of a plan (one shared, or one per VU)
// and a factory of clients over them.
func h1Clients(plan Plan, obs transport.Observer, epoch time.Time) (clientFactory, []pool, error) {
	newPool := func() (*http1.Pool, error) {
		d, err := transport.NewDialer(plan.Transport, obs, transport.WithEpoch(epoch))
		if err != nil {
			return nil, err
		}
		return http1.NewPool(d), nil
	}
	var shared *http1.Pool
	var perVU []*http1.Pool
	var pools []pool
	if plan.ConnScope != ScopeVU {
		p, err := newPool()
		if err != nil {
			return nil, nil, err
		}
		shared = p
		pools = append(pools, p)
	} else {
		perVU = make([]*http1.Pool, plan.VUs())
		for i := range perVU {
			p, err := newPool()
			if err != nil {
				return nil, nil, err
			}
			perVU[i] = p
			pools = append(pools, p)
		}
	}
	factory := func(sc *Scenario, vu int) (client, error) {
		p := shared
		if p == nil {
			p = perVU[vu]
		}
		cl := http1.NewClient(p)
		cl.Timeout = plan.Timeout
		cl.ResponseHeaderTimeout = plan.Transport.ResponseHeaderTimeout
		cl.MaxBody = plan.MaxBody
		cl.MaxRedirects = plan.MaxRedirects
		c := &h1Client{cl: cl}
		for i, st := range sc.Steps {
			h := st.Header.Clone()
			if plan.Transport.DisableKeepAlives {
				if h == nil {
					h = map[string][]string{}
				}
				h.Set("Connection", "close") // as net/http does
			}
			r, err := http1.Prepare(st.Method, st.URL, h, st.Body)
			if err != nil {
				return nil, fmt.Errorf("step %d: %w", i+1, err)
			}
			c.reqs = append(c.reqs, r)
		}
		return c, nil
	}
	return factory, pools, nil
}

// h1Client sends one VU's requests through the http1 engine.
type h1Client struct {
	cl   *http1.Client
	reqs []*http1.Request
	res  http1.Result
}

func (c *h1Client) do(ctx context.Context, step int, intended time.Duration, s *metrics.Sample) error {
	err := c.cl.Do(ctx, c.reqs[step], &c.res)
	r := &c.res
	fillTimes(s, r.Start, r.End, intended, &r.Timings)
	s.Err = metrics.Classify(err)
	if err == nil {
		s.Status = r.Status
	}
	s.BodyBytes, s.Truncated = r.BodyBytes, r.Truncated
	s.CloseAnswer, s.HTTP10 = r.CloseAnswer, r.HTTP10
	s.Fresh, s.Reused = r.Fresh, r.Reused
	s.WasIdle, s.IdleTime = r.WasIdle, r.IdleTime
	s.Retries, s.Redirects = r.Retries, r.Redirects
	s.BytesSent, s.BytesReceived = r.BytesSent, r.BytesReceived
	return err
}
