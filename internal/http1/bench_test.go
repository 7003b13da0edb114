package http1

import (
	"strings"
	"testing"
)

// BenchmarkReader is the parsing cost of one small keep-alive response.
func BenchmarkReader(b *testing.B) {
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\nDate: Wed, 25 Nov 2026 17:00:00 GMT\r\n\r\nfaya target: ok\n"
	src := strings.NewReader("")
	rd := NewReader()
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(resp)
		rd.Reset(src)
		if _, err := rd.ReadResponse(false, -1, nil, true); err != nil {
			b.Fatal(err)
		}
	}
}
