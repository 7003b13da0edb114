package engine

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
)

// loginFake is fakeClient with a slower answer for setup steps: a login.
type loginFake struct {
	fakeClient
	login time.Duration
}

func (f loginFake) do(ctx context.Context, r *request, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	if r.step.setup {
		f.fakeClient.service = f.login
	}
	return f.fakeClient.do(ctx, r, intended, s, out)
}

func runLoginFake(t *testing.T, p Plan, login, service time.Duration) *Result {
	t.Helper()
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	e.fakeClock = true
	e.newClient = func(*Scenario, int) (client, error) {
		return loginFake{fakeClient{service: service, e: e}, login}, nil
	}
	res, err := e.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func openLoginPlan(rate int64, d time.Duration, pre, max int) Plan {
	return Plan{Scenarios: []Scenario{{
		Name:     "shop",
		Executor: Executor{Type: ConstantRate, Rate: RatePerSecond(rate), Duration: d, PreVUs: pre, MaxVUs: max},
		Setup:    []Step{{Name: "login", Method: http.MethodPost, URL: "http://127.0.0.1:1/login"}},
		Steps:    []Step{{Name: "browse", URL: "http://127.0.0.1:1/items"}},
	}}}
}

// An open-model VU logs in before it takes arrivals: the login (500 ms)
// is setup, never an iteration's schedule lag or latency, and a VU is busy
// once while it logs in.
func TestOpenModelSetupApart(t *testing.T) {
	t.Run("pre-allocated", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// 5 VUs at 20 ms per request carry 100/s without growing.
			res := runLoginFake(t, openLoginPlan(100, time.Second, 5, 50), 500*time.Millisecond, 20*time.Millisecond)
			s := res.Total
			if s.Intended != 100 || s.Sent != 100 || s.Dropped != 0 {
				t.Errorf("intended %d sent %d dropped %d, want 100 sent", s.Intended, s.Sent, s.Dropped)
			}
			checkLoginApart(t, s, 20*time.Millisecond)
			if s.Setup != 5 || s.VUsAllocated != 5 {
				t.Errorf("setup requests %d, VUs allocated %d: want 5 logins, by the 5 pre-allocated VUs", s.Setup, s.VUsAllocated)
			}
			// The schedule starts once the pre-allocated VUs are set up.
			if res.Duration < 1500*time.Millisecond {
				t.Errorf("duration %v, want the 500 ms of logins and then the 1 s schedule", res.Duration)
			}
		})
	})
	t.Run("added during the run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// 100/s at 50 ms needs 5 VUs: 4 are added, each logging in
			// for 500 ms while arrivals that find none free are dropped.
			res := runLoginFake(t, openLoginPlan(100, 2*time.Second, 1, 50), 500*time.Millisecond, 50*time.Millisecond)
			s := res.Total
			if s.Intended != 200 || s.Sent+s.Dropped != 200 || s.Dropped == 0 {
				t.Errorf("intended %d sent %d dropped %d, want 200, some dropped while VUs logged in", s.Intended, s.Sent, s.Dropped)
			}
			checkLoginApart(t, s, 50*time.Millisecond)
			if s.Setup != s.VUsAllocated || s.VUsAllocated < 5 {
				t.Errorf("setup requests %d, VUs allocated %d: want one login per VU, at least 5 VUs", s.Setup, s.VUsAllocated)
			}
		})
	})
}

func checkLoginApart(t *testing.T, s *metrics.Snapshot, service time.Duration) {
	t.Helper()
	lag, lat := metrics.DistOf(s.Hist(metrics.ScheduleLag)), metrics.DistOf(s.Hist(metrics.Latency))
	if lag.Max != 0 || s.Late != 0 {
		t.Errorf("schedule lag max %v, late %d: want 0, the logins outside the iterations", lag.Max, s.Late)
	}
	if lat.Max > service+service/100 {
		t.Errorf("latency max %v, want the %v of a request: no login in it", lat.Max, service)
	}
	if s.VUsBusyMax > s.VUsAllocated {
		t.Errorf("VUs busy at most %d with %d allocated: a VU counted twice", s.VUsBusyMax, s.VUsAllocated)
	}
}

// A VU whose login fails with on_failure: stop-vu stops, and is counted;
// the failed login counts as a failed setup and a failed check.
func TestStopVUCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := openLoginPlan(0, 0, 0, 0)
		p.Scenarios[0].Executor = Executor{Type: VUs, VUs: 3, Iterations: 30}
		p.Scenarios[0].Setup[0].Check = Check{Status: []int{201}, OnFailure: FailStopVU} // the fake answers 200
		res := runLoginFake(t, p, 10*time.Millisecond, 10*time.Millisecond)
		s := res.Total
		if s.VUsStopped != 3 || s.SetupFailed != 3 || s.ChecksFailed != 3 || s.Requests != 0 {
			t.Errorf("VUs stopped %d, setup failed %d, checks failed %d, requests %d: want 3, 3, 3 and no iteration",
				s.VUsStopped, s.SetupFailed, s.ChecksFailed, s.Requests)
		}
	})
}
