package transport

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/faya-load/faya/metrics"
)

// AnswerCloseReason is why a connection that carried an answer is closed
// after it, when it is: the body was cut at the cap (body_not_drained);
// the connection cannot carry another request by the server's doing
// (it said "Connection: close", answered HTTP/1.0 without keep-alive,
// or delimited the body by closing: server), unless the client asked
// for the close itself (keepalives_disabled: its request said
// "Connection: close", or keep-alives are off); bytes came beyond the
// response (broken). ok is
// false for a connection that may be reused. Every engine sets its
// connection's reason through it, so they name the same closes alike.
func AnswerCloseReason(truncated, closes, clientAsked, extraBytes bool) (r metrics.CloseReason, ok bool) {
	switch {
	case truncated:
		return metrics.CloseBodyNotDrained, true
	case closes && !clientAsked:
		return metrics.CloseServer, true
	case closes:
		return metrics.CloseKeepAlivesDisabled, true
	case extraBytes:
		return metrics.CloseBroken, true
	}
	return 0, false
}

// Redirect is where a redirect answer sends a request next.
type Redirect struct {
	Method string
	URL    *url.URL
	// KeepBody says the body is sent again (307, 308); 301, 302 and 303
	// drop it.
	KeepBody bool
	// SameHost says URL is on the host of the request redirected; when it
	// is not, the next request's header goes through [CrossHostHeader].
	SameHost bool
}

// RedirectOf returns where an answer of status with Location location
// sends a request made with method to from. ok is false when the answer
// is not one to follow: not 301, 302, 303, 307 or 308, or no Location.
// 301, 302 and 303 turn into a GET without a body (HEAD stays HEAD), as
// net/http's client does; 307 and 308 repeat the method and body. A
// Location that is no URL is a malformed response. Every engine follows
// redirects through it.
func RedirectOf(method string, from *url.URL, status int, location string) (next Redirect, ok bool, err error) {
	switch status {
	case 301, 302, 303, 307, 308:
	default:
		return Redirect{}, false, nil
	}
	if location == "" {
		return Redirect{}, false, nil
	}
	u, err := from.Parse(location)
	if err != nil {
		return Redirect{}, false, &BadLocationError{Location: location, Err: err}
	}
	next = Redirect{Method: method, URL: u, KeepBody: true, SameHost: u.Host == from.Host}
	if status <= 303 && method != http.MethodHead {
		next.Method, next.KeepBody = http.MethodGet, false
	}
	return next, true, nil
}

// BadLocationError is a redirect whose Location is no URL: a malformed
// response (class protocol).
type BadLocationError struct {
	Location string
	Err      error
}

func (e *BadLocationError) Error() string {
	return fmt.Sprintf("malformed HTTP response: bad Location %q: %v", e.Location, e.Err)
}

// Unwrap returns the URL parser's error.
func (e *BadLocationError) Unwrap() error { return e.Err }

// ErrClass is metrics.ErrProtocol.
func (e *BadLocationError) ErrClass() metrics.ErrClass { return metrics.ErrProtocol }

// crossHostHeaders are the request headers not sent on to another host
// when following a redirect (credentials, as net/http's client does; the
// cookie jar gives the next host its own cookies).
var crossHostHeaders = [...]string{"Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization"}

// CrossHostHeader returns a copy of h for a redirect to another host:
// without its Host and the credentials of the first.
func CrossHostHeader(h http.Header) http.Header {
	h = h.Clone()
	h.Del("Host")
	for _, name := range crossHostHeaders {
		h.Del(name)
	}
	return h
}
