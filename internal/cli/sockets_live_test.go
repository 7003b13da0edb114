package cli_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// The TIME_WAIT sockets reported for the target are the target's, read
// from the kernel's tables, not the host's rise: while the run opens 5
// connections, another program leaves 300 sockets in TIME_WAIT to a
// server of its own, and the report counts none of them.
func TestTimeWaitCountsOnlyTheTarget(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's socket tables are read on Linux")
	}
	srv := testserver.Start(t)
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _ = c.Read(make([]byte, 1)) // the client closes first
				_ = c.Close()
			})
		}
	})
	defer wg.Wait()
	defer other.Close()
	const churn = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(200 * time.Millisecond) // after the first reading
		for range churn {
			c, err := net.Dial("tcp", other.Addr().String())
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	out := filepath.Join(t.TempDir(), "out.json")
	r := faya(t.Context(), "run", "-q", "-c", "5", "-d", "1500ms", "--json", out, srv.URL+"/")
	<-done
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Connections struct {
			Dialed int `json:"dialed"`
		} `json:"connections"`
		Sockets struct {
			Watched  bool `json:"watched"`
			Before   int  `json:"time_wait_before"`
			Peak     int  `json:"time_wait_peak"`
			After    int  `json:"time_wait_after"`
			HostPeak int  `json:"host_time_wait_peak"`
		} `json:"sockets"`
		Findings []struct {
			ID string `json:"id"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	so := rep.Sockets
	if !so.Watched {
		t.Skip("the socket tables could not be read here")
	}
	if so.HostPeak < churn {
		t.Fatalf("host TIME_WAIT peak %d: the other program's %d sockets were not seen while the run went on", so.HostPeak, churn)
	}
	// Sockets already in TIME_WAIT to the target's address before the run
	// (a busy machine's earlier programs may have used the same port) are
	// the target's too; the run adds at most one per connection it dialed.
	if so.Peak-so.Before > rep.Connections.Dialed || so.After-so.Before > rep.Connections.Dialed {
		t.Errorf("TIME_WAIT to the target: %d before, peak %d, after %d, for %d connections dialed (host peak %d): want the target's only",
			so.Before, so.Peak, so.After, rep.Connections.Dialed, so.HostPeak)
	}
	for _, f := range rep.Findings {
		if f.ID == "time-wait" {
			t.Errorf("time-wait finding for a run that dialed %d connections", rep.Connections.Dialed)
		}
	}
}
