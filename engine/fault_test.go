package engine_test

import (
	"io"
	"log"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/transport"
)

// fault is one way a target (or a proxy) fails, and what both engines
// make of it: one error class, whichever engine saw it. A row with want
// ErrNone is a response both must accept, with its status and body.
type fault struct {
	name    string
	url     func(t testing.TB) string
	want    metrics.ErrClass
	example string             // a part of the class's example message
	edit    func(*engine.Plan) // timeouts
	proxy   func(t testing.TB) string
	status  int   // want ErrNone: the status
	body    int64 // want ErrNone: the body bytes
}

// answer is a fault row's server that answers every request with raw and
// closes the connection.
func answer(raw string) func(t testing.TB) string {
	return func(t testing.TB) string { return testserver.AnswerURL(t, raw) }
}

func timeout(d time.Duration) func(*engine.Plan) {
	return func(p *engine.Plan) { p.Timeout = d }
}

// stalled bounds the dial's own timeouts well above the request's: a
// stalled connect, handshake or CONNECT must end at the request's
// timeout, not at these.
func stalled(p *engine.Plan) {
	p.Timeout = 300 * time.Millisecond
	p.Transport.DialTimeout = 3 * time.Second
	p.Transport.TLSHandshakeTimeout = 3 * time.Second
}

const okHead = "HTTP/1.1 200 OK\r\n"

