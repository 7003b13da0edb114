// Command browse is a faya scenario written in Go: each VU logs in to the
// built-in target once, then browses with its session (its cookies), one
// item after another. Every request goes through the VU's client, so it is
// traced and measured per step like the steps of a scenario file.
//
// Start the target, then run the example:
//
//	go run ./cmd/faya target --addr 127.0.0.1:8080 &
//	go run ./examples/browse -base http://127.0.0.1:8080 -vus 20 -d 10s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/report"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:8080", "the built-in target's URL (faya target)")
	vus := flag.Int("vus", 20, "VUs, each a user with a session of its own")
	duration := flag.Duration("d", 10*time.Second, "how long to browse")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	run, err := browseRun(ctx, *base, engine.Executor{Type: engine.VUs, VUs: *vus, Duration: *duration})
	if err != nil {
		fmt.Fprintln(os.Stderr, "browse:", err)
		os.Exit(1)
	}
	if err := report.Text(os.Stdout, report.Build(run)); err != nil {
		fmt.Fprintln(os.Stderr, "browse:", err)
		os.Exit(1)
	}
}

// browseRun runs the browse scenario against base with the executor
// given, and describes it for its report.
func browseRun(ctx context.Context, base string, ex engine.Executor) (report.Run, error) {
	eng, err := engine.New(engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "browse",
		Executor: ex,
		Func:     browse(base),
	}}})
	if err != nil {
		return report.Run{}, err
	}
	res, err := eng.Run(ctx)
	if err != nil {
		return report.Run{}, err
	}
	return report.Run{Meta: report.Describe(eng), Result: *res}, nil
}

// browse logs a VU in once, as user<ID>, then on each iteration lists the
// items and opens the next one.
func browse(base string) *engine.Func {
	return &engine.Func{
		Setup: func(ctx context.Context, vu *engine.VU) error {
			form := url.Values{"user": {"user" + strconv.Itoa(vu.ID)}, "password": {"secret"}}
			req, err := http.NewRequestWithContext(engine.WithStep(ctx, "login"), http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return call(vu.Client(), req, nil)
		},
		Iteration: func(ctx context.Context, vu *engine.VU) error {
			var list struct{ Items []struct{ ID int } }
			if err := get(ctx, vu, "list", base+"/items", &list); err != nil {
				return err
			}
			if len(list.Items) == 0 {
				return errors.New("no items")
			}
			// The VU's variables live as long as the VU: it walks the
			// items in turn.
			n, _ := strconv.Atoi(vu.Vars["next"])
			id := list.Items[n%len(list.Items)].ID
			vu.Vars["next"] = strconv.Itoa(n + 1)
			var item struct {
				ID   int
				Name string
			}
			if err := get(ctx, vu, "item", fmt.Sprintf("%s/items/%d", base, id), &item); err != nil {
				return err
			}
			if item.ID != id {
				return fmt.Errorf("item %d answered as %d", id, item.ID)
			}
			return nil
		},
	}
}

// get sends a GET as the step named step and decodes the JSON answer.
func get(ctx context.Context, vu *engine.VU, step, url string, into any) error {
	req, err := http.NewRequestWithContext(engine.WithStep(ctx, step), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return call(vu.Client(), req, into)
}

// call sends req, reads the body to the end (so the connection is reused)
// and decodes it into into, if given.
func call(c *http.Client, req *http.Request, into any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	if into == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
