package scenario

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/threshold"
	"github.com/faya-load/faya/transport"
	"go.yaml.in/yaml/v3"
)

// Version is the scenario file format's version.
const Version = 1

// Error is one problem in a scenario file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in a file, in line order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// File is a parsed scenario file: the plan it compiles to, its thresholds,
// and which of its settings were given (so that command-line flags can
// override the rest).
type File struct {
	Path       string
	Plan       engine.Plan
	Thresholds []threshold.Threshold
	// Set holds the keys given under transport and defaults.
	Set map[string]bool
	// UserAgent is defaults.user_agent ("" when not given).
	UserAgent string
	// DerivedMaxVUs holds the open-model scenarios without max_vus, whose
	// bound is engine.DefaultMaxVUs of their peak rate and the file's
	// timeout and engine.
	DerivedMaxVUs map[string]bool

	lines map[string]int // where things were written
}

// Options tell Parse how to reach the outside world.
type Options struct {
	// ReadFile reads data and body files (relative paths are relative to
	// the scenario file). Nil: a regular file of at most MaxFileBytes.
	ReadFile func(path string) ([]byte, error)
	// Env looks up {{ env "NAME" }}; nil leaves them unchecked.
	Env session.Env
	// BaseURL, when set, replaces the file's base_url (faya run
	// --base-url).
	BaseURL string
	// Adjust, if set, changes the compiled plan before it is validated:
	// the command line's flags (-c, -n, -r, ...), so that the plan that is
	// validated is the one that runs. It is not called on a file with
	// errors of its own.
	Adjust func(*engine.Plan)
}

// Load reads, parses and validates the scenario file at path.
func Load(path string, o Options) (*File, error) {
	src, err := readFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read the scenario file: %v", unwrapPath(err))}}
	}
	return Parse(path, src, o)
}

// Parse parses and validates a scenario file. It reports every problem at
// once (an Errors), each with its line.
func Parse(path string, src []byte, o Options) (*File, error) {
	if o.ReadFile == nil {
		o.ReadFile = readFile
	}
	f := &File{Path: path, Set: map[string]bool{}, DerivedMaxVUs: map[string]bool{}, lines: map[string]int{}}
	d := &decoder{file: path}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		line := 0
		msg := err.Error()
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0]
		}
		if _, err := fmt.Sscanf(msg, "yaml: line %d:", &line); err == nil {
			msg = msg[strings.Index(msg, ":")+1:]
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
		return nil, Errors{{File: path, Line: line, Msg: "not valid YAML: " + msg}}
	}
	if len(root.Content) == 0 {
		return nil, Errors{{File: path, Msg: "the file is empty: it needs version, scenarios and their steps"}}
	}
	p := &parser{d: d, f: f, o: o, dir: filepath.Dir(path), bad: map[string]bool{}}
	p.file(root.Content[0])
	if len(d.errs) == 0 {
		if o.Adjust != nil {
			o.Adjust(&f.Plan)
		}
		p.validate()
	} else {
		p.templates()
	}
	if len(d.errs) > 0 {
		errs := Errors(d.errs)
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return f, nil
}

type parser struct {
	d   *decoder
	f   *File
	o   Options
	dir string

	bad       map[string]bool // step keys with errors: "scenario steps 0 url"
	base      string
	headers   [][2]string
	version   bool
	dataLines map[string]int
}

var topKeys = []string{"version", "base_url", "engine", "http", "defaults", "transport", "proxy", "graceful_stop", "late_threshold", "data", "scenarios", "thresholds"}

