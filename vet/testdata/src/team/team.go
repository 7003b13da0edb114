// Package team is the code of the team in faya's background.md, as it was:
// a constructor builds a new, carefully tuned Client and Transport; the
// function that sends one request calls it, defers the body's Close in a
// closure before it looks at the error, and returns whether the status
// was 200 without reading the body.
package team

import (
	"net/http"
	"sync"
	"time"
)

// NewHTTPClient returns a client tuned for load.
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        1000,
		MaxIdleConnsPerHost: 1000,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func callEndpoint(url string) bool {
	client := NewHTTPClient() // want `transport-per-call: NewHTTPClient builds a new http.Transport \(at team.go:16\) for every call of callEndpoint \(called in a loop at team.go:\d+\), and it serves one request: its connection pool goes with it`
	res, err := client.Get(url)
	defer func() { // want `resp-before-err: the Close of res.Body is deferred before err from client.Get is checked` `body-not-drained: the deferred Close of res.Body runs without the body having been read when the function returns at line 33`
		_ = res.Body.Close()
	}()
	if err != nil {
		return false
	}
	return res.StatusCode == 200
}

// Run sends n requests to url from workers goroutines.
func Run(url string, workers, n int) (ok int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / workers {
				if callEndpoint(url) {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return ok
}
