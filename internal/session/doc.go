// Package session is a virtual user's state across the requests of faya's
// scenarios, kept per VU and never shared: its cookie jar (a browser's
// session), its variables and data rows, and the templates, extractions
// and checks that read and write them.
//
// # Cookies
//
// A [Jar] is net/http/cookiejar with the public suffix list
// (golang.org/x/net/publicsuffix), so it scopes cookies as a browser does:
// by host, Domain and Path, and it refuses a cookie whose Domain is a
// public suffix (Domain=co.uk, Domain=com). [Jar.SetCookieLines] takes the
// raw Set-Cookie lines of a response, [Jar.CookieHeader] gives the Cookie
// header of the next request, and the jar is also an [http.CookieJar] for
// an http.Client. [Jar.Reset] starts a new browser session. An empty jar
// costs nothing.
//
// # Templates
//
// Request fields are Go text/template, parsed once by [Parse] when the
// plan is compiled (a string without "{{" stays a constant, see
// [Template.Static]) and rendered per request against the VU's [Data]:
//
//	{{ .vars.NAME }}        a variable extracted from an earlier response
//	{{ .data.SOURCE.COL }}  the VU's current row of a data source
//	{{ .vu }} {{ .iter }}   the VU's number (from 1) and its iteration (from 1)
//	{{ env "NAME" }}        an environment variable
//	{{ randInt 1 100 }}     a random integer in [1, 100]
//	{{ uuid }}              a random UUID
//
// [Parse] also returns the names a template reads ([Ref]), so that a
// scenario can be validated before it runs: every variable extracted by an
// earlier step, every data column defined, every environment variable set.
//
// # Extractions and checks
//
// An [Extract] reads one value of a [Response] into a variable: a JSON
// path (gjson's items.0.id, or $.items[0].id, see [JSONPath]), the first
// group of a regular expression over the body, a header, or a cookie the
// jar holds after the response. One that finds nothing sets the variable
// to "" and returns an error wrapping [ErrNoMatch].
//
// A [Check] counts what passed and what failed on a response: the status
// in a set, strings the body contains, and JSON paths equal to expected
// values (templates, rendered against the VU's data).
package session