func (p *parser) file(n *yaml.Node) {
	d, plan := p.d, &p.f.Plan
	var scenarios, thresholds *yaml.Node
	d.mapping(n, "the file", topKeys, func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			p.version = true
			if ver := d.integer(v, "version"); ver != Version && len(d.errs) == 0 {
				d.errf(v, "version %d: this faya reads version %d", ver, Version)
			}
		case "base_url":
			if p.o.BaseURL == "" {
				p.base = p.baseURL(v, d.str(v, "base_url"))
			}
		case "engine":
			plan.Engine = d.str(v, "engine")
			if plan.Engine != engine.EngineH1 && plan.Engine != engine.EngineNetHTTP {
				d.errf(v, "engine %q: want h1 or net/http", plan.Engine)
			}
		case "http":
			raw := v.Value // 1.1 and 2 are YAML numbers; the key takes them as written
			if v.Kind != yaml.ScalarNode {
				d.errf(v, "http: want auto, 1.1 or 2")
				break
			}
			hv, err := transport.ParseHTTPVersion(raw)
			if err != nil {
				d.errf(v, "http %v", err)
			}
			plan.Transport.HTTP = hv
		case "defaults":
			p.defaults(v)
		case "transport":
			p.transport(v)
		case "proxy":
			p.proxy(v)
		case "graceful_stop":
			plan.GracefulStop = d.duration(v, "graceful_stop")
			if plan.GracefulStop == 0 {
				plan.GracefulStop = -1
			}
		case "late_threshold":
			n := len(d.errs)
			plan.LateThreshold = d.duration(v, "late_threshold")
			if plan.LateThreshold == 0 && len(d.errs) == n {
				d.errf(v, "late_threshold 0: must be positive, e.g. 10ms")
			}
		case "data":
			p.data(v)
		case "scenarios":
			scenarios = v
		case "thresholds":
			thresholds = v
		}
	})
	if !p.version {
		d.errf(n, "version is missing: start the file with version: %d", Version)
	}
	if p.o.BaseURL != "" {
		p.base = p.baseURL(nil, p.o.BaseURL)
	}
	if scenarios == nil {
		d.errf(n, "scenarios are missing: add scenarios: with at least one named scenario and its steps")
	} else {
		d.mapping(scenarios, "scenarios", nil, func(name string, k, v *yaml.Node) {
			p.f.lines["scenario "+name] = k.Line
			p.scenario(name, v)
		})
		plan.FitPerVU(p.f.DerivedMaxVUs)
		if len(plan.Scenarios) == 0 && scenarios.Kind == yaml.MappingNode {
			d.errf(scenarios, "scenarios: none given")
		}
	}
	if thresholds != nil {
		p.thresholds(thresholds)
	}
}

// baseURL checks a base URL (n: the base_url key, nil for Options.BaseURL)
// and returns it without a trailing slash. {{ env "NAME" }} in it is
// rendered here when Options.Env is given, so that the steps' URLs are
// constants; without Env it stays a template for the engine to render.
func (p *parser) baseURL(n *yaml.Node, raw string) string {
	what := "base_url"
	if n == nil {
		what = "the base URL (--base-url)"
	}
	if strings.Contains(raw, "{{") {
		t, refs, err := session.Parse("base_url", raw, p.o.Env)
		if err != nil {
			p.d.errf(n, "%s: %v", what, err)
			return ""
		}
		for _, r := range refs {
			if r.Kind != "env" {
				p.d.errf(n, "%s %q: only {{ env \"NAME\" }} can be used here (VU variables and data differ from step to step)", what, raw)
				return ""
			}
		}
		if p.o.Env == nil {
			return strings.TrimRight(raw, "/")
		}
		var buf bytes.Buffer
		out, err := t.Render(&buf, session.NewData(0))
		if err != nil {
			p.d.errf(n, "%s %q: %v", what, raw, unwrapExec(err))
			return ""
		}
		raw = out
	}
	base := strings.TrimRight(raw, "/")
	if err := engine.ValidateURL(base + "/"); err != nil {
		p.d.errf(n, "%s: %v", what, err)
	}
	return base
}

