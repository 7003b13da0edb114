package session

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/gjson"
	"golang.org/x/net/publicsuffix"
)

// Jar is a VU's cookie jar: net/http/cookiejar with the public suffix
// list, as a browser keeps cookies. It costs nothing until a cookie is set.
type Jar struct {
	jar *cookiejar.Jar
	any bool
	// The cookies kept, for the limits a browser applies: by domain, in
	// the order they were last set (the oldest first).
	kept    map[string][]keptCookie
	count   int
	dropped int64
}

// keptCookie is a cookie in the jar, as far as its limits need it.
type keptCookie struct {
	name, path, domain string   // domain: the Domain attribute, "" for a host-only cookie
	origin             *url.URL // where it was set from (to expire it again)
}

// Cookie limits: RFC 6265's minimums for a browser (section 6.1), kept
// as browsers keep them: a cookie over the size is not stored; past a
// domain's or the jar's count, the domain's oldest cookie makes room.
const (
	MaxCookiesPerDomain = 50
	MaxCookies          = 3000
	MaxCookieBytes      = 4096 // name, value and attributes
)

// NewJar returns an empty jar.
func NewJar() *Jar {
	j, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	return &Jar{jar: j}
}

// TakeDropped returns the cookies the jar refused or evicted since the
// last call.
func (j *Jar) TakeDropped() int64 {
	n := j.dropped
	j.dropped = 0
	return n
}

// CookieJar returns the jar for an http.Client.
func (j *Jar) CookieJar() http.CookieJar { return j }

// Cookies implements http.CookieJar.
func (j *Jar) Cookies(u *url.URL) []*http.Cookie {
	if !j.any {
		return nil
	}
	return j.jar.Cookies(u)
}

// SetCookies implements http.CookieJar, within the cookie limits.
func (j *Jar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if len(cookies) == 0 {
		return
	}
	keep := cookies[:0:0]
	var evict []keptCookie
	for _, c := range cookies {
		if len(c.Name)+len(c.Value)+len(c.Path)+len(c.Domain) > MaxCookieBytes {
			j.dropped++
			continue
		}
		keep = append(keep, c)
		evict = append(evict, j.note(u, c)...)
	}
	if len(keep) == 0 {
		return
	}
	j.any = true
	j.jar.SetCookies(u, keep)
	for _, k := range evict {
		j.jar.SetCookies(k.origin, []*http.Cookie{{Name: k.name, Path: k.path, Domain: k.domain, MaxAge: -1}})
	}
}

// note records a cookie being set and returns those that must go to make
// room for it: the domain's oldest past MaxCookiesPerDomain, or past
// MaxCookies in all.
func (j *Jar) note(u *url.URL, c *http.Cookie) []keptCookie {
	domain := strings.ToLower(strings.TrimPrefix(c.Domain, "."))
	host := domain
	if host == "" {
		host = strings.ToLower(u.Hostname())
	}
	if j.kept == nil {
		j.kept = map[string][]keptCookie{}
	}
	list := j.kept[host]
	for i, k := range list {
		if k.name == c.Name && k.path == c.Path && k.domain == domain {
			list = append(list[:i], list[i+1:]...) // set again: no longer the oldest
			j.count--
			break
		}
	}
	if c.MaxAge < 0 || !c.Expires.IsZero() && c.Expires.Before(time.Now()) {
		j.kept[host] = list // a deletion
		return nil
	}
	var evict []keptCookie
	if len(list) >= MaxCookiesPerDomain {
		evict = append(evict, list[0])
		list = list[1:]
		j.count--
	}
	j.kept[host] = append(list, keptCookie{name: c.Name, path: c.Path, domain: domain, origin: u})
	j.count++
	for j.count > MaxCookies {
		// The jar is full: the oldest cookie of the domain with the most.
		var most string
		for h, l := range j.kept {
			if len(l) > len(j.kept[most]) {
				most = h
			}
		}
		evict = append(evict, j.kept[most][0])
		j.kept[most] = j.kept[most][1:]
		j.count--
	}
	j.dropped += int64(len(evict))
	return evict
}

// CookieHeader returns the Cookie header value for a request to u, or "".
func (j *Jar) CookieHeader(u *url.URL) string {
	if !j.any {
		return ""
	}
	cs := j.jar.Cookies(u)
	switch len(cs) {
	case 0:
		return ""
	case 1:
		return cs[0].Name + "=" + cs[0].Value
	}
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name)
		b.WriteByte('=')
		b.WriteString(c.Value)
	}
	return b.String()
}

// SetCookieLines stores the cookies of Set-Cookie header lines from a
// response to u; lines that do not parse are skipped, as browsers do.
func (j *Jar) SetCookieLines(u *url.URL, lines [][]byte) {
	var cs []*http.Cookie
	for _, l := range lines {
		c, err := http.ParseSetCookie(string(l))
		if err == nil {
			cs = append(cs, c)
		}
	}
	j.SetCookies(u, cs)
}

