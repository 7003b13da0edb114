package http1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/faya-load/faya/metrics"
)

func TestReadResponse(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	for _, tc := range []struct {
		name  string
		in    string
		head  bool
		max   int64
		want  Response
		err   string
		after string // bytes that must be left unread (a next response)
	}{
		{name: "fixed", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 5}},
		{name: "lf only", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 2}},
		{name: "no reason", in: "HTTP/1.1 204\r\n\r\n", want: Response{Status: 204, Major: 1, Minor: 1}},
		{name: "204 ignores length", in: "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", want: Response{Status: 204, Major: 1, Minor: 1}},
		{name: "304", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nNEXT", want: Response{Status: 304, Major: 1, Minor: 1}, after: "NEXT"},
		{name: "head", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nNEXT", head: true, want: Response{Status: 200, Major: 1, Minor: 1}, after: "NEXT"},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\nNEXT",
			want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 15}, after: "NEXT"},
		{name: "obs-fold", in: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 2}},
		{name: "19-digit length", in: "HTTP/1.1 200 OK\r\nContent-Length: 0000000000000000002\r\n\r\nok", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 2}},
		{name: "16-digit chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000002\r\nok\r\n0\r\n\r\n", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 2}},
		{name: "http/1.0 ignores transfer-encoding", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw", want: Response{Status: 200, Major: 1, BodyBytes: 3, Close: true, CloseAnswer: true}},
		{name: "status 999", in: "HTTP/1.1 999 Far\r\nContent-Length: 0\r\n\r\n", want: Response{Status: 999, Major: 1, Minor: 1}},
		{name: "http/2.0 as net/http reads it", in: "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", want: Response{Status: 200, Major: 2}},
		{name: "101 closes", in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nNEXT", want: Response{Status: 101, Major: 1, Minor: 1, Close: true}, after: "NEXT"},
		{name: "close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 2, Close: true, CloseAnswer: true}},
		{name: "close token list", in: "HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n", want: Response{Status: 200, Major: 1, Minor: 1, Close: true, CloseAnswer: true}},
		{name: "http/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Major: 1, Minor: 0, BodyBytes: 2, Close: true, CloseAnswer: true}},
		{name: "http/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Major: 1, Minor: 0, BodyBytes: 2}},
		{name: "to eof", in: "HTTP/1.1 200 OK\r\n\r\nuntil the end", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 13, Close: true, CloseAnswer: true}},
		{name: "1xx first", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", want: Response{Status: 201, Major: 1, Minor: 1, BodyBytes: 1}},
		{name: "big body", in: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + big + "NEXT", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 100000}, after: "NEXT"},
		{name: "capped", in: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + big, max: 1000, want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 1000, Truncated: true, Close: true}},
		{name: "exactly the cap", in: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + big[:1000], max: 1000, want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 1000}},
		{name: "same lengths twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Major: 1, Minor: 1, BodyBytes: 2}},

		{name: "empty", in: "", err: "EOF"},
		{name: "garbage", in: "this is not HTTP\r\n\r\n", err: "malformed HTTP response: malformed status line"},
		{name: "bad code", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: "malformed status code"},
		{name: "bad version", in: "HTTP/1.x 200 OK\r\n\r\n", err: "malformed status line"},
		{name: "not a status line, no newline", in: "\x00\x00\x12\x04\x00\x00\x00", err: "malformed status line"},
		{name: "cut status line", in: "HTTP/1.1 20", err: "malformed status code"},
		{name: "below 100", in: "HTTP/1.1 099 x\r\n\r\n", err: "below 100"},
		{name: "gzip, chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", err: "unsupported transfer encoding"},
		{name: "identity", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nx", err: "unsupported transfer encoding"},
		{name: "nul in a value", in: "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", err: "invalid byte"},
		{name: "bare cr in a value", in: "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", err: "invalid byte"},
		{name: "folded first line", in: "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", err: "starts with a space"},
		{name: "chunk size bare lf", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n", err: "bare LF"},
		{name: "1xx flood", in: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 1<<16), err: "headers exceeded"},
		{name: "no colon", in: "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", err: "header line without a colon"},
		{name: "bad name", in: "HTTP/1.1 200 OK\r\nBad(Name): x\r\n\r\n", err: "invalid header name"},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: "bad Content-Length"},
		{name: "two lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok", err: "bad Content-Length"},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", err: "unexpected EOF"},
		{name: "cut header line", in: "HTTP/1.1 200 OK\r\nContent-Le", err: "without a colon"},
		{name: "cut headers", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", err: "unexpected EOF"},
		{name: "bad chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: "bad chunk size"},
		{name: "chunk without crlf", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n", err: "chunk not followed by CRLF"},
		{name: "huge headers", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", err: "headers exceeded"},
	} {
		for _, oneByte := range []bool{false, true} {
			var src io.Reader = strings.NewReader(tc.in)
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			rd := NewReader()
			rd.Reset(src)
			max := tc.max
			if max == 0 {
				max = -1
			}
			got, err := rd.ReadResponse(tc.head, max, nil, false)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%s (one byte %v): err %v, want %q", tc.name, oneByte, err, tc.err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s (one byte %v): %v", tc.name, oneByte, err)
				continue
			}
			if key(got) != key(tc.want) {
				t.Errorf("%s (one byte %v): %+v, want %+v", tc.name, oneByte, got, tc.want)
			}
			rest := string(rd.buf[rd.r:rd.w])
			more, _ := io.ReadAll(src)
			if !tc.want.Truncated && rest+string(more) != tc.after {
				t.Errorf("%s (one byte %v): left %q, want %q", tc.name, oneByte, rest+string(more), tc.after)
			}
		}
	}
}

// Several responses on one connection, read one after another with
// headers seen by a callback and the Location kept.
func TestKeepAliveSequence(t *testing.T) {
	in := "HTTP/1.1 302 Found\r\nLocation: /next\r\nSet-Cookie: a=1\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nSet-Cookie: b=2\r\nContent-Length: 3\r\n\r\nabc"
	rd := NewReader()
	rd.Reset(strings.NewReader(in))
	var cookies []string
	on := func(name, value []byte) {
		if equalFold(name, "set-cookie") {
			cookies = append(cookies, string(value))
		}
	}
	r1, err := rd.ReadResponse(false, -1, on, true)
	if err != nil || r1.Status != 302 || string(r1.Location) != "/next" {
		t.Fatalf("first: %+v %v", r1, err)
	}
	r2, err := rd.ReadResponse(false, -1, on, true)
	if err != nil || r2.Status != 200 || r2.BodyBytes != 3 || len(r2.Location) != 0 {
		t.Fatalf("second: %+v %v", r2, err)
	}
	if strings.Join(cookies, ",") != "a=1,b=2" {
		t.Errorf("headers seen: %v", cookies)
	}
	if _, err := rd.ReadResponse(false, -1, nil, false); !errors.Is(err, io.EOF) {
		t.Errorf("third: %v, want EOF (the server closed)", err)
	}
}

// No allocation per response once the buffer has grown.
func TestReaderAllocs(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	src := strings.NewReader("")
	rd := NewReader()
	allocs := testing.AllocsPerRun(1000, func() {
		src.Reset(resp)
		rd.Reset(src)
		if _, err := rd.ReadResponse(false, -1, nil, false); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per response, want 0", allocs)
	}
}

// A reader that read one response reads the next as a new reader does:
// for every pair of the fuzz seeds (and each seed twice, which finds the
// head it kept), with and without the Location kept, the same result, the
// same error and the same bytes left over. A seed read twice finds its
// head again when it was whole in one read and carried no 1xx.
func TestReaderReused(t *testing.T) {
	type outcome struct {
		key  respKey
		loc  string
		err  string
		left string
	}
	read := func(rd *Reader, in string, keepLoc bool) outcome {
		src := strings.NewReader(in)
		rd.Reset(src)
		resp, err := rd.ReadResponse(false, -1, nil, keepLoc)
		o := outcome{key: key(resp), loc: string(resp.Location)}
		if err != nil {
			o.err = err.Error()
		}
		more, _ := io.ReadAll(src)
		o.left = string(rd.buf[rd.r:rd.w]) + string(more)
		return o
	}
	seeds := append(readSeeds,
		"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Wed, 02 Dec 2026 13:57:30 GMT\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Wed, 02 Dec 2026 13:57:31 GMT\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Wed, 02 Dec 2026 13:57:31 GMT\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Wed, 02 Dec 2026 13:57:31 GMT\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nokk",
		"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Wed, 02 Dec 2026 13:57:31 GMT\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Wed, 02 Dec 2026 13:57:31 GMT\r\nContent-Length: 3\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Wed, 02 Dec 2026 13:57:31 GMT\r\nConnection: keep-alive\r\nContent-Length: 2\r\n",
		"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Wed, 02 Dec 2026 13:57:31 GMT\r\nConnection: keep-alive\r\nContent-Length:\x01 2\r\n\r\nok",
		"HTTP/1.1 302 Found\r\nLocation: /a\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nNEXT",
	)
	hits := 0
	for _, keep := range [][2]bool{{false, false}, {true, true}, {false, true}, {true, false}} {
		for _, a := range seeds {
			for _, b := range seeds {
				rd := NewReader()
				read(rd, a, keep[0])
				before := rd.hits
				got, want := read(rd, b, keep[1]), read(NewReader(), b, keep[1])
				if got != want {
					t.Fatalf("keep location %v: %q after %q reads as %+v, a new reader as %+v", keep, b, a, got, want)
				}
				if a == b && keep[0] == keep[1] && rd.hits > before {
					hits++
				}
			}
		}
	}
	if hits < len(seeds) {
		t.Errorf("%d of %d seeds read twice found their head again, want at least %d", hits, 2*len(seeds), len(seeds))
	}
}

// readSeeds are responses the differential fuzz test starts from: the
// usual ones and the edges where faya's reader and net/http's once
// disagreed.
var readSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\nbody",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 301 Moved\r\nLocation: /x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 0000000000000000005\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000005\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\tc\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n \r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n \r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9\xff\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length : 99\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\n X-A: b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
	"HTTP/1.1  200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
	"HTTP/0.0 000 00000000000000000",
	"HTTP/0.0 +00",
	"HTTP/0.0 100 \nTrAnsfer-EnCoding:0000000\n\n",
	"HTTP/1.1 200 \nTrAnsfer-EnCoding:Chunked\n\n7000000000000000\r\n",
	"HTTP/0.0 000\n 00000000000000000000000000000000000000000000000000000000000000000000000000000000",
	"HTTP/1.1 -01 x\r\n\r\n",
	"HTTP/0.0 000\n 0:\n ",
	"HTTP/1.1 200 \nTrAnsfer-EnCoding:Chunked\n\n\n",
	"HTTP/1.1 999 Far\r\nContent-Length: 0\r\n\r\n",
	"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/0.9 200 OK\r\n\r\nok",
	"HTTP/1.1 20",
	"HTTP/1.1 200 OK\r\nContent-Len",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
	"\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x80",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x \r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTrailer: Content-Length\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 100 Continue\r\nContent-Length: x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
}

// FuzzReadResponse is the differential test of faya's reader against
// net/http's: the same bytes are accepted or refused by both, with the
// same status and the same body; a refusal is a protocol error or an EOF
// on both, the same one (for inputs within net/http's read buffer).
func FuzzReadResponse(f *testing.F) {
	for _, s := range readSeeds {
		f.Add(s, false)
	}
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true)
	f.Fuzz(func(t *testing.T, in string, head bool) {
		rd := NewReader()
		rd.Reset(strings.NewReader(in))
		var body []byte
		rd.capture, rd.captureMax = &body, 1<<30
		got, err := rd.ReadResponse(head, -1, func([]byte, []byte) {}, true)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v is neither a protocol error nor an EOF", err)
			}
		}
		// A reader that read in before reads it again the same.
		again := NewReader()
		again.Reset(strings.NewReader(in))
		_, _ = again.ReadResponse(head, -1, nil, true)
		again.Reset(strings.NewReader(in))
		var body2 []byte
		again.capture, again.captureMax = &body2, 1<<30
		got2, err2 := again.ReadResponse(head, -1, nil, true)
		if key(got2) != key(got) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() || string(body2) != string(body) || string(got2.Location) != string(got.Location) {
			t.Fatalf("%q read again: %+v (%v), the first time %+v (%v)", in, got2, err2, got, err)
		}
		status, nbody, nerr := netHTTPRead(in, head)
		switch {
		case err != nil && nerr != nil:
			// The same class, but where net/http's 4 KiB buffer ends
			// (a line cut at its end reads as EOF there).
			if c, nc := metrics.Classify(err), metrics.Classify(nerr); c != nc && len(in) < 4<<10 {
				t.Fatalf("both refuse %q, as %s (%v) and net/http as %s (%v)", in, c, err, nc, nerr)
			}
		case err != nil:
			t.Fatalf("refused %q (%v); net/http reads status %d, body %q", in, err, status, nbody)
		case nerr != nil:
			t.Fatalf("read %q as %d, body %q; net/http refuses it: %v", in, got.Status, body, nerr)
		case got.Status != status:
			t.Fatalf("%q: status %d, net/http says %d", in, got.Status, status)
		case got.Status != 101 && (string(body) != string(nbody) || got.BodyBytes != int64(len(nbody))):
			t.Fatalf("%q: body %q (%d bytes), net/http reads %q", in, body, got.BodyBytes, nbody)
		}
	})
}

// netHTTPRead reads in as net/http's Transport does: http.ReadResponse
// over its 4 KiB buffer, 1xx answers but 101 skipped, the body read to its
// end; a status below 100 is refused, as faya's net/http engine refuses
// it.
func netHTTPRead(in string, head bool) (int, []byte, error) {
	method := "GET"
	if head {
		method = "HEAD"
	}
	req, _ := http.NewRequest(method, "http://x/", nil)
	br := bufio.NewReaderSize(strings.NewReader(in), 4<<10)
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return 0, nil, err
		}
		if resp.StatusCode < 100 {
			return 0, nil, fmt.Errorf("malformed HTTP response: status %d below 100", resp.StatusCode)
		}
		if resp.StatusCode < 200 && resp.StatusCode != 101 {
			continue
		}
		if resp.StatusCode == 101 {
			return 101, nil, nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, nil, err
		}
		return resp.StatusCode, body, nil
	}
}

type respKey struct {
	status, major, minor      int
	close, closeAnswer, trunc bool
	body                      int64
}

func key(r Response) respKey {
	return respKey{r.Status, r.Major, r.Minor, r.Close, r.CloseAnswer, r.Truncated, r.BodyBytes}
}