// unwrapExec returns the innermost error of a template's execution (the
// function's own message, without the template's position).
func unwrapExec(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

var defaultKeys = []string{"headers", "timeout", "max_redirects", "max_body", "user_agent"}

func (p *parser) defaults(n *yaml.Node) {
	d, plan := p.d, &p.f.Plan
	d.mapping(n, "defaults", defaultKeys, func(key string, k, v *yaml.Node) {
		p.f.Set[key] = true
		switch key {
		case "headers":
			p.headers = d.stringMap(v, "defaults.headers")
		case "timeout":
			n := len(d.errs)
			plan.Timeout = d.duration(v, "defaults.timeout")
			if plan.Timeout == 0 && len(d.errs) == n {
				d.errf(v, "defaults.timeout 0: a request needs a timeout; give one, e.g. 30s")
			}
		case "max_redirects":
			plan.MaxRedirects = d.integer(v, "defaults.max_redirects")
			switch {
			case plan.MaxRedirects < 0:
				d.errf(v, "defaults.max_redirects %d: must not be negative (0: do not follow)", plan.MaxRedirects)
			case plan.MaxRedirects == 0:
				plan.MaxRedirects = -1
			}
		case "max_body":
			plan.MaxBody = int64(d.integer(v, "defaults.max_body"))
			switch {
			case plan.MaxBody < 0:
				d.errf(v, "defaults.max_body %d: must not be negative (0: no cap)", plan.MaxBody)
			case plan.MaxBody == 0:
				plan.MaxBody = -1
			}
		case "user_agent":
			p.f.UserAgent = d.str(v, "defaults.user_agent")
		}
	})
}

// TransportKeys are the transport settings, named as the flags are (with
// underscores).
var TransportKeys = []string{"max_conns_per_host", "max_idle_conns_per_host", "max_idle_conns", "idle_conn_timeout",
	"disable_keepalives", "dial_timeout", "tls_handshake_timeout", "response_header_timeout", "expect_continue_timeout", "insecure", "cacert", "conn_scope",
	"max_header_bytes", "h2_max_streams", "h2_strict_streams", "h2_ping_timeout",
	"max_requests_per_conn", "max_conn_lifetime", "local_addr", "resolve", "dns_ttl", "dns_mode", "ip_family"}

// transport reads the transport: mapping. Long, as step is: one case per
// key of TransportKeys, each a few lines, in one switch.
func (p *parser) transport(n *yaml.Node) {
	d, plan := p.d, &p.f.Plan
	t := &plan.Transport
	limit := func(v *yaml.Node, what string) int {
		x := d.integer(v, what)
		switch {
		case x < 0:
			d.errf(v, "%s %d: must not be negative (0: no limit)", what, x)
		case x == 0:
			return -1
		}
		return x
	}
	var family *yaml.Node // ip_family, checked against local_addr and resolve
	d.mapping(n, "transport", TransportKeys, func(key string, k, v *yaml.Node) {
		p.f.Set[key] = true
		what := "transport." + key
		switch key {
		case "max_conns_per_host":
			t.MaxConnsPerHost = limit(v, what)
		case "max_idle_conns_per_host":
			t.MaxIdleConnsPerHost = limit(v, what)
		case "max_idle_conns":
			t.MaxIdleConns = limit(v, what)
		case "idle_conn_timeout":
			t.IdleConnTimeout = d.duration(v, what)
		case "disable_keepalives":
			t.DisableKeepAlives = d.boolean(v, what)
		case "dial_timeout":
			t.DialTimeout = d.duration(v, what)
		case "tls_handshake_timeout":
			t.TLSHandshakeTimeout = d.duration(v, what)
		case "response_header_timeout":
			t.ResponseHeaderTimeout = d.duration(v, what)
		case "max_header_bytes":
			if x := d.integer(v, what); x < transport.MinResponseHeaderBytes {
				d.errf(v, "%s %d: want at least %d (the default is 1 MiB)", what, x, transport.MinResponseHeaderBytes)
			} else {
				t.MaxResponseHeaderBytes = int64(x)
			}
		case "expect_continue_timeout":
			t.ExpectContinueTimeout = d.duration(v, what)
		case "max_requests_per_conn":
			if x := d.integer(v, what); x < 0 {
				d.errf(v, "%s %d: must not be negative (0: no limit)", what, x)
			} else {
				t.MaxRequestsPerConn = int64(x)
			}
		case "max_conn_lifetime":
			life, jitter, err := transport.ParseLifetime(d.str(v, what))
			if err != nil {
				d.errf(v, "%s %v", what, err)
			} else {
				t.MaxConnLifetime, t.MaxConnLifetimeJitter = life, jitter
			}
		case "insecure":
			t.InsecureSkipVerify = d.boolean(v, what)
		case "cacert":
			file := d.str(v, what)
			b, err := p.o.ReadFile(p.rel(file))
			switch {
			case err != nil:
				d.errf(v, "%s %q: cannot read %s: %v", what, file, p.rel(file), unwrapPath(err))
			default:
				if _, err := transport.CAPool(b); err != nil {
					d.errf(v, "%s %q: %v", what, file, err)
				}
				t.RootCAsPEM = b
			}
		case "h2_max_streams":
			if x := d.integer(v, what); x < 1 {
				d.errf(v, "%s %d: want at least 1 (leave it out for what the server's SETTINGS allow)", what, x)
			} else {
				t.H2MaxStreams = x
			}
		case "h2_strict_streams":
			t.H2StrictStreams = d.boolean(v, what)
		case "h2_ping_timeout":
			if t.H2PingTimeout = d.duration(v, what); t.H2PingTimeout < 0 {
				d.errf(v, "%s %v: must not be negative", what, t.H2PingTimeout)
			}
		case "local_addr":
			addrs, err := transport.ParseLocalAddrs(d.list(v, what))
			if err == nil {
				err = transport.CheckLocal(addrs)
			}
			if err != nil {
				d.errf(v, "%s %v", what, err)
			} else {
				t.LocalAddrs = addrs
			}
		case "resolve":
			m, err := transport.ParseResolve(d.list(v, what))
			if err != nil {
				d.errf(v, "%s %v", what, err)
			} else {
				t.Resolve = m
			}
		case "dns_ttl":
			ttl, err := transport.ParseDNSTTL(d.str(v, what))
			if err != nil {
				d.errf(v, "%s %v", what, err)
			} else {
				t.DNSTTL = ttl
			}
		case "dns_mode":
			m, err := transport.ParseDNSMode(d.str(v, what))
			if err != nil {
				d.errf(v, "%s %v", what, err)
			} else {
				t.DNSMode = m
			}
		case "ip_family":
			f, err := transport.ParseIPFamily(d.str(v, what))
			if err != nil {
				d.errf(v, "%s %v", what, err)
			} else {
				t.IPFamily, family = f, v
			}
		case "conn_scope":
			plan.ConnScope = engine.ConnScope(d.str(v, what))
			if plan.ConnScope != engine.ScopeShared && plan.ConnScope != engine.ScopeVU {
				d.errf(v, "%s %q: want shared or vu", what, plan.ConnScope)
			}
		}
	})
	if family != nil {
		if err := transport.FamilyConflict(*t, "transport.ip_family", "transport.local_addr", "transport.resolve"); err != nil {
			d.errf(family, "%v", err)
		}
	}
}

// proxy reads proxy: a URL, or a mapping with urls (or url), file, mode,
// ca and from_env, as the --proxy flags take them.
func (p *parser) proxy(n *yaml.Node) {
	d, pp := p.d, &p.f.Plan.Proxy
	if n.Kind == yaml.ScalarNode {
		raw := d.str(n, "proxy")
		if _, err := transport.ParseProxy(raw, nil); err != nil {
			d.errf(n, "proxy: %v", err)
		}
		pp.URLs = []string{raw}
		return
	}
	var caNode *yaml.Node
	d.mapping(n, "proxy", []string{"url", "urls", "file", "mode", "ca", "from_env"}, func(key string, _, v *yaml.Node) {
		w := "proxy." + key
		switch key {
		case "url", "urls":
			for _, raw := range d.list(v, w) {
				if _, err := transport.ParseProxy(raw, nil); err != nil {
					d.errf(v, "%s: %v", w, err)
				}
				pp.URLs = append(pp.URLs, raw)
			}
		case "file":
			file := d.str(v, w)
			b, err := p.o.ReadFile(p.rel(file))
			if err != nil {
				d.errf(v, "%s %q: cannot read %s: %v", w, file, p.rel(file), unwrapPath(err))
				return
			}
			for _, l := range transport.ProxyLines(b) {
				if _, err := transport.ParseProxy(l.URL, nil); err != nil {
					d.errf(v, "%s %s:%d: %v", w, file, l.Line, err)
				}
				pp.URLs = append(pp.URLs, l.URL)
			}
		case "mode":
			pp.Mode = d.str(v, w)
			if pp.Mode != engine.ProxyPerVU && pp.Mode != engine.ProxyRoundRobin {
				d.errf(v, "%s %q: want %s or %s", w, pp.Mode, engine.ProxyPerVU, engine.ProxyRoundRobin)
			}
		case "ca":
			caNode = v
		case "from_env":
			pp.FromEnv = d.boolean(v, w)
		}
	})
	if caNode != nil {
		file := d.str(caNode, "proxy.ca")
		b, err := p.o.ReadFile(p.rel(file))
		switch {
		case err != nil:
			d.errf(caNode, "proxy.ca %q: cannot read %s: %v", file, p.rel(file), unwrapPath(err))
		default:
			if _, err := transport.CAPool(b); err != nil {
				d.errf(caNode, "proxy.ca %q: %v", file, err)
			}
			pp.CAPEM = b
		}
	}
	if pp.FromEnv && len(pp.URLs) > 0 {
		d.errf(n, "proxy: from_env with urls or a file: use one")
	}
}

// rel resolves a path relative to the scenario file.
func (p *parser) rel(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(p.dir, path)
}

func (p *parser) data(n *yaml.Node) {
	d := p.d
	p.dataLines = map[string]int{}
	d.mapping(n, "data", nil, func(name string, k, v *yaml.Node) {
		p.dataLines[name] = k.Line
		ds := engine.DataSource{Name: name, Mode: engine.DataSequential}
		var fileNode *yaml.Node
		d.mapping(v, "data."+name, []string{"file", "mode"}, func(key string, _, v *yaml.Node) {
			switch key {
			case "file":
				fileNode = v
			case "mode":
				ds.Mode = d.str(v, "data."+name+".mode")
				switch ds.Mode {
				case engine.DataPerVU, engine.DataSequential, engine.DataRandom:
				default:
					d.errf(v, "data.%s.mode %q: want per-vu, sequential or random", name, ds.Mode)
				}
			}
		})
		if fileNode == nil {
			if v.Kind == yaml.MappingNode {
				d.errf(v, "data.%s: file is missing (a .csv with a header row, or a .jsonl of objects)", name)
			}
			return
		}
		file := d.str(fileNode, "data."+name+".file")
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.dir, path)
		}
		b, err := p.o.ReadFile(path)
		if err != nil {
			d.errf(fileNode, "data.%s.file %q: cannot read %s: %v", name, file, path, unwrapPath(err))
			return
		}
		var cols []string
		var rows [][]string
		if strings.HasSuffix(strings.ToLower(file), ".jsonl") || strings.HasSuffix(strings.ToLower(file), ".ndjson") {
			cols, rows, err = readJSONL(b)
		} else {
			cols, rows, err = readCSV(b)
		}
		if err != nil {
			d.errf(fileNode, "data.%s.file %q: %v", name, file, err)
			return
		}
		ds.Columns, ds.Rows = cols, rows
		p.f.Plan.Data = append(p.f.Plan.Data, ds)
	})
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func readCSV(b []byte) ([]string, [][]string, error) {
	// A byte-order mark (spreadsheets write one) is not part of the first
	// column's name.
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(b))
	r.TrimLeadingSpace = true
	recs, err := r.ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("not valid CSV: %w", err)
	}
	if len(recs) < 2 {
		return nil, nil, errors.New("needs a header row (the column names) and at least one row")
	}
	return recs[0], recs[1:], nil
}