// Get returns the value of the cookie name the jar would send to u.
func (j *Jar) Get(u *url.URL, name string) (string, bool) {
	for _, c := range j.Cookies(u) {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// Reset empties the jar (a new browser session).
func (j *Jar) Reset() {
	if j.any {
		*j = *NewJar()
	}
}

// Data is what templates see. Its maps are the VU's own and are updated
// in place, so rendering allocates no map.
type Data map[string]any

// NewData returns the data of VU vu (numbered from 1).
func NewData(vu int) Data {
	return Data{"vars": map[string]string{}, "data": map[string]map[string]string{}, "vu": vu, "iter": int64(0)}
}

// Vars returns the VU's variables.
func (d Data) Vars() map[string]string { return d["vars"].(map[string]string) }

// Rows returns the VU's current data rows, by source.
func (d Data) Rows() map[string]map[string]string {
	return d["data"].(map[string]map[string]string)
}

// SetIter sets the iteration number.
func (d Data) SetIter(n int64) { d["iter"] = n }

// Template is a parsed template, or a constant string.
type Template struct {
	src    string
	t      *template.Template // nil: src is constant
	static bool
	json   *jsonBody // a JSON body with templated strings (ParseJSON)
}

// jsonBody is a JSON text cut at its templated strings: text[0], the
// first string rendered and quoted, text[1], and so on.
type jsonBody struct {
	text    []string
	strings []*Template
}

// Ref is a name a template reads: a variable, a data column, an
// environment variable.
type Ref struct {
	Kind  string // "vars", "data", "env"
	Name  string // the variable, the data source, the environment variable
	Field string // the data column
}

// Env looks up environment variables for templates; nil reads nothing.
type Env func(name string) (string, bool)

// Parse parses src (a constant string when it holds no "{{"), with env
// for the env function, and returns what it reads.
func Parse(name, src string, env Env) (*Template, []Ref, error) {
	if !strings.Contains(src, "{{") {
		return &Template{src: src, static: true}, nil, nil
	}
	funcs := template.FuncMap{
		"env": func(name string) (string, error) {
			if env != nil {
				if v, ok := env(name); ok {
					return v, nil
				}
			}
			return "", fmt.Errorf("environment variable %s is not set", name)
		},
		"randInt": func(lo, hi int) (int, error) {
			if hi < lo {
				return 0, fmt.Errorf("randInt %d %d: the second bound is below the first", lo, hi)
			}
			// hi-lo+1 overflows int for the widest bounds: count in
			// uint64 (lo plus the draw wraps back into [lo, hi]).
			span := uint64(hi) - uint64(lo)
			if span == math.MaxUint64 {
				return int(rand.Uint64()), nil
			}
			return lo + int(rand.Uint64N(span+1)), nil
		},
		"uuid": func() string { return uuid.NewString() },
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, nil, err
	}
	var refs []Ref
	walk(t.Tree.Root, &refs)
	return &Template{src: src, t: t}, refs, nil
}

// ParseJSON parses a JSON body given as a value of maps, lists, strings,
// numbers, booleans and nulls (as encoding/json takes them). Each string
// holding "{{" (a value or an object's key) is a template, parsed as
// written; its rendered text is sent as a JSON string, escaped, so a quote
// or a backslash in a variable cannot break the body. It returns what the
// templates read.
func ParseJSON(name string, v any, env Env) (*Template, []Ref, error) {
	var strs []*Template
	var refs []Ref
	var firstErr error
	var mark func(v any) any
	mark = func(v any) any {
		switch x := v.(type) {
		case string:
			if !strings.Contains(x, "{{") {
				return x
			}
			t, rs, err := Parse(name, x, env)
			if err != nil {
				firstErr = cmp.Or(firstErr, err)
				return x
			}
			refs = append(refs, rs...)
			strs = append(strs, t)
			return slotMark + strconv.Itoa(len(strs)-1) + slotEnd
		case map[string]any:
			m := make(map[string]any, len(x))
			for k, e := range x {
				m[mark(k).(string)] = mark(e)
			}
			return m
		case []any:
			l := make([]any, len(x))
			for i, e := range x {
				l[i] = mark(e)
			}
			return l
		}
		return v
	}
	marked := mark(v)
	if firstErr != nil {
		return nil, nil, firstErr
	}
	src, err := encodeJSON(v)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(strs) == 0 {
		return &Template{src: src, static: true}, nil, nil
	}
	out, err := encodeJSON(marked)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	// Cut the text at the slots, in the order encoding/json wrote them
	// (map keys sorted).
	j := &jsonBody{}
	for {
		i := strings.Index(out, slotPrefix)
		if i < 0 {
			break
		}
		end := strings.Index(out[i:], slotSuffix)
		n, err := -1, error(nil)
		if end > len(slotPrefix) {
			n, err = strconv.Atoi(out[i+len(slotPrefix) : i+end])
		}
		if err != nil || n < 0 || n >= len(strs) {
			return nil, nil, fmt.Errorf("%s: a string looks like faya's own marker %q", name, slotPrefix)
		}
		j.text = append(j.text, out[:i])
		j.strings = append(j.strings, strs[n])
		out = out[i+end+len(slotSuffix):]
	}
	j.text = append(j.text, out)
	if len(j.strings) != len(strs) {
		return nil, nil, fmt.Errorf("%s: a string looks like faya's own marker %q", name, slotPrefix)
	}
	return &Template{src: src, json: j}, refs, nil
}

// The n-th templated string of a JSON body (a value or a key) stands in
// as slotMark n slotEnd while the body is encoded, which encoding/json
// writes as slotPrefix n slotSuffix.
const (
	slotMark, slotEnd      = "\x00faya-slot-", "\x00"
	slotPrefix, slotSuffix = `"\u0000faya-slot-`, `\u0000"`
)

// encodeJSON encodes v as a body: no HTML escaping, no newline.
func encodeJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// walk collects the fields and env calls a template reads.
func walk(n parse.Node, refs *[]Ref) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, refs)
		}
	case *parse.ActionNode:
		walk(n.Pipe, refs)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, refs)
		}
	case *parse.CommandNode:
		if len(n.Args) == 2 {
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "env" {
				if s, ok := n.Args[1].(*parse.StringNode); ok {
					*refs = append(*refs, Ref{Kind: "env", Name: s.Text})
				}
			}
		}
		for _, a := range n.Args {
			walk(a, refs)
		}
	case *parse.FieldNode:
		fieldRef(n.Ident, refs)
	case *parse.VariableNode:
		// $ is the data the template was given, wherever dot is.
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			fieldRef(n.Ident[1:], refs)
		}
	case *parse.IfNode:
		walk(n.Pipe, refs)
		walk(n.List, refs)
		walk(n.ElseList, refs)
	case *parse.RangeNode:
		walk(n.Pipe, refs)
		walk(n.List, refs)
		walk(n.ElseList, refs)
	case *parse.WithNode:
		walk(n.Pipe, refs)
		walk(n.List, refs)
		walk(n.ElseList, refs)
	}
}

