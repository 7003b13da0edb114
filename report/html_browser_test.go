package report_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/faya-load/faya/report"
)

// chromium finds a Chromium or Chrome to run the browser test with.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "chromium not installed (apt-get install chromium)"
	if os.Getenv("FAYA_CI") == "1" {
		t.Fatal(msg + "; FAYA_CI=1 requires it")
	}
	t.Skip(msg)
	return ""
}

// chartInfo is what the page says about one svg.chart.
type chartInfo struct {
	Name   string  `json:"name"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	// Paths are the path[data-series] with a non-empty d and a length;
	// Points their data-points.
	Paths  int   `json:"paths"`
	Points []int `json:"points"`
	// Rects are the rect[data-series] drawn with a positive size.
	Rects int `json:"rects"`
	// Overflow counts the labels drawn outside the chart's box.
	Overflow []string `json:"overflow"`
}

const chartsJS = `[...document.querySelectorAll('svg.chart')].map(svg => {
	const box = svg.getBoundingClientRect();
	const paths = [...svg.querySelectorAll('path[data-series]')]
		.filter(p => (p.getAttribute('d') || '').trim() !== '' && p.getBBox().width > 0);
	const rects = [...svg.querySelectorAll('rect[data-series]')].filter(r => {
		const b = r.getBoundingClientRect();
		return b.width > 0 && b.height > 0;
	});
	const overflow = [...svg.querySelectorAll('text')].filter(t => {
		const b = t.getBoundingClientRect();
		return b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 || b.bottom > box.bottom + 1;
	}).map(t => t.textContent);
	return {
		name: svg.dataset.chart, width: box.width, height: box.height,
		paths: paths.length, points: paths.map(p => Number(p.dataset.points)),
		rects: rects.length, overflow: overflow,
	};
})`

// The report opens in a real browser without a console error or a
// request for anything, and every chart is drawn with its data.
func TestHTMLInBrowser(t *testing.T) {
	exe := chromium(t)
	rep := report.Build(richFixture())
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.HTML(f, rep); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// One bound for everything, the browser's start included: the race
	// detector and other packages' tests share the machine's CPUs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()

	var mu sync.Mutex
	var problems []string
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		// Runs in the tab's read loop: note and return.
		var p string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				p = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			if d := ev.ExceptionDetails; d != nil {
				p = "exception: " + d.Text
				if d.Exception != nil {
					p += " " + d.Exception.Description
				}
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				p = fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "about:") {
				p = "request for " + u
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	}))
	defer cancelBrowser()

	u := (&url.URL{Scheme: "file", Path: filepath.ToSlash(page)}).String()
	if err := chromedp.Do(bctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("opening %s: %v", u, err)
	}
	title, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.title`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(title, "faya report") {
		t.Errorf("title %q", title)
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartInfo](chartsJS))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ paths, rects int }{
		"throughput": {2, 0}, "latency": {2, 0}, "dials": {2, 0}, "connections": {3, 0},
		"spectrum": {1, 0}, "phases": {0, 3 * len(rep.Phases)}, "status": {0, len(rep.Status)},
	}
	if len(charts) != len(want) {
		t.Errorf("%d charts, want %d", len(charts), len(want))
	}
	for _, c := range charts {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected chart %q", c.Name)
			continue
		}
		delete(want, c.Name)
		if c.Width < 100 || c.Height < 100 {
			t.Errorf("%s: drawn %.0f×%.0f px", c.Name, c.Width, c.Height)
		}
		if c.Paths != w.paths || c.Rects != w.rects {
			t.Errorf("%s: %d paths and %d bars drawn, want %d and %d", c.Name, c.Paths, c.Rects, w.paths, w.rects)
		}
		for _, n := range c.Points {
			wantN := timelineLen
			if c.Name == "spectrum" {
				wantN = len(rep.LatencySpectrum)
			}
			if n != wantN {
				t.Errorf("%s: a series of %d points, want %d", c.Name, n, wantN)
			}
		}
		if len(c.Overflow) > 0 {
			t.Errorf("%s: labels outside the chart: %q", c.Name, c.Overflow)
		}
	}
	for name := range want {
		t.Errorf("chart %s missing", name)
	}

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	// t.TempDir goes with the test: FAYA_HTML_SCREENSHOT=FILE keeps a copy.
	if dst := os.Getenv("FAYA_HTML_SCREENSHOT"); dst != "" {
		if err := os.WriteFile(dst, png, 0o644); err != nil {
			t.Error(err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}
