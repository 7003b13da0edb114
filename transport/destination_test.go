package transport

import (
	"io"
	"net/http"
	"net/url"
	"testing"
)

func TestDestinationOf(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Destination
		err  string
	}{
		{url: "http://example.test/x", want: Destination{Addr: "example.test:80", ServerName: "example.test", Key: "http|example.test:80"}},
		{url: "HTTPS://example.test/", want: Destination{Addr: "example.test:443", ServerName: "example.test", TLS: true, Key: "https|example.test:443"}},
		{url: "https://[::1]:8443/", want: Destination{Addr: "[::1]:8443", ServerName: "::1", TLS: true, Key: "https|[::1]:8443"}},
		{url: "ftp://example.test/", err: `unsupported scheme "ftp"`},
		{url: "http:///path", err: "no host in URL"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DestinationOf(u)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: error %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
}

func TestIdempotent(t *testing.T) {
	for m, want := range map[string]bool{"GET": true, "HEAD": true, "PUT": true, "DELETE": true, "OPTIONS": true, "TRACE": true, "POST": false, "PATCH": false, "CONNECT": false} {
		if Idempotent(m) != want {
			t.Errorf("Idempotent(%s) = %v", m, !want)
		}
	}
}

// A captured answer becomes a response of its own: the header, a copy of
// the body (the capture is reused for the next request), the protocol.
func TestCaptureResponse(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://example.test/", nil)
	c := &Capture{Status: 201, Header: [][2]string{{"set-cookie", "a=1"}, {"set-cookie", "b=2"}}, Body: []byte("made")}
	r := c.Response(req, 2, 0)
	c.Body[0] = 'X'
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 201 || r.Status != "201 Created" || r.Proto != "HTTP/2.0" || r.ProtoMajor != 2 || string(b) != "made" || r.ContentLength != 4 || r.Request != req {
		t.Errorf("response %+v, body %q", r, b)
	}
	if got := r.Header.Values("Set-Cookie"); len(got) != 2 || got[1] != "b=2" {
		t.Errorf("Set-Cookie %q", got)
	}
	if r := c.Response(req, 1, 1); r.Proto != "HTTP/1.1" || r.ProtoMinor != 1 {
		t.Errorf("HTTP/1.1: %s %d", r.Proto, r.ProtoMinor)
	}
}
