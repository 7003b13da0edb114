package report_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/report"
)

// The run's last interval, cut short by its end (here 30 ms, with a
// handful of requests and the pool closed), is drawn as partial: each
// timeline series is solid up to the last full second, then dashed to a
// hollow marker, and the chart's note says so. A run ending on a full
// second has no partial part.
func TestHTMLPartialLastInterval(t *testing.T) {
	run := richFixture()
	last := run.Timeline[len(run.Timeline)-1]
	last.T = run.Timeline[len(run.Timeline)-2].T + 30*time.Millisecond
	last.Requests, last.RPS, last.ConnsOpen, last.ConnsActive = 3, 100, 0, 0
	run.Timeline[len(run.Timeline)-1] = last
	_, svg := htmlCharts(t, renderHTML(t, report.Build(run)))
	partialRe := regexp.MustCompile(`<path data-partial="([^"]+)" data-points="(\d+)" d="([^"]*)"[^>]* stroke-dasharray="[^"]+"`)
	lines := map[string][]string{
		"throughput":  {"requests/s", "errors/s"},
		"latency":     {"p50", "p99"},
		"dials":       {"requests/s", "new connections/s"},
		"connections": {"open", "active", "idle"},
	}
	for chart, series := range lines {
		solid := pathRe.FindAllStringSubmatch(svg[chart], -1)
		partial := partialRe.FindAllStringSubmatch(svg[chart], -1)
		if len(solid) != len(series) || len(partial) != len(series) {
			t.Errorf("%s: %d solid and %d partial paths, want %d of each", chart, len(solid), len(partial), len(series))
			continue
		}
		for i := range series {
			s, p := solid[i], partial[i]
			sc, pc := cmdRe.FindAllStringSubmatch(s[3], -1), cmdRe.FindAllStringSubmatch(p[3], -1)
			if s[1] != series[i] || p[1] != series[i] || s[2] != strconv.Itoa(timelineLen-1) || len(sc) != timelineLen-1 || p[2] != "2" || len(pc) != 2 {
				t.Errorf("%s %s: solid %s (%d points), partial %s %s (%d points); want %d and 2", chart, series[i], s[1], len(sc), p[1], p[2], len(pc), timelineLen-1)
				continue
			}
			// The partial part starts where the solid one ends.
			if end := sc[len(sc)-1]; pc[0][2] != end[2] || pc[0][3] != end[3] {
				t.Errorf("%s %s: the partial part starts at %s %s, the solid one ends at %s %s", chart, series[i], pc[0][2], pc[0][3], end[2], end[3])
			}
		}
		if n := strings.Count(svg[chart], `fill="white"`); n != len(series) {
			t.Errorf("%s: %d hollow markers, want %d", chart, n, len(series))
		}
		if !strings.Contains(svg[chart], "(the last 30.0ms of the run: partial)") {
			t.Errorf("%s: no marker says the last point is partial", chart)
		}
	}
	page := renderHTML(t, report.Build(run))
	if !strings.Contains(page, "The last interval lasted 30.0ms, to the end of the run: dashed.") {
		t.Errorf("no chart note names the partial interval")
	}

	_, svg = htmlCharts(t, renderHTML(t, report.Build(richFixture())))
	for chart := range lines {
		if strings.Contains(svg[chart], "data-partial") || strings.Contains(svg[chart], `fill="white"`) {
			t.Errorf("%s: a partial part in a run that ended on a full second", chart)
		}
	}
}
