package diagnose

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/faya-load/faya/metrics"
)

// FailedShare is the share of requests failed (without a complete
// response) above which the run failed: an error finding, and no other
// finding is judged on its numbers.
const FailedShare = 0.5

// failed reports whether most requests failed: the run's numbers say
// little about the pool, only that the target could not be reached.
func (a *analysis) failed() bool {
	return a.s.Requests > 0 && float64(a.s.Errors) > FailedShare*float64(a.s.Requests)
}

// errorShare is the share of requests that failed or were answered with a
// status of 400 or more.
func (a *analysis) errorShare() float64 {
	if a.s.Requests == 0 {
		return 0
	}
	return float64(a.s.Errors+a.s.HTTPErrors) / float64(a.s.Requests)
}

// classCount is one error class of a run.
type classCount struct {
	class metrics.ErrClass
	n     int64
}

// classes returns the run's error classes, the most frequent first.
func (a *analysis) classes() []classCount {
	var cs []classCount
	for i := 1; i < metrics.NumErrClasses; i++ {
		if n := a.s.ErrCount[i]; n > 0 {
			cs = append(cs, classCount{metrics.ErrClass(i), n})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].n > cs[j].n })
	return cs
}

// exampleLimit bounds the error message a finding quotes.
const exampleLimit = 200

// example is the first message of class c, bounded.
func (a *analysis) example(c metrics.ErrClass) string {
	msg := a.s.ErrExample[c]
	if len(msg) > exampleLimit {
		msg = fmt.Sprintf("%s... (%d bytes)", strings.ToValidUTF8(msg[:exampleLimit], ""), len(msg))
	}
	return msg
}

// failures reports requests that got no complete response: an error when
// most did (the run failed), a warning above 1%, an info below. The
// evidence lists the classes with their first message; the fix names the
// likely cause of the most frequent class.
func (a *analysis) failures() {
	s := a.s
	cs := a.classes()
	if s.Requests == 0 || s.Errors == 0 || len(cs) == 0 {
		return
	}
	if len(cs) == 1 && cs[0].class == metrics.ErrLocal {
		return // generator-resources says it
	}
	share := float64(s.Errors) / float64(s.Requests)
	var parts []string
	for i, c := range cs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more classes", len(cs)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d (first: %q)", c.class, c.n, a.example(c.class)))
	}
	top := cs[0].class
	cause, fix := a.causeOf(top)
	f := Finding{
		ID:       "requests-failed",
		Evidence: fmt.Sprintf("%d of %d requests failed without a complete response: %s. %s", s.Errors, s.Requests, strings.Join(parts, "; "), cause),
		Fix:      fix,
	}
	switch {
	case share > FailedShare:
		f.Severity = Error
		f.Title = fmt.Sprintf("The run failed: %s of %d requests got no response (%s)", pct(share), s.Requests, top)
		if s.Errors == s.Requests {
			f.Title = fmt.Sprintf("The run failed: every request got no response (%s)", top)
		}
	case share > 0.01:
		f.Severity = Warning
		f.Title = fmt.Sprintf("%s of the requests failed (%d, most of them %s)", pct(share), s.Errors, top)
	default:
		f.Severity = Info
		f.Title = fmt.Sprintf("%s failed (%s of the requests, most of them %s)", plural(s.Errors, "request"), pct(share), top)
	}
	a.add(f)
}

func pct(share float64) string {
	switch {
	case share >= 0.9995 || share == 0:
		return fmt.Sprintf("%.0f%%", 100*share)
	case share < 0.001:
		return fmt.Sprintf("%.3f%%", 100*share)
	}
	return fmt.Sprintf("%.1f%%", 100*share)
}

