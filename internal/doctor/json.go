package doctor

import (
	"encoding/json"
	"io"
	"time"

	"github.com/faya-load/faya/diagnose"
)

// The JSON report (faya doctor --json; README.md lists its fields).
type jsonReport struct {
	URL        string             `json:"url"`
	KeepAlive  jsonKeepAlive      `json:"keep_alive"`
	Idle       jsonIdle           `json:"idle"`
	Saturation jsonSaturation     `json:"saturation"`
	Findings   []diagnose.Finding `json:"findings"`
	Pool       jsonPool           `json:"pool"`
	H2         *jsonH2            `json:"h2,omitempty"`
}

type jsonKeepAlive struct {
	Requests        int64  `json:"requests"`
	Dialed          int64  `json:"dialed"`
	KeepAlive       bool   `json:"keep_alive"`
	Proto           string `json:"proto"`
	RequestsPerConn int64  `json:"requests_per_conn"`
}

type jsonIdle struct {
	Seen    bool          `json:"seen"`
	Timeout time.Duration `json:"timeout_ns"`
	Wait    time.Duration `json:"wait_ns"`
}

type jsonSaturation struct {
	Steps      []jsonStep `json:"steps"`
	Saturation int        `json:"saturation"`
	Stopped    string     `json:"stopped,omitempty"`
	SharedCPU  bool       `json:"shared_cpu"`
	CPUs       int        `json:"cpus"`
}

type jsonStep struct {
	Concurrency int           `json:"concurrency"`
	Runs        []float64     `json:"runs_rps"`
	RPS         float64       `json:"rps"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	Requests    int64         `json:"requests"`
	Errors      int64         `json:"errors"`
	Dialed      int64         `json:"dialed"`
	Busy        float64       `json:"busy"`
}

type jsonPool struct {
	MaxConnsPerHost int           `json:"max_conns_per_host"`
	IdleConnTimeout time.Duration `json:"idle_conn_timeout_ns"`
	LowerBound      bool          `json:"lower_bound"`
	Flags           string        `json:"flags"`
	Go              string        `json:"go"`
}

type jsonH2 struct {
	*H2Report
	Check    *jsonStep  `json:"check,omitempty"`
	H1       *jsonStep  `json:"h1_step,omitempty"`
	Ladder   []jsonStep `json:"ladder,omitempty"`
	Measured bool       `json:"measured"`
	Flags    string     `json:"flags,omitempty"`
	Go       string     `json:"go,omitempty"`
}

func stepJSON(s Step) jsonStep {
	runs := s.Runs
	if runs == nil {
		runs = []float64{}
	}
	return jsonStep{s.Concurrency, runs, s.RPS, s.P50, s.P99, s.Requests, s.Errors, s.Dialed, s.Busy}
}

// JSON writes the report as one indented JSON object.
func (r *Report) JSON(w io.Writer) error {
	out := jsonReport{
		URL:       r.URL,
		KeepAlive: jsonKeepAlive{r.Requests, r.Dialed, r.KeepAlive, r.Proto, r.RequestsPerConn},
		Idle:      jsonIdle{r.IdleSeen, r.IdleTimeout, r.IdleWait},
		Saturation: jsonSaturation{Steps: []jsonStep{}, Saturation: r.Saturation, Stopped: r.Stopped,
			SharedCPU: r.SharedCPU, CPUs: r.CPUs},
		Findings: r.Findings,
		Pool: jsonPool{MaxConnsPerHost: r.MaxConnsPerHost, IdleConnTimeout: r.IdleConnTimeout, LowerBound: r.lowerBound(),
			Flags: r.Flags(), Go: r.GoTransport()},
	}
	if out.Findings == nil {
		out.Findings = []diagnose.Finding{}
	}
	for _, s := range r.Steps {
		out.Saturation.Steps = append(out.Saturation.Steps, stepJSON(s))
	}
	if h := r.H2; h != nil {
		j := &jsonH2{H2Report: h, Measured: h.Measured()}
		if h.Check != nil {
			c := stepJSON(*h.Check)
			j.Check = &c
		}
		if h.H1 != nil {
			c := stepJSON(*h.H1)
			j.H1 = &c
		}
		for _, s := range h.Ladder {
			j.Ladder = append(j.Ladder, stepJSON(s))
		}
		if j.Measured {
			j.Flags, j.Go = h.Flags(), r.GoTransportH2()
		}
		out.H2 = j
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
