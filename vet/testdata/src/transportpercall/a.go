package main

import (
	"io"
	"net/http"
	"time"
)

// newClient is a constructor: every call returns a new Transport.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Second}
}

// Positive: a Transport built and used for one request.
func fetchOnce(url string) error {
	tr := &http.Transport{} // want `transport-per-call: a new http.Transport is built for every call of fetchOnce, and it serves one request`
	client := &http.Client{Transport: tr}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// Positive: the constructor is followed.
func fetchViaCtor(url string) error {
	resp, err := newClient().Get(url) // want `transport-per-call: newClient builds a new http.Transport \(at a.go:11\) for every call of fetchViaCtor`
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// Positive: a new Transport on every iteration.
func poll(urls []string) {
	for _, u := range urls {
		c := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()} // want `transport-per-call: a new http.Transport is built on every iteration of the loop at line 40`
		for range 3 {
			resp, err := c.Get(u)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
}

// Positive: an HTTP handler that builds a Transport per request it serves.
func proxy(w http.ResponseWriter, r *http.Request) {
	c := &http.Client{Transport: new(http.Transport)} // want `transport-per-call: a new http.Transport is built for every call of proxy \(an HTTP handler: once per request it serves\)`
	resp, err := c.Get("http://backend/" + r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(w, resp.Body)
}

// Negative: built once in main and passed down.
func main() {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 10 {
		_ = get(client, "http://example.invalid/")
	}
	c2 := newClient()
	resp, err := c2.Get("http://example.invalid/")
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// Negative: kept in a field.
type service struct{ client *http.Client }

func (s *service) lazy(url string) error {
	if s.client == nil {
		s.client = &http.Client{Transport: &http.Transport{}}
	}
	return get(s.client, url)
}

// Negative: kept in a package variable.
var shared *http.Client

func initShared() { shared = &http.Client{Transport: &http.Transport{}} }

// Negative: kept by a closure that outlives the call.
func handler() http.HandlerFunc {
	c := &http.Client{Transport: &http.Transport{}}
	return func(w http.ResponseWriter, r *http.Request) {
		_ = get(c, "http://backend/")
	}
}

// Negative: one Transport serves many requests.
func crawl(urls []string) {
	c := &http.Client{Transport: &http.Transport{}}
	for _, u := range urls {
		_ = get(c, u)
	}
	defer c.CloseIdleConnections()
}

// Negative: a Transport per proxy, kept in a slice.
func pools(proxies []string) []*http.Transport {
	var out []*http.Transport
	for range proxies {
		out = append(out, &http.Transport{})
	}
	return out
}

// Negative: a Client per call over a shared Transport costs nothing.
func withShared(tr http.RoundTripper, url string) error {
	c := &http.Client{Transport: tr, Timeout: time.Second}
	return get(c, url)
}
