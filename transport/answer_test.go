package transport

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
)

func TestAnswerCloseReason(t *testing.T) {
	for _, tc := range []struct {
		name                                   string
		truncated, closes, clientAsked, extras bool
		want                                   metrics.CloseReason
		ok                                     bool
	}{
		{name: "kept"},
		{name: "cut at the cap", truncated: true, want: metrics.CloseBodyNotDrained, ok: true},
		{name: "cut beats the server's close", truncated: true, closes: true, want: metrics.CloseBodyNotDrained, ok: true},
		{name: "server closes", closes: true, want: metrics.CloseServer, ok: true},
		{name: "client asked", closes: true, clientAsked: true, want: metrics.CloseKeepAlivesDisabled, ok: true},
		{name: "bytes beyond", extras: true, want: metrics.CloseBroken, ok: true},
		{name: "server close beats bytes beyond", closes: true, extras: true, want: metrics.CloseServer, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := AnswerCloseReason(tc.truncated, tc.closes, tc.clientAsked, tc.extras)
			if got != tc.want || ok != tc.ok {
				t.Errorf("AnswerCloseReason = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRedirectOf(t *testing.T) {
	from, _ := url.Parse("http://a.example/p/q?x=1")
	for _, tc := range []struct {
		method   string
		status   int
		location string
		ok       bool
		want     Redirect // URL compared as a string
		url      string
	}{
		{method: "GET", status: 200, location: "/x"},
		{method: "GET", status: 304, location: "/x"},
		{method: "GET", status: 302},
		{method: "POST", status: 301, location: "/x", ok: true, want: Redirect{Method: "GET", SameHost: true}, url: "http://a.example/x"},
		{method: "POST", status: 302, location: "r", ok: true, want: Redirect{Method: "GET", SameHost: true}, url: "http://a.example/p/r"},
		{method: "PUT", status: 303, location: "/x", ok: true, want: Redirect{Method: "GET", SameHost: true}, url: "http://a.example/x"},
		{method: "HEAD", status: 303, location: "/x", ok: true, want: Redirect{Method: "HEAD", KeepBody: true, SameHost: true}, url: "http://a.example/x"},
		{method: "POST", status: 307, location: "/x", ok: true, want: Redirect{Method: "POST", KeepBody: true, SameHost: true}, url: "http://a.example/x"},
		{method: "PUT", status: 308, location: "http://b.example/y", ok: true, want: Redirect{Method: "PUT", KeepBody: true}, url: "http://b.example/y"},
		{method: "GET", status: 302, location: "http://a.example:8080/", ok: true, want: Redirect{Method: "GET"}, url: "http://a.example:8080/"},
	} {
		got, ok, err := RedirectOf(tc.method, from, tc.status, tc.location)
		if err != nil || ok != tc.ok {
			t.Errorf("%s %d %q: ok %v, err %v; want ok %v", tc.method, tc.status, tc.location, ok, err, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		u := got.URL.String()
		got.URL = nil
		if got != tc.want || u != tc.url {
			t.Errorf("%s %d %q: %+v to %s, want %+v to %s", tc.method, tc.status, tc.location, got, u, tc.want, tc.url)
		}
	}
	_, _, err := RedirectOf("GET", from, 302, "http://[::1")
	var bad *BadLocationError
	if !errors.As(err, &bad) || metrics.Classify(err) != metrics.ErrProtocol {
		t.Errorf("a Location that is no URL: %v (class %v), want a BadLocationError of class protocol", err, metrics.Classify(err))
	}
}

func TestCrossHostHeader(t *testing.T) {
	h := http.Header{}
	for _, name := range []string{"Host", "Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization", "Accept", "X-Trace"} {
		h.Set(name, "v")
	}
	got := CrossHostHeader(h)
	if len(got) != 2 || got.Get("Accept") != "v" || got.Get("X-Trace") != "v" {
		t.Errorf("CrossHostHeader kept %v, want Accept and X-Trace only", got)
	}
	if len(h) != 8 {
		t.Errorf("CrossHostHeader changed its argument: %v", h)
	}
}

func TestFillTimes(t *testing.T) {
	var tm Timings
	tm.Set(metrics.PhaseBlocked, 3*time.Millisecond)
	tm.Set(metrics.PhaseWait, 5*time.Millisecond)
	var s metrics.Sample
	FillTimes(&s, 10*time.Millisecond, 20*time.Millisecond, -1, &tm)
	if s.End != 20*time.Millisecond || s.Latency != 10*time.Millisecond || s.ServiceTime != 7*time.Millisecond || s.Scheduled || s.Lag != 0 {
		t.Errorf("unscheduled: end %v latency %v service %v scheduled %v lag %v; want 20ms 10ms 7ms false 0", s.End, s.Latency, s.ServiceTime, s.Scheduled, s.Lag)
	}
	if s.PhaseSet != 1<<metrics.PhaseBlocked|1<<metrics.PhaseWait || s.Phases[metrics.PhaseWait] != 5*time.Millisecond {
		t.Errorf("phases %b %v, want blocked and wait (5ms)", s.PhaseSet, s.Phases)
	}
	s = metrics.Sample{}
	FillTimes(&s, 10*time.Millisecond, 20*time.Millisecond, 4*time.Millisecond, &tm)
	if !s.Scheduled || s.Lag != 6*time.Millisecond || s.Latency != 16*time.Millisecond || s.ServiceTime != 7*time.Millisecond {
		t.Errorf("scheduled: scheduled %v lag %v latency %v service %v; want true 6ms 16ms 7ms", s.Scheduled, s.Lag, s.Latency, s.ServiceTime)
	}
}
