package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The most steps and proxies a decoded snapshot may have. Sizes read from
// the input are checked against these, and the histograms' ranges against
// faya's own, before anything is allocated for them, so that a damaged or
// crafted file cannot make the decoder allocate without bound: each step
// histogram costs about 270 kB once decoded.
const (
	MaxEncodedSteps   = 256
	MaxEncodedProxies = 65536
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

// snapshotSizes are the parts of a snapshot's JSON whose size is checked
// before they are decoded.
type snapshotSizes struct {
	Status, ErrCount, ErrExample, CloseReasons, PutIdleErrors, Hists json.RawMessage
	Steps, Proxies, Sources, Dests                                   json.RawMessage
}

// check refuses parts with more elements than a snapshot can have.
func (z *snapshotSizes) check() error {
	for _, c := range []struct {
		what string
		raw  json.RawMessage
		max  int
	}{
		{"status", z.Status, MaxStatus},
		{"error classes", z.ErrCount, NumErrClasses},
		{"error examples", z.ErrExample, NumErrClasses},
		{"close reasons", z.CloseReasons, NumCloseReasons},
		{"idle-put errors", z.PutIdleErrors, NumCloseReasons},
		{"histograms", z.Hists, NumMetrics},
		{"steps", z.Steps, MaxEncodedSteps},
		{"proxies", z.Proxies, MaxEncodedProxies},
		{"source addresses", z.Sources, MaxSourceAddrs},
		{"destination addresses", z.Dests, MaxDestAddrs},
	} {
		if n := elements(c.raw); n > c.max {
			return fmt.Errorf("%d %s: more than the %d a snapshot can have", n, c.what, c.max)
		}
	}
	return nil
}

// elements counts the elements of a JSON array or the members of an
// object, b being valid JSON; 0 for anything else.
func elements(b []byte) int {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' && b[0] != '{' {
		return 0
	}
	n, depth, str, esc, empty := 1, 0, false, false, true
	for _, c := range b {
		switch {
		case str:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				str = false
			}
			continue
		case c == '"':
			str = true
		case c == '[' || c == '{':
			depth++
			continue
		case c == ']' || c == '}':
			depth--
			continue
		case c == ',' && depth == 1:
			n++
		}
		if depth == 1 && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			empty = false
		}
	}
	if empty {
		return 0
	}
	return n
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
	var sizes snapshotSizes
	if err := json.Unmarshal(b, &sizes); err != nil {
		return err
	}
	if err := sizes.check(); err != nil {
		return err
	}
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
	var sizes struct{ Status json.RawMessage }
	if err := json.Unmarshal(b, &sizes); err != nil {
		return err
	}
	if n := elements(sizes.Status); n > MaxStatus {
		return fmt.Errorf("step status: %d codes, more than the %d a step can have", n, MaxStatus)
	}
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

// maxAddrLen bounds a decoded address: an IPv6 address with a port takes
// at most 47 bytes.
const maxAddrLen = 64

type addrAlias AddrStats

type addrJSON struct {
	*addrAlias
	Latency string `json:"Latency,omitempty"`
}

// MarshalJSON encodes a with its latency histogram.
func (a AddrStats) MarshalJSON() ([]byte, error) {
	w := addrJSON{addrAlias: (*addrAlias)(&a)}
	if a.latency != nil && a.latency.TotalCount() > 0 {
		enc, err := encodeHist(a.latency)
		if err != nil {
			return nil, err
		}
		w.Latency = enc
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (a *AddrStats) UnmarshalJSON(b []byte) error {
	*a = AddrStats{}
	w := addrJSON{addrAlias: (*addrAlias)(a)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if len(a.Addr) > maxAddrLen {
		return fmt.Errorf("address %.20q...: longer than the %d bytes an address takes", a.Addr, maxAddrLen)
	}
	a.Addr = Printable(a.Addr)
	if w.Latency != "" {
		h, err := decodeHistDigits(w.Latency, addrDigits)
		if err != nil {
			return fmt.Errorf("address %s latency: %w", Printable(a.Addr), err)
		}
		a.latency = h
	}
	return nil
}

func encodeHist(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	return string(b), err
}

func decodeHist(enc string) (*hdrhistogram.Histogram, error) {
	return decodeHistDigits(enc, histDigits)
}

// decodeHistDigits decodes a histogram of faya's range at digits
// significant digits.
func decodeHistDigits(enc string, digits int64) (h *hdrhistogram.Histogram, err error) {
	if err := checkHist(enc, digits); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil { // the library panics on some damaged input
			h, err = nil, fmt.Errorf("damaged histogram: %v", r)
		}
	}()
	return hdrhistogram.Decode([]byte(enc))
}

// maxPayload is the most bytes a histogram of faya's range and precision
// encodes its counts in: 9 bytes (LEB128, 64 bits) per count.
var maxPayload = sync.OnceValue(func() int { return 9 * len(newHist().Export().Counts) })

// maxAddrPayload is maxPayload for the per-address histograms.
var maxAddrPayload = sync.OnceValue(func() int { return 9 * len(newAddrHist().Export().Counts) })

// checkHist reads the header of a histogram in HdrHistogram's V2
// compressed encoding and refuses it, before the library allocates its
// counts, unless its range is faya's, its precision want, and its counts
// inflate to no more than such a histogram can hold.
func checkHist(enc string, want int64) error {
	const (
		compressedCookie = 0x1c849304
		cookie           = 0x1c849303
		headerSize       = 40
	)
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return err
	}
	if len(raw) < 8 || int32(binary.BigEndian.Uint32(raw))&^0xf0 != compressedCookie {
		return fmt.Errorf("not an HdrHistogram V2 compressed encoding")
	}
	n := int64(int32(binary.BigEndian.Uint32(raw[4:])))
	if n < 0 || n > int64(len(raw)-8) {
		return fmt.Errorf("damaged histogram: %d compressed bytes of %d", n, len(raw)-8)
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8 : 8+n]))
	if err != nil {
		return fmt.Errorf("damaged histogram: %w", err)
	}
	limit := headerSize + maxPayload()
	if want == addrDigits {
		limit = headerSize + maxAddrPayload()
	}
	inflated, err := io.ReadAll(io.LimitReader(z, int64(limit)+1))
	switch {
	case err != nil:
		return fmt.Errorf("damaged histogram: %w", err)
	case len(inflated) > limit:
		return fmt.Errorf("damaged histogram: its counts inflate to more than the %d bytes a histogram holds", limit)
	case len(inflated) < headerSize || int32(binary.BigEndian.Uint32(inflated))&^0xf0 != cookie:
		return fmt.Errorf("damaged histogram: no V2 header")
	}
	digits := int64(int32(binary.BigEndian.Uint32(inflated[12:])))
	lo, hi := int64(binary.BigEndian.Uint64(inflated[16:])), int64(binary.BigEndian.Uint64(inflated[24:]))
	if lo != histLowest || hi != histHighest || digits != want {
		return fmt.Errorf("histogram range %d-%d/%d digits, want %d-%d/%d", lo, hi, digits, histLowest, histHighest, want)
	}
	return nil
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
