package engine

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faya-load/faya/metrics"
)

// fakeClient answers every request after a fixed time, on the bubble's
// fake clock.
type fakeClient struct{ service time.Duration }

func (f fakeClient) do(_ context.Context, _ int, s *metrics.Sample) error {
	time.Sleep(f.service)
	s.Status = 200
	s.Latency = f.service
	return nil
}

func fakePlan(vus int, n int64, d time.Duration) Plan {
	return Plan{Scenarios: []Scenario{{
		Name:     "fake",
		Executor: Executor{Type: VUs, VUs: vus, Iterations: n, Duration: d},
		Steps:    []Step{{URL: "http://127.0.0.1:1/"}},
	}}}
}

func runFake(t *testing.T, ctx context.Context, p Plan, service time.Duration) *Result {
	t.Helper()
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	e.newClient = func(*Scenario, int) (client, error) { return fakeClient{service}, nil }
	res, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestClosedDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 2 VUs, 30 ms per request, 1 s: each VU starts requests at
		// 0, 30, ..., 990 ms (34 of them); the last ends at 1020 ms.
		res := runFake(t, t.Context(), fakePlan(2, 0, time.Second), 30*time.Millisecond)
		if res.Total.Requests != 68 {
			t.Errorf("requests = %d, want 68", res.Total.Requests)
		}
		if res.Duration != 1020*time.Millisecond {
			t.Errorf("duration = %v, want 1.02s (the last request started before the deadline finishes)", res.Duration)
		}
		if res.Interrupted {
			t.Error("a run that reached its duration is not interrupted")
		}
		// One point per second, and one for the tail after the last tick.
		if len(res.Timeline) != 2 || res.Timeline[0].Requests != 66 || res.Timeline[1].Requests != 2 {
			t.Errorf("timeline = %+v, want 66 requests in the first second and 2 after", res.Timeline)
		}
	})
}

func TestClosedIterationsBeforeDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := runFake(t, t.Context(), fakePlan(3, 10, time.Hour), 10*time.Millisecond)
		if res.Total.Requests != 10 {
			t.Errorf("requests = %d, want 10", res.Total.Requests)
		}
		// 10 requests on 3 VUs: 4 rounds of 10 ms.
		if res.Duration != 40*time.Millisecond {
			t.Errorf("duration = %v, want 40ms: -n ends the run without waiting for -d", res.Duration)
		}
	})
}

func TestClosedStopFinishesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(500*time.Millisecond, cancel)
		// Starts at 0, 40, ..., 480 ms (13 per VU); the ones started at
		// 480 ms finish at 520 ms.
		res := runFake(t, ctx, fakePlan(2, 0, time.Minute), 40*time.Millisecond)
		if !res.Interrupted {
			t.Error("Interrupted = false after the context was canceled")
		}
		if res.Total.Requests != 26 {
			t.Errorf("requests = %d, want 26", res.Total.Requests)
		}
		if res.Duration != 520*time.Millisecond {
			t.Errorf("duration = %v, want 520ms", res.Duration)
		}
	})
}
