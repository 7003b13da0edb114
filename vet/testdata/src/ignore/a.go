package ignore

import "net/http"

var client = &http.Client{}

func ping(url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	// faya:ignore body-not-drained -- the status is all we need; the server closes anyway
	defer resp.Body.Close()
	return resp.StatusCode
}

func ping2(url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close() // faya:ignore resp-before-err (another check: this one still reports) // want `body-not-drained`
	return resp.StatusCode
}

func ping3(url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close() //faya:ignore body_not_drained,resp-before-err
	return resp.StatusCode
}