func readJSONL(b []byte) ([]string, [][]string, error) {
	var cols []string
	var rows [][]string
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(line, &obj); err != nil {
			return nil, nil, fmt.Errorf("line %d is not a JSON object: %w", i+1, err)
		}
		if cols == nil {
			for k := range obj {
				cols = append(cols, k)
			}
			sort.Strings(cols)
		}
		row := make([]string, len(cols))
		for j, c := range cols {
			switch v := obj[c].(type) {
			case nil:
			case string:
				row[j] = v
			default:
				enc, _ := json.Marshal(v)
				row[j] = string(enc)
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, nil, errors.New("has no rows")
	}
	return cols, rows, nil
}

var scenarioKeys = []string{"executor", "vus", "iterations", "duration", "rate", "stages", "vu_stages", "pre_vus", "max_vus", "reset_cookies", "setup", "steps"}

func (p *parser) scenario(name string, n *yaml.Node) {
	d := p.d
	sc := engine.Scenario{Name: name}
	ex := &sc.Executor
	var setup, steps *yaml.Node
	what := "scenario " + name
	given := map[string]*yaml.Node{}
	d.mapping(n, what, scenarioKeys, func(key string, k, v *yaml.Node) {
		given[key] = k
		w := what + ": " + key
		switch key {
		case "executor":
			ex.Type = engine.ExecutorType(d.str(v, w))
		case "vus":
			ex.VUs = d.integer(v, w)
		case "iterations":
			ex.Iterations = int64(d.integer(v, w))
		case "duration":
			ex.Duration = d.duration(v, w)
		case "rate":
			s := d.str(v, w)
			r, err := engine.ParseRate(s)
			if err != nil {
				d.errf(v, "%s: %v", w, err)
			}
			ex.Rate = r
		case "stages":
			st, err := engine.ParseRateStages(strings.Join(d.list(v, w), ","))
			if err != nil {
				d.errf(v, "%s: %v", w, err)
			}
			ex.Stages = st
		case "vu_stages":
			st, err := engine.ParseVUStages(strings.Join(d.list(v, w), ","))
			if err != nil {
				d.errf(v, "%s: %v", w, err)
			}
			ex.VUStages = st
		case "pre_vus":
			ex.PreVUs = d.integer(v, w)
		case "max_vus":
			ex.MaxVUs = d.integer(v, w)
		case "reset_cookies":
			switch r := d.str(v, w); r {
			case "each-iteration":
				sc.ResetCookies = true
			case "never", "":
			default:
				d.errf(v, "%s %q: want never (the default: a VU keeps its cookies like a browser) or each-iteration", w, r)
			}
		case "setup":
			setup = v
		case "steps":
			steps = v
		}
	})
	if ex.Type == "" && n.Kind == yaml.MappingNode {
		d.errf(n, "%s: executor is missing: one of vus, rate, ramping-vus, ramping-rate", what)
	}
	if takes, ok := executorKeys[ex.Type]; ok {
		for _, key := range []string{"vus", "iterations", "duration", "rate", "stages", "vu_stages", "pre_vus", "max_vus"} {
			if k := given[key]; k != nil && !slices.Contains(takes, key) {
				d.errf(k, "%s: %s does not apply to executor %s (it takes %s)", what, key, ex.Type, strings.Join(takes, ", "))
			}
		}
	}
	if ex.Type == engine.ConstantRate || ex.Type == engine.RampingRate {
		// A zero (or absent) max_vus is derived; an absent pre_vus is
		// derived, and pre_vus: 0 means none, as --pre-vus 0 does.
		if ex.MaxVUs == 0 {
			p.f.DerivedMaxVUs[name] = true
		}
		ex.DeriveVUs(p.f.Plan.Timeout, p.f.Plan.Engine, ex.MaxVUs != 0, given["pre_vus"] != nil)
	}
	if setup != nil {
		sc.Setup = p.steps(name, "setup", setup)
	}
	if steps != nil {
		sc.Steps = p.steps(name, "steps", steps)
	} else if n.Kind == yaml.MappingNode {
		d.errf(n, "%s: steps are missing", what)
	}
	p.f.Plan.Scenarios = append(p.f.Plan.Scenarios, sc)
}

// executorKeys are the keys each executor takes.
var executorKeys = map[engine.ExecutorType][]string{
	engine.VUs:          {"vus", "iterations", "duration"},
	engine.ConstantRate: {"rate", "duration", "pre_vus", "max_vus"},
	engine.RampingVUs:   {"vu_stages"},
	engine.RampingRate:  {"stages", "pre_vus", "max_vus"},
}

var stepKeys = []string{"name", "method", "url", "headers", "query", "body", "json", "form", "body_file", "body_file_raw", "think", "extract", "check"}

func (p *parser) steps(scenario, list string, n *yaml.Node) []engine.Step {
	d := p.d
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "scenario %s: %s: want a list of steps (lines starting with -), got %s", scenario, list, kindName(n))
		return nil
	}
	var out []engine.Step
	for i, sn := range n.Content {
		loc := fmt.Sprintf("%s %s %d", scenario, list, i)
		p.f.lines[loc] = sn.Line
		out = append(out, p.step(scenario, loc, sn))
	}
	return out
}

