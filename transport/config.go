package transport

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Config describes one connection pool. It is plain data: it can be
// serialised, validated and sent to a distributed agent.
//
// Unlike net/http, whose zero values suit a service talking to many hosts,
// the zero values here suit a load generator: the three pool limits are
// derived from Concurrency, so c concurrent requests never open more than c
// connections and never throw a connection away for lack of an idle slot.
// A negative limit lifts it.
type Config struct {
	// Concurrency is the number of requests expected in flight at once on
	// this pool (the VUs sharing it). It sizes the pool limits left at zero.
	// Zero means 1.
	Concurrency int `json:"concurrency,omitempty"`

	// MaxConnsPerHost caps all connections per host: dialing, active and
	// idle ([net/http.Transport.MaxConnsPerHost]). A request that finds the
	// cap reached waits inside the pool; that wait is measured as the
	// blocked phase. 0 means Concurrency; negative means no limit.
	MaxConnsPerHost int `json:"max_conns_per_host,omitempty"`

	// MaxIdleConnsPerHost caps idle connections kept per host
	// ([net/http.Transport.MaxIdleConnsPerHost]). A connection returned to a
	// full idle list is closed ("too many idle connections for host").
	// 0 means Concurrency (net/http's own default is 2); negative means no
	// limit.
	MaxIdleConnsPerHost int `json:"max_idle_conns_per_host,omitempty"`

	// MaxIdleConns caps idle connections across all hosts
	// ([net/http.Transport.MaxIdleConns]). 0 means Concurrency; negative
	// means no limit.
	MaxIdleConns int `json:"max_idle_conns,omitempty"`

	// IdleConnTimeout closes a connection idle for this long. 0 means 90s.
	IdleConnTimeout time.Duration `json:"idle_conn_timeout,omitempty"`

	// DisableKeepAlives makes every request use a new connection.
	DisableKeepAlives bool `json:"disable_keepalives,omitempty"`

	// DialTimeout bounds DNS resolution plus the TCP connect. 0 means 10s.
	DialTimeout time.Duration `json:"dial_timeout,omitempty"`

	// TLSHandshakeTimeout bounds the TLS handshake. 0 means 10s.
	TLSHandshakeTimeout time.Duration `json:"tls_handshake_timeout,omitempty"`

	// ResponseHeaderTimeout bounds the wait for the response headers after
	// the request was written. 0 means no limit beyond the request timeout.
	ResponseHeaderTimeout time.Duration `json:"response_header_timeout,omitempty"`

	// MaxResponseHeaderBytes bounds the bytes of a response's status lines
	// and headers, its 1xx answers included
	// ([net/http.Transport.MaxResponseHeaderBytes]); a response that goes
	// past it fails as a protocol error. Both engines apply it. 0 means
	// 1 MiB (net/http's own default is 10 MiB).
	MaxResponseHeaderBytes int64 `json:"max_response_header_bytes,omitempty"`

	// ExpectContinueTimeout is how long a request sent with "Expect:
	// 100-continue" waits, its head written, for the server's 100
	// Continue before it sends its body anyway
	// ([net/http.Transport.ExpectContinueTimeout]). 0 means 1s, as
	// http.DefaultTransport; negative sends the body at once.
	ExpectContinueTimeout time.Duration `json:"expect_continue_timeout,omitempty"`

	// InsecureSkipVerify disables verification of the server's certificate.
	InsecureSkipVerify bool `json:"insecure,omitempty"`

	// RootCAsPEM holds the certificates (PEM) the server's certificate
	// must chain to, instead of the system's roots (--cacert). Empty: the
	// system's.
	RootCAsPEM []byte `json:"ca_pem,omitempty"`

	// MaxRequestsPerConn caps the requests one connection carries: the
	// last one asks the server to close ("Connection: close") and the
	// client closes the connection after its answer, with reason
	// max_requests. 0 means no limit.
	MaxRequestsPerConn int64 `json:"max_requests_per_conn,omitempty"`

	// MaxConnLifetime retires a connection once it is this old: the
	// first request it is given after that is its last (it asks the
	// server to close, as for MaxRequestsPerConn) and the client closes
	// it after the answer, with reason lifetime; an idle connection past
	// its lifetime is closed instead of being reused where the engine
	// owns its pool. Each connection's lifetime is MaxConnLifetime plus
	// a uniform jitter in [-MaxConnLifetimeJitter, +MaxConnLifetimeJitter]
	// drawn when it is dialed, so that connections dialed together do
	// not all close together. 0 means no limit.
	MaxConnLifetime       time.Duration `json:"max_conn_lifetime,omitempty"`
	MaxConnLifetimeJitter time.Duration `json:"max_conn_lifetime_jitter,omitempty"`

	// LocalAddrs are the source addresses new connections bind, one after
	// the other in turn (--local-addr; [ParseLocalAddrs]). Empty: the
	// system picks.
	LocalAddrs []netip.Addr `json:"local_addrs,omitempty"`

	// Resolve maps "host:port" (host in lower case) to the addresses its
	// dials connect to, without DNS, the next one in turn per new
	// connection (--resolve; [ParseResolve]). The Host header and the TLS
	// server name stay the host.
	Resolve map[string][]netip.Addr `json:"resolve,omitempty"`

	// DNSTTL is how long a host name's addresses are kept once looked up
	// (--dns-ttl). 0 means for the whole run (one lookup per name);
	// negative ([DNSNoCache], --dns-ttl 0) means none: every new
	// connection looks its host up. A host --resolve names, or an IP
	// address, is never looked up.
	DNSTTL time.Duration `json:"dns_ttl,omitempty"`

	// DNSMode is which of a name's addresses a new connection dials
	// first (--dns-mode): the resolver's first (the zero value), each in
	// turn, or one at random.
	DNSMode DNSMode `json:"dns_mode,omitempty"`

	// IPFamily restricts lookups to A records ("4") or AAAA records
	// ("6") (--ip-family); the zero value asks for both. LocalAddrs and
	// the addresses of Resolve must be of that family.
	IPFamily IPFamily `json:"ip_family,omitempty"`

	// UserAgent is sent on the CONNECT requests that open tunnels through
	// an HTTP proxy, so that the proxy's log ties each tunnel to the run.
	// Empty: none.
	UserAgent string `json:"user_agent,omitempty"`

	// HTTP is the protocol the pool may speak (--http): HTTPAuto offers h2
	// and http/1.1 by ALPN on https when the engine speaks HTTP/2 and
	// uses what the server picks (HTTP/1.1 on http), HTTP1 forces
	// HTTP/1.1, HTTP2 requires HTTP/2 (ALPN h2 on https, a server that
	// does not pick it failing as protocol_negotiation; prior-knowledge
	// h2c on http).
	HTTP HTTPVersion `json:"http,omitempty"`

	// H2MaxStreams caps the streams the client opens at once on one
	// HTTP/2 connection (--h2-max-streams), below what the server's
	// SETTINGS_MAX_CONCURRENT_STREAMS allows. 0: what the server allows.
	H2MaxStreams int `json:"h2_max_streams,omitempty"`

	// H2StrictStreams never opens another connection while every
	// connection's streams are in use: requests wait for a stream slot
	// (--h2-strict-streams; Go's HTTP2Config.StrictMaxConcurrentRequests).
	H2StrictStreams bool `json:"h2_strict_streams,omitempty"`

	// H2PingTimeout sends a PING on an HTTP/2 connection silent for this
	// long and closes the connection when the PING is not answered within
	// it (--h2-ping-timeout; Go's HTTP2Config.SendPingTimeout and
	// PingTimeout; the default engine's internal/h2 does the same). 0: no
	// such PINGs (net/http: Go's default PingTimeout, 15s, unused without
	// SendPingTimeout).
	H2PingTimeout time.Duration `json:"h2_ping_timeout,omitempty"`
}

