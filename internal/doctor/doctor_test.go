package doctor_test

import (
	"bufio"
	"bytes"
	"go/parser"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/doctor"
	"github.com/faya-load/faya/internal/testserver"
)

// quick bounds the probes for tests.
func quick(url string) doctor.Options {
	return doctor.Options{URL: url, KeepAliveRequests: 50, IdleWait: 2 * time.Second, MaxConcurrency: 4, Repeats: 2, StepTime: 200 * time.Millisecond, StepRequests: 2000}
}

func run(t *testing.T, o doctor.Options) *doctor.Report {
	t.Helper()
	r, err := doctor.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.Text(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	// The recommended Transport is a Go expression a user can paste.
	if _, err := parser.ParseExpr(r.GoTransport()); err != nil {
		t.Errorf("the Go literal does not parse: %v\n%s", err, r.GoTransport())
	}
	return r
}

func TestIdleTimeoutProbe(t *testing.T) {
	tg := testserver.Start(t)
	srv := httptest.NewUnstartedServer(tg.Target)
	srv.Config.IdleTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	r := run(t, quick(srv.URL+"/"))
	if !r.KeepAlive || r.Proto != "HTTP/1.1" || r.Dialed != 1 || r.RequestsPerConn != 0 {
		t.Errorf("keep-alive probe: %+v", r)
	}
	if !r.IdleSeen || r.IdleTimeout < 290*time.Millisecond || r.IdleTimeout > 500*time.Millisecond {
		t.Fatalf("idle timeout seen %v after %v, want about 300ms", r.IdleSeen, r.IdleTimeout)
	}
	// 80% of 300 ms is below the 1 s floor: 1 s, and the server's
	// timeout is the one to raise.
	if r.IdleConnTimeout != time.Second || !strings.Contains(r.Flags(), "--idle-conn-timeout 1s") {
		t.Errorf("recommended idle timeout %v (%s), want 1s, the floor", r.IdleConnTimeout, r.Flags())
	}
	var b strings.Builder
	_ = r.Text(&b)
	if !strings.Contains(b.String(), "fix: raise the server's keep-alive timeout") || strings.Contains(b.String(), "so the client closes first") {
		t.Errorf("the report does not send the fix to the server:\n%s", b.String())
	}
	// Loose: how far the ladder climbs depends on the machine; the pool
	// is never below 2.
	if len(r.Steps) == 0 || len(r.Steps) > 3 || r.Saturation < 1 || r.Holds < r.Saturation || r.Holds > 4 || r.MaxConnsPerHost != max(r.Holds, 2) {
		t.Errorf("saturation steps %+v, saturation %d, holds to %d, recommended %d", r.Steps, r.Saturation, r.Holds, r.MaxConnsPerHost)
	}
	for _, st := range r.Steps {
		if len(st.Runs) != 2 || st.Requests == 0 {
			t.Errorf("step %+v: want 2 runs with requests", st)
		}
	}
	if !r.SharedCPU {
		t.Errorf("a loopback target is not reported as sharing faya's CPUs")
	}
	if !strings.Contains(r.GoTransport(), "MaxConnsPerHost:       "+strconv.Itoa(r.MaxConnsPerHost)) {
		t.Errorf("the Go literal does not carry the recommendation:\n%s", r.GoTransport())
	}
}

func TestNoKeepAlive(t *testing.T) {
	srv := testserver.Start(t)
	o := quick(srv.URL + "/close")
	o.IdleWait = time.Hour // not probed: the server keeps nothing
	r := run(t, o)
	if r.KeepAlive || r.Dialed != r.Requests || r.IdleSeen {
		t.Errorf("report %+v, want no keep-alive and no idle probe", r)
	}
	found := false
	for _, f := range r.Findings {
		found = found || f.ID == "server-closes"
	}
	if !found {
		t.Errorf("findings %+v lack server-closes", r.Findings)
	}
}

func TestRequestLimitAndHTTP10(t *testing.T) {
	var mu sync.Mutex
	count := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count[r.RemoteAddr]++
		n := count[r.RemoteAddr]
		mu.Unlock()
		if n%10 == 0 {
			w.Header().Set("Connection", "close")
		}
	}))
	defer srv.Close()
	o := quick(srv.URL + "/")
	o.IdleWait = 300 * time.Millisecond
	if r := run(t, o); r.RequestsPerConn != 10 {
		t.Errorf("requests per connection %d, want 10", r.RequestsPerConn)
	}

	url := testserver.Raw(t, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			_, _ = c.Write([]byte("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		}
	})
	if r := run(t, quick(url)); r.Proto != "HTTP/1.0" || r.KeepAlive {
		t.Errorf("proto %s keep-alive %v, want HTTP/1.0 without", r.Proto, r.KeepAlive)
	}
}

func TestPlanIsStated(t *testing.T) {
	p := doctor.Options{URL: "http://127.0.0.1:1/"}.Plan()
	for _, want := range []string{"up to 33 short runs", "at most 200 requests or 3s", "at most 15s", "up to 256", "each step run 3 times for at most 500ms and 5000 requests", "drops beyond the steps' own spread",
		"4. busy then quiet", "then 1 VU for 1.5 T + 1s (at most 23.5s), with IdleConnTimeout at 80% of T",
		"at most 10000 streams (32 at once) or for 3s", "recommended HTTP/2 pool run 3 times"} {
		if !strings.Contains(p, want) {
			t.Errorf("plan %q lacks %q", p, want)
		}
	}
}
