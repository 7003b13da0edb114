package engine

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http/httpguts"
)

// Plan is everything a run will do. It is plain data: it can be built from
// flags or a scenario file, validated, saved and sent to an agent.
type Plan struct {
	// Scenarios run concurrently over the same connection pool.
	Scenarios []Scenario `json:"scenarios"`

	// Transport configures the connection pool. A zero Concurrency is set
	// to the plan's VUs (per VU with ConnScope "vu": 1).
	Transport transport.Config `json:"transport"`

	// ConnScope says whether all VUs share one pool ("shared", the
	// default) or each VU has its own ("vu"), as browsers and Locust users
	// do. With "vu", the pool limits apply to each VU's pool.
	ConnScope ConnScope `json:"conn_scope,omitempty"`

	// Timeout bounds each request, body included. 0 means 30s.
	Timeout time.Duration `json:"timeout,omitempty"`

	// MaxBody caps the response bytes read per request; a longer body is
	// cut there and its connection closed. 0 means DefaultMaxBody;
	// negative means no cap.
	MaxBody int64 `json:"max_body,omitempty"`

	// MaxRedirects is how many redirects a request follows. 0 means
	// DefaultMaxRedirects; negative means none (the 3xx is the answer).
	MaxRedirects int `json:"max_redirects,omitempty"`
}

// Plan defaults.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBody      = 64 << 20
	DefaultMaxRedirects = 10
)

// ConnScope is the reach of a connection pool.
type ConnScope string

// Connection scopes.
const (
	ScopeShared ConnScope = "shared"
	ScopeVU     ConnScope = "vu"
)

// Scenario is one named workload: an executor and the steps each iteration
// runs.
type Scenario struct {
	Name     string   `json:"name"`
	Executor Executor `json:"executor"`
	Steps    []Step   `json:"steps"`
}

// ExecutorType names how a scenario schedules iterations.
type ExecutorType string

// Executor types.
const (
	// VUs is the closed model: a fixed number of VUs, each starting its
	// next iteration when the last one ended.
	VUs ExecutorType = "vus"
)

// Executor says how a scenario schedules iterations.
type Executor struct {
	Type ExecutorType `json:"type"`
	// VUs is the number of virtual users.
	VUs int `json:"vus"`
	// Iterations, when positive, is the exact number of iterations run
	// in total, shared among the VUs.
	Iterations int64 `json:"iterations,omitempty"`
	// Duration, when positive, stops new iterations after this long;
	// iterations in flight finish.
	Duration time.Duration `json:"duration,omitempty"`
}

// Step is one HTTP request.
type Step struct {
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// withDefaults returns p with zero values replaced by their defaults.
func (p Plan) withDefaults() Plan {
	if p.ConnScope == "" {
		p.ConnScope = ScopeShared
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.MaxBody == 0 {
		p.MaxBody = DefaultMaxBody
	}
	if p.MaxRedirects == 0 {
		p.MaxRedirects = DefaultMaxRedirects
	}
	if p.Transport.Concurrency == 0 {
		if p.ConnScope == ScopeVU {
			p.Transport.Concurrency = 1
		} else {
			p.Transport.Concurrency = p.VUs()
		}
	}
	for i := range p.Scenarios {
		for j := range p.Scenarios[i].Steps {
			st := &p.Scenarios[i].Steps[j]
			if st.Method == "" {
				st.Method = http.MethodGet
			}
		}
	}
	return p
}

// VUs is the number of VUs the plan can run at once.
func (p Plan) VUs() int {
	n := 0
	for _, s := range p.Scenarios {
		n += s.Executor.VUs
	}
	return n
}

// Validate reports every problem with p, joined. Each names the field and
// what would fix it.
func (p Plan) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(p.Scenarios) == 0 {
		add("plan has no scenarios")
	}
	switch p.ConnScope {
	case "", ScopeShared, ScopeVU:
	default:
		add("conn scope %q: want %q or %q", p.ConnScope, ScopeShared, ScopeVU)
	}
	if p.Timeout < 0 {
		add("timeout %v: must not be negative", p.Timeout)
	}
	if err := p.Transport.Validate(); err != nil {
		errs = append(errs, err)
	}
	for i, s := range p.Scenarios {
		name := s.Name
		if name == "" {
			name = fmt.Sprint(i)
		}
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("scenario %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (s Scenario) validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	e := s.Executor
	switch e.Type {
	case VUs:
		if e.VUs <= 0 {
			add("vus %d: must be at least 1", e.VUs)
		}
		if e.Iterations < 0 {
			add("iterations %d: must not be negative", e.Iterations)
		}
		if e.Duration < 0 {
			add("duration %v: must not be negative", e.Duration)
		}
		if e.Iterations == 0 && e.Duration == 0 {
			add("executor %q needs iterations or a duration", e.Type)
		}
	default:
		add("executor type %q: want %q", e.Type, VUs)
	}
	if len(s.Steps) == 0 {
		add("no steps")
	}
	for i, st := range s.Steps {
		if err := st.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("step %d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}

// Validate checks the step's method, URL and headers.
func (st Step) Validate() error {
	var errs []error
	if st.Method != "" && !httpguts.ValidHeaderFieldName(st.Method) {
		errs = append(errs, fmt.Errorf("method %q is not a valid HTTP token", st.Method))
	}
	if err := ValidateURL(st.URL); err != nil {
		errs = append(errs, err)
	}
	for name, vals := range st.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			errs = append(errs, fmt.Errorf("header name %q is not a valid HTTP token", name))
		}
		for _, v := range vals {
			if !httpguts.ValidHeaderFieldValue(v) {
				errs = append(errs, fmt.Errorf("header %s: value %q has characters not allowed in a header", name, v))
			}
		}
	}
	return errors.Join(errs...)
}

// ValidateURL checks that raw is an absolute http or https URL with a host.
func ValidateURL(raw string) error {
	if raw == "" {
		return errors.New("URL is empty: give one like http://127.0.0.1:8080/")
	}
	if !strings.Contains(raw, "://") {
		return fmt.Errorf("URL %q has no scheme: write it as http://%s or https://%s", raw, raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("URL %q: %w", raw, unwrapURLError(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return fmt.Errorf("URL %q has no scheme: write it as http://%s or https://%s", raw, raw, raw)
	default:
		return fmt.Errorf("URL %q: scheme %q is not supported: use http or https", raw, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("URL %q has no host: write it as %s://HOST[:PORT]/PATH", raw, u.Scheme)
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscan(p, &n); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("URL %q: port %q must be a number from 1 to 65535", raw, p)
		}
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
