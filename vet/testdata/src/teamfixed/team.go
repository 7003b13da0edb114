// Package teamfixed is the team's code corrected: one Client and
// Transport for the program, sized for its workers, the error checked
// first, the body read to EOF before its Close.
package teamfixed

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// NewHTTPClient returns a client tuned for workers requests at once.
func NewHTTPClient(workers int) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		MaxConnsPerHost:     workers,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func callEndpoint(client *http.Client, url string) bool {
	res, err := client.Get(url)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode == 200
}

// Run sends n requests to url from workers goroutines.
func Run(url string, workers, n int) (ok int) {
	client := NewHTTPClient(workers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / workers {
				if callEndpoint(client, url) {
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
