package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/internal/sockstat"
	"github.com/faya-load/faya/metrics"
)

// Finding is one diagnosis of the client's connections: the finding faya
// prints after a run ([diagnose.Finding]: ID, severity, title, the
// evidence in numbers), with its fix written for Go code.
type Finding struct {
	diagnose.Finding
	// Go is the fix as Go code, when there is one:
	// "tr.MaxIdleConnsPerHost = 50".
	Go string `json:"go,omitempty"`
}

// Findings returns what the Transport's accounts show so far, the most
// serious first: the same findings faya prints after a run (idle pool too
// small, unbounded connections, server closes, bodies not drained, silent
// retries, TIME_WAIT to each host), and a Transport built per request.
func (t *Transport) Findings() []Finding { return t.group.findings() }

// PerCall is the ID of the finding that a new connection was dialed for
// (nearly) every request: a Transport built per call.
const PerCall = "transport-per-call"

func (g *group) findings() []Finding {
	s := g.snapshot()
	cfg := g.diagnoseConfig()
	in := diagnose.Input{Config: cfg, Total: s}
	tw := g.timeWait()
	if len(tw) > 0 {
		in.Sockets = tw[0].s
	}
	var out []Finding
	for _, f := range diagnose.Analyze(in) {
		if f.ID == "rate-shortfall" {
			continue
		}
		out = append(out, adapt(f, s, g, tw))
	}
	for _, h := range tw[min(1, len(tw)):] {
		for _, f := range diagnose.Analyze(diagnose.Input{Config: cfg, Total: &metrics.Snapshot{}, Sockets: h.s}) {
			out = append(out, adapt(f, s, g, []hostTW{h}))
		}
	}
	if f, ok := g.perCall(s); ok {
		out = append([]Finding{f}, out...)
		// A clean bill beside it would contradict it.
		out = dropID(out, "clean")
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Severity) > rank(out[j].Severity) })
	return out
}

func dropID(fs []Finding, id string) []Finding {
	out := fs[:0]
	for _, f := range fs {
		if f.ID != id {
			out = append(out, f)
		}
	}
	return out
}

func rank(s diagnose.Severity) int {
	switch s {
	case diagnose.Error:
		return 2
	case diagnose.Warning:
		return 1
	}
	return 0
}

// diagnoseConfig maps the pool's settings (net/http's encoding) to
// diagnose's: 0 means no limit, MaxIdleConnsPerHost 0 means Go's 2.
func (g *group) diagnoseConfig() diagnose.Config {
	g.mu.Lock()
	h := g.cfg
	g.mu.Unlock()
	if h == nil {
		h = &http.Transport{}
	}
	idle := h.MaxIdleConnsPerHost
	if idle == 0 {
		idle = http.DefaultMaxIdleConnsPerHost
	}
	return diagnose.Config{
		MaxConnsPerHost:     max(h.MaxConnsPerHost, 0),
		MaxIdleConnsPerHost: max(idle, 0),
		MaxIdleConns:        max(h.MaxIdleConns, 0),
		IdleConnTimeout:     h.IdleConnTimeout,
		DisableKeepAlives:   h.DisableKeepAlives || h.MaxIdleConnsPerHost < 0,
	}
}

