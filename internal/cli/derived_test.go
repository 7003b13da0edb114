package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// derivedJSON is what a report says of the open model's derived bounds.
type derivedJSON struct {
	Run struct {
		PreVUs int `json:"pre_vus"`
		MaxVUs int `json:"max_vus"`
		Pool   struct {
			MaxConnsPerHost     int `json:"max_conns_per_host"`
			MaxIdleConnsPerHost int `json:"max_idle_conns_per_host"`
		} `json:"pool"`
	} `json:"run"`
}

// The command line and a scenario file with the same rate, timeout and
// engine derive the same open-model bounds (max VUs, pre-allocated VUs)
// and the same pool limits from them: both go through
// engine.Executor.DeriveVUs and transport.Config's defaults.
func TestDerivedVUsFlagsAndFile(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, rate, timeout, engine string
		max                         int // the derived max VUs, computed by hand
	}{
		{"rate x timeout", "100", "5s", "h1", 500},
		{"the least", "7", "1s", "h1", 10},
		{"net/http's memory bound", "20000", "30s", "net/http", 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := faya(t.Context(), "run", "-r", tc.rate, "-d", "50ms", "--timeout", tc.timeout, "--engine", tc.engine, "-q", "--json", "-", srv.URL+"/")
			file := filepath.Join(dir, tc.rate+".yaml")
			src := "version: 1\nbase_url: " + srv.URL + "\nengine: " + tc.engine + "\ndefaults:\n  timeout: " + tc.timeout +
				"\nscenarios:\n  s:\n    executor: rate\n    rate: " + tc.rate + "\n    duration: 50ms\n    steps:\n      - url: /\n"
			if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			fromFile := faya(t.Context(), "run", "-f", file, "-q", "--json", "-")
			var got [2]derivedJSON
			for i, r := range []result{flags, fromFile} {
				if r.code != cli.ExitOK {
					t.Fatalf("run %d: exit %d: %s", i, r.code, r.stderr)
				}
				if err := json.Unmarshal([]byte(r.stdout), &got[i]); err != nil {
					t.Fatalf("run %d: %v: %s", i, err, r.stdout)
				}
			}
			if got[0] != got[1] {
				t.Errorf("flags derived %+v, the file %+v: want the same", got[0].Run, got[1].Run)
			}
			if got[0].Run.MaxVUs != tc.max || got[0].Run.PreVUs < 1 || got[0].Run.Pool.MaxConnsPerHost != tc.max {
				t.Errorf("derived %+v: want max VUs %d, at least 1 pre-allocated, %d connections per host", got[0].Run, tc.max, tc.max)
			}
		})
	}
}
