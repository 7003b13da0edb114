package engine

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Rate is an exact arrival rate: Count iterations every Per. Decimal rates
// are kept exact (0.5/s is 1 every 2s, 2.5/s is 5 every 2s), so a schedule
// never drifts by a rounding error.
type Rate struct {
	Count int64
	Per   time.Duration
}

// RatePerSecond returns n iterations per second.
func RatePerSecond(n int64) Rate { return Rate{Count: n, Per: time.Second} }

// maxRate bounds rates to what fits the schedule arithmetic with room to
// spare: a billion iterations per second.
const maxRate = 1e9

// ParseRate parses a rate: a decimal number per second ("5000", "0.5",
// "7.25"), or COUNT/DURATION ("30/1m", "5/2s", "100/s").
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Rate{}, errors.New("empty rate: give iterations per second, e.g. 100 or 0.5, or COUNT/DURATION, e.g. 30/1m")
	}
	num, per, hasPer := strings.Cut(s, "/")
	perD := time.Second
	if hasPer {
		if per == "" {
			return Rate{}, fmt.Errorf("rate %q: missing the duration after /, e.g. 30/1m", s)
		}
		if per[0] < '0' || per[0] > '9' {
			per = "1" + per // "100/s" is "100/1s"
		}
		d, err := time.ParseDuration(per)
		if err != nil || d <= 0 {
			return Rate{}, fmt.Errorf("rate %q: %q is not a positive duration like 1s or 1m", s, per)
		}
		perD = d
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok || r.Sign() < 0 || strings.ContainsAny(num, "eE/") {
		return Rate{}, fmt.Errorf("rate %q: %q is not a non-negative decimal number", s, num)
	}
	// iterations per ns = r / perD; keep it as Count / Per with integers.
	q := new(big.Rat).Quo(r, new(big.Rat).SetInt64(int64(perD)))
	out, err := rateOf(q)
	if err != nil {
		return Rate{}, fmt.Errorf("rate %q: %w", s, err)
	}
	return out, nil
}

// rateOf turns iterations per ns into a Rate, failing when the fraction
// does not fit int64s.
func rateOf(perNS *big.Rat) (Rate, error) {
	if perNS.Sign() == 0 {
		return Rate{Count: 0, Per: time.Second}, nil
	}
	n, d := perNS.Num(), perNS.Denom()
	if !n.IsInt64() || !d.IsInt64() {
		return Rate{}, errors.New("too precise: use at most 9 decimal places")
	}
	r := Rate{Count: n.Int64(), Per: time.Duration(d.Int64())}
	if r.PerSecond() > maxRate {
		return Rate{}, fmt.Errorf("above %g per second", float64(maxRate))
	}
	return r, nil
}

// perNS returns the rate in iterations per nanosecond, exactly.
func (r Rate) perNS() *big.Rat {
	if r.Count == 0 || r.Per <= 0 {
		return new(big.Rat)
	}
	return big.NewRat(r.Count, int64(r.Per))
}

// PerSecond returns the rate in iterations per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.Count) * float64(time.Second) / float64(r.Per)
}

// IsZero reports whether the rate is zero.
func (r Rate) IsZero() bool { return r.Count == 0 }

// String formats the rate as iterations per second when that is exact in a
// short decimal, else as COUNT/DURATION.
func (r Rate) String() string {
	if r.Count == 0 {
		return "0"
	}
	ps := new(big.Rat).Mul(r.perNS(), big.NewRat(int64(time.Second), 1))
	if s := ps.FloatString(9); exactDecimal(ps, s) {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return s
	}
	return strconv.FormatInt(r.Count, 10) + "/" + r.Per.String()
}

func exactDecimal(r *big.Rat, s string) bool {
	back, ok := new(big.Rat).SetString(s)
	return ok && back.Cmp(r) == 0
}

// MarshalText writes the rate as String does; it parses back exactly.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a rate as ParseRate does.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// RateStage is one stage of a ramping arrival rate: the rate goes linearly
// from From to To over Duration (From == To holds it).
type RateStage struct {
	Duration time.Duration `json:"duration"`
	From     Rate          `json:"from"`
	To       Rate          `json:"to"`
}

// VUStage is one stage of ramping VUs: the number of active VUs goes
// linearly from From to To over Duration.
type VUStage struct {
	Duration time.Duration `json:"duration"`
	From     int           `json:"from"`
	To       int           `json:"to"`
}

// ParseRateStages parses DURATION:FROM-TO[,DURATION:TARGET...], e.g.
// "10s:0-2000,30s:2000,10s:2000-0". A stage with a single TARGET ramps
// from the previous stage's end (0 at the start) to TARGET, as k6's
// stages do: "10s:2000" is "10s:0-2000" first, a hold after a stage that
// ends at 2000.
func ParseRateStages(s string) ([]RateStage, error) {
	var out []RateStage
	prev := Rate{Count: 0, Per: time.Second}
	err := parseStages(s, "0.5-200 or 100", func(d time.Duration, from, to string) error {
		f := prev
		if from != "" {
			var err error
			if f, err = ParseRate(from); err != nil {
				return err
			}
		}
		t, err := ParseRate(to)
		if err != nil {
			return err
		}
		out = append(out, RateStage{Duration: d, From: f, To: t})
		prev = t
		return nil
	})
	return out, err
}

// ParseVUStages parses DURATION:FROM-TO[,DURATION:TARGET...], e.g.
// "30s:0-200,60s:200". A stage with a single TARGET ramps from the
// previous stage's end (0 at the start), as k6's --stage 30s:20 does.
func ParseVUStages(s string) ([]VUStage, error) {
	var out []VUStage
	prev := 0
	vus := func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of VUs (a non-negative integer)", v)
		}
		return n, nil
	}
	err := parseStages(s, "0-200 or 50", func(d time.Duration, from, to string) error {
		f := prev
		if from != "" {
			var err error
			if f, err = vus(from); err != nil {
				return err
			}
		}
		t, err := vus(to)
		if err != nil {
			return err
		}
		out = append(out, VUStage{Duration: d, From: f, To: t})
		prev = t
		return nil
	})
	return out, err
}

// parseStages splits stages and calls add with each one's duration and
// ends; from is "" for a stage with a single target.
func parseStages(s, example string, add func(d time.Duration, from, to string) error) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("no stages: write DURATION:FROM-TO[,DURATION:TARGET...], e.g. 10s:%s", example)
	}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		ds, spec, ok := strings.Cut(item, ":")
		if !ok {
			return fmt.Errorf("stage %d %q: want DURATION:FROM-TO or DURATION:TARGET, e.g. 10s:%s", i+1, item, example)
		}
		d, err := time.ParseDuration(strings.TrimSpace(ds))
		if err != nil || d <= 0 {
			return fmt.Errorf("stage %d %q: %q is not a positive duration like 10s", i+1, item, ds)
		}
		from, to, ramp := strings.Cut(spec, "-")
		if !ramp {
			from, to = "", from
		} else if strings.TrimSpace(from) == "" {
			return fmt.Errorf("stage %d %q: %q is not a value: write FROM-TO, e.g. 10s:%s", i+1, item, spec, example)
		}
		if err := add(d, strings.TrimSpace(from), strings.TrimSpace(to)); err != nil {
			return fmt.Errorf("stage %d %q: %w", i+1, item, err)
		}
	}
	return nil
}