// perCall is the finding that (nearly) every request dialed: the sign of
// a Transport built per call. It needs 10 requests at least, keep-alives
// on, and a server that does not close the connections itself.
func (g *group) perCall(s *metrics.Snapshot) (Finding, bool) {
	reqs := s.Requests + g.ctxReqs.Load()
	dials := s.Dialed + g.ctxDials.Load()
	cfg := g.diagnoseConfig()
	byServer := s.CloseReasons[metrics.CloseServer] + s.CloseAnswers
	if reqs < 10 || cfg.DisableKeepAlives || float64(dials) < 0.9*float64(reqs) || float64(byServer) > 0.1*float64(reqs) {
		return Finding{}, false
	}
	// The pool's own refusals and unread bodies explain dials too; those
	// have findings of their own.
	own := s.PutIdleErrors[metrics.CloseTooManyIdleForHost] + s.PutIdleErrors[metrics.CloseTooManyIdle] + s.CloseReasons[metrics.CloseBodyNotDrained]
	if float64(dials-own) < 0.9*float64(reqs) && g.transports.Load() <= 1 {
		return Finding{}, false
	}
	ev := fmt.Sprintf("%d requests dialed %d connections", reqs, dials)
	if n := g.transports.Load(); n > 1 {
		ev += fmt.Sprintf(" through %d Transports (made by inspect.NewTransport)", n)
	}
	ev += "; a Transport owns its connection pool, so one built per request never reuses a connection: each request pays a TCP (and TLS) handshake and leaves a socket in TIME_WAIT."
	if site, n, total := g.sites.top(); site != "" {
		ev += fmt.Sprintf(" The requests that dialed were sent from %s (%d of %d sampled dials).", site, n, total)
	}
	return Finding{
		Finding: diagnose.Finding{
			ID:       PerCall,
			Severity: diagnose.Error,
			Title:    "A new connection for every request: is a Transport created per call?",
			Evidence: ev,
			Fix:      "build one http.Client (and its Transport) when the program starts and pass it to the code that sends",
		},
		Go: "var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: N, MaxConnsPerHost: N}, Timeout: 10 * time.Second} // N: the requests run at once; built once, shared",
	}, true
}

// hostTW is the TIME_WAIT readings of one host dialed.
type hostTW struct {
	host string
	s    diagnose.Sockets
}

// timeWait reads the TIME_WAIT sockets to each host dialed, the most
// first. Nothing where the socket tables cannot be read.
func (g *group) timeWait() []hostTW {
	lo, hi, err := sockstat.PortRange()
	if err != nil {
		return nil
	}
	g.mu.Lock()
	hosts := maps.Clone(g.hosts)
	g.mu.Unlock()
	var out []hostTW
	for _, ap := range slices.SortedFunc(maps.Keys(hosts), func(a, b netip.AddrPort) int { return a.Compare(b) }) {
		before := hosts[ap]
		if before < 0 {
			continue
		}
		c, err := sockstat.Read(sockstat.ToRemote(ap))
		if err != nil {
			continue
		}
		out = append(out, hostTW{host: ap.String(), s: diagnose.Sockets{Watched: true, TimeWaitBefore: before, TimeWaitAfter: c.TimeWait,
			TimeWaitPeak: c.TimeWait, PortLo: lo, PortHi: hi}})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].s.TimeWaitAfter > out[j].s.TimeWaitAfter })
	return out
}

// flagFix is a fix of faya's written for its command line: "--flag N (in
// Go: http.Transport.Field = N)".
var flagFix = regexp.MustCompile(`(?:drop |raise )?--[a-z-]+(?: [^ ]+)? \(in Go: ([^)]*)\)`)

// adapt rewrites a finding of faya's run for a Go program: the fix in Go
// terms, the body-not-drained evidence without faya's body cap, the host
// of a TIME_WAIT finding.
func adapt(f diagnose.Finding, s *metrics.Snapshot, g *group, tw []hostTW) Finding {
	out := Finding{Finding: f}
	if m := flagFix.FindStringSubmatch(f.Fix); m != nil {
		out.Go = strings.Replace(m[1], "http.Transport.", "tr.", 1)
		out.Fix = strings.TrimSpace(flagFix.ReplaceAllString(f.Fix, "set "+m[1]))
	}
	switch f.ID {
	case "body-not-drained":
		n := s.CloseReasons[metrics.CloseBodyNotDrained]
		out.Title = fmt.Sprintf("Response bodies closed before they were read to the end (%d): their connections were closed instead of reused", n)
		out.Evidence = fmt.Sprintf("%d responses had their body closed before EOF; net/http puts a connection back in the pool only once its body was read to the end, so %d of the %d connections dialed were closed and dialed again.", n, n, s.Dialed)
		if site, k, total := g.drops.top(); site != "" {
			out.Evidence += fmt.Sprintf(" The bodies were closed at %s (%d of %d sampled).", site, k, total)
		}
		out.Fix = "read every body to EOF before its Close"
		out.Go = "_, _ = io.Copy(io.Discard, resp.Body)\nresp.Body.Close()"
	case "time-wait":
		if len(tw) > 0 {
			out.Title = strings.Replace(out.Title, "the target", tw[0].host, 1)
			out.Evidence = strings.Replace(out.Evidence, "to the target", "to "+tw[0].host, 1)
		}
	case "generator-resources":
		out.Title = strings.Replace(out.Title, "the generator's side", "this program's side", 1)
	case "keepalives-disabled":
		out.Evidence = strings.Replace(out.Evidence, "--disable-keepalives: ", "DisableKeepAlives is set: ", 1)
	}
	return out
}

