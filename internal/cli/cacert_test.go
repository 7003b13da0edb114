package cli_test

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// --cacert trusts the server's CA; a file that is missing or not PEM is
// refused before any traffic.
func TestCACertFlag(t *testing.T) {
	srv := testserver.StartTLS(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := faya(t.Context(), "run", "-q", "-c", "2", "-n", "20", "--cacert", ca, srv.URL+"/"); r.code != cli.ExitOK || !strings.Contains(r.stdout, "200   20") {
		t.Errorf("with --cacert: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, bad := range []struct{ file, says string }{
		{filepath.Join(dir, "missing.pem"), "--cacert: open"},
		{junk, "--cacert " + junk + ": not a PEM certificate"},
	} {
		r := faya(t.Context(), "run", "-q", "-n", "5", "--cacert", bad.file, srv.URL+"/")
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, bad.says) {
			t.Errorf("--cacert %s: exit %d, stderr %q; want %d saying %q", bad.file, r.code, r.stderr, cli.ExitUsage, bad.says)
		}
	}
	if st := srv.Stats(); st.Requests != 20 {
		t.Errorf("the server saw %d requests, want the 20 of the good run only", st.Requests)
	}
}
