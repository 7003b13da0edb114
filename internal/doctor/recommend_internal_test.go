package doctor

import (
	"go/parser"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/transport"
)

// The recommended pool at its edges: never fewer than 2 connections,
// never an idle timeout under 1 s (80% of the server's timeout above
// that, rounded down to what a person types), Go's default when the
// server kept the idle connection.
func TestRecommendPoolFloors(t *testing.T) {
	for _, tc := range []struct {
		holds  int
		seen   bool
		server time.Duration
		conns  int
		idle   time.Duration
	}{
		{holds: 0, conns: 2, idle: transport.DefaultIdleConnTimeout},
		{holds: 1, conns: 2, idle: transport.DefaultIdleConnTimeout},
		{holds: 2, conns: 2, idle: transport.DefaultIdleConnTimeout},
		{holds: 16, conns: 16, idle: transport.DefaultIdleConnTimeout},
		{holds: 1, seen: true, server: time.Millisecond, conns: 2, idle: time.Second},
		{holds: 4, seen: true, server: 300 * time.Millisecond, conns: 4, idle: time.Second},
		{holds: 4, seen: true, server: 1200 * time.Millisecond, conns: 4, idle: time.Second}, // 960 ms
		{holds: 4, seen: true, server: 1250 * time.Millisecond, conns: 4, idle: time.Second},
		{holds: 4, seen: true, server: 1300 * time.Millisecond, conns: 4, idle: time.Second}, // 1.04 s
		{holds: 4, seen: true, server: 2 * time.Second, conns: 4, idle: 1600 * time.Millisecond},
		{holds: 4, seen: true, server: 12500 * time.Millisecond, conns: 4, idle: 10 * time.Second},
		{holds: 4, seen: true, server: time.Minute, conns: 4, idle: 48 * time.Second},
	} {
		conns, idle := recommendPool(tc.holds, tc.seen, tc.server)
		if conns != tc.conns || idle != tc.idle {
			t.Errorf("holds %d, server timeout %v (seen %v): %d connections, idle %v; want %d, %v", tc.holds, tc.server, tc.seen, conns, idle, tc.conns, tc.idle)
		}
	}
}

// The report of a server that closes idle connections after 300 ms and
// is at its best with 1 connection: the pool is 2 and 1 s, the text and
// the Go literal say why, and the fix is the server's.
func TestReportAtTheFloors(t *testing.T) {
	r := &Report{URL: "http://127.0.0.1:8080/", Requests: 50, Dialed: 1, KeepAlive: true, Proto: "HTTP/1.1",
		IdleSeen: true, IdleTimeout: 300 * time.Millisecond,
		Steps: []Step{{Concurrency: 1, Runs: []float64{1000}, RPS: 1000, Requests: 500}, {Concurrency: 2, Runs: []float64{700}, RPS: 700, Requests: 350}}}
	v := Judge(r.Steps)
	r.Saturation, r.Holds = v.Knee, v.Recommend
	r.MaxConnsPerHost, r.IdleConnTimeout = recommendPool(v.Recommend, r.IdleSeen, r.IdleTimeout)
	if r.Holds != 1 || r.MaxConnsPerHost != 2 || r.IdleConnTimeout != time.Second {
		t.Fatalf("holds %d, pool %d, idle %v: want 1, 2, 1s", r.Holds, r.MaxConnsPerHost, r.IdleConnTimeout)
	}
	var b strings.Builder
	if err := r.Text(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"throughput reaches its best (within the steps' spread) at 1 concurrent requests\n",
		"the pool below has 2 connections all the same",
		"The server closes idle connections after 300ms: too soon for a client to close them first",
		"fix: raise the server's keep-alive timeout (e.g. nginx keepalive_timeout) well above 1s",
		"faya run --max-conns-per-host 2 --max-idle-conns-per-host 2 --max-idle-conns 2 --idle-conn-timeout 1s URL",
		"MaxConnsPerHost:       2, // at least 2, though throughput was at its best at 1 concurrent requests",
		"IdleConnTimeout:       1 * time.Second, // the least faya recommends: the server's 300ms is too short",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "fix: --idle-conn-timeout") || strings.Contains(text, "so the client closes first") {
		t.Errorf("report recommends a client timeout it cannot keep below the server's:\n%s", text)
	}
	if _, err := parser.ParseExpr(r.GoTransport()); err != nil {
		t.Errorf("the Go literal does not parse: %v\n%s", err, r.GoTransport())
	}
}
