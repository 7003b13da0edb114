package defaultclienttimeout

import (
	"context"
	"io"
	"net/http"
	"time"
)

func drain(resp *http.Response, err error) {
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// Positive: http.Get in a loop.
func poll(urls []string) {
	for _, u := range urls {
		drain(http.Get(u)) // want `default-client-timeout: http.Get sends through http.DefaultClient, which has no timeout at all, in the loop at line 19`
	}
}

// Positive: http.DefaultClient in a handler.
func handle(w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequest("GET", "http://backend/", nil)
	drain(http.DefaultClient.Do(req)) // want `default-client-timeout: http.DefaultClient has no timeout at all, in the HTTP handler handle`
}

// Positive: in a handler literal.
func register(mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		drain(http.Post("http://backend/", "text/plain", nil)) // want `default-client-timeout: http.Post sends through http.DefaultClient.*in an HTTP handler`
	})
}

// Negative: once, at startup.
func fetchConfig() {
	drain(http.Get("http://config/"))
}

// Negative: a Client with a timeout.
var client = &http.Client{Timeout: 5 * time.Second}

func pollWithClient(urls []string) {
	for _, u := range urls {
		drain(client.Get(u))
	}
}

// Negative: the request carries a deadline of the caller's.
func pollWithContext(ctx context.Context, urls []string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for _, u := range urls {
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		drain(http.DefaultClient.Do(req))
	}
}
