package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/faya-load/faya/metrics"
)

func TestParseLocalAddrs(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string // the addresses, or the error's start
	}{
		{[]string{"127.0.0.2"}, "[127.0.0.2]"},
		{[]string{"127.0.0.2, 127.0.0.3", "::1"}, "[127.0.0.2 127.0.0.3 ::1]"},
		{[]string{"127.0.0.0/30"}, "[127.0.0.0 127.0.0.1 127.0.0.2 127.0.0.3]"},
		{[]string{"127.0.0.9/30"}, "[127.0.0.8 127.0.0.9 127.0.0.10 127.0.0.11]"},
		{[]string{"::ffff:127.0.0.2"}, "[127.0.0.2]"},
		{[]string{"fd00::/127"}, "[fd00:: fd00::1]"},
		{[]string{"10.0.0.0/22"}, "[10.0.0.0"},
		{[]string{"10.0.0.0/21"}, `"10.0.0.0/21": more than 1024 addresses`},
		{[]string{"10.0.0.0/22", "10.0.8.1"}, "more than 1024 addresses"},
		{[]string{"::/0"}, `"::/0": more than 1024 addresses`},
		{[]string{"localhost"}, `"localhost": want an IPv4 or IPv6 address`},
		{[]string{"fe80::1%eth0"}, `"fe80::1%eth0": want an address without a zone`},
		{[]string{","}, `",": no address`},
	} {
		got, err := ParseLocalAddrs(tc.in)
		s := fmt.Sprint(got)
		if err != nil {
			s = err.Error()
		}
		if !strings.HasPrefix(s, tc.want) {
			t.Errorf("ParseLocalAddrs(%q) = %s; want %s", tc.in, s, tc.want)
		}
	}
	if got, err := ParseLocalAddrs([]string{"10.0.0.0/22"}); err != nil || len(got) != 1024 || got[1023].String() != "10.0.3.255" {
		t.Errorf("10.0.0.0/22: %d addresses (err %v); want 1024 up to 10.0.3.255", len(got), err)
	}
}

// Any address of a loopback prefix an interface holds is local (Linux's
// lo answers for all of 127.0.0.0/8); another interface's prefix is not,
// only its own address.
func TestCheckLocal(t *testing.T) {
	ifs := []net.Addr{
		&net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(8, 32)},
		&net.IPNet{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		&net.IPNet{IP: net.IPv4(192, 168, 1, 5).To4(), Mask: net.CIDRMask(24, 32)},
	}
	for _, tc := range []struct {
		addrs string
		ok    bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.2,127.9.8.7", true},
		{"::1", true},
		{"192.168.1.5", true},
		{"192.168.1.6", false},
		{"127.0.0.2,10.1.1.1", false},
		{"::2", false},
	} {
		addrs, err := ParseLocalAddrs([]string{tc.addrs})
		if err != nil {
			t.Fatal(err)
		}
		if err := checkLocal(addrs, ifs); (err == nil) != tc.ok {
			t.Errorf("checkLocal(%s) = %v; want ok %v", tc.addrs, err, tc.ok)
		}
	}
}

func TestParseResolve(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string // the map, or the error's start
	}{
		{[]string{"shop.test:8080:127.0.0.1"}, "map[shop.test:8080:[127.0.0.1]]"},
		{[]string{"Shop.Test:443:127.0.0.1,[::1]", "shop.test:443:127.0.0.2"}, "map[shop.test:443:[127.0.0.1 ::1 127.0.0.2]]"},
		{[]string{"a.test:80:::1", "b.test:80:127.0.0.1"}, "map[a.test:80:[::1] b.test:80:[127.0.0.1]]"},
		{[]string{"shop.test:127.0.0.1"}, `"shop.test:127.0.0.1": want HOST:PORT:ADDR`},
		{[]string{"shop.test:http:127.0.0.1"}, `"shop.test:http:127.0.0.1": port "http": want a number`},
		{[]string{"shop.test"}, `"shop.test": want HOST:PORT:ADDR`},
		{[]string{"shop.test:80:"}, `"shop.test:80:": address "": want an IPv4 or IPv6 address`},
		{[]string{"shop.test:80:localhost"}, `"shop.test:80:localhost": address "localhost"`},
		{[]string{"shop.test:0:127.0.0.1"}, `"shop.test:0:127.0.0.1": port "0"`},
		{[]string{"sh op:80:127.0.0.1"}, `"sh op:80:127.0.0.1": host "sh op" is no host name`},
		{[]string{":80:127.0.0.1"}, `":80:127.0.0.1": host "" is no host name`},
	} {
		got, err := ParseResolve(tc.in)
		s := fmt.Sprint(got)
		if err != nil {
			s = err.Error()
		}
		if !strings.HasPrefix(s, tc.want) {
			t.Errorf("ParseResolve(%q) = %s; want %s", tc.in, s, tc.want)
		}
	}
}

// A host --resolve names is dialed at its addresses in turn, without a
// lookup: the dialer's resolver is never asked.
func TestResolveSkipsDNS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln2, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		t.Skipf("listen on 127.0.0.2:%s: %v", port, err)
	}
	defer ln2.Close()
	cfg := Config{Resolve: map[string][]netip.Addr{"shop.test:" + port: {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}}}
	d, err := NewDialer(cfg, nopObserver{})
	if err != nil {
		t.Fatal(err)
	}
	var lookups atomic.Int64
	d.resolver = NewResolver(cfg, &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		lookups.Add(1)
		return nil, errors.New("no DNS in this test")
	}})
	by := map[string]int{}
	for range 4 {
		c, _, err := d.Dial(t.Context(), "Shop.test:"+port, false, "")
		if err != nil {
			t.Fatal(err)
		}
		if c.DNS != 0 {
			t.Errorf("DNS phase %v; want none", c.DNS)
		}
		by[c.RemoteAddr().(*net.TCPAddr).IP.String()]++
		_ = c.Close()
	}
	if lookups.Load() != 0 {
		t.Errorf("%d lookups for a host --resolve names; want 0", lookups.Load())
	}
	if by["127.0.0.1"] != 2 || by["127.0.0.2"] != 2 {
		t.Errorf("connections by address %v; want 2 to 127.0.0.1 and 2 to 127.0.0.2", by)
	}
	if _, _, err := d.Dial(t.Context(), "other.test:"+port, false, ""); err == nil || lookups.Load() == 0 {
		t.Errorf("a host --resolve does not name: err %v, %d lookups; want the resolver asked", err, lookups.Load())
	}
}

type nopObserver struct{}

func (nopObserver) ConnDialed(*Conn)                                    {}
func (nopObserver) ConnClosed(*Conn, metrics.CloseReason, int64, int64) {}
func (nopObserver) PutIdleFailed(metrics.CloseReason)                   {}

// A source address of the other family fails the dial as local, before
// any connect, and the next dial takes the next address.
func TestLocalAddrFamily(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Config{LocalAddrs: []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.2")}}
	d, err := NewDialer(cfg, nopObserver{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Dial(t.Context(), ln.Addr().String(), false, "")
	if c := metrics.Classify(err); c != metrics.ErrLocal {
		t.Errorf("dial from ::1 to %s: %v (class %v); want class local", ln.Addr(), err, c)
	}
	c, _, err := d.Dial(t.Context(), ln.Addr().String(), false, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.LocalAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.2" {
		t.Errorf("second dial from %s; want 127.0.0.2", got)
	}
}
