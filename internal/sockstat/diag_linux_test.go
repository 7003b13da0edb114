package sockstat

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// serveClosing accepts on l until it closes, and closes each connection
// after the client's close: the client closed first, so its socket goes to
// TIME_WAIT.
func serveClosing(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = c.Read(make([]byte, 1))
			_ = c.Close()
		}()
	}
}

// mine counts the sockets of a test: their local ends, with the state
// each should be in (true: ESTABLISHED, false: TIME_WAIT). A listener's
// port is used again by later tests (-count, other packages), and sockets
// of an earlier one to it stay in TIME_WAIT for a minute, end then, or are
// taken over by a new connect with the same addresses (tcp_tw_reuse, on
// for loopback): a count of everything to the listener is not stable,
// and waiting until it reaches this test's number may stop while one of
// this test's sockets is still in FIN_WAIT2.
type mine map[netip.AddrPort]bool

func (o mine) add(c net.Conn, open bool) {
	o[netip.MustParseAddrPort(c.LocalAddr().String())] = open
}

// want is the counts of o's sockets once the closed ones are in TIME_WAIT.
func (o mine) want() Counts {
	var c Counts
	for _, open := range o {
		c.Total++
		if open {
			c.Established++
		} else {
			c.TimeWait++
		}
	}
	return c
}

// match is m, narrowed to o's sockets.
func (o mine) match(m Match) Match {
	return func(local, remote netip.AddrPort) bool {
		_, ok := o[local]
		return ok && m(local, remote)
	}
}

// Diag agrees with the tables on live sockets: 4 connections this test
// opens and keeps (ESTABLISHED), and 5 it closes first (TIME_WAIT on its
// side), to a listener of its own; other sockets do not count.
func TestDiagLive(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveClosing(l)
	to := netip.MustParseAddrPort(l.Addr().String())
	own := mine{}
	for i := range 9 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		own.add(c, i < 4)
		if i < 4 {
			defer c.Close()
			continue
		}
		_ = c.Close()
	}
	// 9, unless the kernel gave a closed socket's addresses to a later
	// connect (TIME_WAIT reuse): then the later one counts.
	want := own.want()
	if want.Established != 4 || want.TimeWait < 4 {
		t.Fatalf("the test's sockets: %+v, want 4 open and 5 closed (4 if one's addresses were reused)", want)
	}
	m := own.match(ToRemote(to))
	var got Counts
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, err = Diag(m); err != nil {
			t.Fatal(err)
		}
		if got == want {
			break
		}
	}
	if got != want {
		t.Fatalf("Diag of this test's sockets: %+v, want %+v", got, want)
	}
	tables, err := Read(m)
	if err != nil {
		t.Fatal(err)
	}
	if tables != got {
		t.Errorf("tables %+v, Diag %+v: want the same counts", tables, got)
	}
	// Everything to the listener: this test's sockets, and perhaps an
	// earlier test's in TIME_WAIT (never open ones: they closed).
	if all, err := Diag(ToRemote(to)); err != nil || all.Established != 4 || all.TimeWait < want.TimeWait-1 {
		t.Errorf("Diag of all sockets to %s: %+v, %v; want 4 established and about %d or more in TIME_WAIT", to, all, err, want.TimeWait)
	}
	// The other way round: the server's ends are no client's sockets.
	if c, err := Diag(own.match(FromLocal(to))); err != nil || c.Total != 0 {
		t.Errorf("Diag of this test's sockets as the listener's: %+v, %v; want none", c, err)
	}
	if c, err := Diag(ToRemote(netip.MustParseAddrPort("127.0.0.1:1"))); err != nil || c.Total != 0 {
		t.Errorf("Diag to a port nothing uses: %+v, %v", c, err)
	}
}

