package doctor

import (
	"testing"

	"github.com/faya-load/faya/diagnose"
)

// The HTTP/2 pool: enough connections that none carries more streams than
// the server allows, the streams spread evenly over the connections needed;
// never a cap below diagnose.MinPool (a pool of one makes every request wait
// when its connection goes away), the spare carrying no streams of its own.
func TestRecommendH2(t *testing.T) {
	for _, tc := range []struct {
		c             int
		max           uint32
		sent          bool
		conns, stream int
	}{
		{c: 256, max: 128, sent: true, conns: 2, stream: 128},
		{c: 200, max: 128, sent: true, conns: 2, stream: 100},
		{c: 4, max: 7, sent: true, conns: 2, stream: 4},
		{c: 7, max: 7, sent: true, conns: 2, stream: 7},
		{c: 8, max: 7, sent: true, conns: 2, stream: 4},
		{c: 1, max: 1, sent: true, conns: 2, stream: 1},
		{c: 1, sent: false, conns: 2, stream: 1},
		{c: 64, max: 0, sent: true, conns: 2, stream: 64},
		{c: 10, max: 1, sent: true, conns: 10, stream: 1},
		{c: 300, max: 100, sent: true, conns: 3, stream: 100},
		{c: 301, max: 100, sent: true, conns: 4, stream: 76},
		{c: 64, sent: false, conns: 2, stream: 64},
		{c: 0, max: 100, sent: true, conns: 2, stream: 1},
	} {
		h := &H2Report{Settings: &H2Settings{MaxConcurrentStreams: tc.max, MaxConcurrentStreamsSent: tc.sent}}
		h.recommend(tc.c)
		if h.Conns != tc.conns || h.StreamsPerConn != tc.stream || h.Conns*h.StreamsPerConn < max(tc.c, 1) || h.Conns < diagnose.MinPool {
			t.Errorf("c %d, server max %d (sent %v): %d connections x %d streams, want %d x %d", tc.c, tc.max, tc.sent, h.Conns, h.StreamsPerConn, tc.conns, tc.stream)
		}
	}
}
