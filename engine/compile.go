package engine

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
)

// StepError is a problem with one step of a plan, located so that a
// scenario file can point at the line.
type StepError struct {
	Scenario string
	Setup    bool   // the step is a setup step
	Index    int    // 0-based, among the setup steps or the steps
	Field    string // "url", "header X", "body", "extract NAME", "check", ...
	Err      error
}

func (e *StepError) Error() string {
	list := "step"
	if e.Setup {
		list = "setup step"
	}
	return fmt.Sprintf("scenario %s: %s %d: %s: %v", e.Scenario, list, e.Index+1, e.Field, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// cscenario is a scenario compiled to run: its steps with templates
// parsed, extractions and checks prepared.
type cscenario struct {
	sc    *Scenario
	setup []*cstep
	steps []*cstep
}

// cstep is a compiled step.
type cstep struct {
	Step
	seq       int // position among all the plan's compiled steps (for per-client caches)
	name      string
	setup     bool
	url       *session.Template
	header    []cheader
	body      *session.Template
	query     []cparam
	form      []cparam
	static    bool // nothing to render: the request is prepared once
	extract   []*session.Extract
	check     session.Check
	onFailure string
	capture   bool // the response's body is needed
	headers   bool // the response's headers are needed
}

type cheader struct {
	name string
	val  *session.Template
}

type cparam struct {
	name string
	val  *session.Template
}

// compile compiles every scenario of p. env, when not nil, is where
// {{ env }} looks; with a nil env, references to environment variables are
// not checked. All problems are returned, joined.
func compile(p *Plan, env session.Env) ([]*cscenario, error) {
	var errs []error
	sources := map[string]*DataSource{}
	for i := range p.Data {
		ds := &p.Data[i]
		sources[ds.Name] = ds
	}
	seq := 0
	var out []*cscenario
	for i := range p.Scenarios {
		sc := &p.Scenarios[i]
		cs := &cscenario{sc: sc}
		defined := map[string]bool{}
		for j := range sc.Setup {
			st, err := compileStep(sc, &sc.Setup[j], j, true, defined, sources, env)
			errs = append(errs, err...)
			if st != nil {
				st.seq = seq
				seq++
				cs.setup = append(cs.setup, st)
			}
		}
		for j := range sc.Steps {
			st, err := compileStep(sc, &sc.Steps[j], j, false, defined, sources, env)
			errs = append(errs, err...)
			if st != nil {
				st.seq = seq
				seq++
				cs.steps = append(cs.steps, st)
			}
		}
		out = append(out, cs)
	}
	return out, errors.Join(errs...)
}

// stepCompiler compiles one step, gathering its problems.
type stepCompiler struct {
	sc      *Scenario
	idx     int
	setup   bool
	defined map[string]bool // variables extracted by the steps before
	sources map[string]*DataSource
	env     session.Env
	c       *cstep
	errs    []error
}

// compileStep compiles step idx of sc (a setup step when setup): the
// request (URL, headers, body, parameters, the URL's credentials), its
// extractions, its check and think time. defined holds the variables the
// steps before extract; the step's are added. All problems are returned.
func compileStep(sc *Scenario, st *Step, idx int, setup bool, defined map[string]bool, sources map[string]*DataSource, env session.Env) (*cstep, []error) {
	k := &stepCompiler{sc: sc, idx: idx, setup: setup, defined: defined, sources: sources, env: env,
		c: &cstep{Step: *st, setup: setup, onFailure: st.Check.OnFailure}}
	if k.c.Method == "" {
		k.c.Method = http.MethodGet
	}
	k.compileURL(st)
	k.compileHeaders(st)
	k.compileBody(st)
	k.compileParams(st)
	k.compileAuth(st)
	k.settleStatic(st)
	k.compileExtracts(st)
	k.compileCheck(st)
	if st.Think.Min < 0 || st.Think.Max < 0 || (st.Think.Max > 0 && st.Think.Max < st.Think.Min) {
		k.bad("think", fmt.Errorf("%v-%v: want a non-negative duration or a range MIN-MAX", st.Think.Min, st.Think.Max))
	}
	for _, e := range st.Extract {
		defined[e.Var] = true
	}
	k.c.name = st.Label()
	return k.c, k.errs
}

// bad records a problem with the step's field.
func (k *stepCompiler) bad(field string, err error) {
	k.errs = append(k.errs, &StepError{Scenario: k.sc.Name, Setup: k.setup, Index: k.idx, Field: field, Err: err})
}

// refs checks what a template of field reads: variables extracted
// before, data sources and their columns, the environment (when one is
// given).
func (k *stepCompiler) refs(field string, rs []session.Ref) {
	for _, r := range rs {
		switch r.Kind {
		case "vars":
			if !k.defined[r.Name] {
				k.bad(field, fmt.Errorf("variable %q is not extracted before this step: extract it in a setup step or an earlier step", r.Name))
			}
		case "data":
			ds := k.sources[r.Name]
			switch {
			case ds == nil:
				k.bad(field, fmt.Errorf("data source %q is not defined", r.Name))
			case !slices.Contains(ds.Columns, r.Field):
				k.bad(field, fmt.Errorf("data source %q has no column %q (columns: %s)", r.Name, r.Field, strings.Join(ds.Columns, ", ")))
			}
		case "env":
			if k.env != nil {
				if _, ok := k.env(r.Name); !ok {
					k.bad(field, fmt.Errorf("environment variable %s is not set: set it, or drop {{ env %q }}", r.Name, r.Name))
				}
			}
		case "field":
			k.bad(field, fmt.Errorf("{{ .%s }}: templates read .vars.NAME, .data.SOURCE.COLUMN, .vu and .iter", r.Name))
		}
	}
}

// parse parses the template of field, nil when it is bad.
func (k *stepCompiler) parse(field, src string) *session.Template {
	t, rs, err := session.Parse(field, src, k.env)
	if err != nil {
		k.bad(field, err)
		return nil
	}
	k.refs(field, rs)
	return t
}

// compileURL parses the URL; a templated one must at least start as a
// URL.
func (k *stepCompiler) compileURL(st *Step) {
	c := k.c
	c.url = k.parse("url", st.URL)
	if c.url != nil && c.url.Static() {
		if err := ValidateURL(st.URL); err != nil {
			k.bad("url", err)
		}
	} else if c.url != nil {
		if err := ValidateURL(strings.SplitN(st.URL, "{{", 2)[0] + "x"); err != nil && !strings.HasPrefix(st.URL, "{{") {
			k.bad("url", err)
		}
	}
}

// compileHeaders parses the header values, by name.
func (k *stepCompiler) compileHeaders(st *Step) {
	names := make([]string, 0, len(st.Header))
	for name := range st.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range st.Header[name] {
			if t := k.parse("header "+name, v); t != nil {
				k.c.header = append(k.c.header, cheader{name, t})
			}
		}
	}
}

// compileBody compiles the body: JSON (with its Content-Type unless one
// is given), raw, or a template.
func (k *stepCompiler) compileBody(st *Step) {
	c := k.c
	switch {
	case st.JSON != nil:
		t, rs, err := session.ParseJSON("json", st.JSON, k.env)
		if err != nil {
			k.bad("json", err)
		} else {
			k.refs("json", rs)
			c.body = t
			if t.Static() {
				c.Body = []byte(t.String())
			}
		}
		if len(st.Body) > 0 || len(st.Form) > 0 {
			k.bad("json", errors.New("give one body: json, form or body"))
		}
		k.defaultHeader(st, "Content-Type", "application/json")
	case st.RawBody:
		c.body = session.Const(string(st.Body))
	default:
		c.body = k.parse("body", string(st.Body))
	}
}

// defaultHeader sets header name to a constant value unless the step
// gives it.
func (k *stepCompiler) defaultHeader(st *Step, name, value string) {
	if st.Header.Get(name) != "" {
		return
	}
	c := k.c
	c.Header = c.Header.Clone()
	if c.Header == nil {
		c.Header = http.Header{}
	}
	c.Header.Set(name, value)
	c.header = append(c.header, cheader{name, mustConst(value)})
}

// compileParams parses the query and form parameters; a form is the
// body, with its Content-Type unless one is given.
func (k *stepCompiler) compileParams(st *Step) {
	params := func(kind string, ps []Param) []cparam {
		var out []cparam
		for _, p := range ps {
			if t := k.parse(kind+" "+p.Name, p.Value); t != nil {
				out = append(out, cparam{p.Name, t})
			}
		}
		return out
	}
	k.c.query = params("query", st.Query)
	k.c.form = params("form", st.Form)
	if len(st.Form) > 0 && len(st.Body) > 0 {
		k.bad("body", errors.New("give a form or a body, not both"))
	}
	if len(st.Form) > 0 {
		k.defaultHeader(st, "Content-Type", "application/x-www-form-urlencoded")
	}
}

// compileAuth makes the URL's user info Basic authorization, as curl and
// Go's http.Client send it; a header given wins.
func (k *stepCompiler) compileAuth(st *Step) {
	if auth := userAuth(st.URL); auth != "" {
		k.defaultHeader(st, "Authorization", auth)
	}
}

// settleStatic decides whether the request is static (nothing to render:
// prepared once), encodes constant parameters once, and validates a
// static request.
func (k *stepCompiler) settleStatic(st *Step) {
	c := k.c
	c.static = c.url != nil && c.url.Static() && c.body != nil && c.body.Static()
	for _, h := range c.header {
		c.static = c.static && h.val.Static()
	}
	for _, p := range slices.Concat(c.query, c.form) {
		c.static = c.static && p.val.Static()
	}
	if c.static && (len(c.query) > 0 || len(c.form) > 0) {
		c.URL = withQuery(st.URL, encodeParams(c.query, nil, nil))
		if len(c.form) > 0 {
			c.Body = []byte(encodeParams(c.form, nil, nil))
		}
		c.query, c.form = nil, nil
	}
	if err := st.Validate(); err != nil && c.static {
		k.bad("request", err)
	}
}

// compileExtracts compiles the extractions and notes what of the
// response they need.
func (k *stepCompiler) compileExtracts(st *Step) {
	c := k.c
	for _, e := range st.Extract {
		x := &session.Extract{Var: e.Var, JSON: e.JSON, Regex: e.Regex, Header: e.Header, Cookie: e.Cookie}
		if e.Var == "" {
			k.bad("extract", errors.New("a variable name is needed (var)"))
			continue
		}
		if err := x.Compile(); err != nil {
			k.bad("extract "+e.Var, err)
			continue
		}
		body, header := x.Needs()
		c.capture = c.capture || body
		c.headers = c.headers || header
		c.extract = append(c.extract, x)
	}
}

// compileCheck compiles the check and its on_failure (by default
// continue; stop-vu for a setup step: a VU that cannot log in stops).
func (k *stepCompiler) compileCheck(st *Step) {
	c := k.c
	c.check = session.Check{Status: st.Check.Status, BodyContains: st.Check.BodyContains}
	if len(st.Check.JSON) > 0 {
		c.check.JSON = map[string]*session.Template{}
		for p, want := range st.Check.JSON {
			if t := k.parse("check json "+p, want); t != nil {
				c.check.JSON[p] = t
			}
		}
	}
	if err := c.check.Compile(); err != nil {
		k.bad("check", err)
	}
	c.capture = c.capture || c.check.Needs()
	switch c.onFailure {
	case "":
		c.onFailure = FailContinue
		if k.setup {
			c.onFailure = FailStopVU
		}
	case FailContinue, FailAbortIteration, FailStopVU:
	default:
		k.bad("check on_failure", fmt.Errorf("%q: want %s, %s or %s", c.onFailure, FailContinue, FailAbortIteration, FailStopVU))
	}
}

// userAuth returns the Basic Authorization header of a URL's user info,
// "" when it has none. Of a templated URL, only user info written before
// its first {{ is seen.
func userAuth(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if !strings.Contains(authority, "@") || strings.Contains(authority, "{{") {
		return ""
	}
	u, err := url.Parse(raw[:len(raw)-len(rest)] + authority)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
}

// mustConst is a constant template.
func mustConst(s string) *session.Template { return session.Const(s) }

// encodeParams renders and URL-encodes parameters (constant ones when buf
// is nil).
func encodeParams(ps []cparam, buf *bytes.Buffer, d session.Data) string {
	v := url.Values{}
	for _, p := range ps {
		val := p.val.String()
		if buf != nil {
			r, err := p.val.Render(buf, d)
			if err != nil {
				continue
			}
			val = r
		}
		v.Add(p.name, val)
	}
	return v.Encode()
}

// withQuery appends an encoded query to a URL.
func withQuery(u, q string) string {
	switch {
	case q == "":
		return u
	case strings.Contains(u, "?"):
		return u + "&" + q
	}
	return u + "?" + q
}

// Label is the step's name in reports: its Name, or its method and path.
func (st Step) Label() string {
	if st.Name != "" {
		return st.Name
	}
	m := st.Method
	if m == "" {
		m = http.MethodGet
	}
	return m + " " + pathOf(st.URL)
}

// pathOf returns the path (and query) of a URL or URL template, for a
// default step name.
func pathOf(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	return raw
}

// thinkTime picks a step's pause.
func (c *cstep) thinkTime(pick func(time.Duration) time.Duration) time.Duration {
	t := c.Think
	if t.Max > t.Min {
		return t.Min + pick(t.Max-t.Min+1)
	}
	return t.Min
}

// StepInfo names a step of the per-step metrics.
type StepInfo struct {
	Scenario string `json:"scenario"`
	Name     string `json:"name"`
	// Setup marks a VU's setup step (the login), measured apart from the
	// iterations.
	Setup bool `json:"setup,omitempty"`
}

// stepTable maps the recorder's step indexes to steps, for the report.
type stepTable struct {
	mu    sync.Mutex
	infos []StepInfo
}

// index returns the recorder's index of a step, registering it.
func (t *stepTable) index(rec *metrics.Recorder, scenario, name string, setup bool) int {
	key := scenario + "\x00" + name
	if setup {
		key = scenario + "\x00setup\x00" + name
	}
	i := rec.StepIndex(key)
	t.mu.Lock()
	for len(t.infos) <= i {
		t.infos = append(t.infos, StepInfo{})
	}
	t.infos[i] = StepInfo{Scenario: scenario, Name: name, Setup: setup}
	t.mu.Unlock()
	return i
}

func (t *stepTable) all() []StepInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]StepInfo(nil), t.infos...)
}

// plain reports whether a compiled scenario needs no session: one static
// step without extractions, checks or think time, no setup, no data (the
// command line's single URL). Such a VU keeps no cookie jar and renders
// nothing.
func (cs *cscenario) plain(p *Plan) bool {
	if cs.sc.Func != nil || len(cs.setup) > 0 || len(cs.steps) != 1 || len(p.Data) > 0 || cs.sc.ResetCookies {
		return false
	}
	st := cs.steps[0]
	return st.static && len(st.extract) == 0 && st.check.Empty() && st.Think == (Think{})
}
