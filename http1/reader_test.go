package http1

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
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
		{name: "fixed", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", want: Response{Status: 200, Minor: 1, BodyBytes: 5}},
		{name: "lf only", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", want: Response{Status: 200, Minor: 1, BodyBytes: 2}},
		{name: "no reason", in: "HTTP/1.1 204\r\n\r\n", want: Response{Status: 204, Minor: 1}},
		{name: "204 ignores length", in: "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", want: Response{Status: 204, Minor: 1}},
		{name: "304", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nNEXT", want: Response{Status: 304, Minor: 1}, after: "NEXT"},
		{name: "head", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nNEXT", head: true, want: Response{Status: 200, Minor: 1}, after: "NEXT"},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\nNEXT",
			want: Response{Status: 200, Minor: 1, BodyBytes: 15}, after: "NEXT"},
		{name: "gzip, chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", want: Response{Status: 200, Minor: 1, BodyBytes: 1}},
		{name: "close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Minor: 1, BodyBytes: 2, Close: true, CloseAnswer: true}},
		{name: "close token list", in: "HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n", want: Response{Status: 200, Minor: 1, Close: true, CloseAnswer: true}},
		{name: "http/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Minor: 0, BodyBytes: 2, Close: true, CloseAnswer: true}},
		{name: "http/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Minor: 0, BodyBytes: 2}},
		{name: "to eof", in: "HTTP/1.1 200 OK\r\n\r\nuntil the end", want: Response{Status: 200, Minor: 1, BodyBytes: 13, Close: true}},
		{name: "1xx first", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", want: Response{Status: 201, Minor: 1, BodyBytes: 1}},
		{name: "big body", in: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + big + "NEXT", want: Response{Status: 200, Minor: 1, BodyBytes: 100000}, after: "NEXT"},
		{name: "capped", in: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + big, max: 1000, want: Response{Status: 200, Minor: 1, BodyBytes: 1000, Truncated: true, Close: true}},
		{name: "exactly the cap", in: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + big[:1000], max: 1000, want: Response{Status: 200, Minor: 1, BodyBytes: 1000}},
		{name: "same lengths twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", want: Response{Status: 200, Minor: 1, BodyBytes: 2}},

		{name: "empty", in: "", err: "EOF"},
		{name: "garbage", in: "this is not HTTP\r\n\r\n", err: "malformed HTTP response: malformed status line"},
		{name: "bad code", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: "malformed status code"},
		{name: "bad version", in: "HTTP/2.0 200 OK\r\n\r\n", err: "malformed status line"},
		{name: "no colon", in: "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", err: "header line without a colon"},
		{name: "space in name", in: "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", err: "invalid header name"},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: "bad Content-Length"},
		{name: "two lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok", err: "bad Content-Length"},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", err: "unexpected EOF"},
		{name: "cut headers", in: "HTTP/1.1 200 OK\r\nContent-Le", err: "unexpected EOF"},
		{name: "bad chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: "bad chunk size"},
		{name: "chunk without crlf", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n", err: "chunk not followed by CRLF"},
		{name: "huge headers", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", err: "headers larger than"},
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

// The reader agrees with net/http on what net/http accepts.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nbody",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 301 Moved\r\nLocation: /x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, in string, head bool) {
		rd := NewReader()
		rd.MaxHeaderBytes = 64 << 10
		rd.Reset(strings.NewReader(in))
		got, err := rd.ReadResponse(head, 1<<20, func([]byte, []byte) {}, true)
		if len(rd.buf) > 64<<10 {
			t.Fatalf("buffer grew to %d bytes past the header limit", len(rd.buf))
		}
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v is neither a protocol error nor an EOF", err)
			}
			return
		}
		if got.Status < 100 || got.Status > 999 || got.BodyBytes < 0 || got.BodyBytes > int64(len(in)) {
			t.Fatalf("response %+v from %d bytes", got, len(in))
		}
		// When net/http reads a well-formed keep-alive response the same
		// way, it sees the same status.
		method := "GET"
		if head {
			method = "HEAD"
		}
		req, _ := http.NewRequest(method, "http://x/", nil)
		if hr, herr := http.ReadResponse(bufio.NewReader(strings.NewReader(in)), req); herr == nil && hr.StatusCode >= 200 {
			if hr.StatusCode != got.Status {
				t.Fatalf("status %d, net/http says %d", got.Status, hr.StatusCode)
			}
		}
	})
}

type respKey struct {
	status, minor             int
	close, closeAnswer, trunc bool
	body                      int64
}

func key(r Response) respKey {
	return respKey{r.Status, r.Minor, r.Close, r.CloseAnswer, r.Truncated, r.BodyBytes}
}