// fieldRef adds the reference of a field chain of the template's data
// (.vars.token is vars, token).
func fieldRef(id []string, refs *[]Ref) {
	switch {
	case len(id) >= 2 && id[0] == "vars":
		*refs = append(*refs, Ref{Kind: "vars", Name: id[1]})
	case len(id) >= 3 && id[0] == "data":
		*refs = append(*refs, Ref{Kind: "data", Name: id[1], Field: id[2]})
	case len(id) >= 1 && (id[0] == "vu" || id[0] == "iter"):
	default:
		*refs = append(*refs, Ref{Kind: "field", Name: strings.Join(id, ".")})
	}
}

// Const returns a constant template: src sent as given, braces and all.
func Const(src string) *Template { return &Template{src: src, static: true} }

// Static reports whether the template is a constant string.
func (t *Template) Static() bool { return t == nil || t.static }

// String returns the template's source.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

// Render executes the template into buf (reset first) and returns the
// text.
func (t *Template) Render(buf *bytes.Buffer, d Data) (string, error) {
	if t.Static() {
		return t.String(), nil
	}
	buf.Reset()
	if j := t.json; j != nil {
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		for i, st := range j.strings {
			buf.WriteString(j.text[i])
			// Render at the end of buf, then replace it with its quoted
			// form.
			at := buf.Len()
			if err := st.t.Execute(buf, d); err != nil {
				return "", err
			}
			s := string(buf.Bytes()[at:])
			buf.Truncate(at)
			if err := enc.Encode(s); err != nil {
				return "", err
			}
			buf.Truncate(buf.Len() - 1) // Encode's newline
		}
		buf.WriteString(j.text[len(j.strings)])
		return buf.String(), nil
	}
	if err := t.t.Execute(buf, d); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// Response is what extractions and checks read of a response.
type Response struct {
	Status int
	// Header holds the headers, in order (names as sent).
	Header [][2]string
	// Body holds the body, up to the capture limit.
	Body []byte
	// URL is the final URL, after redirects (for cookies).
	URL *url.URL
}

// Reset empties r, keeping its storage.
func (r *Response) Reset() {
	r.Status, r.URL = 0, nil
	r.Header = r.Header[:0]
	r.Body = r.Body[:0]
}

// HeaderValue returns the first header named name (any case).
func (r *Response) HeaderValue(name string) (string, bool) {
	for _, h := range r.Header {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

// Extract reads one value of a response into a variable.
type Extract struct {
	Var    string
	JSON   string // a JSON path: items.0.id, or $.items[0].id
	Regex  string // the first group (or the match) of a regular expression over the body
	Header string // a response header
	Cookie string // a cookie in the jar after the response
	path   string
	re     *regexp.Regexp
}

// Compile checks the extraction and prepares it.
func (e *Extract) Compile() error {
	n := 0
	for _, s := range []string{e.JSON, e.Regex, e.Header, e.Cookie} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("give exactly one of json, regex, header, cookie")
	}
	if e.JSON != "" {
		e.path = JSONPath(e.JSON)
		if !validPath(e.path) {
			return fmt.Errorf("json %q is not a valid path (e.g. items.0.id or $.items[0].id)", e.JSON)
		}
	}
	if e.Regex != "" {
		re, err := regexp.Compile(e.Regex)
		if err != nil {
			return fmt.Errorf("regex %q: %w", e.Regex, err)
		}
		e.re = re
	}
	return nil
}

// JSONPath turns $.a.b[0].c into gjson's a.b.0.c; a gjson path is kept.
func JSONPath(p string) string {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "$"), ".")
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '[':
			if b.Len() > 0 {
				b.WriteByte('.')
			}
		case ']':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Needs reports whether the extraction reads the body or the headers.
func (e *Extract) Needs() (body, header bool) { return e.JSON != "" || e.Regex != "", e.Header != "" }

// ErrNoMatch is an extraction that found nothing.
var ErrNoMatch = errors.New("no match")

// Apply reads the value from r (or the jar) into vars.
func (e *Extract) Apply(r *Response, jar *Jar, vars map[string]string) error {
	var v string
	ok := false
	switch {
	case e.JSON != "":
		res := gjson.GetBytes(r.Body, e.path)
		v, ok = res.String(), res.Exists()
	case e.re != nil:
		if m := e.re.FindSubmatch(r.Body); m != nil {
			v, ok = string(m[0]), true
			if len(m) > 1 {
				v = string(m[1]) // the first group, not the last
			}
		}
	case e.Header != "":
		v, ok = r.HeaderValue(e.Header)
	case e.Cookie != "":
		if r.URL != nil && jar != nil {
			v, ok = jar.Get(r.URL, e.Cookie)
		}
	}
	vars[e.Var] = v
	if !ok {
		return fmt.Errorf("extract %s: %w", e.Var, ErrNoMatch)
	}
	return nil
}

// Check is a step's checks on a response.
type Check struct {
	Status       []int
	BodyContains []string
	// JSON maps a JSON path to the value expected there (a template).
	JSON  map[string]*Template
	paths map[string]string
	order []string // the JSON paths, sorted: the first failure is stable
}

// Compile prepares the check.
func (c *Check) Compile() error {
	c.paths = map[string]string{}
	c.order = slices.Sorted(maps.Keys(c.JSON))
	for p := range c.JSON {
		gp := JSONPath(p)
		if !validPath(gp) {
			return fmt.Errorf("check json %q is not a valid path", p)
		}
		c.paths[p] = gp
	}
	return nil
}

// Empty reports whether there is nothing to check.
func (c *Check) Empty() bool {
	return len(c.Status) == 0 && len(c.BodyContains) == 0 && len(c.JSON) == 0
}

// Needs reports whether the check reads the body.
func (c *Check) Needs() bool { return len(c.BodyContains) > 0 || len(c.JSON) > 0 }

// Apply runs the checks and counts them; failure describes the first that
// failed.
func (c *Check) Apply(r *Response, buf *bytes.Buffer, d Data) (passed, failed int, failure string) {
	if len(c.Status) > 0 {
		if containsInt(c.Status, r.Status) {
			passed++
		} else {
			failed++
			failure = fmt.Sprintf("status %d, want %v", r.Status, c.Status)
		}
	}
	for _, s := range c.BodyContains {
		if bytes.Contains(r.Body, []byte(s)) {
			passed++
		} else {
			failed++
			if failure == "" {
				failure = fmt.Sprintf("body does not contain %q", s)
			}
		}
	}
	for _, p := range c.order {
		w, err := c.JSON[p].Render(buf, d)
		got := gjson.GetBytes(r.Body, c.paths[p])
		if err == nil && got.Exists() && got.String() == w {
			passed++
		} else {
			failed++
			if failure == "" {
				failure = fmt.Sprintf("json %s = %s, want %s", p, strconv.Quote(got.String()), strconv.Quote(w))
			}
		}
	}
	return passed, failed, failure
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// validPath accepts a non-empty path without spaces (gjson finds nothing
// for anything else it does not understand).
func validPath(p string) bool { return p != "" && !strings.ContainsAny(p, " \t\r\n") }
