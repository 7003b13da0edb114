package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
)

// The tests in this file hold the rules both engines take from the one
// accounting path (engine/client.go, transport/answer.go): the redirect
// rule, and a connection's close reason from its answer's facts.

// TestRedirectMethods: 301, 302 and 303 turn a POST into a GET without
// its body, 307 and 308 repeat the method and the body, a HEAD stays a
// HEAD, on both engines.
func TestRedirectMethods(t *testing.T) { forEachEngine(t, testRedirectMethods) }

func testRedirectMethods(t *testing.T, eng string) {
	var mu sync.Mutex
	var seen []string // method and body length at /final
	url := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, ok := strings.CutPrefix(r.URL.Path, "/r/"); ok {
			_, _ = io.Copy(io.Discard, r.Body)
			var status int
			_, _ = fmt.Sscan(code, &status)
			w.Header().Set("Location", "/final")
			w.WriteHeader(status)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %d", r.Method, len(b)))
		mu.Unlock()
	}))
	for _, tc := range []struct {
		method string
		status int
		want   string
	}{
		{"POST", 301, "GET 0"},
		{"POST", 302, "GET 0"},
		{"POST", 303, "GET 0"},
		{"POST", 307, "POST 3"},
		{"POST", 308, "POST 3"},
		{"HEAD", 302, "HEAD 0"},
		{"PUT", 307, "PUT 3"},
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		p := closedOn(eng, fmt.Sprintf("%s/r/%d", url, tc.status), 1, 2)
		p.Scenarios[0].Steps[0].Method = tc.method
		if tc.method != "HEAD" {
			p.Scenarios[0].Steps[0].Body = []byte("abc")
		}
		s := run(t, p).Total
		if s.Requests != 2 || s.Status[200] != 2 || s.Redirects != 2 {
			t.Errorf("%s %d: requests %d, 200s %d, redirects %d; want 2 each (errors %v)", tc.method, tc.status, s.Requests, s.Status[200], s.Redirects, s.ErrExample)
		}
		mu.Lock()
		got := strings.Join(seen, ", ")
		mu.Unlock()
		if want := tc.want + ", " + tc.want; got != want {
			t.Errorf("%s %d: /final saw %q, want %q", tc.method, tc.status, got, want)
		}
	}
}

// TestBadLocation: a redirect whose Location is no URL fails the request
// with class protocol on both engines, and its connection, which the
// server closes, is closed for reason server.
func TestBadLocation(t *testing.T) { forEachEngine(t, testBadLocation) }

func testBadLocation(t *testing.T, eng string) {
	url := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://[::1")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusFound)
	}))
	const n = 5
	s := run(t, closedOn(eng, url+"/", 1, n)).Total
	if s.Requests != n || s.Errors != n || s.ErrCount[metrics.ErrProtocol] != n {
		t.Fatalf("requests %d, errors %d (examples %v); want %d, all protocol", s.Requests, s.Errors, s.ErrExample, n)
	}
	if got := s.CloseReasons[metrics.CloseServer]; got != n || s.Dialed != n {
		t.Errorf("dialed %d, closed by the server %d (close reasons %v); want %d each", s.Dialed, got, s.CloseReasons, n)
	}
}

// TestCutCloseAnswer: a body cut at the cap whose answer also said
// "Connection: close" is closed for reason body_not_drained (the cut
// comes first) on both engines.
func TestCutCloseAnswer(t *testing.T) { forEachEngine(t, testCutCloseAnswer) }

func testCutCloseAnswer(t *testing.T, eng string) {
	url := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = w.Write(make([]byte, 5000))
	}))
	const n = 5
	p := closedOn(eng, url+"/", 1, n)
	p.MaxBody = 100
	s := run(t, p).Total
	if s.Requests != n || s.Truncated != n || s.CloseAnswers != n {
		t.Fatalf("requests %d, truncated %d, close answers %d; want %d each (errors %v)", s.Requests, s.Truncated, s.CloseAnswers, n, s.ErrExample)
	}
	if got := s.CloseReasons[metrics.CloseBodyNotDrained]; got != n {
		t.Errorf("closed body_not_drained %d, want %d (close reasons %v)", got, n, s.CloseReasons)
	}
}

// TestGoScenarioProxyRedirect: a Go scenario's requests go through the
// plan's proxy on both engines (each hop of the redirect http.Client
// follows is a request, forwarded by the proxy and marked with it, over
// the proxy's connections).
func TestGoScenarioProxyRedirect(t *testing.T) { forEachEngine(t, testGoScenarioProxyRedirect) }

