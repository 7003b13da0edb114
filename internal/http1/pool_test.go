package http1

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/transport"
)

// Twenty requests at once on a cold pool, to a server whose TLS handshakes
// take 50 ms. Impatient requests (the closed model's) dial one connection
// each. Patient ones (the open model's) keep at most two dials in flight
// while the quickest dial seen is short, and take the connections the
// first requests return: two dials, then two more for the two requests
// woken when those ended, and no more. With the real allowance (one more
// dial in flight per 250 µs of the quickest dial), 50 ms dials are those
// of a distant server: once the first ended, the waiting requests dial.
// So do they when the server closes each connection after its answer
// (none comes back to wait for).
func TestPatientDials(t *testing.T) {
	defer func(d time.Duration) { dialTimePerDial = d }(dialTimePerDial)
	for _, tc := range []struct {
		name                   string
		path                   string
		patient                bool
		perDial                time.Duration
		minConns, maxConns     int64
		minInFlight, maxInFlit int
	}{
		{"impatient", "/", false, time.Hour, 20, 20, 3, 20},
		{"patient", "/", true, time.Hour, 2, 4, 1, 2},
		{"patient, distant", "/", true, dialTimePerDial, 20, 20, 3, 18},
		{"patient, the server closes", "/close", true, time.Hour, 20, 20, 3, 18},
	} {
		dialTimePerDial = tc.perDial
		srv, hs := testserver.StartSlowTLS(t, 50*time.Millisecond)
		d, err := transport.NewDialer(transport.Config{Concurrency: 20, InsecureSkipVerify: true}, nopObserver{})
		if err != nil {
			t.Fatal(err)
		}
		p := NewPool(d)
		req, err := Prepare("GET", srv.URL+tc.path, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			cl := NewClient(p)
			cl.Timeout = 10 * time.Second
			cl.Patient = tc.patient
			wg.Go(func() {
				var res Result
				if err := cl.Do(context.Background(), req, Call{}, &res); err != nil || res.Status != 200 {
					errs <- err
				}
			})
		}
		wg.Wait()
		p.Close()
		close(errs)
		for err := range errs {
			t.Errorf("%s: request failed: %v", tc.name, err)
		}
		st := srv.Stats()
		if st.Requests != 20 || st.ConnsNew < tc.minConns || st.ConnsNew > tc.maxConns {
			t.Errorf("%s: the server saw %d requests on %d connections, want 20 on %d-%d",
				tc.name, st.Requests, st.ConnsNew, tc.minConns, tc.maxConns)
		}
		if peak := hs.Peak(); peak < tc.minInFlight || peak > tc.maxInFlit {
			t.Errorf("%s: %d handshakes at once, want %d-%d", tc.name, peak, tc.minInFlight, tc.maxInFlit)
		}
	}
}

// Patient requests may have more dials in flight to a destination whose
// quickest dial is slow, so that a distant target still gets its
// connections quickly.
func TestPatientDialsGrowWithDialTime(t *testing.T) {
	for _, tc := range []struct {
		minDial time.Duration
		want    int
	}{
		{0, 2},
		{100 * time.Microsecond, 2},
		{time.Millisecond, 6},
		{50 * time.Millisecond, 202},
	} {
		h := &host{minDial: tc.minDial}
		if got := h.patientDials(); got != tc.want {
			t.Errorf("quickest dial %v: %d dials in flight, want %d", tc.minDial, got, tc.want)
		}
	}
}

