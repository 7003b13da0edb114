package sockstat

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// Diag agrees with the tables on live sockets: 4 connections this test
// opens and keeps (ESTABLISHED), and 5 it closes first (TIME_WAIT on its
// side), to a listener of its own; other sockets do not count.
func TestDiagLive(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				// Wait for the client's close, then close: the client
				// closed first, so its socket goes to TIME_WAIT.
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _ = c.Read(make([]byte, 1))
				_ = c.Close()
			}()
		}
	}()
	to := netip.MustParseAddrPort(l.Addr().String())
	for i := range 9 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if i < 4 {
			defer c.Close()
			continue
		}
		_ = c.Close()
	}
	m := ToRemote(to)
	var got Counts
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, err = Diag(m); err != nil {
			t.Fatal(err)
		}
		if got.TimeWait >= 5 {
			break
		}
	}
	// At least the 5 closed here: an earlier test's sockets to a listener
	// that had the same port may still be in TIME_WAIT (for 60 s).
	if got.Established != 4 || got.TimeWait < 5 {
		t.Fatalf("Diag: %+v, want 4 established and at least 5 in TIME_WAIT", got)
	}
	tables, err := Read(m)
	if err != nil {
		t.Fatal(err)
	}
	if tables.Established != got.Established || tables.TimeWait != got.TimeWait {
		t.Errorf("tables %+v, Diag %+v: want the same counts", tables, got)
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
	go func() {
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
	}()
	srcs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}
	for i, from := range []int{0, 0, 0, 1, 1, 0} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: srcs[from].AsSlice()}}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Skipf("dial from %s: %v", srcs[from], err)
		}
		if i == 5 {
			defer c.Close()
			continue
		}
		_ = c.Close()
	}
	m := ToRemote(netip.MustParseAddrPort(l.Addr().String()))
	want := []Counts{{Established: 1, TimeWait: 3, Total: 4}, {TimeWait: 2, Total: 2}, {}}
	var sp *Split
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		sp = BySource(srcs)
		if _, err := DiagSplit(m, sp); err != nil {
			t.Fatal(err)
		}
		if sp.Counts[0].TimeWait >= 3 && sp.Counts[1].TimeWait >= 2 {
			break
		}
	}
	// An earlier run's sockets from these addresses to a listener that had
	// the same port may still be in TIME_WAIT: at least, then.
	for i, w := range want {
		if g := sp.Counts[i]; g.Established != w.Established || g.TimeWait < w.TimeWait || i == 2 && g.Total != 0 {
			t.Errorf("DiagSplit %s: %+v; want %+v", srcs[i], g, w)
		}
	}
	tables := BySource(srcs)
	if _, err := ReadSplit(m, tables); err != nil {
		t.Fatal(err)
	}
	for i := range srcs {
		if tables.Counts[i].Established != sp.Counts[i].Established || tables.Counts[i].TimeWait != sp.Counts[i].TimeWait {
			t.Errorf("%s: tables %+v, Diag %+v; want the same counts", srcs[i], tables.Counts[i], sp.Counts[i])
		}
	}
}
