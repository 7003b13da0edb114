package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/internal/testserver"
)

// faya report rebuilds from a saved run exactly the reports the run
// printed: text and JSON, byte for byte.
func TestOutAndReport(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	saved, js, html := filepath.Join(dir, "run.faya"), filepath.Join(dir, "a.json"), filepath.Join(dir, "a.html")
	r := faya(t.Context(), "run", "-c", "10", "-n", "3000", "--out", saved, "--json", js, "--html", html, srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	js2 := filepath.Join(dir, "b.json")
	again := faya(t.Context(), "report", saved, "--json", js2)
	if again.code != cli.ExitOK {
		t.Fatalf("faya report: exit %d\n%s", again.code, again.stderr)
	}
	if again.stdout != r.stdout {
		t.Errorf("faya report's text differs from the run's:\n%s\nwant:\n%s", again.stdout, r.stdout)
	}
	if runtime.GOOS == "linux" && !strings.Contains(r.stdout, "  generator   CPU ") {
		t.Errorf("the report lacks the generator's CPU:\n%s", r.stdout)
	}
	a, _ := os.ReadFile(js)
	b, _ := os.ReadFile(js2)
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("faya report's JSON differs from the run's (%d and %d bytes)", len(a), len(b))
	}
	h, _ := os.ReadFile(html)
	if !strings.Contains(string(h), "<svg") || !strings.Contains(string(h), srv.URL) {
		t.Errorf("the HTML report lacks its charts or the URL (%d bytes)", len(h))
	}
	// JSON to stdout: the text goes to stderr, the live view never mixes in.
	r = faya(t.Context(), "report", saved, "--json", "-")
	if r.code != cli.ExitOK || !strings.HasPrefix(r.stdout, "{") || !strings.Contains(r.stderr, "Summary") {
		t.Errorf("faya report --json -: exit %d, stdout starts %.20q", r.code, r.stdout)
	}
}

func TestReportBadFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.faya")
	_ = os.WriteFile(junk, []byte("hello"), 0o644)
	newer := filepath.Join(dir, "newer.faya")
	f, _ := os.Create(newer)
	w := gzip.NewWriter(f)
	_, _ = w.Write([]byte(`{"format":"faya-run","version":9,"faya_version":"9.0.0","meta":{}}` + "\n"))
	_ = w.Close()
	_ = f.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", junk}, junk + ": not a faya run file (faya run --out writes them)"},
		{[]string{"report", newer}, "format version 9 (written by faya 9.0.0); this faya reads version 2"},
		{[]string{"report", filepath.Join(dir, "none.faya")}, "no such file or directory"},
		{[]string{"report"}, "report needs exactly one saved run"},
		{[]string{"run", "-n", "1", "--out", filepath.Join(dir, "no/such/dir/x.faya"), "http://127.0.0.1:1/"}, "--out: open"},
		{[]string{"run", "-n", "1", "--html", filepath.Join(dir, "no/such/dir/x.html"), "http://127.0.0.1:1/"}, "--html: open"},
		{[]string{"run", "-n", "1", "--metrics-addr", "9464", "http://127.0.0.1:1/"}, `--metrics-addr "9464": want HOST:PORT or :PORT`},
		{[]string{"run", "-n", "1", "--metrics-linger", "30s", "http://127.0.0.1:1/"}, "--metrics-linger needs --metrics-addr"},
		{[]string{"run", "-n", "1", "--metrics-addr", ":0", "--metrics-linger", "-1s", "http://127.0.0.1:1/"}, "--metrics-linger -1s: want a duration of 0 or more"},
	} {
		r := faya(t.Context(), tc.args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("faya %s: exit %d\n%s\nwant exit 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// --metrics-addr serves during the run (internal/exporter tests what it
// serves); --quiet leaves stderr without the live view.
func TestMetricsAddrAndQuiet(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-c", "2", "-n", "50", "--metrics-addr", "127.0.0.1:0", "--quiet", srv.URL+"/")
	if r.code != cli.ExitOK || !strings.Contains(r.stderr, "faya: Prometheus metrics on http://127.0.0.1:") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "req/s") {
		t.Errorf("--quiet printed the live view:\n%s", r.stderr)
	}
}

// lockedBuffer is a bytes.Buffer that a test may read while Main writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// --metrics-linger keeps the final figures up after the report: a scrape
// then sees every request of the run, and Ctrl-C (the context) ends the
// wait at once.
func TestMetricsLinger(t *testing.T) {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, []string{"run", "-c", "2", "-n", "50", "--metrics-addr", "127.0.0.1:0", "--metrics-linger", "1h", "--quiet", srv.URL + "/"},
			strings.NewReader(""), &stdout, &stderr)
	}()
	lingering := regexp.MustCompile(`serving the final metrics on (http://\S+/metrics) for 1h0m0s`)
	var url []string
	for i := 0; i < 1000 && url == nil; i++ {
		select {
		case c := <-code:
			t.Fatalf("faya ended (exit %d) without lingering:\n%s", c, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		url = lingering.FindStringSubmatch(stderr.String())
	}
	if url == nil {
		t.Fatalf("no linger message after 10s:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "Summary") {
		t.Errorf("lingering before the report was printed:\n%s", stdout.String())
	}
	resp, err := http.Get(url[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), `faya_requests_total{status="200"} 50`) {
		t.Errorf("the final scrape lacks the run's 50 requests:\n%s", body)
	}
	cancel()
	select {
	case c := <-code:
		if c != cli.ExitOK {
			t.Errorf("exit %d after Ctrl-C while lingering, want 0:\n%s", c, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-C did not end the linger")
	}
}

// A usage error leaves every output as it was: each flag is checked
// before any file is opened, and the reports replace a file only once
// they are written whole.
func TestUsageErrorKeepsFiles(t *testing.T) {
	srv := testserver.Start(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"linger", []string{"--metrics-addr", "127.0.0.1:0", "--metrics-linger", "-1s"}, "--metrics-linger -1s"},
		{"linger without addr", []string{"--metrics-linger", "5s"}, "--metrics-linger needs --metrics-addr"},
		{"address in use", []string{"--metrics-addr", busy.Addr().String()}, "--metrics-addr " + busy.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := []string{filepath.Join(dir, "a.json"), filepath.Join(dir, "a.html"), filepath.Join(dir, "a.faya")}
			for _, p := range paths {
				if err := os.WriteFile(p, []byte("an earlier report"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"run", "-n", "5", "--json", paths[0], "--html", paths[1], "--out", paths[2]}, tc.args...)
			r := faya(t.Context(), append(args, srv.URL+"/")...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 and %q:\n%s", r.code, tc.want, r.stderr)
			}
			for _, p := range paths {
				if b, _ := os.ReadFile(p); string(b) != "an earlier report" {
					t.Errorf("%s was changed to %d bytes", filepath.Base(p), len(b))
				}
			}
			if srv.Stats().Requests != 0 {
				t.Errorf("the target saw %d requests", srv.Stats().Requests)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 3 {
				t.Errorf("%d files in the directory, want the 3 reports: %v", len(entries), entries)
			}
		})
	}
}

// A report replaces the file it names only when it is complete, keeps
// that file's mode, and leaves no temporary file behind.
func TestReportReplacesFile(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	js := filepath.Join(dir, "a.json")
	if err := os.WriteFile(js, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.html")
	html := filepath.Join(dir, "real.html")
	if err := os.Symlink("real.html", link); err != nil {
		t.Fatal(err)
	}
	r := faya(t.Context(), "run", "-c", "2", "-n", "20", "--json", js, "--html", link, "--json", js, srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(js)
	if !bytes.Contains(b, []byte(`"total": 20`)) {
		t.Errorf("the JSON report was not written:\n%.200s", b)
	}
	if fi, err := os.Stat(js); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the JSON report's mode: %v, %v; want 0600 as the file it replaced", fi.Mode(), err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link to the HTML report was replaced: %v", err)
	}
	if h, _ := os.ReadFile(html); !bytes.Contains(h, []byte("</html>")) {
		t.Errorf("the HTML report was not written through the link (%d bytes)", len(h))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("files left in the directory: %v", entries)
	}
}

// A report that cannot be written (a full disk: /dev/full) is named, each
// one, and faya exits 1; the text report still goes to stdout.
func TestFullDevice(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-c", "2", "-n", "20", "--json", "/dev/full", "--html", "/dev/full", srv.URL+"/")
	if r.code != cli.ExitFailed {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, want := range []string{
		"faya: write the JSON report to /dev/full: no space left on device\n",
		"faya: write the HTML report to /dev/full: no space left on device\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "requests    20 ") {
		t.Errorf("no text report:\n%s", r.stdout)
	}
}

// --out for a run of more steps than a run file holds is refused before
// any traffic, not found out by faya report.
func TestOutTooManySteps(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nbase_url: %s\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n", srv.URL)
	for i := range runfile.MaxSteps + 1 {
		fmt.Fprintf(&b, "      - url: /?n=%d\n", i)
	}
	file := filepath.Join(dir, "many.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := faya(t.Context(), "run", "-f", file, "--out", filepath.Join(dir, "r.faya"))
	if want := fmt.Sprintf("--out: the run has %d steps; a saved run holds at most %d", runfile.MaxSteps+1, runfile.MaxSteps); r.code != cli.ExitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, want 2 and %q:\n%s", r.code, want, r.stderr)
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("the target saw %d requests", n)
	}
}

// On a disk that fills during the run (a small tmpfs, when this test may
// mount one), each report's failure is named and faya exits 1; the JSON
// report it would have replaced is left whole, no temporary file is left
// behind, and the run file reads back up to its last whole interval.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	js, html, saved := filepath.Join(dir, "a.json"), filepath.Join(dir, "a.html"), filepath.Join(dir, "r.faya")
	if err := os.WriteFile(js, []byte("an earlier report"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t)
	done := make(chan result, 1)
	go func() {
		done <- faya(t.Context(), "run", "-c", "2", "-d", "3s", "--json", js, "--html", html, "--out", saved, srv.URL+"/")
	}()
	// Once the run file holds an interval, fill the disk.
	for i := 0; ; i++ {
		if fi, err := os.Stat(saved); err == nil && fi.Size() > 2000 {
			break
		}
		if i == 1000 {
			t.Fatal("no interval in the run file after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for chunk := make([]byte, 4096); ; {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	_ = filler.Close()
	r := <-done
	if r.code != cli.ExitFailed {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, want := range []string{
		"faya: write the JSON report to " + js + ": ",
		"faya: write the HTML report to " + html + ": ",
		"faya: save the run to " + saved + ": ",
	} {
		i := strings.Index(r.stderr, want)
		if i < 0 || !strings.Contains(r.stderr[i:], "no space left on device") {
			t.Errorf("stderr lacks %q ... no space left on device:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "Summary") {
		t.Errorf("no text report:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "faya: cannot save the run to "+saved+": no space left on device") {
		t.Errorf("the run file's failure was not said during the run:\n%s", r.stderr)
	}
	if b, _ := os.ReadFile(js); string(b) != "an earlier report" {
		t.Errorf("the earlier JSON report was changed to %d bytes", len(b))
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "a.json filler r.faya" {
		t.Errorf("files on the disk: %v, want a.json filler r.faya", names)
	}
	held := regexp.MustCompile(`\(the file holds the first (\d+ intervals|interval), without the run's end; faya report reads (them|it)\)`).FindStringSubmatch(r.stderr)
	if held == nil {
		t.Fatalf("stderr does not say what the run file holds:\n%s", r.stderr)
	}
	n := strings.TrimSuffix(held[1], " intervals")
	if n == "interval" {
		n = "1"
	}
	back := faya(t.Context(), "report", saved)
	if back.code != cli.ExitOK || !regexp.MustCompile(` was cut after `+n+` intervals? `).MatchString(back.stderr) || !strings.Contains(back.stdout, "PARTIAL") {
		t.Errorf("faya report of the cut file: exit %d\n%s\n%s", back.code, back.stderr, back.stdout)
	}
}
