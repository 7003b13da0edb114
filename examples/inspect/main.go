// Command inspect reproduces the two traps of a team that moved its load
// generator to Go (faya's docs/background.md) and shows what
// github.com/faya-load/faya/inspect reports about each, before and after
// the fix:
//
//  1. A new http.Client and Transport built for every request (and each
//     response body closed unread): no connection is ever reused.
//  2. One shared Transport with Go's default idle pool, 2 connections per
//     host, under 50 concurrent requests: 48 of every 50 connections are
//     closed after each burst and dialed again.
//
// It runs against faya's built-in target on a loopback port, in-process,
// whose handler answers in bursts: it holds each request until 50 are in
// flight, as a server hit by 50 users at once answers them together.
//
//	go run ./examples/inspect
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/faya-load/faya/inspect"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/target"
)

// Workers is the number of requests sent at once, and Rounds the bursts.
const (
	Workers = 50
	Rounds  = 4
)

func main() {
	for _, p := range Phases {
		// A server per phase, so that the TIME_WAIT sockets to it are
		// this phase's.
		srv, err := start()
		if err != nil {
			fmt.Fprintln(os.Stderr, "inspect:", err)
			os.Exit(1)
		}
		fmt.Printf("== %s\n", p.Name)
		_ = p.Run(srv.URL).Report(os.Stdout)
		fmt.Println()
		srv.Close()
	}
}

// Inspected is what inspect tells about a phase's client.
type Inspected interface {
	Findings() []inspect.Finding
	Report(w io.Writer) error
	Snapshot() *metrics.Snapshot
}

// Server is the built-in target behind the burst gate.
type Server struct {
	URL    string
	Target *target.Target
	srv    *http.Server
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

func start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tg := target.New()
	gate := newBurst(Workers)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gate.wait()
		tg.ServeHTTP(w, r)
	}), ConnState: tg.ConnState, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return &Server{URL: "http://" + l.Addr().String() + "/", Target: tg, srv: srv}, nil
}

// burst lets requests through in groups of n (after at most 10 s).
type burst struct {
	n       int
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func newBurst(n int) *burst { return &burst{n: n, release: make(chan struct{})} }

func (b *burst) wait() {
	b.mu.Lock()
	ch := b.release
	if b.waiting++; b.waiting == b.n {
		close(ch)
		b.release, b.waiting = make(chan struct{}), 0
	}
	b.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
	}
}

// A Phase is one version of the client code.
type Phase struct {
	Name string
	// Run sends Rounds bursts of Workers requests to url and returns the
	// inspected Transport whose findings tell what happened.
	Run func(url string) Inspected
}

// Phases are the two traps, then the fixed code.
var Phases = []Phase{
	{"trap 1: a Transport per call, the body closed unread", trap1},
	{"trap 2: one Transport, Go's idle pool of 2, 50 requests at once", trap2},
	{"fixed: one Transport sized for 50, the error checked, the body drained", fixed},
}

// bursts runs send Workers times at once, Rounds times.
func bursts(send func()) {
	for range Rounds {
		var wg sync.WaitGroup
		for range Workers {
			wg.Go(send)
		}
		wg.Wait()
	}
}

// --- trap 1: the team's code ---

// newHTTPClient returns a new, carefully tuned client (with
// inspect.NewTransport in place of &http.Transport{...}, so that inspect
// sees every Transport it builds).
func newHTTPClient() *http.Client {
	tr := inspect.NewTransport(&http.Transport{MaxIdleConns: 1000, MaxIdleConnsPerHost: 1000, IdleConnTimeout: 90 * time.Second})
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func callEndpoint(url string) bool {
	client := newHTTPClient()
	res, err := client.Get(url)
	defer func() { // faya:ignore resp-before-err,body-not-drained -- the trap, on purpose
		_ = res.Body.Close()
	}()
	if err != nil {
		return false
	}
	return res.StatusCode == 200
}

func trap1(url string) Inspected {
	inspect.ResetProcess()
	bursts(func() { callEndpoint(url) })
	return process{}
}

// process is the program's accounts, where every Transport made by
// inspect.NewTransport reports.
type process struct{}

func (process) Findings() []inspect.Finding { return inspect.ProcessFindings() }
func (process) Report(w io.Writer) error    { return inspect.ProcessReport(w) }
func (process) Snapshot() *metrics.Snapshot { return inspect.ProcessSnapshot() }

// --- trap 2: one Transport, the default idle pool ---

func trap2(url string) Inspected {
	tr := inspect.Wrap(&http.Transport{}, inspect.Options{Name: "shared"})
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	bursts(func() { get(client, url) })
	return tr
}

// --- the fix ---

func fixed(url string) Inspected {
	tr := inspect.Wrap(&http.Transport{MaxIdleConns: Workers, MaxIdleConnsPerHost: Workers, MaxConnsPerHost: Workers, IdleConnTimeout: 90 * time.Second},
		inspect.Options{Name: "fixed"})
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	bursts(func() { get(client, url) })
	return tr
}

// get sends one request the right way: the error checked first, the body
// read to EOF before its Close.
func get(client *http.Client, url string) bool {
	res, err := client.Get(url)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode == 200
}
