package main

import (
	"net/http"
	"testing"
)

// Negative: a test runs once.
func TestPing(t *testing.T) {
	resp, err := http.Get("http://example.invalid/")
	if err != nil {
		t.Skip(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
}

// Positive: the test's own loop needs the connection again.
func TestPings(t *testing.T) {
	for range 3 {
		resp, err := http.Get("http://example.invalid/")
		if err != nil {
			t.Skip(err)
		}
		resp.Body.Close() // want `body-not-drained: resp.Body is closed here without having been read`
	}
}
