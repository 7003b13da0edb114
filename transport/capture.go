package transport

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// CookieJar is a VU's cookies, as an engine's client needs them: the
// Cookie header for a URL, and the Set-Cookie lines an answer brought.
type CookieJar interface {
	CookieHeader(u *url.URL) string
	SetCookieLines(u *url.URL, lines [][]byte)
}

// Capture is what an engine's client keeps of a final response, for
// extractions, checks and Go scenarios.
type Capture struct {
	Status    int
	Header    [][2]string
	Body      []byte
	BodyLimit int64
	URL       *url.URL
	// TLS is the TLS state of the connection the answer came on, when it
	// was an https request's (nil otherwise): shared by the connection's
	// answers, not to be changed.
	TLS *tls.ConnectionState
}

// Response returns the captured answer to req as an *http.Response of
// HTTP/major.minor, for a Go scenario's http.Client: its own header and a
// copy of the body, so the capture can be reused.
func (c *Capture) Response(req *http.Request, major, minor int) *http.Response {
	h := make(http.Header, len(c.Header))
	for _, kv := range c.Header {
		h.Add(kv[0], kv[1])
	}
	body := append([]byte(nil), c.Body...)
	proto := fmt.Sprintf("HTTP/%d.%d", major, minor)
	if major == 2 {
		proto = "HTTP/2.0"
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", c.Status, http.StatusText(c.Status)),
		StatusCode:    c.Status,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
		TLS:           c.TLS,
	}
}
