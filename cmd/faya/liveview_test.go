package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/testserver"
)

// The live view on an 80x24 terminal (tmux): every line fits, and each
// redraw replaces the last frame, so the screen shows one frame, never a
// stale one above it.
func TestLiveViewOn80Columns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	bin := build(t)
	srv := testserver.Start(t)
	sock := fmt.Sprintf("faya-test-%d", os.Getpid())
	tmux := func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := tmux("new-session", "-d", "-x", "80", "-y", "24",
		bin+" run -c 2 -d 1m --max-conns-per-host 2 "+srv.URL+"/slow?ms=5; sleep 60"); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { _, _ = tmux("kill-server") })
	var screen string
	for i := 0; ; i++ {
		out, err := tmux("capture-pane", "-p", "-J") // -J: a line the terminal wrapped shows whole
		if err != nil {
			t.Fatalf("capture-pane: %v %s", err, out)
		}
		screen = out
		if strings.Contains(screen, " 0:04 / 1:00") {
			break
		}
		if i == 300 {
			t.Fatalf("no frame at 0:04 after 30 s:\n%s", screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := strings.Count(screen, "faya  ["); n != 1 {
		t.Errorf("%d frames on the screen, want 1:\n%s", n, screen)
	}
	for _, l := range strings.Split(screen, "\n") {
		if n := len([]rune(l)); n >= 80 {
			t.Errorf("a line of %d columns on an 80-column terminal: %q", n, l)
		}
	}
	if !strings.Contains(screen, "req/s") || !strings.Contains(screen, "conns open 2") {
		t.Errorf("the frame lacks its figures:\n%s", screen)
	}
}
