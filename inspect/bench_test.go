package inspect_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/faya-load/faya/inspect"
	"github.com/faya-load/faya/internal/testserver"
)

// The cost of inspect per request, next to the same client without it,
// on a kept-alive loopback connection.
func BenchmarkRoundTrip(b *testing.B) {
	srv := testserver.Start(b)
	for _, bc := range []struct {
		name string
		rt   func() http.RoundTripper
	}{
		{"plain", func() http.RoundTripper { return &http.Transport{} }},
		{"inspect", func() http.RoundTripper { return inspect.Wrap(&http.Transport{}, inspect.Options{}) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := bc.rt()
			client := &http.Client{Transport: rt}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(srv.URL + "/")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
				c.CloseIdleConnections()
			}
		})
	}
}
