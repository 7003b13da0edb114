package h2

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http2/hpack"
)

// Request is a request prepared to be sent many times: where to connect,
// and its HPACK header block, encoded once.
type Request struct {
	Method string
	URL    *url.URL

	key        string // the pool's key for the destination
	addr       string // host:port to dial
	tls        bool
	serverName string
	block      []byte // the header block: pseudo-headers, then the headers
	body       []byte
	head       bool
	idempotent bool

	header http.Header // kept to build redirected requests
}

// Prepare encodes a request. header may hold "Host" (sent as
// :authority); the connection-specific headers HTTP/2 forbids
// (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade)
// are dropped, "Content-Length" is set by Prepare. Header names are sent
// in lower case, in a fixed order (sorted).
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
	authority := u.Host
	if h := header.Get("Host"); h != "" {
		authority = h
	}
	path := u.RequestURI()
	if method == http.MethodConnect {
		return nil, errors.New("CONNECT is not supported over HTTP/2")
	}
	var buf bytes.Buffer
	enc := newEncoder(&buf)
	fields := []hpack.HeaderField{
		{Name: ":method", Value: method},
		{Name: ":scheme", Value: strings.ToLower(u.Scheme)},
		{Name: ":authority", Value: authority},
		{Name: ":path", Value: path},
	}
	names := make([]string, 0, len(header))
	for name := range header {
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade":
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		lower := strings.ToLower(name)
		for _, v := range header[name] {
			if lower == "te" && !strings.EqualFold(v, "trailers") {
				continue // only "TE: trailers" is allowed in HTTP/2
			}
			fields = append(fields, hpack.HeaderField{Name: lower, Value: v})
		}
	}
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		fields = append(fields, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body))})
	}
	for _, f := range fields {
		if err := enc.WriteField(f); err != nil {
			return nil, err
		}
	}
	r.block = bytes.Clone(buf.Bytes())
	return r, nil
}

// Destination is the request's destination key ("scheme|host:port",
// transport.Destination.Key).
func (r *Request) Destination() string { return r.key }

// Parts returns what the request was prepared from (its header and
// body, a redirect's included), for sending it on another protocol.
func (r *Request) Parts() (header http.Header, body []byte) { return r.header, r.body }

// newEncoder returns an HPACK encoder that never uses the dynamic table,
// writing to buf: its output is the same on every connection.
func newEncoder(buf *bytes.Buffer) *hpack.Encoder {
	enc := hpack.NewEncoder(buf)
	enc.SetMaxDynamicTableSizeLimit(0)
	// The first field after the change carries a table size update;
	// spend it on a throwaway field so that no block carries one.
	_ = enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	buf.Reset()
	return enc
}

// redirect returns the request a redirect answer leads to, or nil when it
// is not one to follow (as the HTTP/1.1 engine does).
func (r *Request) redirect(status int, location string) (*Request, error) {
	switch status {
	case 301, 302, 303, 307, 308:
	default:
		return nil, nil
	}
	if location == "" {
		return nil, nil
	}
	loc, err := r.URL.Parse(location)
	if err != nil {
		return nil, &ProtocolError{fmt.Sprintf("bad Location %q: %v", location, err)}
	}
	method, body := r.Method, r.body
	if status <= 303 && method != http.MethodHead {
		method, body = http.MethodGet, nil
	}
	header := r.header
	if loc.Host != r.URL.Host {
		header = header.Clone()
		header.Del("Host")
		for _, h := range crossHostHeaders {
			header.Del(h)
		}
	}
	return prepare(method, loc, header, body)
}

// crossHostHeaders are the request headers not sent on to another host
// when following a redirect.
var crossHostHeaders = []string{"Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization"}
