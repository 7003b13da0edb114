package sockstat

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func sample(t *testing.T, name string, m Match) Counts {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c Counts
	if err := Parse(f, m, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// The samples were recorded on this machine: a client with keep-alives off
// (so the server closed first and holds most TIME_WAITs) and four open
// connections to 127.0.0.1:18099, and a python HTTP/1.0 server on
// [::1]:18098. The expected numbers were counted with an independent
// script at the time.
func TestRecordedSamples(t *testing.T) {
	v4 := netip.MustParseAddrPort("127.0.0.1:18099")
	v6 := netip.MustParseAddrPort("[::1]:18098")
	for _, tc := range []struct {
		file string
		m    Match
		want Counts
	}{
		{"tcp.sample", ToRemote(v4), Counts{Established: 4, TimeWait: 3, Total: 7}},
		{"tcp.sample", FromLocal(v4), Counts{Established: 4, TimeWait: 37, Total: 42}},
		{"tcp6.sample", FromLocal(v6), Counts{TimeWait: 5, Total: 6}},
		{"tcp6.sample", ToRemote(v6), Counts{}},
		{"tcp.sample", ToRemote(netip.MustParseAddrPort("127.0.0.1:1")), Counts{}},
	} {
		if got := sample(t, tc.file, tc.m); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.file, got, tc.want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0000":                         "0.0.0.0:0",
		"00000000000000000000000001000000:46B2": "[::1]:18098",
		"0000000000000000FFFF00000100007F:0050": "127.0.0.1:80", // v4-mapped
	} {
		got, err := parseAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("parseAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0100007F", "XYZ:0050", "0100:0050", "0100007F:XYZW"} {
		if _, err := parseAddr(bad); err == nil {
			t.Errorf("parseAddr(%q) succeeded", bad)
		}
	}
	var c Counts
	if err := Parse(strings.NewReader("header\n 0: nothex:0050 0100007F:0050 01\n"), ToRemote(), &c); err == nil {
		t.Error("Parse accepted a malformed line")
	}
}

// The kernel prints a line again when its hash chain shifted between two
// reads of the table: a connected socket is counted once, however often
// its line comes; listening sockets sharing an address (SO_REUSEPORT) are
// distinct and each counted.
func TestParseCountsASocketOnce(t *testing.T) {
	const table = "header\n" +
		" 0: 0100007F:1F90 00000000:0000 0A x\n" + // two listeners on 127.0.0.1:8080
		" 1: 0100007F:1F90 00000000:0000 0A x\n" +
		" 2: 0100007F:8440 0100007F:1F90 01 x\n" + // established, printed 3 times
		" 3: 0100007F:8440 0100007F:1F90 01 x\n" +
		" 4: 0100007F:8442 0100007F:1F90 06 x\n" + // TIME_WAIT, printed twice
		" 5: 0100007F:8440 0100007F:1F90 01 x\n" +
		" 6: 0100007F:8442 0100007F:1F90 06 x\n" +
		" 7: 0100007F:8444 0100007F:1F90 06 x\n" + // TIME_WAIT, once
		" 8: 0100007F:8444 0100007F:1F91 06 x\n" // same local end, another remote: another socket
	all := func(netip.AddrPort, netip.AddrPort) bool { return true }
	for _, tc := range []struct {
		m    Match
		want Counts
	}{
		{all, Counts{Established: 1, TimeWait: 3, Total: 6}},
		{ToRemote(netip.MustParseAddrPort("127.0.0.1:8080")), Counts{Established: 1, TimeWait: 2, Total: 3}},
		{FromLocal(netip.MustParseAddrPort("127.0.0.1:8080")), Counts{Total: 2}},
	} {
		var c Counts
		if err := Parse(strings.NewReader(table), tc.m, &c); err != nil || c != tc.want {
			t.Errorf("Parse: %+v, %v; want %+v", c, err, tc.want)
		}
	}
}

// Against the live table: a connection this test opens is there,
// established, with the right remote address.
func TestReadLive(t *testing.T) {
	if _, err := os.Stat(Tables[0]); err != nil {
		t.Skip("no /proc/net/tcp here")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 3 { // three connections held open to the end of the test
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	c, err := Read(ToRemote(netip.MustParseAddrPort(l.Addr().String())))
	if err != nil {
		t.Fatal(err)
	}
	if c.Established != 3 {
		t.Errorf("established to the listener = %d, want 3 (%+v)", c.Established, c)
	}
	lo, hi, err := PortRange()
	if err != nil || lo < 1 || hi > 65535 || lo > hi {
		t.Errorf("PortRange() = %d, %d, %v", lo, hi, err)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/tcp.sample")
	f.Add(string(b))
	f.Fuzz(func(t *testing.T, s string) {
		var c Counts
		_ = Parse(strings.NewReader(s), func(netip.AddrPort, netip.AddrPort) bool { return true }, &c)
		if c.Established+c.TimeWait > c.Total {
			t.Fatalf("counts %+v", c)
		}
	})
}

func TestSummaryTW(t *testing.T) {
	n, err := parseSummaryTW("sockets: used 8\nTCP: inuse 1 orphan 0 tw 1001 alloc 1 mem 0\nUDP: inuse 0 mem 0\n")
	if err != nil || n != 1001 {
		t.Errorf("parseSummaryTW = %d, %v; want 1001", n, err)
	}
	if _, err := parseSummaryTW("nothing here"); err == nil {
		t.Error("no error without a TCP line")
	}
	if _, err := os.Stat(SummaryFile); err == nil {
		if _, err := HostTimeWait(); err != nil {
			t.Errorf("HostTimeWait: %v", err)
		}
	}
}
