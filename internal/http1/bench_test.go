package http1

import (
	"strings"
	"testing"
)

// BenchmarkReader is the parsing cost of one small keep-alive response.
func BenchmarkReader(b *testing.B) {
	benchRead(b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\nDate: Wed, 25 Nov 2026 17:00:00 GMT\r\n\r\nfaya target: ok\n")
}

// BenchmarkReaderNginx is BenchmarkReader for the answer of bench/nginx's
// configuration (nginx 1.22): five headers, a 65-byte body.
func BenchmarkReaderNginx(b *testing.B) {
	benchRead(b, "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 13:57:30 GMT\r\nContent-Type: text/plain\r\nContent-Length: 65\r\nConnection: keep-alive\r\n\r\nnginx-bench-ok-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM\n")
}

// BenchmarkReaderNginxNewDate is BenchmarkReaderNginx with every head
// differing from the one before (the Date alternates), as a server's heads
// do when each request falls in a new second: no head is found again.
func BenchmarkReaderNginxNewDate(b *testing.B) {
	benchRead(b, "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 13:57:30 GMT\r\nContent-Type: text/plain\r\nContent-Length: 65\r\nConnection: keep-alive\r\n\r\nnginx-bench-ok-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM\n",
		"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 13:57:31 GMT\r\nContent-Type: text/plain\r\nContent-Length: 65\r\nConnection: keep-alive\r\n\r\nnginx-bench-ok-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM\n")
}

// benchRead reads the responses in turn, one per op.
func benchRead(b *testing.B, resps ...string) {
	src := strings.NewReader("")
	rd := NewReader()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		resp := resps[i%len(resps)]
		i++
		src.Reset(resp)
		rd.Reset(src)
		if _, err := rd.ReadResponse(false, -1, nil, true); err != nil {
			b.Fatal(err)
		}
	}
}
