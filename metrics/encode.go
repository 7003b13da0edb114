package metrics

import (
	"encoding/json"
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The JSON form of a Snapshot, for saved runs: counters as they are, the
// fixed-size arrays sparse (only what is not zero), and each histogram in
// HdrHistogram's compressed V2 encoding (base64), so that a decoded
// Snapshot merges and reports exactly as the original.

type snapshotAlias Snapshot

type snapshotJSON struct {
	*snapshotAlias
	Status        map[int]int64     `json:"Status,omitempty"`
	ErrCount      map[string]int64  `json:"ErrCount,omitempty"`
	ErrExample    map[string]string `json:"ErrExample,omitempty"`
	CloseReasons  map[int]int64     `json:"CloseReasons,omitempty"`
	PutIdleErrors map[int]int64     `json:"PutIdleErrors,omitempty"`
	Hists         map[string]string `json:"Hists,omitempty"`
}

// MarshalJSON encodes s losslessly (see [Snapshot.UnmarshalJSON]).
func (s *Snapshot) MarshalJSON() ([]byte, error) {
	w := snapshotJSON{snapshotAlias: (*snapshotAlias)(s)}
	w.Status = sparse(s.Status[:])
	w.CloseReasons = sparse(s.CloseReasons[:])
	w.PutIdleErrors = sparse(s.PutIdleErrors[:])
	for i, n := range s.ErrCount {
		if n != 0 {
			if w.ErrCount == nil {
				w.ErrCount = map[string]int64{}
			}
			w.ErrCount[ErrClass(i).String()] = n
		}
	}
	for i, e := range s.ErrExample {
		if e != "" {
			if w.ErrExample == nil {
				w.ErrExample = map[string]string{}
			}
			w.ErrExample[ErrClass(i).String()] = e
		}
	}
	for m, h := range s.hist {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		enc, err := encodeHist(h)
		if err != nil {
			return nil, fmt.Errorf("histogram %s: %w", Metric(m), err)
		}
		if w.Hists == nil {
			w.Hists = map[string]string{}
		}
		w.Hists[Metric(m).String()] = enc
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what [Snapshot.MarshalJSON] wrote. Unknown error
// classes, metrics or out-of-range indexes are errors: the file is from a
// newer faya, or damaged.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	*s = Snapshot{}
	w := snapshotJSON{snapshotAlias: (*snapshotAlias)(s)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if err := unsparse(s.Status[:], w.Status, "status"); err != nil {
		return err
	}
	if err := unsparse(s.CloseReasons[:], w.CloseReasons, "close reason"); err != nil {
		return err
	}
	if err := unsparse(s.PutIdleErrors[:], w.PutIdleErrors, "idle-put error"); err != nil {
		return err
	}
	for name, n := range w.ErrCount {
		c, ok := ParseErrClass(name)
		if !ok {
			return fmt.Errorf("unknown error class %q", name)
		}
		s.ErrCount[c] = n
	}
	for name, e := range w.ErrExample {
		c, ok := ParseErrClass(name)
		if !ok {
			return fmt.Errorf("unknown error class %q", name)
		}
		s.ErrExample[c] = Example(e) // a file written before examples were bounded
	}
	for name, enc := range w.Hists {
		m, ok := parseMetric(name)
		if !ok {
			return fmt.Errorf("unknown metric %q", name)
		}
		h, err := decodeHist(enc)
		if err != nil {
			return fmt.Errorf("histogram %s: %w", name, err)
		}
		s.hist[m] = h
	}
	return nil
}

type stepAlias StepStats

type stepJSON struct {
	*stepAlias
	Latency string `json:"Latency,omitempty"`
}

// MarshalJSON encodes t with its latency histogram.
func (t StepStats) MarshalJSON() ([]byte, error) {
	w := stepJSON{stepAlias: (*stepAlias)(&t)}
	if t.latency != nil && t.latency.TotalCount() > 0 {
		enc, err := encodeHist(t.latency)
		if err != nil {
			return nil, err
		}
		w.Latency = enc
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (t *StepStats) UnmarshalJSON(b []byte) error {
	*t = StepStats{}
	w := stepJSON{stepAlias: (*stepAlias)(t)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Latency != "" {
		h, err := decodeHist(w.Latency)
		if err != nil {
			return fmt.Errorf("step latency: %w", err)
		}
		t.latency = h
	}
	return nil
}

func encodeHist(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	return string(b), err
}

func decodeHist(enc string) (h *hdrhistogram.Histogram, err error) {
	defer func() {
		if r := recover(); r != nil { // the library panics on some damaged input
			h, err = nil, fmt.Errorf("damaged histogram: %v", r)
		}
	}()
	h, err = hdrhistogram.Decode([]byte(enc))
	if err != nil {
		return nil, err
	}
	if h.LowestTrackableValue() != histLowest || h.HighestTrackableValue() != histHighest || h.SignificantFigures() != histDigits {
		return nil, fmt.Errorf("histogram range %d-%d/%d digits, want %d-%d/%d", h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures(), histLowest, histHighest, histDigits)
	}
	return h, nil
}

func parseMetric(name string) (Metric, bool) {
	for i, n := range metricNames {
		if n == name {
			return Metric(i), true
		}
	}
	return 0, false
}

func sparse(a []int64) map[int]int64 {
	var m map[int]int64
	for i, n := range a {
		if n != 0 {
			if m == nil {
				m = map[int]int64{}
			}
			m[i] = n
		}
	}
	return m
}

func unsparse(dst []int64, m map[int]int64, what string) error {
	for i, n := range m {
		if i < 0 || i >= len(dst) {
			return fmt.Errorf("%s index %d out of range (0-%d)", what, i, len(dst)-1)
		}
		dst[i] = n
	}
	return nil
}
