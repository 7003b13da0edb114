// Package sockstat reads the kernel's TCP socket tables (/proc/net/tcp and
// /proc/net/tcp6 on Linux) to count the sockets to a target by state:
// TIME_WAIT above all, the sockets that hold an ephemeral port for a minute
// after the side that closed first closed. It also reads the local
// ephemeral port range.
package sockstat

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// TCP states as the kernel numbers them (include/net/tcp_states.h).
const (
	stateEstablished = 0x01
	stateTimeWait    = 0x06
)

// Counts are sockets by state.
type Counts struct {
	Established int
	TimeWait    int
	Total       int
}

// Match selects sockets by their local and remote addresses.
type Match func(local, remote netip.AddrPort) bool

// ToRemote matches the sockets whose remote end is one of addrs: a
// client's sockets to a target.
func ToRemote(addrs ...netip.AddrPort) Match {
	return func(_, remote netip.AddrPort) bool { return contains(addrs, remote) }
}

// FromLocal matches the sockets whose local end is one of addrs: a
// server's sockets.
func FromLocal(addrs ...netip.AddrPort) Match {
	return func(local, _ netip.AddrPort) bool { return contains(addrs, local) }
}

func contains(addrs []netip.AddrPort, a netip.AddrPort) bool {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	for _, x := range addrs {
		if netip.AddrPortFrom(x.Addr().Unmap(), x.Port()) == a {
			return true
		}
	}
	return false
}

// Split counts the sockets a Match selected by group, besides their
// total: Of returns a socket's group, its index in Counts (-1: none).
type Split struct {
	Of     func(local, remote netip.AddrPort) int
	Counts []Counts
}

// BySource returns a Split by local address: group i is srcs[i]'s
// sockets.
func BySource(srcs []netip.Addr) *Split {
	idx := make(map[netip.Addr]int, len(srcs))
	for i, a := range srcs {
		idx[a.Unmap()] = i
	}
	return &Split{Counts: make([]Counts, len(srcs)), Of: func(local, _ netip.AddrPort) int {
		if i, ok := idx[local.Addr().Unmap()]; ok {
			return i
		}
		return -1
	}}
}

// reset zeroes the groups' counts.
func (sp *Split) reset() {
	if sp != nil {
		clear(sp.Counts)
	}
}

// count adds one socket in state st to c and to its group's counts.
func count(c *Counts, sp *Split, local, remote netip.AddrPort, st uint64) {
	add := func(c *Counts) {
		c.Total++
		switch st {
		case stateEstablished:
			c.Established++
		case stateTimeWait:
			c.TimeWait++
		}
	}
	add(c)
	if sp != nil {
		if i := sp.Of(local, remote); i >= 0 && i < len(sp.Counts) {
			add(&sp.Counts[i])
		}
	}
}

// Tables are the files Read reads.
var Tables = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// ErrUnsupported is returned where there are no socket tables to read.
var ErrUnsupported = errors.New("sockstat: no /proc/net/tcp on this system")

// Read counts the sockets in the system's tables that m selects.
func Read(m Match) (Counts, error) { return ReadSplit(m, nil) }

// ReadSplit is Read that also counts by sp's groups (sp may be nil).
func ReadSplit(m Match, sp *Split) (Counts, error) {
	sp.reset()
	var c Counts
	found := false
	seen := make(map[connID]struct{})
	for _, path := range Tables {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		found = true
		err = parse(f, m, &c, sp, seen)
		_ = f.Close()
		if err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
	}
	if !found {
		return c, ErrUnsupported
	}
	return c, nil
}

// Parse adds to c the sockets of one table (the format of /proc/net/tcp or
// /proc/net/tcp6) that m selects, each connected socket once.
func Parse(r io.Reader, m Match, c *Counts) error {
	return parse(r, m, c, nil, make(map[connID]struct{}))
}

// connID is a connected socket's addresses, which no other socket in the
// table has.
type connID struct{ local, remote netip.AddrPort }

// parse counts the sockets of a table that m selects. The kernel prints a
// table in pieces, one read at a time, and finds its place again in a
// hash chain by position; as sockets come and go meanwhile (tens of
// thousands in TIME_WAIT on a loaded machine), it prints some twice, or
// more: a reading on such a machine counted 36 sockets of 9, and one
// socket 23 times. A connected socket is counted once (seen holds those
// counted); listening sockets (no remote port) may share an address and
// are counted as they come. Sockets a shifting chain skipped are not
// counted: the tables cannot say.
func parse(r io.Reader, m Match, c *Counts, sp *Split, seen map[connID]struct{}) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 4096)
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		local, err := parseAddr(fields[1])
		if err != nil {
			return fmt.Errorf("local address %q: %w", fields[1], err)
		}
		remote, err := parseAddr(fields[2])
		if err != nil {
			return fmt.Errorf("remote address %q: %w", fields[2], err)
		}
		if !m(local, remote) {
			continue
		}
		st, err := strconv.ParseUint(fields[3], 16, 8)
		if err != nil {
			return fmt.Errorf("state %q: %w", fields[3], err)
		}
		if remote.Port() != 0 {
			id := connID{local, remote}
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
		}
		count(c, sp, local, remote, st)
	}
	return sc.Err()
}

// parseAddr parses "0100007F:1F90" (IPv4) or 32 hex digits and a port
// (IPv6). The kernel prints each 32-bit word of the address in host byte
// order, which is little-endian on the machines faya supports.
func parseAddr(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, errors.New("no port")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, errors.New("not an address")
	}
	var b [16]byte
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	var a netip.Addr
	if len(raw) == 4 {
		a = netip.AddrFrom4([4]byte(b[:4]))
	} else {
		a = netip.AddrFrom16(b).Unmap()
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// SummaryFile holds the kernel's socket summary.
var SummaryFile = "/proc/net/sockstat"

// HostTimeWait returns the number of TCP sockets in TIME_WAIT on the whole
// host, from the kernel's summary: one short read, whatever the number of
// sockets (reading the full tables with tens of thousands of sockets takes
// the kernel hundreds of milliseconds, too long to do during a run).
func HostTimeWait() (int, error) {
	b, err := os.ReadFile(SummaryFile)
	if err != nil {
		return 0, err
	}
	return parseSummaryTW(string(b))
}

func parseSummaryTW(s string) (int, error) {
	for line := range strings.SplitSeq(s, "\n") {
		rest, ok := strings.CutPrefix(line, "TCP:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "tw" {
				return strconv.Atoi(f[i+1])
			}
		}
	}
	return 0, fmt.Errorf("%s: no TCP tw count", SummaryFile)
}

// PortRangeFile holds the local ephemeral port range.
var PortRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// PortRange returns the local ephemeral port range, inclusive.
func PortRange() (lo, hi int, err error) {
	b, err := os.ReadFile(PortRangeFile)
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%s: %q", PortRangeFile, b)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo > hi {
		return 0, 0, fmt.Errorf("%s: %q", PortRangeFile, b)
	}
	return lo, hi, nil
}