// A connection returned while a patient request waits goes to the idle
// list, and the waiter is told to look there: whoever runs first takes it
// (a request of the goroutine that returned it, say). A waiting impatient
// request is handed the connection itself.
func TestReturnedConnToPatientWaiter(t *testing.T) {
	d, err := transport.NewDialer(transport.Config{Concurrency: 4}, nopObserver{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(d)
	defer p.Close()
	req, err := Prepare("GET", "http://127.0.0.1:1/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt := req.route(nil)
	for _, patient := range []bool{true, false} {
		// One connection in use and two dials in flight: a patient
		// request may not dial.
		h := &host{key: rt.key, n: 3, dialing: 2}
		c := &Conn{h: h}
		w := &waiter{ch: make(chan *Conn, 1), patient: patient}
		p.mu.Lock()
		p.hosts[rt.key] = h
		h.waiters = []*waiter{w}
		p.mu.Unlock()

		p.put(c, true, d.Now(), nil)
		got := <-w.ch
		p.mu.Lock()
		idle := len(h.idle)
		p.mu.Unlock()
		if patient {
			if got != retry || idle != 1 {
				t.Fatalf("patient waiter: sent %p (retry is %p), %d idle; want retry and the connection idle", got, retry, idle)
			}
			c2, src, err := p.get(t.Context(), nil, req, rt, d.Now(), true, 0)
			if err != nil || c2 != c || src != fromIdle {
				t.Errorf("the next request got %p from %d (%v), want the returned connection from the idle list", c2, src, err)
			}
		} else if got != c || idle != 0 {
			t.Errorf("impatient waiter: handed %p, %d idle; want the connection itself", got, idle)
		}
	}
}

// One pool, two destinations, requests alternating between them: each
// destination gets its own connection and keeps reusing it, whatever the
// destination of the request before (the pool remembers the last one it
// looked up).
func TestPoolAlternatingHosts(t *testing.T) {
	var conns [2]atomic.Int64
	var urls [2]string
	for i := range urls {
		urls[i] = testserver.Raw(t, func(c net.Conn) {
			conns[i].Add(1)
			defer c.Close()
			answerEach(c, func(int) ([]byte, bool) {
				return []byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + strconv.Itoa(i)), false
			})
		})
	}
	d, err := transport.NewDialer(transport.Config{Concurrency: 2}, nopObserver{}) // room for two idle connections
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(d)
	t.Cleanup(p.Close)
	cl := NewClient(p)
	var reqs [2]*Request
	for i, u := range urls {
		if reqs[i], err = Prepare("GET", u, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	body := make([]byte, 0, 8)
	cp := &transport.Capture{BodyLimit: 8}
	for k := range 20 {
		i := k % 2
		var res Result
		if err := cl.Do(t.Context(), reqs[i], Call{Capture: cp}, &res); err != nil {
			t.Fatalf("request %d: %v", k, err)
		}
		body = append(body[:0], cp.Body...)
		if string(body) != strconv.Itoa(i) || res.Reused != b2iInt(k >= 2) {
			t.Fatalf("request %d to server %d: body %q, reused %d", k, i, body, res.Reused)
		}
	}
	if conns[0].Load() != 1 || conns[1].Load() != 1 {
		t.Errorf("connections per server %d and %d, want 1 and 1", conns[0].Load(), conns[1].Load())
	}
}

func b2iInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A closed-model client takes back the connection it returned, though
// another is on top of the idle list; a client whose own is gone dials
// rather than take one kept for another client, while it may; at the
// connection limit it takes one anyway; a patient (open-model) client
// takes the last one returned. The server's answers name the connection.
func TestPoolKeepsVUConnection(t *testing.T) {
	var conns atomic.Int64
	url := testserver.Raw(t, func(c net.Conn) {
		id := strconv.Itoa(int(conns.Add(1)))
		defer c.Close()
		answerEach(c, func(int) ([]byte, bool) {
			return []byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + id), false
		})
	})
	d, err := transport.NewDialer(transport.Config{Concurrency: 4, MaxConnsPerHost: 2}, nopObserver{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(d)
	t.Cleanup(p.Close)
	req, err := Prepare("GET", url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b, late, patient := NewClient(p), NewClient(p), NewClient(p), NewClient(p)
	patient.Patient = true
	cp := &transport.Capture{BodyLimit: 8}
	for i, step := range []struct {
		name  string
		cl    *Client
		conn  string
		fresh int
	}{
		{"a, cold pool", a, "1", 1},
		{"b: a's is kept for a, b dials", b, "2", 1},
		{"a takes its own back, b's on top", a, "1", 0},
		{"b takes its own", b, "2", 0},
		{"a new client at the limit takes the top one", late, "2", 0},
		{"a patient client takes the top one", patient, "2", 0},
		{"a again", a, "1", 0},
	} {
		var res Result
		if err := step.cl.Do(t.Context(), req, Call{Capture: cp}, &res); err != nil {
			t.Fatalf("step %d (%s): %v", i, step.name, err)
		}
		if got := string(cp.Body); got != step.conn || res.Fresh != step.fresh {
			t.Errorf("step %d (%s): on connection %s (fresh %d), want %s (fresh %d)", i, step.name, got, res.Fresh, step.conn, step.fresh)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("the server accepted %d connections, want 2", n)
	}
}
