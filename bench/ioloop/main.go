// Command ioloop measures what the way a load generator waits for its
// connections costs per request, apart from everything else it does: it
// sends a fixed GET on c kept-alive HTTP/1.1 connections to an HTTP/1.1
// server (nginx with bench/nginx/nginx.conf) until n answers came, in one
// of three ways, each with the same minimal work per answer (find the end
// of the head and the Content-Length, two clock readings, one counter):
//
//   - A (faya's h1 engine today): a goroutine per connection, which waits
//     in Go's network poller: syscall.RawConn.Read, whose callback writes
//     the request and then reads the answer with raw sendto/recvfrom.
//     Every request parks its goroutine and wakes it.
//   - B (wrk's way): one goroutine runs an epoll loop over all the
//     connections (sockets of its own, outside Go's poller), each a
//     state machine: raw epoll_wait, recvfrom and sendto, a blocking
//     epoll_wait only when nothing is ready.
//   - C: the same loop resumes a coroutine per connection (iter.Pull),
//     whose code stays sequential, as an engine's would: it yields to the
//     loop where A parks.
//
// Run it under valgrind (instructions per request) or /usr/bin/time (user
// and system CPU per request), pinned to the load generator's CPU:
//
//	go build -o /tmp/ioloop ./bench/ioloop
//	taskset -c 0 /usr/bin/time -f '%U %S' /tmp/ioloop -m B -n 300000 -addr 127.0.0.1:PORT
//
// It is a measurement, not a part of faya: see docs/performance.md,
// "Issue 16: park/wake, third pass".
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var req = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ioloop\r\n\r\n")

// conn is one connection's state: its socket, the answer's bytes so far,
// when its request started and a latency count by power of two.
type conn struct {
	fd    int
	buf   []byte
	have  int
	start time.Time
	done  int
	hist  [64]int64
}

func raw(trap uintptr, fd int, b []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	return int(n), e
}

var errFraming = errors.New("answer without Content-Length, or larger than the buffer")

// complete returns the length of the whole answer at the start of
// c.buf[:c.have], 0 while it is not whole.
func (c *conn) complete() (int, error) {
	b := c.buf[:c.have]
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		if c.have == len(c.buf) {
			return 0, errFraming
		}
		return 0, nil
	}
	j := bytes.Index(b[:i+2], []byte("Content-Length: "))
	if j < 0 {
		return 0, errFraming
	}
	k := j + len("Content-Length: ")
	e := bytes.IndexByte(b[k:i+2], '\r')
	cl, err := strconv.Atoi(string(b[k : k+e]))
	if err != nil || i+4+cl > len(c.buf) {
		return 0, errFraming
	}
	if c.have < i+4+cl {
		return 0, nil
	}
	return i + 4 + cl, nil
}

// finish counts the answer of length n and keeps what follows it.
func (c *conn) finish(n int) {
	copy(c.buf, c.buf[n:c.have])
	c.have -= n
	b := 0
	for v := time.Since(c.start) >> 10; v > 0 && b < 63; v >>= 1 {
		b++
	}
	c.hist[b]++
	c.done++
}

// ingest adds n bytes read and reports whether an answer is whole (and
// counted).
func (c *conn) ingest(n int, e syscall.Errno) (bool, error) {
	if e != 0 {
		return false, e
	}
	if n == 0 {
		return false, errors.New("the server closed a connection")
	}
	c.have += n
	m, err := c.complete()
	if m > 0 {
		c.finish(m)
	}
	return m > 0, err
}

func (c *conn) send() error {
	c.start = time.Now()
	if n, e := raw(syscall.SYS_SENDTO, c.fd, req); e != 0 || n != len(req) {
		return fmt.Errorf("sendto: %d bytes of %d, %v", n, len(req), e)
	}
	return nil
}

// runA: a goroutine per connection, waiting in Go's poller.
func runA(addr netip.AddrPort, conns, per int, deadline time.Time) (int, error) {
	var wg sync.WaitGroup
	cs := make([]*conn, conns)
	errs := make([]error, conns)
	for i := range cs {
		nc, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(addr))
		if err != nil {
			return 0, err
		}
		_ = nc.SetDeadline(deadline)
		rc, err := nc.SyscallConn()
		if err != nil {
			return 0, err
		}
		c := &conn{buf: make([]byte, 4096)}
		cs[i] = c
		wg.Go(func() {
			defer nc.Close()
			calls, whole := 0, false
			var ierr error
			step := func(fd uintptr) bool {
				calls++
				if calls == 1 {
					c.fd = int(fd)
					if ierr = c.send(); ierr != nil {
						return true
					}
					return false // wait until readable
				}
				n, e := raw(syscall.SYS_RECVFROM, int(fd), c.buf[c.have:])
				if e == syscall.EAGAIN {
					return false
				}
				whole, ierr = c.ingest(n, e)
				return true
			}
			for range per {
				calls = 0
				for whole = false; !whole; calls = 1 {
					if err := rc.Read(step); err != nil {
						errs[i] = err
						return
					}
					if ierr != nil {
						errs[i] = ierr
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return total(cs), errors.Join(errs...)
}

// loop is an epoll instance of its own.
type loop struct {
	ep       int
	evs      [128]syscall.EpollEvent
	deadline time.Time
}

func newLoop(deadline time.Time) (*loop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	return &loop{ep: ep, deadline: deadline}, err
}

func (l *loop) add(fd, idx int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(idx)}
	return syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev)
}

// wait returns the ready events: a raw epoll_wait that does not block
// first, a blocking one (through the runtime's system-call entry, for at
// most a second at a time) only when none is ready.
func (l *loop) wait() ([]syscall.EpollEvent, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.ep), uintptr(unsafe.Pointer(&l.evs[0])), uintptr(len(l.evs)), 0, 0, 0)
	if e == 0 && n > 0 {
		return l.evs[:n], nil
	}
	for time.Now().Before(l.deadline) {
		n, err := syscall.EpollWait(l.ep, l.evs[:], 1000)
		if err == syscall.EINTR || err == nil && n == 0 {
			continue
		}
		return l.evs[:max(n, 0)], err
	}
	return nil, os.ErrDeadlineExceeded
}

func dialFds(addr netip.AddrPort, l *loop, conns int) ([]*conn, error) {
	sa := &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	cs := make([]*conn, conns)
	for i := range cs {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return cs[:i], err
		}
		cs[i] = &conn{fd: fd, buf: make([]byte, 4096)}
		if err := syscall.Connect(fd, sa); err != nil {
			return cs[:i+1], err
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			return cs[:i+1], err
		}
		if err := l.add(fd, i); err != nil {
			return cs[:i+1], err
		}
	}
	return cs, nil
}

