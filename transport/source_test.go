package transport

import (
	"fmt"
	"net"
	"strings"
	"testing"
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
