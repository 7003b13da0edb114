package doctor_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/doctor"
	"github.com/faya-load/faya/internal/testserver"
)

// The busy-then-quiet probe's verdict is a pure function of its numbers:
// the idle probe's recommendation stands unless the server closed idle
// connections before the client, and it is never lowered below 1 s.
func TestJudgeQuiet(t *testing.T) {
	base := doctor.Quiet{Busy: 16, BusyTime: time.Second, QuietTime: 8500 * time.Millisecond, IdleConnTimeout: 4 * time.Second,
		ServerTimeout: 5 * time.Second, Open: 16, Idle: 15, Requests: 20_000}
	with := func(f func(*doctor.Quiet)) doctor.Quiet { q := base; f(&q); return q }
	for _, tc := range []struct {
		name    string
		q       doctor.Quiet
		idle    time.Duration
		lowered bool
		says    string
	}{
		{"the client closed them first", with(func(q *doctor.Quiet) { q.ClientClosed = 15 }), 4 * time.Second, false,
			"the client closed 15 idle connections (of 16 open) at its IdleConnTimeout (4s), before the server; the server closed none: the recommendation holds"},
		{"the server closed them sooner with many idle", with(func(q *doctor.Quiet) { q.ServerClosed, q.ServerMin = 15, 2*time.Second+3*time.Millisecond }),
			1600 * time.Millisecond, true, "the soonest after 2.003s, before the client's IdleConnTimeout (4s) closed them (5s with one idle connection): IdleConnTimeout lowered to 1.6s"},
		{"the server closed some after the client's timeout had passed", with(func(q *doctor.Quiet) {
			q.ClientClosed, q.ServerClosed, q.ServerMin = 13, 2, 5*time.Second+10*time.Millisecond
		}), 4 * time.Second, false, "idle longer than the client's timeout, so the client was late to close them, and the recommendation stands"},
		{"never below 1 s", with(func(q *doctor.Quiet) { q.ServerClosed, q.ServerMin = 15, 1100*time.Millisecond }),
			4 * time.Second, false, "so raise the server's keep-alive timeout instead"},
		{"nothing sat idle", with(func(q *doctor.Quiet) { q.Open, q.Idle = 1, 0 }), 4 * time.Second, false, "left 1 connection open and none sat idle"},
		{"neither side closed", base, 4 * time.Second, false, "neither side closed the 15 idle connections within the quiet part's 8.5s"},
		{"failures are said", with(func(q *doctor.Quiet) { q.ClientClosed, q.Errors, q.Retries = 15, 3, 2 }), 4 * time.Second, false, "; 3 of 20000 requests failed, 2 were re-sent"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			v := doctor.JudgeQuiet(tc.q, 4*time.Second)
			if v.IdleConnTimeout != tc.idle || v.Lowered != tc.lowered || !strings.Contains(v.Reason, tc.says) {
				t.Errorf("JudgeQuiet = %+v; want %v (lowered %v), saying %q", v, tc.idle, tc.lowered, tc.says)
			}
		})
	}
}

