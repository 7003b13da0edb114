package metrics

import (
	"math/bits"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// rawHist records values into the counts of an HDR histogram's own layout
// (1 ns to 1 hour at 3 significant digits: [newHist]) without the
// library's per-value bookkeeping: an index computed inline and one
// increment. A shard records into these on the request's path; a flush
// folds them into real histograms (fold), exactly: each count lands in
// the bucket the library would have put its value in.
type rawHist struct {
	counts []int64
	any    bool // a value was recorded since the last fold
}

// The layout of newHist's histograms: a unit magnitude of 0 (lowest 1),
// 2048 sub-buckets (3 significant digits: 2 x 10^3 rounded up to a power
// of two), so half of them, 1024, per bucket after the first.
const (
	subBucketHalfCountMagnitude = 10
	subBucketHalfCount          = 1 << subBucketHalfCountMagnitude
	subBucketMask               = 2*subBucketHalfCount - 1
)

// rawLen is the number of counts of newHist's layout: 32 buckets (2048
// sub-buckets at 1 ns, doubled 31 times, pass histHighest) and one more
// half, as hdrhistogram-go counts them (TestRawLayout checks it against
// the library's; a constant, so that no histogram is made at start).
const (
	rawBuckets = 32
	rawLen     = (rawBuckets + 1) * subBucketHalfCount
)

func newRawHist() *rawHist { return &rawHist{counts: make([]int64, rawLen)} }

// rawIndex is hdrhistogram-go's countsIndexFor for newHist's layout.
func rawIndex(v int64) int {
	bucket := 64 - bits.LeadingZeros64(uint64(v)|subBucketMask) - (subBucketHalfCountMagnitude + 1)
	sub := int(v >> uint(bucket))
	return (bucket+1)<<subBucketHalfCountMagnitude + sub - subBucketHalfCount
}

// rawValue is the lowest value of index i's bucket: recorded, it lands at i.
func rawValue(i int) int64 {
	bucket := i>>subBucketHalfCountMagnitude - 1
	sub := i&(subBucketHalfCount-1) + subBucketHalfCount
	if bucket < 0 {
		bucket, sub = 0, i
	}
	return int64(sub) << uint(bucket)
}

// record counts v (0 <= v <= histHighest).
func (r *rawHist) record(v int64) {
	r.counts[rawIndex(v)]++
	r.any = true
}

// fold adds the counts into h (made when nil) and clears them; it returns
// h.
// A fold walks every count (about 34,000: a few tens of microseconds,
// once a second), which is cheaper than tracking the range touched on
// every record.
func (r *rawHist) fold(h *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	if !r.any {
		return h
	}
	if h == nil {
		h = newHist()
	}
	for i, c := range r.counts {
		if c != 0 {
			_ = h.RecordValues(rawValue(i), c)
			r.counts[i] = 0
		}
	}
	r.any = false
	return h
}