// DiagSplit and ReadSplit count by source address: 3 connections this
// test closes first from 127.0.0.2 and 2 from 127.0.0.3 (TIME_WAIT on its
// side), 1 kept open from 127.0.0.2; 127.0.0.4 has none.
func TestSplitBySource(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveClosing(l)
	srcs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}
	own := []mine{{}, {}, {}}
	all := mine{}
	for i, from := range []int{0, 0, 0, 1, 1, 0} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: srcs[from].AsSlice()}}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Skipf("dial from %s: %v", srcs[from], err)
		}
		own[from].add(c, i == 5)
		all.add(c, i == 5)
		if i == 5 {
			defer c.Close()
			continue
		}
		_ = c.Close()
	}
	want := []Counts{own[0].want(), own[1].want(), {}}
	if w := want[0]; w.Established != 1 || w.TimeWait < 2 {
		t.Fatalf("the test's sockets from %s: %+v, want 1 open and 3 closed", srcs[0], w)
	}
	if w := want[1]; w.TimeWait < 1 {
		t.Fatalf("the test's sockets from %s: %+v, want 2 closed", srcs[1], w)
	}
	m := all.match(ToRemote(netip.MustParseAddrPort(l.Addr().String())))
	var sp *Split
	var total Counts
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		sp = BySource(srcs)
		if total, err = DiagSplit(m, sp); err != nil {
			t.Fatal(err)
		}
		if sp.Counts[0] == want[0] && sp.Counts[1] == want[1] {
			break
		}
	}
	for i, w := range want {
		if g := sp.Counts[i]; g != w {
			t.Errorf("DiagSplit %s: %+v; want %+v", srcs[i], g, w)
		}
	}
	if w := all.want(); total != w {
		t.Errorf("DiagSplit total: %+v; want %+v", total, w)
	}
	tables := BySource(srcs)
	if _, err := ReadSplit(m, tables); err != nil {
		t.Fatal(err)
	}
	for i := range srcs {
		if tables.Counts[i] != sp.Counts[i] {
			t.Errorf("%s: tables %+v, Diag %+v; want the same counts", srcs[i], tables.Counts[i], sp.Counts[i])
		}
	}
}

// With a remote-port filter the kernel sends only the sockets to those
// ports: a Match that takes every socket it is sent counts exactly the
// test's connections to its listener, not those to a second listener nor
// any other socket on the machine, and the kernel took the filter.
func TestDiagPortFilter(t *testing.T) {
	listen := func() (net.Listener, uint16) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go serveClosing(l)
		return l, uint16(l.Addr().(*net.TCPAddr).Port)
	}
	lp, p := listen()
	lq, _ := listen()
	const n, m = 5, 3
	for i := range n + m {
		l := lp
		if i >= n {
			l = lq
		}
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	all := func(netip.AddrPort, netip.AddrPort) bool { return true }
	c, err := DiagSplitTo(all, nil, p, p)
	if err != nil {
		t.Skipf("no socket diagnostics here: %v", err)
	}
	if noFilter.Load() {
		t.Fatal("the kernel refused the port filter")
	}
	if c.Established != n {
		t.Errorf("established sockets sent for remote port %d: %d, want the test's %d (counts %+v)", p, c.Established, n, c)
	}
	if whole, err := DiagSplit(all, nil); err != nil || whole.Established < n+m {
		t.Errorf("unfiltered: %+v (%v), want at least the test's %d established", whole, err, n+m)
	}
}

// One request asks for the sockets of both families (one walk of the
// kernel's hash), and counts the same as a request per family: the test's
// connections over IPv4 and IPv6 loopback, open and in TIME_WAIT.
func TestDiagBothFamilies(t *testing.T) {
	own := mine{}
	var to []netip.AddrPort
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network]
		l, err := net.Listen(network, addr)
		if err != nil {
			if network == "tcp6" {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			t.Fatal(err)
		}
		defer l.Close()
		go serveClosing(l)
		to = append(to, netip.MustParseAddrPort(l.Addr().String()))
		for i := range 5 {
			c, err := net.Dial(network, l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			own.add(c, i < 2)
			if i < 2 {
				defer c.Close()
				continue
			}
			_ = c.Close()
		}
	}
	want := own.want()
	m := own.match(ToRemote(to...))
	var got Counts
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, err = Diag(m); err != nil {
			t.Skipf("no socket diagnostics here: %v", err)
		}
		if got == want {
			break
		}
	}
	if perFamily.Load() {
		t.Fatal("the kernel refused the request for both families")
	}
	if got != want {
		t.Fatalf("one request for both families: %+v, want %+v", got, want)
	}
	perFamily.Store(true)
	defer perFamily.Store(false)
	if each, err := Diag(m); err != nil || each != got {
		t.Errorf("a request per family: %+v (%v), one for both %+v: want the same", each, err, got)
	}
}

// BenchmarkDiag is a reading of the machine's sockets, every one of them
// (all) or those to one remote port the kernel filters for (port), by one
// request for both families (one walk of the kernel's socket hash) or by
// one per family (two): the difference grows with the sockets in
// ESTABLISHED and TIME_WAIT on the machine.
func BenchmarkDiag(b *testing.B) {
	all := func(netip.AddrPort, netip.AddrPort) bool { return true }
	for _, bc := range []struct {
		name   string
		lo, hi uint16
		each   bool
	}{{"all", 0, 0, false}, {"port", 1, 1, false}, {"all-per-family", 0, 0, true}, {"port-per-family", 1, 1, true}} {
		b.Run(bc.name, func(b *testing.B) {
			perFamily.Store(bc.each)
			defer perFamily.Store(false)
			for b.Loop() {
				if _, err := DiagSplitTo(all, nil, bc.lo, bc.hi); err != nil {
					b.Skip(err)
				}
			}
		})
	}
}