// HTTPVersion is the HTTP protocol a pool may speak ([Config.HTTP]).
type HTTPVersion string

// The protocol modes of --http.
const (
	// HTTPAuto ("auto", the zero value) does what Go's http.Transport
	// does: h2 by ALPN on https when the server picks it, HTTP/1.1
	// otherwise.
	HTTPAuto HTTPVersion = ""
	// HTTP1 ("1.1") forces HTTP/1.1.
	HTTP1 HTTPVersion = "1.1"
	// HTTP2 ("2") requires HTTP/2.
	HTTP2 HTTPVersion = "2"
)

// ParseHTTPVersion parses a value of --http: "auto" (or empty), "1.1"
// or "2".
func ParseHTTPVersion(s string) (HTTPVersion, error) {
	switch s {
	case "", "auto":
		return HTTPAuto, nil
	case "1.1":
		return HTTP1, nil
	case "2":
		return HTTP2, nil
	}
	return HTTPAuto, fmt.Errorf("%q: want auto, 1.1 or 2", s)
}

// String returns the mode as --http takes it ("auto" for HTTPAuto).
func (v HTTPVersion) String() string {
	if v == HTTPAuto {
		return "auto"
	}
	return string(v)
}

// ALPN returns the protocols a TLS handshake offers in mode v, in order
// of preference; h2 says whether the engine can speak HTTP/2 (without
// it, auto offers only http/1.1).
func (v HTTPVersion) ALPN(h2 bool) []string {
	switch {
	case v == HTTP2:
		return []string{"h2"}
	case v == HTTPAuto && h2:
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}

// Defaults used when a Config field is zero.
const (
	DefaultIdleConnTimeout        = 90 * time.Second
	DefaultDialTimeout            = 10 * time.Second
	DefaultTLSHandshakeTimeout    = 10 * time.Second
	DefaultMaxResponseHeaderBytes = 1 << 20
	// DefaultExpectContinueTimeout is http.DefaultTransport's.
	DefaultExpectContinueTimeout = time.Second
)

// MinResponseHeaderBytes is the smallest MaxResponseHeaderBytes: h1's
// read buffer, which holds a status line and small headers whole.
const MinResponseHeaderBytes = 4 << 10

// WithDefaults returns c with every zero field replaced by its documented
// default. Limits stay negative when they were ("no limit").
func (c Config) WithDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	derive := func(v *int) {
		if *v == 0 {
			*v = c.Concurrency
		}
	}
	derive(&c.MaxConnsPerHost)
	derive(&c.MaxIdleConnsPerHost)
	derive(&c.MaxIdleConns)
	if c.IdleConnTimeout == 0 {
		c.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.TLSHandshakeTimeout == 0 {
		c.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if c.MaxResponseHeaderBytes == 0 {
		c.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	if c.ExpectContinueTimeout == 0 {
		c.ExpectContinueTimeout = DefaultExpectContinueTimeout
	}
	return c
}

// Validate reports every field that cannot be used, joined.
func (c Config) Validate() error {
	var errs []error
	neg := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", name, d))
		}
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency must not be negative, got %d", c.Concurrency))
	}
	neg("idle conn timeout", c.IdleConnTimeout)
	neg("dial timeout", c.DialTimeout)
	neg("TLS handshake timeout", c.TLSHandshakeTimeout)
	neg("response header timeout", c.ResponseHeaderTimeout)
	neg("h2 ping timeout", c.H2PingTimeout)
	if _, err := ParseHTTPVersion(string(c.HTTP)); err != nil {
		errs = append(errs, fmt.Errorf("http version %w", err))
	}
	if c.H2MaxStreams < 0 {
		errs = append(errs, fmt.Errorf("h2 max streams must be at least 1 (0: what the server allows), got %d", c.H2MaxStreams))
	}
	if c.MaxRequestsPerConn < 0 {
		errs = append(errs, fmt.Errorf("max requests per connection must not be negative, got %d (0: no limit)", c.MaxRequestsPerConn))
	}
	neg("max connection lifetime", c.MaxConnLifetime)
	neg("max connection lifetime jitter", c.MaxConnLifetimeJitter)
	if c.MaxConnLifetimeJitter > 0 && c.MaxConnLifetimeJitter >= c.MaxConnLifetime {
		errs = append(errs, fmt.Errorf("max connection lifetime jitter %v: want less than the lifetime %v", c.MaxConnLifetimeJitter, c.MaxConnLifetime))
	}
	for k, addrs := range c.Resolve {
		if _, _, err := net.SplitHostPort(k); err != nil || k != strings.ToLower(k) {
			errs = append(errs, fmt.Errorf("resolve key %q: want host:port with the host in lower case", k))
		}
		for _, a := range addrs {
			if !a.IsValid() || a.Zone() != "" {
				errs = append(errs, fmt.Errorf("resolve %s: address %q: want an IPv4 or IPv6 address without a zone", k, a))
			}
		}
	}
	for _, a := range c.LocalAddrs {
		if !a.IsValid() || a.Zone() != "" {
			errs = append(errs, fmt.Errorf("local address %q: want an IPv4 or IPv6 address without a zone", a))
		}
	}
	if _, err := ParseDNSMode(string(c.DNSMode)); err != nil {
		errs = append(errs, fmt.Errorf("DNS mode %w", err))
	}
	if _, err := ParseIPFamily(string(c.IPFamily)); err != nil {
		errs = append(errs, fmt.Errorf("IP family %w", err))
	} else {
		if a, bad := c.IPFamily.Conflict(c.LocalAddrs); bad {
			errs = append(errs, fmt.Errorf("local address %s is not of IP family %s; want source addresses of that family, or IP family any", a, c.IPFamily))
		}
		for k, addrs := range c.Resolve {
			if a, bad := c.IPFamily.Conflict(addrs); bad {
				errs = append(errs, fmt.Errorf("resolve %s: address %s is not of IP family %s; want addresses of that family, or IP family any", k, a, c.IPFamily))
			}
		}
	}
	if len(c.RootCAsPEM) > 0 {
		if _, err := CAPool(c.RootCAsPEM); err != nil {
			errs = append(errs, fmt.Errorf("CA certificates: %w", err))
		}
	}
	if c.MaxResponseHeaderBytes < 0 || c.MaxResponseHeaderBytes > 0 && c.MaxResponseHeaderBytes < MinResponseHeaderBytes {
		errs = append(errs, fmt.Errorf("max response header bytes %d: want at least %d (0: 1 MiB)", c.MaxResponseHeaderBytes, MinResponseHeaderBytes))
	}
	return errors.Join(errs...)
}

// connLifetime draws the lifetime of one new connection: MaxConnLifetime
// moved by a uniform jitter in [-J, +J]; 0 when there is no limit. r is a
// uniform draw in [0, 1).
func (c Config) connLifetime(r float64) time.Duration {
	if c.MaxConnLifetime <= 0 {
		return 0
	}
	j := c.MaxConnLifetimeJitter
	if j <= 0 {
		return c.MaxConnLifetime
	}
	return c.MaxConnLifetime - j + time.Duration(r*float64(2*j))
}

// ParseLifetime reads a connection lifetime with an optional jitter, as
// --max-conn-lifetime takes it: "30s", "30s±5s" or "30s+-5s". The jitter
// must be shorter than the lifetime.
func ParseLifetime(s string) (d, jitter time.Duration, err error) {
	base, j, found := strings.Cut(s, "±")
	if !found {
		base, j, found = strings.Cut(s, "+-")
	}
	if d, err = time.ParseDuration(strings.TrimSpace(base)); err != nil {
		return 0, 0, fmt.Errorf("%q: want a duration such as 30s, with an optional jitter: 30s±5s (or 30s+-5s)", s)
	}
	if found {
		if jitter, err = time.ParseDuration(strings.TrimSpace(j)); err != nil {
			return 0, 0, fmt.Errorf("%q: the jitter after ± is no duration; want e.g. 30s±5s", s)
		}
	}
	switch {
	case d <= 0:
		return 0, 0, fmt.Errorf("%q: want a lifetime above 0", s)
	case jitter < 0 || jitter >= d:
		return 0, 0, fmt.Errorf("%q: want a jitter from 0 to less than the lifetime", s)
	}
	return d, jitter, nil
}

// limit maps a Config limit (after defaults) to net/http's encoding, where
// MaxConnsPerHost and MaxIdleConns take 0 for "no limit" and
// MaxIdleConnsPerHost has no such value (0 means 2, negative disables
// keep-alives), so "no limit" becomes the largest int.
func limit(v int, zeroIsUnlimited bool) int {
	if v > 0 {
		return v
	}
	if zeroIsUnlimited {
		return 0
	}
	return math.MaxInt
}
