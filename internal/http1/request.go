package http1

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/faya-load/faya/transport"
)

// Request is a request prepared to be sent many times: where to connect,
// and its bytes, serialized once. Clients may share one (each VU's client
// sending the same static step).
type Request struct {
	Method string
	URL    *url.URL

	key        string // the pool's key for the connection's destination
	addr       string // host:port to dial
	tls        bool
	serverName string
	raw        []byte // request line, headers and body
	headEnd    int    // where the blank line that ends the headers starts
	cookieAt   int    // where the user's Cookie line ends (before its CRLF), 0: none
	head       bool
	idempotent bool
	expect     bool // "Expect: 100-continue" with a body: the body waits for the server's 100
	closes     bool // the header says "Connection: close": the client asks for the close

	header http.Header // kept to build redirected requests
	body   []byte

	direct route // straight to the target
	// via are the routes through proxies, made on first use. A Request
	// may be shared by clients (VUs): a look-up is one load, an addition
	// copies the list under viaMu.
	via   atomic.Pointer[[]*route]
	viaMu sync.Mutex
}

// route is how a request reaches its target: the pool key of its
// connections, and the bytes to send (absolute-form, with the proxy's
// credentials, when an HTTP proxy forwards it).
type route struct {
	px       *transport.Proxy
	forward  bool
	key      string
	raw      []byte
	headEnd  int
	cookieAt int // where the user's Cookie line ends (before its CRLF), 0: none
}

// route returns the request's route through px (nil: direct).
func (r *Request) route(px *transport.Proxy) *route {
	if px == nil {
		return &r.direct
	}
	if rt := r.viaOf(px); rt != nil {
		return rt
	}
	r.viaMu.Lock()
	defer r.viaMu.Unlock()
	if rt := r.viaOf(px); rt != nil {
		return rt
	}
	rt := &route{px: px, forward: px.Forwards(r.tls), raw: r.raw, headEnd: r.headEnd, cookieAt: r.cookieAt}
	rt.key = "proxy" + strconv.Itoa(px.Index) + "|" + r.key
	if rt.forward {
		// GET http://host/path HTTP/1.1, and the proxy's credentials.
		target := r.URL.Scheme + "://" + r.URL.Host + r.URL.RequestURI()
		line := strings.IndexByte(string(r.raw[:r.headEnd]), ' ')
		rest := line + 1 + len(r.URL.RequestURI())
		b := make([]byte, 0, len(r.raw)+len(target)+64)
		b = append(b, r.raw[:line+1]...)
		b = append(b, target...)
		b = append(b, r.raw[rest:r.headEnd]...)
		if a := px.Authorization(); a != "" {
			b = append(b, "Proxy-Authorization: "...)
			b = append(b, a...)
			b = append(b, "\r\n"...)
		}
		if r.cookieAt > 0 {
			rt.cookieAt = r.cookieAt + line + 1 + len(target) - rest
		}
		rt.headEnd = len(b)
		b = append(b, r.raw[r.headEnd:]...)
		rt.raw = b
	}
	var next []*route
	if old := r.via.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, rt)
	r.via.Store(&next)
	return rt
}

// viaOf returns the route through px made before, or nil.
func (r *Request) viaOf(px *transport.Proxy) *route {
	if p := r.via.Load(); p != nil {
		for _, rt := range *p {
			if rt.px == px {
				return rt
			}
		}
	}
	return nil
}

// Prepare serializes a request. header may hold "Host" to set the Host
// header; "Content-Length" and "Transfer-Encoding" are set by Prepare.
// The header is written in a fixed order (sorted by name).
func Prepare(method, rawURL string, header http.Header, body []byte) (*Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	return prepare(method, u, header, body)
}

func prepare(method string, u *url.URL, header http.Header, body []byte) (*Request, error) {
	if method == "" {
		method = http.MethodGet
	}
	r := &Request{Method: method, URL: u, header: header, body: body, head: method == http.MethodHead}
	dest, err := transport.DestinationOf(u)
	if err != nil {
		return nil, err
	}
	r.addr, r.serverName, r.tls, r.key = dest.Addr, dest.ServerName, dest.TLS, dest.Key
	r.idempotent = transport.Idempotent(method)

	hostHeader := u.Host
	if h := header.Get("Host"); h != "" {
		hostHeader = h
	}
	b := make([]byte, 0, 256+len(body))
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, hostHeader...)
	b = append(b, "\r\n"...)
	names := make([]string, 0, len(header))
	for name := range header {
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding", "Cookie":
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range header[name] {
			b = append(b, http.CanonicalHeaderKey(name)...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	// The user's cookies go on one line, last but Content-Length, so that
	// a jar's cookies join it ("; ") as Go's Request.AddCookie does: a
	// request carries one Cookie header (RFC 6265, 5.4).
	if cookies := header.Values("Cookie"); len(cookies) > 0 {
		b = append(b, "Cookie: "...)
		b = append(b, strings.Join(cookies, "; ")...)
		r.cookieAt = len(b)
		b = append(b, "\r\n"...)
	}
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	r.headEnd = len(b)
	b = append(b, "\r\n"...)
	b = append(b, body...)
	for _, v := range header.Values("Connection") {
		if hasToken([]byte(v), "close") {
			r.closes = true
		}
	}
	if len(body) > 0 {
		for _, v := range header.Values("Expect") {
			if hasToken([]byte(v), "100-continue") {
				r.expect = true
			}
		}
	}
	r.raw = b
	r.direct = route{key: r.key, raw: r.raw, headEnd: r.headEnd, cookieAt: r.cookieAt}
	return r, nil
}

// appendHeaders appends the request with cookie (when not empty: joined
// to the user's Cookie line, or a Cookie header of its own) and
// "Connection: close" (when close) added to its head.
func (rt *route) appendHeaders(dst []byte, cookie string, close bool) []byte {
	if cookie != "" && rt.cookieAt > 0 {
		dst = append(dst, rt.raw[:rt.cookieAt]...)
		dst = append(dst, "; "...)
		dst = append(dst, cookie...)
		dst = append(dst, rt.raw[rt.cookieAt:rt.headEnd]...)
		cookie = ""
	} else {
		dst = append(dst, rt.raw[:rt.headEnd]...)
	}
	if cookie != "" {
		dst = append(dst, "Cookie: "...)
		dst = append(dst, cookie...)
		dst = append(dst, "\r\n"...)
	}
	if close {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(dst, rt.raw[rt.headEnd:]...)
}

// redirect returns the request a redirect answer leads to, or nil when it
// is not one to follow (the rule is [transport.RedirectOf]'s).
func (r *Request) redirect(status int, location []byte) (*Request, error) {
	next, ok, err := transport.RedirectOf(r.Method, r.URL, status, string(location))
	if !ok || err != nil {
		return nil, err
	}
	body, header := r.body, r.header
	if !next.KeepBody {
		body = nil
	}
	if !next.SameHost {
		header = transport.CrossHostHeader(header)
	}
	return prepare(next.Method, next.URL, header, body)
}
