package metrics

import "time"

// ProxyStats are one proxy's accounts: the connections dialed through it
// and the requests they carried.
type ProxyStats struct {
	Dialed   int64 // connections made through the proxy (what the proxy accepted)
	Requests int64 // requests sent through it (setup requests included)
	Errors   int64 // of those, the ones without a response
	Fresh    int64 // requests on a connection's first use
	Reused   int64 // requests on a reused connection
	// HandshakeSum and Handshakes give the mean proxy phase (TLS to the
	// proxy, CONNECT or SOCKS5) of the requests that dialed.
	HandshakeSum time.Duration
	Handshakes   int64
}

func (p *ProxyStats) add(x *Sample) {
	p.Requests++
	if x.Err != ErrNone {
		p.Errors++
	}
	p.Fresh += int64(x.Fresh)
	p.Reused += int64(x.Reused)
	if i := int(Proxy - Blocked); x.PhaseSet&(1<<i) != 0 {
		p.HandshakeSum += x.Phases[i]
		p.Handshakes++
	}
}

func (p *ProxyStats) merge(o *ProxyStats) {
	p.Dialed += o.Dialed
	p.Requests += o.Requests
	p.Errors += o.Errors
	p.Fresh += o.Fresh
	p.Reused += o.Reused
	p.HandshakeSum += o.HandshakeSum
	p.Handshakes += o.Handshakes
}

// proxyStats returns the stats of proxy i, growing the list as needed.
func (s *Snapshot) proxyStats(i int) *ProxyStats {
	for len(s.Proxies) <= i {
		s.Proxies = append(s.Proxies, ProxyStats{})
	}
	return &s.Proxies[i]
}

// ProxyDialed counts a connection made through proxy i (its index in the
// run's list).
func (r *Recorder) ProxyDialed(i int) {
	r.connMu.Lock()
	r.conns.proxyStats(i).Dialed++
	r.connMu.Unlock()
}