// step parses one step. Long: one case per step key (stepKeys), each a
// few lines, in one switch so that every key's file:line is recorded the
// same way.
func (p *parser) step(scenario, loc string, n *yaml.Node) engine.Step {
	d := p.d
	st := engine.Step{Header: http.Header{}}
	for _, h := range p.headers {
		st.Header.Add(h[0], h[1])
	}
	what := "step"
	var bodies []string
	d.mapping(n, what, stepKeys, func(key string, k, v *yaml.Node) {
		p.f.lines[loc+" "+key] = k.Line
		before := len(d.errs)
		defer func() {
			if len(d.errs) > before {
				p.bad[loc+" "+key] = true
			}
		}()
		w := what + " " + key
		switch key {
		case "name":
			st.Name = d.str(v, w)
		case "method":
			st.Method = strings.ToUpper(d.str(v, w))
		case "url":
			u := d.str(v, w)
			if !strings.Contains(u, "://") && !strings.HasPrefix(u, "{{") {
				if p.base == "" {
					d.errf(v, "url %q is relative: set base_url at the top of the file (or give --base-url), or write the whole URL", u)
				}
				if !strings.HasPrefix(u, "/") {
					u = "/" + u
				}
				u = p.base + u
			}
			st.URL = u
		case "headers":
			for _, h := range d.stringMap(v, "step headers") {
				st.Header.Set(h[0], h[1])
			}
		case "query":
			for _, q := range d.stringMap(v, "step query") {
				st.Query = append(st.Query, engine.Param{Name: q[0], Value: q[1]})
			}
		case "body":
			bodies = append(bodies, key)
			st.Body = []byte(d.str(v, w))
		case "json":
			bodies = append(bodies, key)
			var val any
			if err := v.Decode(&val); err != nil {
				d.errf(v, "step json: %v", err)
				return
			}
			st.JSON = jsonable(val)
			if _, err := json.Marshal(st.JSON); err != nil {
				d.errf(v, "step json: %v", err)
				return
			}
			if st.Header.Get("Content-Type") == "" {
				st.Header.Set("Content-Type", "application/json")
			}
		case "form":
			bodies = append(bodies, key)
			for _, f := range d.stringMap(v, "step form") {
				st.Form = append(st.Form, engine.Param{Name: f[0], Value: f[1]})
			}
		case "body_file", "body_file_raw":
			bodies = append(bodies, key)
			file := d.str(v, w)
			path := file
			if !filepath.IsAbs(path) {
				path = filepath.Join(p.dir, path)
			}
			b, err := p.o.ReadFile(path)
			if err != nil {
				d.errf(v, "step %s %q: cannot read %s: %v", key, file, path, unwrapPath(err))
				return
			}
			st.Body, st.RawBody = b, key == "body_file_raw"
		case "think":
			st.Think = p.think(v)
		case "extract":
			d.mapping(v, "step extract", nil, func(name string, _, ev *yaml.Node) {
				x := engine.Extract{Var: name}
				d.mapping(ev, "extract "+name, []string{"json", "regex", "header", "cookie"}, func(src string, _, sv *yaml.Node) {
					val := d.str(sv, "extract "+name+" "+src)
					switch src {
					case "json":
						x.JSON = val
					case "regex":
						x.Regex = val
					case "header":
						x.Header = val
					case "cookie":
						x.Cookie = val
					}
				})
				st.Extract = append(st.Extract, x)
			})
		case "check":
			d.mapping(v, "step check", []string{"status", "body_contains", "json", "on_failure"}, func(ck string, _, cv *yaml.Node) {
				switch ck {
				case "status":
					st.Check.Status = d.intList(cv, "check status")
				case "body_contains":
					st.Check.BodyContains = d.list(cv, "check body_contains")
				case "json":
					st.Check.JSON = map[string]string{}
					for _, kv := range d.stringMap(cv, "check json") {
						st.Check.JSON[kv[0]] = kv[1]
					}
				case "on_failure":
					st.Check.OnFailure = d.str(cv, "check on_failure")
				}
			})
		}
	})
	if len(bodies) > 1 {
		d.errf(n, "step: %s: give one body (body, json, form, body_file or body_file_raw)", strings.Join(bodies, ", "))
		st.JSON = nil // reported here, not again by the plan
	}
	if st.URL == "" && n.Kind == yaml.MappingNode {
		d.errf(n, "step: url is missing")
	}
	if st.Method == "" {
		st.Method = http.MethodGet
		if len(bodies) > 0 {
			st.Method = http.MethodPost
		}
	}
	if len(st.Header) == 0 {
		st.Header = nil
	}
	return st
}

