package transport

import (
	"net"
	"os"
	"syscall"
)

// exchanger writes a request and reads the first bytes of its answer in
// one wait of the runtime's network poller, so that no read finds the
// socket empty.
//
// A goroutine that writes a request and then reads the answer makes two
// read calls on a kept-alive connection: the first finds the socket empty
// (the server has not answered yet) and parks the goroutine until the
// poller sees the answer; the second reads it. That empty read is a third
// of a load generator's system calls. Go's poller forgets a readiness
// before each read wait starts, so the write must come after that point
// and before the goroutine parks: inside the callback of
// [syscall.RawConn.Read], whose first call does the write and reports "not
// done", which parks the goroutine until the socket is readable; the
// second call reads.
//
// It lives inside its Conn, beside the fields a request touches (and the
// errors are kept as numbers): a request then touches fewer cache lines.
type exchanger struct {
	rc      syscall.RawConn
	fn      func(fd uintptr) bool // x.step, bound once
	req     []byte
	resp    []byte
	written func()
	wn, rn  int
	werr    syscall.Errno
	rerr    syscall.Errno
	wrote   bool // the write was made: the next call reads
	tried   bool // rc and fn were looked up
}

func (x *exchanger) step(fd uintptr) bool {
	if !x.wrote {
		x.wrote = true
		n, err := ignoringEINTR(func() (int, error) { return sysWrite(fd, x.req) })
		x.wn = max(n, 0)
		if err != nil && err != syscall.EAGAIN {
			x.werr = errno(err)
		}
		if x.wn < len(x.req) || x.werr != 0 {
			return true // not all written: Exchange finishes with a plain Write
		}
		if x.written != nil {
			x.written()
		}
		return false // wait until readable
	}
	n, err := ignoringEINTR(func() (int, error) { return sysRead(fd, x.resp) })
	switch {
	case err == syscall.EAGAIN:
		return false // woken with nothing to read: wait again
	case err != nil:
		x.rerr = errno(err)
	default:
		x.rn = n // 0: the server closed; the reader's Read sees it too
	}
	return true
}

// errno is err as a system call's number (sysRead and sysWrite return
// nothing else); EIO if it is something else.
func errno(err error) syscall.Errno {
	if e, ok := err.(syscall.Errno); ok && e != 0 {
		return e
	}
	return syscall.EIO
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// Exchange writes req and, on a plain TCP connection, reads the first
// bytes of the answer into resp, without a read that finds the socket
// empty. It returns how many bytes it read into resp: 0 when it read
// nothing (not a plain TCP connection, the server closed, a deadline
// passed), which the next Read then reports. written, if not nil, is called
// as soon as all of req went to the kernel. The error is the write's; a
// read error is returned by the next Read, as if that Read had met it.
//
// Exchange is for the one goroutine that holds c (an HTTP/1.1 request):
// the bytes it moves are counted in plain fields (see TakeBytes).
func (c *Conn) Exchange(req []byte, written func(), resp []byte) (int, error) {
	x := &c.x
	if !x.tried {
		c.tryRaw()
	}
	if x.rc != nil && len(resp) > 0 {
		x.req, x.resp, x.wn, x.rn, x.werr, x.rerr, x.wrote, x.written = req, resp, 0, 0, 0, 0, false, written
		_ = x.rc.Read(x.fn)
		wn, rn, werr, rerr := x.wn, x.rn, x.werr, x.rerr
		x.req, x.resp, x.written = nil, nil, nil
		c.xtx += int64(wn)
		if werr != 0 {
			return 0, c.opError("write", werr)
		}
		if wn == len(req) {
			if rerr != 0 {
				c.pending = c.opError("read", rerr)
			}
			c.xrx += int64(rn)
			return rn, nil
		}
		// Not all of req went out (a full socket buffer), or the wait
		// failed before the write (a deadline already passed): Write
		// finishes, or reports the error.
		req = req[wn:]
	}
	_, err := c.Write(req)
	if err == nil && written != nil {
		written()
	}
	return 0, err
}

// tryRaw looks, once (the connection's first exchange), for the raw
// connection the exchange drives; out of Exchange's line, which each
// request runs.
//
//go:noinline
func (c *Conn) tryRaw() {
	x := &c.x
	x.tried = true
	if tcp, ok := c.Conn.(*net.TCPConn); ok {
		if rc, err := tcp.SyscallConn(); err == nil {
			x.rc = rc
			x.fn = x.step
		}
	}
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, err)}
}
