package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// craftHist encodes a histogram in HdrHistogram's V2 compressed form with
// the given range and precision, and payload (zigzag counts), as a
// damaged or hostile file could hold it.
func craftHist(lowest, highest int64, digits int32, payload []byte) string {
	var inner bytes.Buffer
	_ = binary.Write(&inner, binary.BigEndian, []int32{0x1c849303 | 0x10, int32(len(payload)), 0, digits})
	_ = binary.Write(&inner, binary.BigEndian, []int64{lowest, highest})
	_ = binary.Write(&inner, binary.BigEndian, 1.0)
	inner.Write(payload)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(inner.Bytes())
	_ = zw.Close()
	var outer bytes.Buffer
	_ = binary.Write(&outer, binary.BigEndian, []int32{0x1c849304 | 0x10, int32(z.Len())})
	outer.Write(z.Bytes())
	return base64.StdEncoding.EncodeToString(outer.Bytes())
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// A snapshot's sizes are checked before anything is allocated for them: a
// crafted histogram range, a payload that inflates without end, or
// thousands of steps or proxies are refused for a few bytes of memory.
func TestSnapshotJSONBounded(t *testing.T) {
	huge := craftHist(1, 1<<62, 5, nil)                                          // 47 MB of counts once allocated
	bomb := craftHist(histLowest, histHighest, histDigits, make([]byte, 64<<20)) // 64 MiB of zero counts, 65 kB compressed
	steps := `{"Steps":[` + strings.Repeat(`{"Latency":"`+craftHist(histLowest, histHighest, histDigits, []byte{2})+`"},`, MaxEncodedSteps) + `{}]}`
	for _, tc := range []struct {
		name, in, want string
	}{
		{"range", `{"Hists":{"latency":"` + huge + `"}}`, "histogram range 1-4611686018427387904/5 digits"},
		{"step range", `{"Steps":[{"Latency":"` + huge + `"}]}`, "histogram range"},
		{"payload", `{"Hists":{"latency":"` + bomb + `"}}`, "more than"},
		{"steps", steps, fmt.Sprintf("%d steps: more than the %d", MaxEncodedSteps+1, MaxEncodedSteps)},
		{"proxies", `{"Proxies":[` + strings.Repeat(`{},`, MaxEncodedProxies) + `{}]}`, "proxies: more than"},
		{"status", `{"Status":{` + strings.Repeat(`"1000":1,`, 1000) + `"0":1}}`, "status: more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() {
				var s Snapshot
				err = json.Unmarshal([]byte(tc.in), &s)
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			// The input itself, a few copies of it, and the snapshot (with
			// its HTTP/2 histograms; the race detector's allocations
			// included): far below the 47 MB and 64 MiB the inputs claim.
			if limit := uint64(8*len(tc.in)) + 2<<20; n > limit {
				t.Errorf("decoding %d bytes allocated %d bytes, want at most %d", len(tc.in), n, limit)
			}
		})
	}
}
