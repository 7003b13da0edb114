package engine_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// BenchmarkEngine sends b.N requests (one op is one request) from 50 VUs
// to the in-process target, with every phase traced and recorded. Target
// and generator share the CPUs, so req/s is a lower bound; allocs/op is
// the generator's allocations per request (the target's included).
func BenchmarkEngine(b *testing.B) {
	for _, scope := range []engine.ConnScope{engine.ScopeShared, engine.ScopeVU} {
		b.Run(string(scope), func(b *testing.B) {
			srv := testserver.Start(b)
			p := closed(srv.URL+"/", 50, int64(b.N))
			p.ConnScope = scope
			res := benchRun(b, p)
			if res.Total.Requests != int64(b.N) || res.Total.Errors != 0 {
				b.Fatalf("requests %d errors %d, want %d and 0", res.Total.Requests, res.Total.Errors, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(res.Total.Dialed), "dials")
		})
	}
}

// BenchmarkScenario is BenchmarkEngine for a session: one op is one
// request of a 3-step iteration (list the items and extract an id, open
// that item with a JSON check, /me with a status check) by 50 VUs that
// logged in once. Compared with BenchmarkEngine/shared it shows what the
// session costs: templates, the cookie jar, extraction and checks
// (bench/compare.sh scenario measures the same in CPU per request).
func BenchmarkScenario(b *testing.B) {
	srv := testserver.Start(b)
	iterations := max(int64(b.N)/3, 1)
	p := engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "shop",
		Executor: engine.Executor{Type: engine.VUs, VUs: 50, Iterations: iterations},
		Setup: []engine.Step{{Name: "login", Method: "POST", URL: srv.URL + "/login",
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body:   []byte("user=user{{ .vu }}&password=secret")}},
		Steps: []engine.Step{
			{Name: "list", URL: srv.URL + "/items", Extract: []engine.Extract{{Var: "first", JSON: "$.items[0].id"}}},
			{Name: "item", URL: srv.URL + "/items/{{ .vars.first }}", Check: engine.Check{JSON: map[string]string{"name": "item {{ .vars.first }}"}}},
			{Name: "me", URL: srv.URL + "/me", Check: engine.Check{Status: []int{200}}},
		},
	}}}
	s := benchRun(b, p).Total
	if s.Requests != 3*iterations || s.Errors+s.HTTPErrors != 0 || s.ChecksFailed != 0 {
		b.Fatalf("requests %d (want %d), errors %d, http errors %d, checks failed %d", s.Requests, 3*iterations, s.Errors, s.HTTPErrors, s.ChecksFailed)
	}
	b.ReportMetric(float64(s.Requests)/b.Elapsed().Seconds(), "req/s")
}

// benchRun runs p with the benchmark's timer and allocation count on the
// run alone.
func benchRun(b *testing.B, p engine.Plan) *engine.Result {
	b.Helper()
	e, err := engine.New(p)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	res, err := e.Run(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	return res
}

// BenchmarkAutoTLS compares --http auto with the mode auto picks, on the
// default engine over TLS: an h2 server (auto against --http 2) and an
// HTTP/1.1 one (auto against --http 1.1), 50 VUs. The difference is what
// auto's routing costs per request (allocs/op, req/s).
func BenchmarkAutoTLS(b *testing.B) {
	for _, tc := range []struct {
		name string
		h2   bool
		mode transport.HTTPVersion
	}{
		{"h2 server/auto", true, transport.HTTPAuto},
		{"h2 server/2", true, transport.HTTP2},
		{"h1 server/auto", false, transport.HTTPAuto},
		{"h1 server/1.1", false, transport.HTTP1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte("ok"))
			}))
			srv.EnableHTTP2 = tc.h2
			srv.StartTLS()
			b.Cleanup(srv.Close)
			p := closed(srv.URL+"/", 50, int64(b.N))
			p.Transport.HTTP = tc.mode
			p.Transport.InsecureSkipVerify = true
			res := benchRun(b, p)
			if res.Total.OK != int64(b.N) {
				b.Fatalf("ok %d of %d: %v", res.Total.OK, b.N, res.Total.ErrExample)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkH2NetHTTP compares the net/http engine over HTTP/2 (--engine
// net/http --http 2, 100 VUs, one connection) with Go's http.Client on
// the same HTTP/2 server (Go's, over TLS, in process) from 100
// goroutines, as bench/h2nethttp: the difference in allocs/op and B/op
// is what the engine adds per request (the server's are in both).
func BenchmarkH2NetHTTP(b *testing.B) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	b.Cleanup(srv.Close)
	b.Run("engine", func(b *testing.B) {
		p := closed(srv.URL+"/", 100, int64(b.N))
		p.Engine = engine.EngineNetHTTP
		p.Transport.HTTP = transport.HTTP2
		p.Transport.MaxConnsPerHost = 1
		p.Transport.InsecureSkipVerify = true
		res := benchRun(b, p)
		if res.Total.OK != int64(b.N) || res.Total.Protocols[metrics.ProtoH2] != int64(b.N) {
			b.Fatalf("ok %d (h2 %d) of %d: %v", res.Total.OK, res.Total.Protocols[metrics.ProtoH2], b.N, res.Total.ErrExample)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("bare", func(b *testing.B) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true, //nolint:gosec // the test's own server
			MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ReportAllocs()
		b.ResetTimer()
		for range 100 {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					resp, err := client.Get(srv.URL + "/")
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}