// A server with a 2 s idle timeout: the probe keeps the ladder's pool
// busy for 1 s, then 1 VU for 4 s with the recommended 1.6 s, and the
// client closes the others first.
func TestQuietProbe(t *testing.T) {
	tg := testserver.Start(t)
	srv := httptest.NewUnstartedServer(tg.Target)
	srv.Config.IdleTimeout = 2 * time.Second
	srv.Start()
	defer srv.Close()
	o := quick(srv.URL + "/")
	o.IdleWait = 3 * time.Second
	r := run(t, o)
	if !r.IdleSeen || r.Quiet == nil {
		t.Fatalf("idle seen %v, quiet probe %+v: want it run", r.IdleSeen, r.Quiet)
	}
	q := *r.Quiet
	if q.Busy != max(r.MaxConnsPerHost, 2) || q.BusyTime != time.Second || q.QuietTime != (r.IdleTimeout*3/2+time.Second).Round(100*time.Millisecond) || q.IdleConnTimeout != (r.IdleTimeout*8/10).Truncate(100*time.Millisecond) {
		t.Errorf("probe %+v, recommended %d connections, server timeout %v: want %d VUs, 1s then 1.5 x %v + 1s, at 80%%", q, r.MaxConnsPerHost, r.IdleTimeout, max(r.MaxConnsPerHost, 2), r.IdleTimeout)
	}
	// Every connection but the quiet VU's was closed idle, by one side.
	if q.Open < 2 || q.Idle < 1 || q.ClientClosed+q.ServerClosed != q.Open-1 || q.ClientClosed == 0 || q.Errors != 0 {
		t.Errorf("probe %+v: want every connection but one closed idle, most by the client, no errors", q)
	}
	if v := doctor.JudgeQuiet(q, q.IdleConnTimeout); r.IdleConnTimeout != v.IdleConnTimeout || r.QuietVerdict != v {
		t.Errorf("recommended %v, verdict %+v: not the judge's %+v", r.IdleConnTimeout, r.QuietVerdict, v)
	}
	if q.ServerClosed == 0 && (r.QuietVerdict.Lowered || !strings.Contains(r.GoTransport(), "busy then quiet, it closed")) {
		t.Errorf("the client closed first, yet: %+v\n%s", r.QuietVerdict, r.GoTransport())
	}
}

// idleLimited is a server that keeps an idle connection for 3 s when it
// is the only one open but, while two or more are open, closes one that
// went idle after 1.5 s: a limit the idle probe's single connection cannot
// see. (Counting the connections idle at that moment instead made the test
// depend on which connection the quiet part's one VU took.)
func idleLimited(t *testing.T) string {
	tg := testserver.Start(t)
	srv := httptest.NewUnstartedServer(tg.Target)
	srv.Config.IdleTimeout = 3 * time.Second
	var mu sync.Mutex
	gen := map[net.Conn]int{}
	idle := map[net.Conn]bool{}
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		gen[c]++
		idle[c] = st == http.StateIdle
		if st == http.StateClosed || st == http.StateHijacked {
			delete(gen, c)
			delete(idle, c)
			return
		}
		if st != http.StateIdle || len(gen) < 2 {
			return
		}
		g := gen[c]
		time.AfterFunc(1500*time.Millisecond, func() {
			mu.Lock()
			still := gen[c] == g && idle[c]
			mu.Unlock()
			if still {
				_ = c.Close()
			}
		})
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// With many connections idle the server closes them sooner than with one:
// the probe lowers the recommended IdleConnTimeout below what it saw.
func TestQuietProbeLowers(t *testing.T) {
	o := quick(idleLimited(t))
	o.IdleWait = 4 * time.Second
	r := run(t, o)
	if !r.IdleSeen || r.IdleTimeout < 2900*time.Millisecond || r.Quiet == nil {
		t.Fatalf("idle seen %v after %v, quiet probe %+v: want about 3s and the probe run", r.IdleSeen, r.IdleTimeout, r.Quiet)
	}
	q := *r.Quiet
	if q.ServerClosed == 0 || q.ServerMin < 1400*time.Millisecond || q.ServerMin > 2*time.Second || !r.QuietVerdict.Lowered {
		t.Fatalf("probe %+v, verdict %+v: want the server's closes at about 1.5s and a lower timeout", q, r.QuietVerdict)
	}
	if r.IdleConnTimeout < time.Second || r.IdleConnTimeout >= q.ServerMin || !strings.Contains(r.Flags(), "--idle-conn-timeout "+r.IdleConnTimeout.String()) {
		t.Errorf("recommended %v (%s): want at least 1s, below the %v the server closed after", r.IdleConnTimeout, r.Flags(), q.ServerMin)
	}
	if !strings.Contains(r.GoTransport(), "busy then quiet, the server closed idle connections after") {
		t.Errorf("the Go literal does not say why:\n%s", r.GoTransport())
	}
}
