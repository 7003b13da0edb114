package metrics

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// fill sets every exported field of v (a struct) to a value that is not
// zero, recursively, so that a field the encoding forgets shows.
func fill(t *testing.T, v reflect.Value, n *int64) {
	*n++
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(*n)
	case reflect.Uint8:
		v.SetUint(uint64(*n%255 + 1))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", int(*n%5)))
	case reflect.Array:
		for i := range v.Len() {
			if i%7 == 0 {
				fill(t, v.Index(i), n)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, n)
		fill(t, e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	default:
		t.Fatalf("fill: unhandled kind %s", v.Kind())
	}
}

func TestSnapshotJSONRoundTrip(t *testing.T) {
	var s Snapshot
	var n int64
	fill(t, reflect.ValueOf(&s).Elem(), &n)
	for i := range s.Status {
		s.Status[i] = int64(i % 3) // sparse, with zeros
	}
	for i := range 1000 {
		s.record(Latency, time.Duration(i)*time.Microsecond)
		s.record(Connect, time.Duration(i%7)*time.Millisecond)
	}
	s.Steps[1].latency = newHist()
	_ = s.Steps[1].latency.RecordValue(12345)
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for m := range numMetrics {
		a, c := s.hist[m], back.hist[m]
		if (a == nil) != (c == nil) || a != nil && !a.Equals(c) {
			t.Errorf("histogram %s differs after the round trip", m)
		}
	}
	if !back.Steps[1].latency.Equals(s.Steps[1].latency) || back.Steps[0].latency != nil {
		t.Errorf("step latency histograms differ after the round trip")
	}
	// Compare everything else.
	s.hist, back.hist = [numMetrics]*hdrhistogram.Histogram{}, [numMetrics]*hdrhistogram.Histogram{}
	for i := range s.Steps {
		s.Steps[i].latency, back.Steps[i].latency = nil, nil
	}
	if !reflect.DeepEqual(s, back) {
		a, _ := json.Marshal(&s)
		c, _ := json.Marshal(&back)
		t.Errorf("snapshot differs after the round trip:\n%s\n%s", a, c)
	}
}

func TestSnapshotJSONErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"ErrCount":{"martian":1}}`, `unknown error class "martian"`},
		{`{"Status":{"1000":1}}`, "status index 1000 out of range"},
		{`{"Hists":{"latency":"not base64!"}}`, "histogram latency"},
		{`{"Hists":{"latency":"AAAA"}}`, "histogram latency"},
		{`{"Hists":{"joy":"AAAA"}}`, `unknown metric "joy"`},
		{`{"Steps":[{"Latency":"???"}]}`, "step latency"},
		{`[1,2]`, "cannot unmarshal"},
	} {
		var s Snapshot
		err := json.Unmarshal([]byte(tc.in), &s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Unmarshal(%s) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzSnapshotJSON(f *testing.F) {
	var s Snapshot
	for i := range 50 {
		s.record(Latency, time.Duration(i)*time.Millisecond)
	}
	s.Requests, s.Status[200] = 50, 50
	b, _ := json.Marshal(&s)
	f.Add(b)
	f.Add([]byte(`{"Hists":{"latency":"HISTFAAAACB42pNpmSzMwMDAxAABzFCaEUzOmWb/AcIGAD9TBFo="}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Snapshot
		if json.Unmarshal(b, &s) != nil {
			return
		}
		out, err := json.Marshal(&s)
		if err != nil {
			t.Fatalf("a decoded snapshot does not encode: %v", err)
		}
		var again Snapshot
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
	})
}