// faults is the fault table: the fault servers of internal/testserver and
// the byte sequences servers were seen to send.
var faults = []fault{
	{name: "refused", url: testserver.RefusedURL, want: metrics.ErrRefused, example: "connection refused"},
	{name: "reset", url: testserver.ResetURL, want: metrics.ErrReset, example: "reset"},
	{name: "eof", url: testserver.EOFURL, want: metrics.ErrEOF, example: "EOF"},
	{name: "garbage", url: testserver.GarbageURL, want: metrics.ErrProtocol, example: "malformed HTTP"},
	// 200 bytes that cannot start a status line, no newline, then the
	// close: the same protocol error as with a newline.
	{name: "garbage-no-newline", url: answer(strings.Repeat("\x16\x03garbage\x01", 20)), want: metrics.ErrProtocol, example: "malformed HTTP"},
	// An HTTP/2-only server (nginx h2c) answers HTTP/1.1 with its
	// SETTINGS frame.
	{name: "http2-preface", url: answer(testserver.HTTP2Settings), want: metrics.ErrProtocol, example: "malformed HTTP"},
	{name: "status-line-cut", url: answer("HTTP/1.1 20"), want: metrics.ErrProtocol, example: "malformed HTTP"},
	{name: "status-code-short", url: answer("HTTP/1.1 20 OK\r\n\r\n"), want: metrics.ErrProtocol, example: "malformed HTTP"},
	{name: "status-below-100", url: answer("HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n"), want: metrics.ErrProtocol, example: "status"},
	{name: "headers-cut", url: answer(okHead + "Content-Length: 5\r\n"), want: metrics.ErrEOF, example: "EOF"},
	{name: "header-cut-no-colon", url: answer(okHead + "Content-Len"), want: metrics.ErrProtocol, example: "malformed"},
	{name: "header-no-colon", url: answer(okHead + "no colon here\r\n\r\n"), want: metrics.ErrProtocol, example: "malformed"},
	{name: "header-bad-name", url: answer(okHead + "Bad(Name): x\r\nContent-Length: 0\r\n\r\n"), want: metrics.ErrProtocol, example: "malformed"},
	{name: "header-first-folded", url: answer(okHead + " X-A: b\r\nContent-Length: 0\r\n\r\n"), want: metrics.ErrProtocol, example: "malformed"},
	{name: "header-nul", url: answer(okHead + "X-A: a\x00b\r\nContent-Length: 0\r\n\r\n"), want: metrics.ErrProtocol, example: "malformed"},
	{name: "header-bare-cr", url: answer(okHead + "X-A: a\rb\r\nContent-Length: 0\r\n\r\n"), want: metrics.ErrProtocol, example: "malformed"},
	{name: "content-length-bad", url: answer(okHead + "Content-Length: abc\r\n\r\n"), want: metrics.ErrProtocol, example: "Content-Length"},
	{name: "content-length-empty", url: answer(okHead + "Content-Length: \r\n\r\n"), want: metrics.ErrProtocol, example: "Content-Length"},
	{name: "content-length-signed", url: answer(okHead + "Content-Length: +5\r\n\r\nhello"), want: metrics.ErrProtocol, example: "Content-Length"},
	{name: "content-length-overflow", url: answer(okHead + "Content-Length: 9223372036854775808\r\n\r\n"), want: metrics.ErrProtocol, example: "Content-Length"},
	{name: "content-lengths-differ", url: answer(okHead + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello"), want: metrics.ErrProtocol, example: "Content-Length"},
	{name: "content-lengths-differ-204", url: answer("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n"), want: metrics.ErrProtocol, example: "Content-Length"},
	{name: "te-identity", url: answer(okHead + "Transfer-Encoding: identity\r\n\r\nhello"), want: metrics.ErrProtocol, example: "transfer encoding"},
	{name: "te-gzip-chunked", url: answer(okHead + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), want: metrics.ErrProtocol, example: "transfer encoding"},
	{name: "te-unknown", url: answer(okHead + "Transfer-Encoding: foo\r\n\r\nhello"), want: metrics.ErrProtocol, example: "transfer encoding"},
	{name: "te-twice", url: answer(okHead + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), want: metrics.ErrProtocol, example: "transfer encoding"},
	{name: "chunk-size-bad", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"), want: metrics.ErrProtocol, example: "chunk"},
	{name: "chunk-size-too-long", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n"), want: metrics.ErrProtocol, example: "chunk"},
	{name: "chunk-size-bare-lf", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"), want: metrics.ErrProtocol, example: "chunk"},
	{name: "chunk-data-no-crlf", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"), want: metrics.ErrProtocol, example: "chunk"},
	{name: "chunk-data-bare-lf", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n"), want: metrics.ErrProtocol, example: "chunk"},
	{name: "trailer-bad", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n"), want: metrics.ErrProtocol, example: "malformed"},
	{name: "trailer-cut", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\n"), want: metrics.ErrEOF, example: "EOF"},
	{name: "body-cut", url: answer(okHead + "Content-Length: 1000\r\n\r\n0123456789"), want: metrics.ErrEOF, example: "EOF"},
	{name: "chunked-cut", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789"), want: metrics.ErrEOF, example: "EOF"},
	{name: "body-reset", url: testserver.BodyResetURL, want: metrics.ErrReset, example: "reset"},
	// A Location that is no URL: the redirect cannot be followed. Its
	// example is bounded, with the length it had.
	{name: "location-bad", url: answer("HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: /" + strings.Repeat("a", 900_000) + "%zz\r\n\r\n"),
		want: metrics.ErrProtocol, example: "bytes)"},
	// Bytes a terminal would obey, in a header: refused, and the example
	// escaped.
	{name: "header-escapes", url: answer(okHead + "X-A: \x1b]0;owned\x07\x1b[2J\r\nContent-Length: 0\r\n\r\n"), want: metrics.ErrProtocol, example: `\x1b`},
	{name: "headers-endless", url: func(t testing.TB) string {
		return testserver.FloodURL(t, okHead, "X-Filler: "+strings.Repeat("a", 100)+"\r\n")
	}, want: metrics.ErrProtocol, example: "header", edit: func(p *engine.Plan) { p.Transport.MaxResponseHeaderBytes = 64 << 10 }},
	{name: "1xx-flood", url: func(t testing.TB) string {
		return testserver.FloodURL(t, "", "HTTP/1.1 100 Continue\r\n\r\n")
	}, want: metrics.ErrProtocol, example: "header"},
	{name: "silent", url: testserver.SilentURL, want: metrics.ErrTimeout, example: "timeout after", edit: timeout(200 * time.Millisecond)},
	{name: "response-header-timeout", url: testserver.SilentURL, want: metrics.ErrTimeout, example: "awaiting response headers", edit: func(p *engine.Plan) {
		p.Transport.ResponseHeaderTimeout = 200 * time.Millisecond
	}},
	{name: "connect-stalled", url: testserver.BacklogURL, want: metrics.ErrTimeout, example: "timeout after", edit: stalled},
	{name: "tls-stalled", url: func(t testing.TB) string {
		return strings.Replace(testserver.SilentURL(t), "http://", "https://", 1)
	}, want: metrics.ErrTimeout, example: "timeout after", edit: stalled},
	{name: "proxy-connect-stalled", url: func(t testing.TB) string { return "https://127.0.0.1:9/" }, want: metrics.ErrTimeout, example: "timeout after",
		edit: stalled, proxy: testserver.SilentURL},
	{name: "socks5-stalled", url: func(t testing.TB) string { return "http://127.0.0.1:9/" }, want: metrics.ErrTimeout, example: "timeout after",
		edit: stalled, proxy: func(t testing.TB) string { return strings.Replace(testserver.SilentURL(t), "http://", "socks5://", 1) }},
	{name: "tls-unknown-authority", url: func(t testing.TB) string { return testserver.StartTLS(t).URL + "/" }, want: metrics.ErrTLS, example: "certificate"},

	// Valid answers both engines accept (RFC 9112, and net/http where the
	// RFC leaves a choice).
	{name: "content-length-19-digits", url: answer(okHead + "Content-Length: 0000000000000000005\r\n\r\nhello"), status: 200, body: 5},
	{name: "chunk-size-16-digits", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n0000000000000005\r\nhello\r\n0\r\n\r\n"), status: 200, body: 5},
	{name: "chunk-extension", url: answer(okHead + "Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"), status: 200, body: 5},
	{name: "obs-fold", url: answer(okHead + "X-Folded: a\r\n b\r\n\tc\r\nContent-Length: 5\r\n\r\nhello"), status: 200, body: 5},
	{name: "status-spaces", url: answer("HTTP/1.1  200 OK\r\nContent-Length: 5\r\n\r\nhello"), status: 200, body: 5},
	{name: "status-no-reason", url: answer("HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello"), status: 200, body: 5},
	{name: "status-600", url: answer("HTTP/1.1 600 Beyond\r\nContent-Length: 0\r\n\r\n"), status: 600},
	{name: "status-999", url: answer("HTTP/1.1 999 Far beyond\r\nContent-Length: 5\r\n\r\nhello"), status: 999, body: 5},
	{name: "http10-te-ignored", url: answer("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), status: 200, body: 15},
	{name: "te-chunked-overrides-length", url: answer(okHead + "Content-Length: 100\r\nTransfer-Encoding: Chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n"), status: 200, body: 5},
	{name: "content-lengths-same", url: answer(okHead + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), status: 200, body: 5},
	{name: "header-name-space", url: answer(okHead + "Content-Length : 99\r\nContent-Length: 5\r\n\r\nhello"), status: 200, body: 5},
	{name: "body-to-close", url: answer(okHead + "\r\nhello"), status: 200, body: 5},
	{name: "1xx-then-answer", url: answer("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n" + okHead + "Content-Length: 5\r\n\r\nhello"), status: 200, body: 5},
}

// Both engines classify each fault of the table the same way, keep a
// bounded, printable example of it, and count no status for a request
// that failed (a response whose body failed included); both accept the
// valid answers with their status and body.
func TestFaults(t *testing.T) { forEachEngine(t, testFaults) }

func testFaults(t *testing.T, eng string) {
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			const n = 4
			p := closedOn(eng, f.url(t), 2, n)
			p.MaxRedirects = 3
			if f.edit != nil {
				f.edit(&p)
			}
			if f.proxy != nil {
				p.Proxy.URLs = []string{f.proxy(t)}
			}
			res := run(t, p)
			s := res.Total
			statuses := int64(0)
			for _, c := range s.Status {
				statuses += c
			}
			if f.want == metrics.ErrNone {
				if s.Requests != n || s.Errors != 0 || s.Status[f.status] != n || s.BodyBytes != n*f.body {
					t.Fatalf("requests %d, errors %d (%v, %q), status %d: %d, body bytes %d; want %d answers %d with %d bytes each",
						s.Requests, s.Errors, s.ErrCount, s.ErrExample, f.status, s.Status[f.status], s.BodyBytes, n, f.status, f.body)
				}
				return
			}
			if s.Requests != n || s.Errors != n || s.ErrCount[f.want] != n {
				t.Fatalf("requests %d, errors %d, %s %d; counts by class %v; examples %q",
					s.Requests, s.Errors, f.want, s.ErrCount[f.want], s.ErrCount, s.ErrExample)
			}
			if statuses != 0 {
				t.Errorf("statuses counted %d (%v): a request that failed has none", statuses, nonzero(s.Status[:]))
			}
			ex := s.ErrExample[f.want]
			if !strings.Contains(ex, f.example) {
				t.Errorf("example %q does not mention %q", ex, f.example)
			}
			if len(ex) > metrics.MaxExample+len("… (1234567890 bytes)") || metrics.Printable(ex) != ex {
				t.Errorf("example of %d bytes, want at most %d, printable: %q", len(ex), metrics.MaxExample, ex)
			}
			if got := s.Hist(metrics.Latency).TotalCount(); got != n {
				t.Errorf("latency recorded %d times, want %d: failed requests are timed too", got, n)
			}
			// Every connection closed says why: never "other".
			if other := s.CloseReasons[metrics.CloseOther]; other != 0 {
				t.Errorf("closed for reason other: %d (close reasons %v)", other, s.CloseReasons)
			}
			// A stalled dial ends at the request's timeout (300ms), far
			// below the dial's own (3s).
			if f.want == metrics.ErrTimeout && p.Timeout < time.Second {
				if max := time.Duration(s.Hist(metrics.Latency).Max()); max > 2*time.Second {
					t.Errorf("the longest request took %v: the timeout is %v", max, p.Timeout)
				}
			}
		})
	}
}

// nonzero returns the indexes and values of the non-zero counts.
func nonzero(c []int64) map[int]int64 {
	m := map[int]int64{}
	for i, v := range c {
		if v != 0 {
			m[i] = v
		}
	}
	return m
}

// Pipelining against a server that resets every new connection: a batch
// on a new connection that never answered is not sent again, so each
// request fails once, as a reset, and the dials are one per batch.
func TestPipelineAgainstResets(t *testing.T) {
	url, accepted := testserver.ResetNewURL(t)
	const n, depth = 100, 8
	p := closedOn(engine.EngineH1, url, 2, n)
	p.Pipeline = depth
	s := run(t, p).Total
	if s.Requests != n || s.ErrCount[metrics.ErrReset] != n || s.Retries != 0 {
		t.Fatalf("requests %d, retries %d, errors by class %v (%q); want %d resets, no retries", s.Requests, s.Retries, s.ErrCount, s.ErrExample, n)
	}
	// A connect the reset beats to the client's check fails (a reset
	// too) after the server accepted it: the server's count is the one.
	batches := int64((n + depth - 1) / depth)
	if got := accepted.Load(); got > batches+2 || s.Dialed > got {
		t.Errorf("the server accepted %d connections, faya dialed %d; want at most one per batch (%d)", got, s.Dialed, batches)
	}
}

// hostile is what a hostile server or proxy puts where a terminal reads
// it: a window title (OSC 0, ended by BEL) and a screen clear (CSI 2J).
const hostile = "\x1b]0;owned\x07\x1b[2J"

// Bytes a server or a proxy chose reach the text report escaped: a
// certificate's names (the hostname check quotes them) and a proxy's
// CONNECT reason phrase.
func TestHostileBytesEscaped(t *testing.T) { forEachEngine(t, testHostileBytesEscaped) }

func testHostileBytesEscaped(t *testing.T, eng string) {
	proxy := testserver.AnswerURL(t, "HTTP/1.1 403 "+hostile+"\r\n\r\n")
	for _, tc := range []struct {
		name, url, proxy string
		class            metrics.ErrClass
	}{
		{"certificate names", strings.Replace(testserver.StartTLSNames(t, hostile+".example", "x"+hostile).URL, "127.0.0.1", "localhost", 1) + "/", "", metrics.ErrTLS},
		{"CONNECT reason", "https://127.0.0.1:9/", proxy, metrics.ErrProxyConnect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := closedOn(eng, tc.url, 1, 2)
			if tc.proxy != "" {
				p.Proxy.URLs = []string{tc.proxy}
			}
			s := run(t, p).Total
			if s.ErrCount[tc.class] != 2 {
				t.Fatalf("errors by class %v (%q), want 2 of %s", s.ErrCount, s.ErrExample, tc.class)
			}
			var out strings.Builder
			rep := report.Build(report.Run{Meta: report.Meta{Engine: eng, URL: tc.url, Executor: "vus"}, Result: engine.Result{Total: s}})
			if err := report.Text(&out, rep); err != nil {
				t.Fatal(err)
			}
			text := out.String()
			if strings.ContainsAny(text, "\x1b\x07") || !strings.Contains(text, `\x1b]0;owned\x07\x1b[2J`) {
				t.Errorf("the text report holds the bytes raw, or not at all:\n%s", text)
			}
		})
	}
}

// One header limit for both engines: 1 MiB unless set, 1xx answers
// included, a protocol error past it (net/http alone would buffer 10 MiB
// per connection).
func TestHeaderLimit(t *testing.T) { forEachEngine(t, testHeaderLimit) }

func testHeaderLimit(t *testing.T, eng string) {
	endless := testserver.FloodURL(t, okHead, "X-Filler: "+strings.Repeat("a", 100)+"\r\n")
	flood := testserver.FloodURL(t, "", "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
	for _, tc := range []struct {
		name, url string
		limit     int64
		want      string
	}{
		{"default", endless, 0, "1048576"},
		{"set", endless, 200 << 10, "204800"},
		{"1xx flood", flood, 200 << 10, "204800"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := closedOn(eng, tc.url, 1, 2)
			p.Transport.MaxResponseHeaderBytes = tc.limit
			s := run(t, p).Total
			if ex := s.ErrExample[metrics.ErrProtocol]; s.ErrCount[metrics.ErrProtocol] != 2 || !strings.Contains(ex, tc.want) {
				t.Errorf("errors by class %v, protocol example %q: want 2, at %s bytes", s.ErrCount, ex, tc.want)
			}
		})
	}
}

// h2FaultClasses are the classes the faults of the table make over
// --http 2 (h2c with prior knowledge, or ALPN h2 alone), on every engine
// that speaks HTTP/2: a fault below HTTP (refused, reset, closed, not
// answered in time, a stalled dial) the class it has on HTTP/1.1; bytes
// that are no HTTP/2 frame a protocol error; an HTTP/1.x answer to the
// preface protocol_negotiation (the server does not speak h2c); the
// HTTP/2-only server's SETTINGS then GOAWAY(PROTOCOL_ERROR) on a new
// connection a protocol error, not sent again (Go's Transport's rule).
var h2FaultClasses = map[string]metrics.ErrClass{
	"refused": metrics.ErrRefused,
	// (Not eof nor reset: over h2c the client writes its SETTINGS and
	// HEADERS after the preface the fault server reads as its request,
	// and a socket closed with bytes unread sends a reset, so the eof
	// server resets when they come before its close: the server's doing,
	// not the engine's. h2TransportFaults has HTTP/2 servers for them.)
	"garbage":            metrics.ErrProtocol,
	"garbage-no-newline": metrics.ErrProtocol,
	// (Not http2-preface: its server closes with the client's frames
	// unread, a reset a write may see before the GOAWAY is read: 1 of 4
	// requests a reset, once in 3 -race runs at load 24.
	// h2TransportFaults has h2-settings-goaway for it.)
	"status-line-cut": metrics.ErrProtocolNegotiation,
	"headers-cut":     metrics.ErrProtocolNegotiation,
	"body-reset":      metrics.ErrProtocolNegotiation,
	"silent":          metrics.ErrTimeout,
	// (Not response-header-timeout: the default engine's HTTP/2 does not
	// take --response-header-timeout, its requests bounded by --timeout
	// alone; the class is the same, the wait the request's timeout.)
	"connect-stalled":       metrics.ErrTimeout,
	"tls-stalled":           metrics.ErrTimeout,
	"proxy-connect-stalled": metrics.ErrTimeout,
	"socks5-stalled":        metrics.ErrTimeout,
	// An HTTPS server of HTTP/1.1 only: ALPN h2 not picked.
	"tls-unknown-authority": metrics.ErrProtocolNegotiation,
}

// The faults of the table over --http 2: the same class on both
// engines, every request failed once (none sent again past the fault),
// no status counted, no connection closed for no reason, each request
// timed; an HTTP/2 server whose certificate is not trusted fails as tls.
func TestFaultsOverH2(t *testing.T) {
	rows := []fault{{name: "h2-tls-unknown-authority", url: func(t testing.TB) string {
		quiet := func(_ *h2Server, hs *http.Server) { hs.ErrorLog = log.New(io.Discard, "", 0) } // its handshake errors
		return startH2(t.(*testing.T), "tls-h2", quiet).URL + "/"
	}, want: metrics.ErrTLS}}
	rows = append(rows, h2TransportFaults...)
	for _, f := range faults {
		if c, ok := h2FaultClasses[f.name]; ok {
			f.want = c
			rows = append(rows, f)
		}
	}
	if want := len(h2FaultClasses) + 1 + len(h2TransportFaults); len(rows) != want {
		t.Fatalf("%d rows, want %d: a name of h2FaultClasses is not in the table", len(rows), want)
	}
	h2Engines(t, func(t *testing.T, eng string) {
		for _, f := range rows {
			t.Run(f.name, func(t *testing.T) {
				const n = 4
				p := closedOn(eng, f.url(t), 2, n)
				p.Transport.HTTP = transport.HTTP2
				p.Timeout = 10 * time.Second // a row that fails, fails quickly
				if f.edit != nil {
					f.edit(&p)
				}
				if f.proxy != nil {
					p.Proxy.URLs = []string{f.proxy(t)}
				}
				start := time.Now()
				res := run(t, p)
				s := res.Total
				checkAllFailed(t, s, f.want, n)
				if ex := s.ErrExample[f.want]; ex == "" || len(ex) > metrics.MaxExample+len("… (1234567890 bytes)") || metrics.Printable(ex) != ex {
					t.Errorf("example of %d bytes, want 1 to %d, printable: %q", len(ex), metrics.MaxExample, ex)
				}
				if got := s.Hist(metrics.Latency).TotalCount(); got != n {
					t.Errorf("latency recorded %d times, want %d", got, n)
				}
				if other := s.CloseReasons[metrics.CloseOther]; other != 0 {
					t.Errorf("closed for reason other: %d (close reasons %v)", other, reasons(s))
				}
				// A fault that is not a timeout fails at once, not at the
				// request's 10s timeout (a connection the pool kept
				// counted would make every later request wait for it).
				if took := time.Since(start); f.want != metrics.ErrTimeout && took > 5*time.Second {
					t.Errorf("the run took %v: a fault of class %s waited for the timeout", took, f.want)
				}
				t.Logf("%s %q; dialed %d, close reasons %v, retries %d", f.want, s.ErrExample[f.want], s.Dialed, reasons(s), s.Retries)
			})
		}
	})
}

// checkAllFailed checks that each of the n requests failed with the
// class want, and that none counted a status.
func checkAllFailed(t *testing.T, s *metrics.Snapshot, want metrics.ErrClass, n int64) {
	t.Helper()
	if s.Requests != n || s.Errors != n || s.ErrCount[want] != n {
		t.Fatalf("requests %d, errors %d, %s %d; by class %v; examples %q", s.Requests, s.Errors, want, s.ErrCount[want], nonzero(s.ErrCount[:]), s.ErrExample)
	}
	statuses := int64(0)
	for _, c := range s.Status {
		statuses += c
	}
	if statuses != 0 {
		t.Errorf("statuses counted %d: a request that failed has none", statuses)
	}
}
