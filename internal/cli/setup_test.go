package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// A login that fails shows in the summary by status, as a finding, and in
// the checks rate; it is not hidden behind the next step's failed
// extraction.
func TestFailedLoginIsReported(t *testing.T) {
	srv := testserver.Start(t)
	file := filepath.Join(t.TempDir(), "login.yaml")
	plan := `version: 1
base_url: ` + srv.URL + `
scenarios:
  shop:
    executor: vus
    vus: 3
    iterations: 9
    setup:
      - name: login
        method: POST
        url: /login
        form: { user: ann, password: wrong }
        check: { status: 200 }
    steps:
      - name: me
        url: /me
        extract:
          who: { json: "$.user" }
`
	if err := os.WriteFile(file, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	r := faya(t.Context(), "run", "-q", "-f", file)
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"setup requests 3 (the VUs' logins: in the step table, not in these counts), FAILED 3: status 401 3",
		"3 of 3 setup requests (the VUs' logins) failed",
		"status 401: 3",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "checks      100.00% passed") {
		t.Errorf("the failed login checks are not counted:\n%s", r.stdout)
	}
	if st := srv.Stats(); st.Unauthorized < 3 {
		t.Errorf("the target refused %d requests, want the 3 logins at least", st.Unauthorized)
	}
}
