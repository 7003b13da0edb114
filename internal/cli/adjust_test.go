package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// The flags apply before the plan is validated: -c lowers a file's VUs to
// its per-VU data rows, -n gives a closed model its missing iteration
// count; without them the same file is refused.
func TestFlagsApplyBeforeValidation(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	// A byte-order mark before the header, as spreadsheets write it.
	if err := os.WriteFile(filepath.Join(dir, "users.csv"), []byte("\ufeffuser,password\nann,a\nbob,b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, executor string) string {
		path := filepath.Join(dir, name)
		src := `version: 1
base_url: ` + srv.URL + `
data:
  users: { file: users.csv, mode: per-vu }
scenarios:
  shop:
` + executor + `
    setup:
      - name: login
        method: POST
        url: /login
        form: { user: "{{ .data.users.user }}", password: "{{ .data.users.password }}" }
        check: { status: 200 }
    steps:
      - name: me
        url: /me
        check: { status: 200 }
`
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tooMany := write("vus.yaml", "    executor: vus\n    vus: 5\n    iterations: 20")
	noCount := write("nocount.yaml", "    executor: vus\n    vus: 2")
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"5 VUs for 2 rows", []string{"-f", tooMany}, cli.ExitUsage},
		{"-c 2 for 2 rows", []string{"-f", tooMany, "-c", "2"}, cli.ExitOK},
		{"-n gives the count", []string{"-f", noCount, "-n", "10"}, cli.ExitOK},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			r := faya(t.Context(), append([]string{"run", "-q"}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if tc.code == cli.ExitOK && !strings.Contains(r.stdout, "checks      100.00% passed") {
				t.Errorf("the logins (users from a CSV file with a byte-order mark) did not all pass:\n%s", r.stdout)
			}
		})
	}
}