// jsonable turns YAML's decoded maps into ones encoding/json takes.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonable(x)
		}
		return v
	case map[any]any:
		m := map[string]any{}
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = jsonable(x)
		}
		return v
	}
	return v
}

// think parses "1s" or "100ms-300ms".
func (p *parser) think(n *yaml.Node) engine.Think {
	s, ok := p.d.scalar(n, "step think")
	if !ok {
		return engine.Think{}
	}
	lo, hi, ranged := strings.Cut(s, "-")
	t := engine.Think{}
	one := func(x string) (time.Duration, bool) {
		v, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			p.d.errf(n, "step think %q: %q is not a duration like 500ms; write a duration or a range MIN-MAX such as 100ms-300ms", s, x)
			return 0, false
		}
		return v, true
	}
	if v, ok := one(lo); ok {
		t.Min = v
	}
	if ranged {
		if v, ok := one(hi); ok {
			t.Max = v
		}
		if t.Max < t.Min {
			p.d.errf(n, "step think %q: the range ends before it starts", s)
		}
	}
	return t
}

func (p *parser) thresholds(n *yaml.Node) {
	d := p.d
	add := func(v *yaml.Node, step string) {
		if v.Kind != yaml.SequenceNode {
			d.errf(v, "thresholds: want a list of expressions such as \"p99(latency) < 300ms\"")
			return
		}
		for _, e := range v.Content {
			expr := d.str(e, "threshold")
			t, err := threshold.Parse(expr, step)
			if err != nil {
				d.errf(e, "%v", err)
				continue
			}
			p.f.lines["threshold "+step+" "+expr] = e.Line
			p.f.Thresholds = append(p.f.Thresholds, t)
		}
	}
	d.mapping(n, "thresholds", []string{"run", "steps"}, func(key string, _, v *yaml.Node) {
		switch key {
		case "run":
			add(v, "")
		case "steps":
			d.mapping(v, "thresholds.steps", nil, func(step string, k, sv *yaml.Node) {
				p.f.lines["threshold step "+step] = k.Line
				add(sv, step)
			})
		}
	})
}

