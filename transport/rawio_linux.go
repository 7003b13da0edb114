package transport

import (
	"io"
	"sync"
	"sync/atomic"
	"syscall"
)

// Raw reads and writes ([Conn.RawIO]): the socket is nonblocking (Go's net
// package makes every socket so), so a read or a write returns at once,
// EAGAIN when it would block, and the goroutine then waits in the
// runtime's poller as net.Conn's Read and Write would. Made as raw system
// calls (sys_linux.go's sendto and recvfrom, as Exchange makes them),
// they run without entersyscall: the runtime does not count the P as
// blocked in a system call, so sysmon does not hand it to another thread
// during a write of a few microseconds. With GOMAXPROCS=1 and goroutines
// waiting to run, each write (or read) that lasted across two of sysmon's
// looks did: a futex to wake a spare thread for the P, a futex sleep for
// this one when the call returned, and sysmon's 20 µs naps for a while
// after. Through syscall.RawConn, which holds the descriptor (no close can
// give its number to another socket meanwhile) and keeps its deadlines.
type rawIO struct {
	rc syscall.RawConn
	c  *Conn // its hooks' Idle runs in readIdle

	// The read in progress, under rmu, and rfn, rawIO.read bound once.
	rmu    sync.Mutex
	inIdle atomic.Bool // running the hooks' Idle (see Conn.Close)
	rb     []byte
	rmode  readMode
	rn     int
	rerr   error
	rfn    func(fd uintptr) bool

	// The write in progress, under wmu, and wfn, rawIO.write bound once.
	wmu   sync.Mutex
	wb    []byte
	wdone int
	werr  error
	wfn   func(fd uintptr) bool
}

// RawIO makes c's reads and writes raw system calls, on Linux when c's
// connection is a socket (not a TLS tunnel through a proxy); elsewhere
// it does nothing. Call it before c is read or written concurrently.
func (c *Conn) RawIO() {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	r := &rawIO{rc: rc, c: c}
	r.rfn, r.wfn = r.read, r.write
	c.raw = r
}

// idling says whether the reader is in the hooks' Idle inside a raw
// read (r may be nil).
func (r *rawIO) idling() bool { return r != nil && r.inIdle.Load() }

func (r *rawIO) read(fd uintptr) bool {
	n, err := ignoringEINTR(func() (int, error) { return sysRead(fd, r.rb) })
	if err == syscall.EAGAIN {
		if r.rmode == readIdle {
			// Within the same RawConn.Read: the readiness the poller
			// notes from here on (prepareRead cleared the last) wakes
			// the wait that follows; none is lost.
			r.rmode = readWait
			r.inIdle.Store(true)
			r.c.idle()
			r.inIdle.Store(false)
		}
		return false
	}
	r.rn, r.rerr = max(n, 0), err
	return true
}

func (r *rawIO) write(fd uintptr) bool {
	for r.wdone < len(r.wb) {
		n, err := ignoringEINTR(func() (int, error) { return sysWrite(fd, r.wb[r.wdone:]) })
		switch err {
		case nil:
			r.wdone += n
		case syscall.EAGAIN:
			return false // the socket's buffer is full: wait
		default:
			r.werr = err
			return true
		}
	}
	return true
}

// rawRead reads into b with raw reads, waiting in the poller until the
// socket has something; with readIdle, the hooks' Idle runs when the
// first read finds the socket empty, before the wait.
func (c *Conn) rawRead(b []byte, mode readMode) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r := c.raw
	r.rmu.Lock()
	defer r.rmu.Unlock()
	r.rb, r.rmode, r.rn, r.rerr = b, mode, 0, nil
	err := r.rc.Read(r.rfn)
	r.rb = nil
	switch {
	case err != nil:
		return 0, err
	case r.rerr != nil:
		return 0, c.opError("read", r.rerr)
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

// rawWrite writes b whole with raw writes, waiting in the poller while
// the socket's buffer is full.
func (c *Conn) rawWrite(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r := c.raw
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.wb, r.wdone, r.werr = b, 0, nil
	err := r.rc.Write(r.wfn)
	n := r.wdone
	r.wb = nil
	if err == nil && r.werr != nil {
		err = c.opError("write", r.werr)
	}
	return n, err
}