func testGoScenarioProxyRedirect(t *testing.T, eng string) {
	url := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hop" {
			http.Redirect(w, r, "/final", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "final")
	}))
	px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{User: "u", Password: "pw", SourceIP: proxyIP})
	const vus, iters = 2, 10
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "code",
		Executor: engine.Executor{Type: engine.VUs, VUs: vus, Iterations: iters},
		Func: &engine.Func{Iteration: func(ctx context.Context, vu *engine.VU) error {
			req, _ := http.NewRequestWithContext(engine.WithStep(ctx, "hop"), "GET", url+"/hop", nil)
			resp, err := vu.Client().Do(req)
			if err != nil {
				return err
			}
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || string(b) != "final" || resp.StatusCode != 200 {
				return fmt.Errorf("status %d body %q err %v", resp.StatusCode, b, err)
			}
			return nil
		}},
	}}}
	p.Proxy.URLs = []string{px.URLWithAuth()}
	s := run(t, p).Total
	const n = 2 * iters // a redirect and its target per iteration
	if s.Requests != n || s.OK != n || s.Errors != 0 || s.ChecksFailed != 0 {
		t.Fatalf("requests %d ok %d errors %d checks failed %d (%v); want %d ok", s.Requests, s.OK, s.Errors, s.ChecksFailed, s.ErrExample, n)
	}
	if st := px.Stats(); st.Forwards != n || st.AuthFailures != 0 {
		t.Errorf("proxy stats %+v: want %d forwards", st, n)
	}
	if len(s.Proxies) != 1 {
		t.Fatalf("per-proxy accounts %+v: want one proxy", s.Proxies)
	}
	if pa := s.Proxies[0]; pa.Requests != n || pa.Fresh+pa.Reused != n || pa.Dialed != s.Dialed || pa.Dialed != px.Stats().Conns {
		t.Errorf("proxy accounts %+v (run dialed %d, the proxy accepted %d): want %d requests over the proxy's connections", pa, s.Dialed, px.Stats().Conns, n)
	}
}

// TestCloseDelimitedAnswer: an answer whose body ends when the server
// closes (no Content-Length, no chunking) is a close answer on both
// engines (net/http's Response.Close), and its connection closes for
// reason server: one connection per request, as the server accepted.
func TestCloseDelimitedAnswer(t *testing.T) { forEachEngine(t, testCloseDelimitedAnswer) }

func testCloseDelimitedAnswer(t *testing.T, eng string) {
	var accepted atomic.Int64
	url := testserver.Raw(t, func(c net.Conn) {
		accepted.Add(1)
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n\r\nhello"))
		}
		_ = c.Close()
	})
	const n = 3
	s := run(t, closedOn(eng, url, 1, n)).Total
	if s.Requests != n || s.OK != n || s.BodyBytes != 5*n {
		t.Fatalf("requests %d, ok %d, body bytes %d; want %d answers of 5 bytes (errors %v)", s.Requests, s.OK, s.BodyBytes, n, s.ErrExample)
	}
	if got := accepted.Load(); s.Dialed != got || got != n {
		t.Errorf("dialed %d, the server accepted %d; want %d", s.Dialed, got, n)
	}
	if s.CloseAnswers != n || s.CloseReasons[metrics.CloseServer] != n {
		t.Errorf("close answers %d, closed by the server %d; want %d each (close reasons %v)", s.CloseAnswers, s.CloseReasons[metrics.CloseServer], n, nonzero(s.CloseReasons[:]))
	}
}

// A request whose own header says "Connection: close" asks for the close:
// both engines close its connection as keepalives_disabled and count no
// close answer, so no finding tells the user to fix the server.
func TestClientAskedClose(t *testing.T) { forEachEngine(t, testClientAskedClose) }

func testClientAskedClose(t *testing.T, eng string) {
	srv := testserver.Start(t)
	const n = 6
	p := closedOn(eng, srv.URL+"/", 2, n)
	p.Scenarios[0].Steps[0].Header = http.Header{"Connection": {"close"}}
	s := run(t, p).Total
	if s.Requests != n || s.OK != n {
		t.Fatalf("requests %d, ok %d; want %d (errors %v)", s.Requests, s.OK, n, s.ErrExample)
	}
	if st := srv.Stats(); s.Dialed != n || st.ConnsNew != n {
		t.Errorf("dialed %d, the server accepted %d; want %d (a connection per request)", s.Dialed, st.ConnsNew, n)
	}
	if s.CloseAnswers != 0 || s.CloseReasons[metrics.CloseKeepAlivesDisabled] != n {
		t.Errorf("close answers %d, keepalives_disabled %d; want 0 and %d (close reasons %v)", s.CloseAnswers, s.CloseReasons[metrics.CloseKeepAlivesDisabled], n, nonzero(s.CloseReasons[:]))
	}
}
