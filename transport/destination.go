package transport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Destination is where a request's URL says to connect, as every engine's
// client and pool need it.
type Destination struct {
	Addr       string // host:port to dial (80 or 443 when the URL gives no port)
	ServerName string // the TLS server name: the URL's host
	TLS        bool   // https
	Key        string // the pool's key: "scheme|host:port"
}

// DestinationOf returns u's destination; u must be http or https and
// name a host.
func DestinationOf(u *url.URL) (Destination, error) {
	var d Destination
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "http":
	case "https":
		d.TLS = true
	default:
		return d, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return d, errors.New("no host in URL")
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if d.TLS {
			port = "443"
		}
	}
	d.Addr = net.JoinHostPort(host, port)
	d.ServerName = host
	d.Key = scheme + "|" + d.Addr
	return d, nil
}

// Idempotent reports whether a request of method may be sent again on
// another connection when the first never answered (RFC 9110, 9.2.2).
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
