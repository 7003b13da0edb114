package transport_test

import (
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faya-load/faya/transport"
)

// A timed reader's busy time is the time between a Read returning and
// its next Read call (what it did with the bytes), not its waits inside
// Read; its time since its last Read is counted while it is out of Read,
// up to the close; a connection not timed says so.
func TestReadBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl, err := transport.NewDialer(transport.Config{}, newRecorder())
		if err != nil {
			t.Fatal(err)
		}
		a, b := net.Pipe()
		defer b.Close()
		c := dl.Track(a, time.Now(), 0)
		if _, _, ok := c.ReadBusy(); ok {
			t.Fatal("ReadBusy ok before TimeReads")
		}
		time.Sleep(time.Millisecond) // before the reader starts: not its time
		c.TimeReads()
		go func() {
			// The server's pace: a byte every 10 ms.
			for range 10 {
				time.Sleep(10 * time.Millisecond)
				if _, err := b.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 1)
		check := func(when string, wantBusy, wantSpan time.Duration) {
			t.Helper()
			busy, span, ok := c.ReadBusy()
			if !ok || busy != wantBusy || span != wantSpan {
				t.Errorf("%s: busy %v of %v (%v), want %v of %v", when, busy, span, ok, wantBusy, wantSpan)
			}
		}
		for i := range 10 {
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
			time.Sleep(4 * time.Millisecond) // handling the byte
			if i == 0 {
				// Waited 10 ms, busy 4 since: counted without a Read after.
				check("after the first read", 4*time.Millisecond, 14*time.Millisecond)
			}
		}
		// Reads returned at 10, 20, ... 100 ms after TimeReads; busy 4 ms
		// after each.
		check("after 10 reads", 40*time.Millisecond, 104*time.Millisecond)

		// In a Read that waits: the busy time stays.
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = c.Read(buf)
		}()
		time.Sleep(50 * time.Millisecond)
		check("waiting in a read", 40*time.Millisecond, 154*time.Millisecond)
		_ = c.Close()
		<-done
		time.Sleep(time.Second) // after the close: nothing more
		check("closed", 40*time.Millisecond, 154*time.Millisecond)
	})
}

// instant is a connection whose reads return at once, full.
type instant struct{ net.Conn }

func (instant) Read(b []byte) (int, error) { return len(b), nil }

// BenchmarkConnRead is the cost of a Read on a connection whose reads
// return at once, timed (an HTTP/2 connection's reader: TimeReads) or
// not: what timing adds to each read call.
func BenchmarkConnRead(b *testing.B) {
	for _, timed := range []bool{false, true} {
		name := "untimed"
		if timed {
			name = "timed"
		}
		b.Run(name, func(b *testing.B) {
			dl, err := transport.NewDialer(transport.Config{}, newRecorder())
			if err != nil {
				b.Fatal(err)
			}
			c := dl.Track(instant{}, time.Now(), 0)
			if timed {
				c.TimeReads()
			}
			buf := make([]byte, 512)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.Read(buf)
			}
		})
	}
}
