package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

var client = &http.Client{}

// Positive: closed and never read.
func ping(url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close() // want `body-not-drained: the deferred Close of resp.Body runs without the body having been read when the function returns at line 19`
	return resp.StatusCode, nil
}

// Positive: read on one path only.
func decode(url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close() // want `body-not-drained: the deferred Close of resp.Body runs without the body having been read when the function returns at line 30`
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Positive: an explicit Close, unread.
func status(req *http.Request) int {
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close() // want `body-not-drained: resp.Body is closed here without having been read`
	return resp.StatusCode
}

// Positive: the deferred closure form.
func closure(url string) bool {
	res, err := client.Get(url)
	if err != nil {
		return false
	}
	defer func() { // want `body-not-drained: the deferred Close of res.Body runs without the body having been read`
		_ = res.Body.Close()
	}()
	return res.StatusCode == 200
}

// Negative: drained before the Close.
func drained(url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// Negative: a deferred closure that drains.
func drainedInDefer(url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}()
	return resp.StatusCode
}

// Negative: HEAD has no body.
func head(url string) int {
	resp, err := client.Head(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// Negative: the response is handed on; the caller reads it.
func handOn(url string) (*http.Response, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return resp, nil
	}
	return resp, nil
}

// Negative: a helper reads the body.
func viaHelper(url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return consume(resp.Body)
}

func consume(r io.Reader) error { _, err := io.ReadAll(r); return err }

// Negative: the error path has no body to read.
func errorPath(url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	_ = b
	return err
}

// Negative: main runs once; there is no next request to dial for.
func main() {
	resp, err := client.Get("http://example.invalid/")
	if err != nil {
		return
	}
	resp.Body.Close()
}