// http2Frame matches the start of an HTTP/2 server preface (a SETTINGS
// frame on stream 0) as raw bytes or as Go quotes them (%q). Compiled
// when a failure is first explained, not at start.
var http2Frame = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?s)(\x00\x00.\x04\x00\x00\x00\x00\x00)|(\\x00\\x00(\\x[0-9a-f]{2}|.)\\x04\\x00\\x00\\x00\\x00\\x00)|HTTP/2`)
})

// causeOf returns what a failure class most likely means, and the fix.
func (a *analysis) causeOf(c metrics.ErrClass) (cause, fix string) {
	msg := a.s.ErrExample[c]
	switch c {
	case metrics.ErrRefused:
		return "Nothing listens at the target's address: the connection was refused.",
			"start the target, or correct the host and port in the URL"
	case metrics.ErrDNS:
		return "The target's host name does not resolve.",
			"correct the host name in the URL (or add it to DNS or /etc/hosts)"
	case metrics.ErrTLS:
		switch {
		case strings.Contains(msg, "does not look like a TLS handshake"):
			return "The server answered the TLS handshake in plain text: it speaks plain HTTP on this port.",
				"use http:// for this port, or the server's TLS port with https://"
		case strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
			return "The server's certificate was not accepted.",
				"--cacert FILE with the CA that signed the server's certificate (or --insecure to skip verification)"
		}
		return "The TLS handshake failed.", "check that the server speaks TLS on this port and accepts TLS 1.2 or 1.3"
	case metrics.ErrEOF, metrics.ErrProtocol:
		if http2Frame().MatchString(msg) {
			return "The server answered with an HTTP/2 frame: it speaks HTTP/2 only (prior knowledge, h2c) on this port, and faya speaks HTTP/1.1.",
				"point faya at a listener that speaks HTTP/1.1 (for nginx: a listen directive without http2)"
		}
		if c == metrics.ErrProtocol {
			return "The server's answer was not HTTP/1.1.",
				"check that the URL's port is an HTTP/1.1 server (not TLS, not HTTP/2 only, not another protocol)"
		}
		return "The server closed connections before it answered.",
			"check that the URL's port is an HTTP/1.1 server (https:// for a TLS port); the server's log says why it closed"
	case metrics.ErrReset:
		return "The server reset connections.", "check the server's log and its connection limits (e.g. a listen backlog or a firewall)"
	case metrics.ErrTimeout:
		return "The target did not answer in time.", "raise --timeout if the target is slow on purpose, or lower the load"
	case metrics.ErrProxyRefused:
		return "The proxy could not be reached.", "start the proxy, or correct --proxy"
	case metrics.ErrProxyAuth:
		return "The proxy refused the credentials.", "correct the user and password in --proxy"
	case metrics.ErrProxyConnect:
		return "The proxy refused to open a tunnel to the target.", "allow the target's port in the proxy's configuration (e.g. squid's SSL_ports)"
	case metrics.ErrProxySOCKS:
		return "The SOCKS5 proxy could not reach the target.", "check that the proxy can reach the target (its rules and its DNS)"
	case metrics.ErrCanceled:
		return "The requests were canceled by the run's stop.", "nothing: they were in flight when the run was stopped"
	}
	return "", "see the error messages above"
}

// httpErrors reports runs whose answers were mostly errors (status 400 or
// more): a URL that does not exist, a login that failed.
func (a *analysis) httpErrors() {
	s := a.s
	answered := s.OK + s.HTTPErrors
	if answered == 0 || float64(s.HTTPErrors) < 0.1*float64(answered) {
		return
	}
	type sc struct {
		code int
		n    int64
	}
	var codes []sc
	for code := 400; code < len(s.Status); code++ {
		if n := s.Status[code]; n > 0 {
			codes = append(codes, sc{code, n})
		}
	}
	sort.SliceStable(codes, func(i, j int) bool { return codes[i].n > codes[j].n })
	var parts []string
	for i, c := range codes {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%d: %d", c.code, c.n))
	}
	share := float64(s.HTTPErrors) / float64(answered)
	f := Finding{
		ID:       "http-errors",
		Severity: Warning,
		Title:    fmt.Sprintf("%s of the answers were HTTP errors (status 400 or more)", pct(share)),
		Evidence: fmt.Sprintf("%d of %d answers had a status of 400 or more (%s).", s.HTTPErrors, answered, strings.Join(parts, ", ")),
		Fix:      "check the URL, the method, the headers and the body (or the login of a scenario); if the errors are what you mean to measure, nothing",
	}
	if share > FailedShare {
		f.Severity = Error
	}
	a.add(f)
}

// setupFailed reports failed setup requests (the VUs' logins): the VUs
// then ran logged out, and their requests measure another user.
func (a *analysis) setupFailed() {
	s := a.s
	if s.Setup == 0 || s.SetupFailed == 0 {
		return
	}
	statuses := map[int]int64{}
	var classes [metrics.NumErrClasses]int64
	first := ""
	for i := range s.Steps {
		if i >= len(a.StepSetup) || !a.StepSetup[i] {
			continue
		}
		st := &s.Steps[i]
		for code, n := range st.Status {
			statuses[code] += n
		}
		for c, n := range st.ErrCount {
			classes[c] += n
		}
		if first == "" {
			first = st.CheckFailure
		}
	}
	var parts []string
	var codes []int
	for code := range statuses {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	for _, code := range codes {
		parts = append(parts, fmt.Sprintf("status %d: %d", code, statuses[code]))
	}
	for c, n := range classes {
		if n > 0 && c > 0 {
			parts = append(parts, fmt.Sprintf("no response (%s): %d", metrics.ErrClass(c), n))
		}
	}
	ev := fmt.Sprintf("%d of %d setup requests failed (a status of 400 or more, no response, or a failed check): %s.", s.SetupFailed, s.Setup, strings.Join(parts, ", "))
	if first != "" {
		ev += fmt.Sprintf(" The first failed check: %q.", first)
	}
	ev += " VUs whose setup failed ran their iterations without what it should have given them (a session, a token): their requests measure another user."
	f := Finding{
		ID:       "setup-failed",
		Severity: Warning,
		Title:    fmt.Sprintf("%d of %d setup requests (the VUs' logins) failed", s.SetupFailed, s.Setup),
		Evidence: ev,
		Fix:      "check the setup steps against the server (URL, credentials in the data, the form or JSON body, the status they check); on_failure: stop-vu stops a VU whose login fails instead of letting it run logged out",
	}
	if 2*s.SetupFailed > s.Setup {
		f.Severity = Error
	}
	a.add(f)
}

// vusStopped reports VUs stopped by a failed step (on_failure: stop-vu).
func (a *analysis) vusStopped() {
	s := a.s
	if s.VUsStopped == 0 {
		return
	}
	a.add(Finding{
		ID:       "vus-stopped",
		Severity: Warning,
		Title:    fmt.Sprintf("%s stopped before the end (on_failure: stop-vu)", plural(s.VUsStopped, "VU")),
		Evidence: fmt.Sprintf("%d of the %d VUs allocated stopped after a failed step and ran no more iterations: the rest of the run had fewer users than planned.", s.VUsStopped, s.VUsAllocated),
		Fix:      "see the failed checks in the step table and fix what fails; on_failure: continue keeps the VUs going",
	})
}

// cookiesDropped reports cookies the VUs' jars refused or evicted: the
// server set more than a browser keeps, and a browser would have lost
// them too.
func (a *analysis) cookiesDropped() {
	n := a.s.CookiesDropped
	if n == 0 {
		return
	}
	a.add(Finding{
		ID:       "cookie-limit",
		Severity: Warning,
		Title:    fmt.Sprintf("The server set more cookies than a browser keeps: %s dropped", plural(n, "cookie")),
		Evidence: fmt.Sprintf("%d cookies were refused (over 4,096 bytes) or evicted (the oldest, past 50 per domain or 3,000 per VU), as a browser must (RFC 6265, 6.1). A session that relies on them breaks for real users too.", n),
		Fix:      "look at the server's Set-Cookie answers: a new cookie name per response (a timestamp or an id in the name) grows every client's jar without end",
	})
}
