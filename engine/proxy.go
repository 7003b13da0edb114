package engine

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http/httpproxy"
)

// ProxyPlan says which proxies requests go through. Without URLs and
// FromEnv, requests go straight to their targets (the environment's
// HTTP_PROXY is not read unless asked for).
type ProxyPlan struct {
	// URLs are the proxies: http://, https://, socks5:// (faya resolves
	// the target's name) or socks5h:// (the proxy does), with a port, and
	// user:password when the proxy wants them.
	URLs []string `json:"urls,omitempty"`
	// Mode picks a proxy when there are several: ProxyPerVU (VU i uses
	// URLs[i mod n] for all its requests, the default) or
	// ProxyRoundRobin (each request the next proxy).
	Mode string `json:"mode,omitempty"`
	// CAPEM holds the certificates an HTTPS proxy's certificate must chain
	// to; empty: the system's roots.
	CAPEM []byte `json:"ca_pem,omitempty"`
	// FromEnv takes the proxy of each request from HTTP_PROXY, HTTPS_PROXY
	// and NO_PROXY (and their lower-case forms), as Go programs do with
	// http.ProxyFromEnvironment. Not with URLs.
	FromEnv bool `json:"from_env,omitempty"`
}

// Proxy modes.
const (
	ProxyPerVU      = "per-vu"
	ProxyRoundRobin = "round-robin"
)

// Enabled reports whether any proxy may be used.
func (p ProxyPlan) Enabled() bool { return len(p.URLs) > 0 || p.FromEnv }

// proxySet is a run's proxies and how a request picks one.
type proxySet struct {
	list  []*transport.Proxy
	mode  string
	next  atomic.Uint64
	env   func(*url.URL) (*url.URL, error) // FromEnv
	byEnv map[string]*transport.Proxy      // FromEnv: the environment's URLs
}

// newProxySet parses the plan's proxies; getenv reads the environment
// (for FromEnv).
func newProxySet(p ProxyPlan, getenv func(string) string) (*proxySet, error) {
	if !p.Enabled() {
		return nil, nil
	}
	ps := &proxySet{mode: p.Mode}
	switch p.Mode {
	case "", ProxyPerVU:
		ps.mode = ProxyPerVU
	case ProxyRoundRobin:
	default:
		return nil, fmt.Errorf("proxy mode %q: want %s or %s", p.Mode, ProxyPerVU, ProxyRoundRobin)
	}
	if p.FromEnv {
		if len(p.URLs) > 0 {
			return nil, errors.New("proxies from the environment and proxy URLs both given: use one")
		}
		cfg := &httpproxy.Config{
			HTTPProxy:  envOf(getenv, "HTTP_PROXY"),
			HTTPSProxy: envOf(getenv, "HTTPS_PROXY"),
			NoProxy:    envOf(getenv, "NO_PROXY"),
		}
		ps.env = cfg.ProxyFunc()
		ps.byEnv = map[string]*transport.Proxy{}
		for _, kv := range [][2]string{{"HTTP_PROXY", cfg.HTTPProxy}, {"HTTPS_PROXY", cfg.HTTPSProxy}} {
			raw := kv[1]
			if raw == "" {
				continue
			}
			if !strings.Contains(raw, "://") {
				raw = "http://" + raw // as Go reads it
			}
			px, err := transport.ParseProxy(raw, p.CAPEM)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kv[0], err)
			}
			key := px.URL().String()
			if ps.byEnv[key] == nil {
				px.Index = len(ps.list)
				ps.list = append(ps.list, px)
				ps.byEnv[key] = px
			}
		}
		return ps, nil
	}
	for i, raw := range p.URLs {
		px, err := transport.ParseProxy(raw, p.CAPEM)
		if err != nil {
			return nil, fmt.Errorf("proxy %d: %w", i+1, err)
		}
		px.Index = i
		ps.list = append(ps.list, px)
	}
	return ps, nil
}

// envOf reads an environment variable, upper case first, as
// http.ProxyFromEnvironment does.
func envOf(getenv func(string) string, name string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return getenv(strings.ToLower(name))
}

// forVU returns the proxy VU vu keeps in per-vu mode, nil otherwise.
func (ps *proxySet) forVU(vu int) *transport.Proxy {
	if ps == nil || ps.env != nil || ps.mode != ProxyPerVU || len(ps.list) == 0 {
		return nil
	}
	return ps.list[vu%len(ps.list)]
}

// pick returns the proxy of a request to u by a VU whose per-vu proxy is
// fixed (nil: none, or another mode).
func (ps *proxySet) pick(fixed *transport.Proxy, u *url.URL) *transport.Proxy {
	switch {
	case fixed != nil:
		return fixed
	case ps == nil:
		return nil
	case ps.env != nil:
		pu, err := ps.env(u)
		if err != nil || pu == nil {
			return nil
		}
		return ps.byEnv[pu.String()]
	case ps.mode == ProxyRoundRobin:
		return ps.list[(ps.next.Add(1)-1)%uint64(len(ps.list))]
	}
	return nil
}

// proxies returns the run's proxies (nil for a nil set).
func (ps *proxySet) proxies() []*transport.Proxy {
	if ps == nil {
		return nil
	}
	return ps.list
}
