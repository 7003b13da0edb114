package testserver

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is an in-process DNS server on 127.0.0.1 (UDP) for tests: it
// answers A and AAAA queries for the names it was given with their
// addresses of that family, in the order given (an empty answer for a
// family the name has none of), and NXDOMAIN for any other name. It
// counts the queries it got by name and type.
type DNS struct {
	pc      net.PacketConn
	records map[string][]netip.Addr // by name, lower case, with the final dot

	mu      sync.Mutex
	queries map[string]int // by "name. TYPE"
}

// StartDNS serves records (host name to addresses) until the test ends.
func StartDNS(t testing.TB, records map[string][]netip.Addr) *DNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &DNS{pc: pc, records: map[string][]netip.Addr{}, queries: map[string]int{}}
	for name, addrs := range records {
		d.records[fqdn(name)] = addrs
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve()
	}()
	t.Cleanup(func() {
		_ = pc.Close()
		<-done
	})
	return d
}

func fqdn(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") + "." }

// Resolver is a Go resolver that sends every query to d.
func (d *DNS) Resolver() *net.Resolver {
	addr := d.pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "udp", addr)
	}}
}

// Queries returns how many queries of type qtype ("A", "AAAA") for name
// d got.
func (d *DNS) Queries(name, qtype string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[fqdn(name)+" "+qtype]
}

func (d *DNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.pc.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		if out, ok := d.answer(buf[:n]); ok {
			_, _ = d.pc.WriteTo(out, from)
		}
	}
}

// answer builds the reply to one query message.
func (d *DNS) answer(msg []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := strings.ToLower(q.Name.String())
	qtype := strings.TrimPrefix(q.Type.String(), "Type")
	d.mu.Lock()
	d.queries[name+" "+qtype]++
	d.mu.Unlock()

	addrs, known := d.records[name]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	res := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300}
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			res.Type = dnsmessage.TypeA
			err = b.AResource(res, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			res.Type = dnsmessage.TypeAAAA
			err = b.AAAAResource(res, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}
