// Command h2nethttp is Go's net/http HTTP/2 client at its plainest, as a
// baseline for bench/compare.sh h2: -c goroutines send -n GETs over at
// most -m connections (http.Transport with HTTP/2, MaxConnsPerHost -m),
// each body read to its end. It prints nothing but errors; the script
// takes its CPU time and nginx's request count.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
)

func main() {
	c := flag.Int("c", 100, "goroutines")
	m := flag.Int("m", 1, "connections at most (MaxConnsPerHost)")
	n := flag.Int64("n", 200000, "requests")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: h2nethttp [-c N] [-m N] [-n N] URL")
		os.Exit(2)
	}
	url := flag.Arg(0)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a benchmark against a self-signed loopback nginx
		ForceAttemptHTTP2: true,
		MaxConnsPerHost:   *m,
		// Idle connections kept as many as it may open, so that a
		// connection returned when HTTP/1.1 is spoken is not closed.
		MaxIdleConnsPerHost: *m,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr}
	var next, fails atomic.Int64
	var wg sync.WaitGroup
	for range *c {
		wg.Go(func() {
			for next.Add(1) <= *n {
				resp, err := client.Get(url)
				if err != nil {
					fails.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
					fails.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if f := fails.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "%d requests failed (or were not HTTP/2 200)\n", f)
		os.Exit(1)
	}
}