// validate validates the compiled plan and places its problems at lines.
func (p *parser) validate() {
	plan := &p.f.Plan
	err := plan.Validate()
	if err == nil && p.o.Env != nil {
		_, err = engine.New(*plan, engine.WithEnv(p.o.Env))
	}
	for _, e := range flatten(err) {
		p.place(e)
	}
	// A threshold on a step nobody runs is a typo; one on checks where
	// there are none could only fail with "no data", after the run.
	names, checked, anyChecks := map[string]bool{}, map[string]bool{}, false
	for _, sc := range plan.Scenarios {
		for _, list := range [][]engine.Step{sc.Setup, sc.Steps} {
			for _, st := range list {
				names[st.Label()] = true
				if st.Check.Has() {
					checked[st.Label()], anyChecks = true, true
				}
			}
		}
	}
	for _, t := range p.f.Thresholds {
		if t.Metric() != "checks" {
			continue
		}
		line := p.f.lines["threshold "+t.Step+" "+t.Source]
		switch {
		case t.Step == "" && !anyChecks:
			p.d.errs = append(p.d.errs, &Error{File: p.f.Path, Line: line,
				Msg: fmt.Sprintf("thresholds.run: %q: no step of the file has checks: add check: to a step, or drop it", t.Source)})
		case t.Step != "" && names[t.Step] && !checked[t.Step]:
			p.d.errs = append(p.d.errs, &Error{File: p.f.Path, Line: line,
				Msg: fmt.Sprintf("thresholds.steps.%s: %q: the step has no checks: add check: to it, or drop it", t.Step, t.Source)})
		}
	}
	for _, t := range p.f.Thresholds {
		if t.Step != "" && !names[t.Step] {
			known := make([]string, 0, len(names))
			for n := range names {
				known = append(known, n)
			}
			slices.Sort(known)
			p.d.errs = append(p.d.errs, &Error{File: p.f.Path, Line: p.f.lines["threshold step "+t.Step],
				Msg: fmt.Sprintf("thresholds.steps: no step is named %q (steps: %s)", t.Step, strings.Join(known, ", "))})
		}
	}
}

