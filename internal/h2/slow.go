package h2

import (
	"sync/atomic"
	"time"
)

// readerDelay, when not 0, has every connection's reader wait that long
// (ns) before each frame it reads ([SlowReaders]).
var readerDelay atomic.Int64

// SlowReaders has every connection's reader, in every pool, wait d before
// each frame it reads, as if handling a frame took that long, until the
// returned func is called: a reader made the bottleneck on purpose, for
// the tests of what a busy reader shows (connections.h2.read_loop_busy,
// single-connection-bottleneck). faya itself never calls it.
func SlowReaders(d time.Duration) (restore func()) {
	old := readerDelay.Swap(int64(d))
	return func() { readerDelay.Store(old) }
}
