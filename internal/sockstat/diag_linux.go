package sockstat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// Netlink socket diagnostics (linux/inet_diag.h, linux/sock_diag.h).
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpDiagGetSock   = 18 // TCPDIAG_GETSOCK: the request of struct inet_diag_req
	diagReqLen       = 56 // sizeof(struct inet_diag_req_v2)
	diagReqV1Len     = 60 // sizeof(struct inet_diag_req)
	diagMsgLen       = 72 // sizeof(struct inet_diag_msg)
	diagReqBytecode  = 1  // INET_DIAG_REQ_BYTECODE
	diagBCDportGE    = 4  // INET_DIAG_BC_D_GE
	diagBCDportLE    = 5  // INET_DIAG_BC_D_LE
)

// noFilter is set once the kernel refused a port filter: later readings
// ask for every socket. perFamily is set once the kernel refused the
// request for both families at once (or by a test): later readings ask
// for each family in turn.
var noFilter, perFamily atomic.Bool

// diagBufs are the readings' receive buffers (64 KiB each), kept from
// one reading to the next.
var diagBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// Diag counts the TCP sockets m selects, in the ESTABLISHED and TIME_WAIT
// states, from the kernel's socket diagnostics (NETLINK_SOCK_DIAG). The
// kernel walks its socket hash (about 1.2 ms on a 2-CPU VM with 24 GiB,
// whose hash of 262,144 buckets is sized by memory) and sends only
// sockets in those states (DiagSplitTo: to those ports too); cheap
// enough to take every second during a run. IPv4 and IPv6 sockets are in
// the same hash, and one request asks for both (the kernel's older
// request, TCPDIAG_GETSOCK, whose dump is of every family): one walk per
// reading, not one per family (where the kernel refuses it, each family
// is asked for in turn).
func Diag(m Match) (Counts, error) { return DiagSplit(m, nil) }

// DiagSplit is Diag that also counts by sp's groups (sp may be nil).
func DiagSplit(m Match, sp *Split) (Counts, error) { return DiagSplitTo(m, sp, 0, 0) }

// DiagSplitTo is DiagSplit where m selects only sockets whose remote port
// is in [lo, hi] (0, 0: any): the kernel then sends only those, so that a
// reading costs time in proportion to the run's own sockets, not to every
// socket on the machine in those states (on a machine with tens of
// thousands in TIME_WAIT, a reading of all of them took 4-5 ms). m still
// decides; a kernel that refuses the filter is asked for all of them.
func DiagSplitTo(m Match, sp *Split, lo, hi uint16) (Counts, error) {
	c, err := diagSplit(m, sp, lo, hi)
	if err != nil && errors.Is(err, syscall.EINVAL) && lo|hi != 0 && !noFilter.Load() {
		noFilter.Store(true)
		return diagSplit(m, sp, 0, 0)
	}
	return c, err
}

func diagSplit(m Match, sp *Split, lo, hi uint16) (Counts, error) {
	sp.reset()
	var c Counts
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
	if err != nil {
		return c, fmt.Errorf("sockstat: netlink: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return c, fmt.Errorf("sockstat: netlink bind: %w", err)
	}
	bp := diagBufs.Get().(*[]byte)
	defer diagBufs.Put(bp)
	buf := *bp
	if !perFamily.Load() {
		err := diagDump(fd, 1, syscall.AF_UNSPEC, buf, m, &c, sp, lo, hi)
		if err == nil || !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.EOPNOTSUPP) {
			return c, err
		}
		// Refused before anything was counted (the kernel answers the
		// request with an error, not a part of the dump).
		perFamily.Store(true)
		sp.reset()
		c = Counts{}
	}
	for seq, family := range []uint8{syscall.AF_INET, syscall.AF_INET6} {
		if err := diagDump(fd, uint32(seq+2), family, buf, m, &c, sp, lo, hi); err != nil {
			return c, err
		}
	}
	return c, nil
}