// Report prints the findings as faya prints them after a run, with the
// accounts they rest on.
func (t *Transport) Report(w io.Writer) error { return t.group.report(w) }

func (g *group) report(w io.Writer) error {
	s := g.snapshot()
	fs := g.findings()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d requests, %d connections dialed, %d reused, %d closed", g.name, s.Requests, s.Dialed, s.ConnReused, s.Closed)
	if n := s.PutIdleErrors[metrics.CloseTooManyIdleForHost]; n > 0 {
		fmt.Fprintf(&b, ", %d refused by the idle pool (too_many_idle_for_host)", n)
	}
	fmt.Fprintf(&b, "; at most %d requests in flight\n", s.VUsBusyMax)
	for _, f := range fs {
		fmt.Fprintf(&b, "\n[%s] %s\n  %s\n", f.Severity, f.Title, f.Evidence)
		if f.Fix != "" {
			fmt.Fprintf(&b, "  fix: %s\n", f.Fix)
		}
		if f.Go != "" {
			fmt.Fprintf(&b, "  in Go: %s\n", strings.ReplaceAll(f.Go, "\n", "\n         "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Handler serves the findings on a debug endpoint: JSON ({"findings":
// [...], "requests", "dialed", ...}), or the text report for ?format=text
// or a client that asks for text/plain.
func (t *Transport) Handler() http.Handler { return handler{t.group} }

type handler struct{ g *group }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("format") == "text" || strings.HasPrefix(r.Header.Get("Accept"), "text/plain") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_ = h.g.report(w)
		return
	}
	s := h.g.snapshot()
	out := struct {
		Name     string    `json:"name"`
		Requests int64     `json:"requests"`
		Dialed   int64     `json:"dialed"`
		Reused   int64     `json:"reused"`
		Closed   int64     `json:"closed"`
		InFlight int64     `json:"max_in_flight"`
		Findings []Finding `json:"findings"`
	}{h.g.name, s.Requests, s.Dialed, s.ConnReused, s.Closed, s.VUsBusyMax, h.g.findings()}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// maybeLog logs the findings that became true (warnings and errors), at
// most once a second, off the request's path.
func (g *group) maybeLog() {
	if g.logger == nil {
		return
	}
	now := time.Now().UnixNano()
	if now-g.lastEv.Load() < int64(time.Second) || !g.evBusy.CompareAndSwap(false, true) {
		return
	}
	g.lastEv.Store(now)
	go func() {
		defer g.evBusy.Store(false)
		g.logNew()
	}()
}

// logNew logs each warning or error finding not logged before.
func (g *group) logNew() {
	for _, f := range g.findings() {
		if f.Severity == diagnose.Info {
			continue
		}
		g.mu.Lock()
		seen := g.logged[f.ID]
		g.logged[f.ID] = true
		g.mu.Unlock()
		if seen {
			continue
		}
		level := slog.LevelWarn
		if f.Severity == diagnose.Error {
			level = slog.LevelError
		}
		g.logger.LogAttrs(context.Background(), level, f.Title,
			slog.String("transport", g.name), slog.String("finding", f.ID),
			slog.String("evidence", f.Evidence), slog.String("fix", f.Fix), slog.String("go", f.Go))
	}
}

// LogFindings logs the findings not logged yet now, without waiting for
// the next request (at the end of a program, or of a test).
func (t *Transport) LogFindings() {
	if t.group.logger != nil {
		t.group.logNew()
	}
}