// runB: one goroutine, an epoll loop, each connection a state machine.
func runB(addr netip.AddrPort, conns, per int, deadline time.Time) (int, error) {
	l, err := newLoop(deadline)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(l.ep)
	cs, err := dialFds(addr, l, conns)
	defer closeAll(cs)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if err := c.send(); err != nil {
			return 0, err
		}
	}
	for left := conns; left > 0; {
		evs, err := l.wait()
		if err != nil {
			return total(cs), err
		}
		for _, ev := range evs {
			c := cs[ev.Fd]
			n, e := raw(syscall.SYS_RECVFROM, c.fd, c.buf[c.have:])
			if e == syscall.EAGAIN {
				continue
			}
			whole, err := c.ingest(n, e)
			if err != nil {
				return total(cs), err
			}
			if !whole {
				continue
			}
			if c.done == per {
				left--
			} else if err := c.send(); err != nil {
				return total(cs), err
			}
		}
	}
	return total(cs), nil
}

// runC: the loop resumes a coroutine per connection, whose code is
// sequential.
func runC(addr netip.AddrPort, conns, per int, deadline time.Time) (int, error) {
	l, err := newLoop(deadline)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(l.ep)
	cs, err := dialFds(addr, l, conns)
	defer closeAll(cs)
	if err != nil {
		return 0, err
	}
	errs := make([]error, conns)
	nexts := make([]func() (struct{}, bool), conns)
	for i, c := range cs {
		next, stop := iter.Pull(func(yield func(struct{}) bool) {
			for range per {
				if errs[i] = c.send(); errs[i] != nil {
					return
				}
				for whole := false; !whole; {
					if !yield(struct{}{}) { // wait until readable
						return
					}
					n, e := raw(syscall.SYS_RECVFROM, c.fd, c.buf[c.have:])
					if e == syscall.EAGAIN {
						continue
					}
					if whole, errs[i] = c.ingest(n, e); errs[i] != nil {
						return
					}
				}
			}
		})
		defer stop()
		nexts[i] = next
	}
	left := conns
	for _, next := range nexts {
		if _, ok := next(); !ok {
			left--
		}
	}
	for left > 0 {
		evs, err := l.wait()
		if err != nil {
			return total(cs), err
		}
		for _, ev := range evs {
			if _, ok := nexts[ev.Fd](); !ok {
				left--
			}
		}
	}
	return total(cs), errors.Join(errs...)
}

func closeAll(cs []*conn) {
	for _, c := range cs {
		syscall.Close(c.fd)
	}
}

func total(cs []*conn) int {
	t := 0
	for _, c := range cs {
		if c != nil {
			t += c.done
		}
	}
	return t
}

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "ioloop: "+msg)
	os.Exit(2)
}

func main() {
	mode := flag.String("m", "A", "A (goroutine per connection), B (epoll loop) or C (epoll loop and coroutines)")
	addrFlag := flag.String("addr", "127.0.0.1:8080", "the server's IPv4 address and port (loopback)")
	n := flag.Int("n", 100000, "answers to read (a multiple of -c)")
	c := flag.Int("c", 50, "connections")
	timeout := flag.Duration("timeout", time.Minute, "the longest the run may take")
	flag.Parse()
	addr, err := netip.ParseAddrPort(*addrFlag)
	switch {
	case err != nil || !addr.Addr().Is4() || !addr.Addr().IsLoopback():
		usage("-addr: want a loopback IPv4 address and port, like 127.0.0.1:8080")
	case *c < 1 || *c > 10000:
		usage("-c: want 1 to 10000 connections")
	case *n < *c:
		usage("-n: want at least -c answers")
	case *timeout <= 0:
		usage("-timeout: want a positive duration, like 1m")
	}
	run := map[string]func(netip.AddrPort, int, int, time.Time) (int, error){"A": runA, "B": runB, "C": runC}[*mode]
	if run == nil {
		usage("-m: want A, B or C")
	}
	t0 := time.Now()
	done, err := run(addr, *c, *n / *c, t0.Add(*timeout))
	el := time.Since(t0)
	fmt.Printf("%s: %d answers on %d connections in %v, %.0f per second\n", *mode, done, *c, el.Round(time.Millisecond), float64(done)/el.Seconds())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ioloop:", err)
		os.Exit(1)
	}
}