// diagDump asks for one address family's sockets (AF_UNSPEC: every
// family's, in one walk of the kernel's hash) and counts the answers.
func diagDump(fd int, seq uint32, family uint8, buf []byte, m Match, c *Counts, sp *Split, lo, hi uint16) error {
	bc := portFilter(lo, hi)
	reqLen := diagReqLen
	if family == syscall.AF_UNSPEC {
		reqLen = diagReqV1Len
	}
	n := syscall.NLMSG_HDRLEN + reqLen
	if bc != nil {
		n += syscall.SizeofRtAttr + len(bc)
	}
	req := make([]byte, n)
	le := binary.NativeEndian
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP)
	le.PutUint32(req[8:], seq)
	r := req[syscall.NLMSG_HDRLEN:]
	if family == syscall.AF_UNSPEC {
		// struct inet_diag_req: family (the dump ignores it: every
		// family), lengths, extensions, the socket id (48 bytes), then
		// the states and the tables (unused).
		le.PutUint16(req[4:], tcpDiagGetSock)
		le.PutUint32(r[52:], 1<<stateEstablished|1<<stateTimeWait)
	} else {
		// struct inet_diag_req_v2: family, protocol, extensions, pad,
		// the states, the socket id.
		le.PutUint16(req[4:], sockDiagByFamily)
		r[0] = family
		r[1] = syscall.IPPROTO_TCP
		le.PutUint32(r[4:], 1<<stateEstablished|1<<stateTimeWait)
	}
	if bc != nil {
		at := r[reqLen:]
		le.PutUint16(at[0:], uint16(syscall.SizeofRtAttr+len(bc)))
		le.PutUint16(at[2:], diagReqBytecode)
		copy(at[syscall.SizeofRtAttr:], bc)
	}
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("sockstat: netlink send: %w", err)
	}
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("sockstat: netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("sockstat: netlink: %w", err)
		}
		for _, msg := range msgs {
			switch msg.Header.Type {
			case syscall.NLMSG_DONE:
				return nil
			case syscall.NLMSG_ERROR:
				if len(msg.Data) >= 4 {
					if errno := int32(le.Uint32(msg.Data)); errno != 0 {
						return fmt.Errorf("sockstat: netlink: %w", syscall.Errno(-errno))
					}
				}
				return errors.New("sockstat: netlink error")
			}
			if msg.Header.Seq != seq || len(msg.Data) < diagMsgLen {
				continue
			}
			countDiag(msg.Data, m, c, sp)
		}
	}
}

// portFilter returns the socket-diagnostics bytecode that accepts the
// sockets whose remote port is in [lo, hi], or nil for lo = hi = 0 (or
// noFilter). Each op (struct inet_diag_bc_op: code, yes, no) is followed
// by one holding the port in its no; yes and no are the bytes to jump,
// to the program's end to accept, 4 past it to reject: remote port >= lo,
// then <= hi.
func portFilter(lo, hi uint16) []byte {
	if lo|hi == 0 || noFilter.Load() {
		return nil
	}
	const op, prog = 8, 16
	le := binary.NativeEndian
	b := make([]byte, prog)
	for i, cmp := range []struct {
		code byte
		port uint16
	}{{diagBCDportGE, lo}, {diagBCDportLE, hi}} {
		at := b[i*op:]
		at[0], at[1] = cmp.code, op
		le.PutUint16(at[2:], uint16(prog-i*op+4)) // reject
		le.PutUint16(at[6:], cmp.port)
	}
	return b
}

// countDiag counts one struct inet_diag_msg.
func countDiag(d []byte, m Match, c *Counts, sp *Split) {
	family, state := d[0], d[1]
	id := d[4:]
	sport, dport := binary.BigEndian.Uint16(id[0:]), binary.BigEndian.Uint16(id[2:])
	addr := func(b []byte) netip.Addr {
		if family == syscall.AF_INET {
			return netip.AddrFrom4([4]byte(b[:4]))
		}
		return netip.AddrFrom16([16]byte(b[:16])).Unmap()
	}
	local := netip.AddrPortFrom(addr(id[4:20]), sport)
	remote := netip.AddrPortFrom(addr(id[20:36]), dport)
	if !m(local, remote) {
		return
	}
	count(c, sp, local, remote, uint64(state))
}
