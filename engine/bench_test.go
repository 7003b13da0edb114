package engine_test

import (
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
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
			if res.Total.Requests != int64(b.N) || res.Total.Errors != 0 {
				b.Fatalf("requests %d errors %d, want %d and 0", res.Total.Requests, res.Total.Errors, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(res.Total.Dialed), "dials")
		})
	}
}