// templates reports the steps' template problems (undefined variables,
// data columns, template syntax) even when the file has other errors, so
// that one run of validate lists them all. The executors, transport and
// data sources that failed are stood in for; only step errors on lines
// without another error are kept.
func (p *parser) templates() {
	q := p.f.Plan
	q.Engine, q.ConnScope, q.Timeout, q.LateThreshold = "", "", 0, 0
	q.Transport = transport.Config{}
	q.Scenarios = nil
	for _, sc := range p.f.Plan.Scenarios {
		if len(sc.Steps) > 0 {
			sc.Executor = engine.Executor{Type: engine.VUs, VUs: 1, Iterations: 1}
			q.Scenarios = append(q.Scenarios, sc)
		}
	}
	loaded := map[string]bool{}
	for _, ds := range q.Data {
		loaded[ds.Name] = true
	}
	have := map[int]bool{}
	for _, e := range p.d.errs {
		have[e.Line] = true
	}
	n := len(p.d.errs)
	for _, err := range flatten(q.Validate()) {
		var se *engine.StepError
		if !errors.As(err, &se) {
			continue
		}
		_, key := stepKey(se)
		broken := p.bad[key] // its key had an error already
		for name := range p.dataLines {
			if !loaded[name] && strings.Contains(se.Err.Error(), fmt.Sprintf("data source %q", name)) {
				broken = true // declared, but its file failed: already reported
			}
		}
		if !broken {
			p.place(err)
		}
	}
	kept := p.d.errs[:n]
	for _, e := range p.d.errs[n:] {
		if !have[e.Line] {
			kept = append(kept, e)
		}
	}
	p.d.errs = kept
}

// place puts one plan error at the line it is about.
func (p *parser) place(err error) {
	line := 0
	msg := strings.TrimPrefix(err.Error(), "invalid plan: ")
	var se *engine.StepError
	if errors.As(err, &se) {
		loc, key := stepKey(se)
		line = p.f.lines[key]
		if line == 0 {
			line = p.f.lines[loc]
		}
		msg = se.Error()
	} else {
		for key, l := range p.f.lines {
			if sc, ok := strings.CutPrefix(key, "scenario "); ok && strings.HasPrefix(msg, "scenario "+sc+":") {
				line = l
			}
		}
		for name, l := range p.dataLines {
			if strings.Contains(msg, fmt.Sprintf("data source %q", name)) {
				line = l
			}
		}
	}
	p.d.errs = append(p.d.errs, &Error{File: p.f.Path, Line: line, Msg: msg})
}

// stepKey returns where a step error is: the step ("browse steps 0") and
// its key ("browse steps 0 url").
func stepKey(se *engine.StepError) (loc, key string) {
	list := "steps"
	if se.Setup {
		list = "setup"
	}
	loc = fmt.Sprintf("%s %s %d", se.Scenario, list, se.Index)
	field := strings.SplitN(se.Field, " ", 2)[0]
	switch field {
	case "header":
		field = "headers"
	case "request":
		field = "url"
	}
	return loc, loc + " " + field
}

// flatten unwraps joined errors.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	var se *engine.StepError
	if errors.As(err, &se) && err == error(se) {
		return []error{err}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if u := errors.Unwrap(err); u != nil {
		if _, ok := u.(interface{ Unwrap() []error }); ok {
			return flatten(u)
		}
	}
	return []error{err}
}
