package transport

import (
	"math/rand/v2"
	"net"
	"time"
)

// Track counts nc, a connection dialed by someone else (the DialContext
// of a Transport faya did not build), as one of p's: it returns the [Conn]
// over nc, reported to p's Observer as dialed now and, once closed, with
// its reason. dialedAt is when the dial started; connect is how long it
// took (the whole dial, as the other dialer did it).
func (p *Dialer) Track(nc net.Conn, dialedAt time.Time, connect time.Duration) *Conn {
	c := &Conn{Conn: nc, Connect: connect, DialedAt: dialedAt, MaxAge: p.cfg.connLifetime(rand.Float64()), pool: p}
	p.dialed(c)
	return c
}
