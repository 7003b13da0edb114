package runfile

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// hist encodes a histogram in HdrHistogram's V2 compressed form with the
// given range, precision and payload, as a crafted file could hold it.
func hist(lowest, highest int64, digits int32, payload []byte) string {
	var inner bytes.Buffer
	_ = binary.Write(&inner, binary.BigEndian, []int32{0x1c849303 | 0x10, int32(len(payload)), 0, digits})
	_ = binary.Write(&inner, binary.BigEndian, []int64{lowest, highest})
	_ = binary.Write(&inner, binary.BigEndian, 1.0)
	inner.Write(payload)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = zw.Write(inner.Bytes())
	_ = zw.Close()
	var outer bytes.Buffer
	_ = binary.Write(&outer, binary.BigEndian, []int32{0x1c849304 | 0x10, int32(z.Len())})
	outer.Write(z.Bytes())
	return base64.StdEncoding.EncodeToString(outer.Bytes())
}

// crafted writes a run file of the given lines (after a valid header),
// gzip-compressed in one stream, and returns its path and size.
func crafted(t *testing.T, lines ...string) (string, int) {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write([]byte(`{"format":"faya-run","version":2,"faya_version":"x","meta":{"url":"http://127.0.0.1:1/"}}` + "\n"))
	for _, l := range lines {
		_, _ = zw.Write([]byte(l))
	}
	_ = zw.Close()
	path := filepath.Join(t.TempDir(), "crafted.faya")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b.Len()
}

// Crafted run files of at most 400 kB (sizes that ask for gigabytes, a
// line that inflates without end, millions of intervals or list entries)
// are read, or refused, within a bounded memory: sizes are checked before
// anything is allocated for them.
func TestCraftedFilesBounded(t *testing.T) {
	huge := hist(1, 1<<62, 5, nil) // 48 MB once allocated
	bombHist := hist(1, 3_600_000_000_000, 3, make([]byte, 1<<20))
	end := func(total string) string {
		return `{"end":{"total":` + total + `,"steps":[],"thresholds":[],"findings":[]}}` + "\n"
	}
	hists := func(enc string, n int) string {
		return `{"Steps":[` + strings.Repeat(`{"Latency":"`+enc+`"},`, n-1) + `{"Latency":"` + enc + `"}]}`
	}
	for _, tc := range []struct {
		name  string
		lines func() []string
		want  string // in the error
		// budget: the histogram budget bounds it (1024 histograms and
		// one per 16 bytes of the file, 400 kB to decode each), not a
		// flat 200 MB; the peak is two snapshots, 150 MB.
		budget bool
	}{
		{"histogram ranges", func() []string { return []string{end(hists(huge, 30))} }, "histogram range 1-4611686018427387904/5 digits", false},
		{"histogram payloads", func() []string { return []string{end(hists(bombHist, 4))} }, "inflate to more than", false},
		{"a line without end", func() []string {
			return []string{`{"interval":{"snapshot":{},"x":"` + strings.Repeat(" ", 17<<20)}
		}, "a line longer than a run file has", false},
		{"steps", func() []string { return []string{end(hists(hist(1, 3_600_000_000_000, 3, []byte{2}), 300))} }, "300 steps: more than the 256", false},
		{"repeated histograms", func() []string {
			// 256 steps an interval, within a snapshot's bounds, over
			// and over: without the budget, 400 of them take 10 s and
			// 300 MB.
			iv := `{"interval":{"point":{"T":1000000000},"has_point":true,"snapshot":` + hists(hist(1, 3_600_000_000_000, 3, []byte{2}), 256) + "}}\n"
			return []string{strings.Repeat(iv, 400)}
		}, "more histograms than a file of", true},
		{"proxies", func() []string { return []string{end(`{"Proxies":[` + strings.Repeat(`{},`, 100_000) + `{}]}`)} }, "100001 proxies", false},
		{"findings", func() []string {
			return []string{`{"end":{"total":{},"findings":[` + strings.Repeat(`{},`, 100_000) + `{}]}}` + "\n"}
		}, "100001 findings", false},
		{"intervals", func() []string {
			return []string{strings.Repeat(`{"interval":{"point":{},"has_point":true,"snapshot":{}}}`+"\n", 200_000)}
		}, "more intervals than a file of", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, size := crafted(t, tc.lines()...)
			if size > 400<<10 {
				t.Fatalf("the crafted file is %d bytes, want at most 400 kB", size)
			}
			var a, b runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&a)
			_, err := Read(path)
			runtime.ReadMemStats(&b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			t.Logf("%d bytes: %d MB allocated, %v", size, (b.TotalAlloc-a.TotalAlloc)>>20, err)
			limit := uint64(200 << 20)
			if tc.budget {
				limit = uint64(1024+size/16) * 400 << 10
			}
			if n := b.TotalAlloc - a.TotalAlloc; n > limit {
				t.Errorf("reading %d bytes allocated %d MB", size, n>>20)
			}
		})
	}
}
