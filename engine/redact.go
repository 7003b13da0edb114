package engine

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// MaxKeptBody is the largest body a redacted plan keeps.
const MaxKeptBody = 64 << 10

// Redacted is the marker that replaces a secret in a redacted plan.
const Redacted = "REDACTED"

// secretHeaders are the headers a redacted plan does not keep.
var secretHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "X-Auth-Token"}

// Redacted returns a copy of p to keep or show: header values that carry
// credentials, passwords in URLs (steps and proxies), setup steps' bodies
// (logins) and secret-named form and JSON fields, and the data sources'
// rows (logins, often) are replaced, so that a saved run never holds
// them; so are bodies over MaxKeptBody (a saved run's header stays
// small). It describes the plan; it is not a plan to run again.
func (p Plan) Redacted() Plan {
	p.Scenarios = slices.Clone(p.Scenarios)
	for i := range p.Scenarios {
		sc := &p.Scenarios[i]
		sc.Func = nil
		sc.Setup = redactSteps(sc.Setup)
		for j := range sc.Setup {
			// A setup step is a login: its body holds the password.
			if len(sc.Setup[j].Body) > 0 {
				sc.Setup[j].Body = []byte(Redacted)
			}
		}
		sc.Steps = redactSteps(sc.Steps)
	}
	p.Data = slices.Clone(p.Data)
	for i := range p.Data {
		if n := len(p.Data[i].Rows); n > 0 {
			p.Data[i].Rows = [][]string{{Redacted}}
		}
	}
	p.Proxy.URLs = slices.Clone(p.Proxy.URLs)
	for i, u := range p.Proxy.URLs {
		p.Proxy.URLs[i] = redactURL(u)
	}
	return p
}

func redactSteps(steps []Step) []Step {
	steps = slices.Clone(steps)
	for i := range steps {
		st := &steps[i]
		st.URL = redactURL(st.URL)
		if len(st.Body) > MaxKeptBody {
			st.Body = []byte(fmt.Sprintf("%s: %d bytes", Redacted, len(st.Body)))
		}
		if len(st.Header) > 0 {
			h := st.Header.Clone()
			for name := range h {
				if slices.ContainsFunc(secretHeaders, func(s string) bool { return strings.EqualFold(s, name) }) {
					h[name] = []string{Redacted}
				}
			}
			st.Header = h
		}
		for j := range st.Form {
			if secretName(st.Form[j].Name) {
				st.Form = slices.Clone(st.Form)
				st.Form[j].Value = Redacted
			}
		}
		if m, ok := st.JSON.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, v := range m {
				if secretName(k) {
					v = Redacted
				}
				out[k] = v
			}
			st.JSON = out
		}
	}
	return steps
}

// secretName reports whether a form or JSON field's name says it holds a
// secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "pass") || strings.Contains(n, "secret") || strings.Contains(n, "token")
}

// redactURL hides a URL's password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Redacted)
	}
	return u.String()
}
