package inspect

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/faya-load/faya/metrics"
)

// process is the accounts of the whole program: the Transports made by
// NewTransport, the requests traced by Context and the wrapper Install
// puts in http.DefaultTransport's place.
var (
	processMu sync.Mutex
	process   *group
)

func processGroup() *group {
	processMu.Lock()
	defer processMu.Unlock()
	if process == nil {
		process = newGroup("process", nil, nil)
	}
	return process
}

// NewTransport is a drop-in constructor for code that builds its own
// Transport: NewTransport(&http.Transport{...}) in place of
// &http.Transport{...}. Every Transport it makes reports into the same
// accounts, the program's, so that a Transport built per request (a new
// connection for every request) shows up in [ProcessFindings] with the
// call site that dialed.
func NewTransport(base *http.Transport) *Transport {
	g := processGroup()
	g.mu.Lock()
	if g.cfg == nil && base != nil {
		g.cfg = base.Clone()
	}
	g.mu.Unlock()
	return newTransport(base, Options{Name: "process"}, g)
}

// Install puts a Transport in http.DefaultTransport's place (so that
// http.Get, http.DefaultClient and every Client without a Transport of
// its own are counted), reporting into the program's accounts like
// [NewTransport]. restore puts the previous DefaultTransport back.
// Install is meant for main or a test, before requests are sent.
func Install(opts Options) (t *Transport, restore func()) {
	prev := http.DefaultTransport
	base, _ := prev.(*http.Transport)
	g := processGroup()
	g.mu.Lock()
	if opts.Logger != nil {
		g.logger = opts.Logger
	}
	if g.cfg == nil {
		if base != nil {
			g.cfg = base.Clone()
		} else {
			g.cfg = http.DefaultTransport.(*http.Transport).Clone()
		}
	}
	g.mu.Unlock()
	if base == nil {
		base = &http.Transport{}
	}
	t = newTransport(base, opts, g)
	http.DefaultTransport = t
	return t, func() {
		if http.DefaultTransport == t {
			http.DefaultTransport = prev
		}
		t.CloseIdleConnections()
	}
}

// Context returns ctx with trace hooks that count, into the program's
// accounts, the requests sent with it and the connections they dial
// through any Transport (one inspect does not wrap included): derive
// each request's context from it to find a Transport built per call in
// code that cannot be changed to use [NewTransport].
func Context(ctx context.Context) context.Context {
	g := processGroup()
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			g.ctxReqs.Add(1)
			if !info.Reused {
				g.ctxDials.Add(1)
				if n := g.ctxDials.Load(); n <= 8 || n%16 == 0 {
					g.sites.record(2)
				}
			}
		},
	})
}

// ProcessFindings returns the findings about the program's accounts
// ([NewTransport], [Install], [Context]).
func ProcessFindings() []Finding { return processGroup().findings() }

// ProcessReport prints the program's accounts and findings, as
// [Transport.Report] does for one Transport.
func ProcessReport(w io.Writer) error { return processGroup().report(w) }

// ProcessSnapshot returns the program's accounts so far.
func ProcessSnapshot() *metrics.Snapshot { return processGroup().snapshot() }

// ResetProcess forgets the program's accounts (for tests).
func ResetProcess() {
	processMu.Lock()
	process = nil
	processMu.Unlock()
}

// sites counts call sites: the first frame outside net/http, inspect and
// the runtime of the stacks recorded.
type sites struct {
	mu    sync.Mutex
	n     int64
	count map[string]int64
}

// record records the caller's stack, skip frames up.
func (s *sites) record(skip int) {
	var pcs [32]uintptr
	n := runtime.Callers(skip+1, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	site := ""
	for {
		f, more := frames.Next()
		if !internalFrame(f.Function) {
			site = fmt.Sprintf("%s:%d (%s)", filepath.Base(f.File), f.Line, shortFunc(f.Function))
			break
		}
		if !more {
			break
		}
	}
	if site == "" {
		return
	}
	s.mu.Lock()
	if s.count == nil {
		s.count = map[string]int64{}
	}
	s.count[site]++
	s.n++
	s.mu.Unlock()
}

func internalFrame(fn string) bool {
	for _, p := range []string{"net/http.", "net/http/", "github.com/faya-load/faya/inspect.", "runtime.", "context.", "net.", "crypto/tls."} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// shortFunc drops the import path of a function name: pkg.Func.
func shortFunc(fn string) string {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

// top returns the most frequent site, its count and the stacks recorded.
func (s *sites) top() (site string, n, total int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.count))
	for k := range s.count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if s.count[keys[i]] != s.count[keys[j]] {
			return s.count[keys[i]] > s.count[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) == 0 {
		return "", 0, 0
	}
	return keys[0], s.count[keys[0]], s.n
}
