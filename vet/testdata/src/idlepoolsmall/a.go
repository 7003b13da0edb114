package idlepoolsmall

import (
	"io"
	"net/http"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Positive: Go's default of 2 idle connections per host.
var tuned = &http.Client{Transport: &http.Transport{MaxIdleConns: 100}} // want `idle-pool-small: MaxIdleConnsPerHost is unset, so this Transport keeps at most 2 idle connections per host \(http.DefaultMaxIdleConnsPerHost\) and goroutines use this Transport \(go statement at a.go:\d+; a heuristic`

// Positive: an idle pool below the cap on connections.
var capped = &http.Transport{
	MaxConnsPerHost:     64,
	MaxIdleConnsPerHost: 8, // want `idle-pool-small: MaxIdleConnsPerHost \(8\) is below MaxConnsPerHost \(64\)`
}

// Positive: a cap on connections and the default idle pool.
func newCapped() *http.Transport {
	return &http.Transport{ // want `idle-pool-small: MaxIdleConnsPerHost is unset.*here MaxConnsPerHost \(32\)`
		MaxConnsPerHost: 32,
	}
}

var fromCtor = newCapped()

// Negative: sized for the goroutines.
var sized = &http.Transport{MaxIdleConns: 50, MaxIdleConnsPerHost: 50, MaxConnsPerHost: 50}

// Negative: no goroutine uses it.
var lonely = &http.Transport{}

// Negative: the limit is set after the literal.
var later = &http.Transport{}

func init() { later.MaxIdleConnsPerHost = 50; later.MaxConnsPerHost = 50 }

func get(c *http.Client, u string) {
	resp, err := c.Get(u)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
}

func load(u string) {
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(tuned, u)
			get(&http.Client{Transport: capped}, u)
			get(&http.Client{Transport: sized}, u)
			get(&http.Client{Transport: later}, u)
		}()
	}
	wg.Wait()
	var g errgroup.Group
	g.Go(func() error { get(&http.Client{Transport: fromCtor}, u); return nil })
	_ = g.Wait()
	get(&http.Client{Transport: lonely}, u)
}
