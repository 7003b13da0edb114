package respbeforeerr

import (
	"io"
	"log"
	"net/http"
)

var client = &http.Client{}

// Positive: the form go vet's httpresponse reports too.
func deferFirst(url string) error {
	resp, err := client.Get(url)
	defer resp.Body.Close() // want `resp-before-err: the Close of resp.Body is deferred before err from client.Get is checked: on a network error resp is nil`
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// Positive: the deferred closure form, which httpresponse misses.
func deferClosure(url string) bool {
	res, err := http.Get(url)
	defer func() { // want `resp-before-err: the Close of res.Body is deferred before err from http.Get is checked`
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
	}()
	if err != nil {
		return false
	}
	return res.StatusCode == 200
}

// Positive: a field read before the check.
func statusFirst(req *http.Request) (int, error) {
	resp, err := client.Do(req)
	code := resp.StatusCode // want `resp-before-err: resp.StatusCode is used before err from client.Do is checked`
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return code, nil
}

// Positive: the error is discarded.
func discarded(url string) int {
	resp, _ := client.Get(url)
	defer resp.Body.Close() // want `resp-before-err: resp.Body is used but the error of client.Get is discarded`
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// Negative: checked first.
func checked(url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Negative: the closure checks for nil itself.
func nilChecked(url string) {
	resp, err := client.Get(url)
	defer func() {
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	if err != nil {
		log.Print(err)
	}
}

// Negative: err handled in the same condition.
func combined(url string) error {
	resp, err := client.Get(url)
	if err != nil || resp.StatusCode != 200 {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
