package cli

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// otherTools are flags of other load tools (hey, k6, vegeta, oha, wrk,
// curl, Locust) that faya does not have, and what to use instead.
var otherTools = map[string]string{
	"--stage":                    "did you mean --stages (open model: a ramping rate) or --vu-stages (closed model: ramping VUs)? k6's --stage 30s:20 is --vu-stages 30s:20 (a single target ramps from the previous stage, 0 at the start)",
	"--vus":                      "k6's --vus is -c/--concurrency here (the closed model); in the open model (-r) the VUs are bounded by --max-vus",
	"--users":                    "Locust's --users is -c/--concurrency here",
	"-u":                         "Locust's -u (users) is -c/--concurrency here",
	"--iterations":               "k6's --iterations is -n/--requests here",
	"--connections":              "wrk's and oha's --connections is -c/--concurrency here (one connection per VU by default)",
	"--workers":                  "a worker is a VU here: -c/--concurrency",
	"-z":                         "hey's -z is -d/--duration here",
	"-T":                         "hey's -T is -H 'Content-Type: ...' here",
	"-A":                         "hey's -A is -H 'Accept: ...' here",
	"-D":                         "hey's -D (a body file) is --body-file here",
	"-a":                         "hey's -a user:pass is the URL's user info here (http://user:pass@host/, sent as Basic), or -H 'Authorization: ...'",
	"-x":                         "hey's -x is --proxy here",
	"-t":                         "wrk's -t (threads) has no faya flag: faya uses every CPU (set GOMAXPROCS to use fewer)",
	"--threads":                  "faya uses every CPU (set GOMAXPROCS to use fewer)",
	"--cpus":                     "hey's -cpus is the GOMAXPROCS environment variable here",
	"--data":                     "curl's --data is --body here (--body-file FILE for a file)",
	"--data-binary":              "curl's --data-binary is --body-file FILE here (sent as given)",
	"--data-raw":                 "curl's --data-raw is --body here",
	"--qps":                      "an arrival rate is -r/--rate here (the open model), for the whole run, not per worker",
	"--rps":                      "an arrival rate is -r/--rate here (the open model)",
	"--host":                     "Locust's --host is --base-url here (with -f FILE)",
	"--disable-redirects":        "hey's -disable-redirects is --max-redirects 0 here",
	"--insecure-skip-tls-verify": "k6's --insecure-skip-tls-verify is --insecure here",
	"--http2":                    useHTTP2,
	"--h2":                       useHTTP2,
	"--http2-prior-knowledge":    useHTTP2,
	"--http1.1":                  "use --http 1.1",
	"--http3":                    noHTTP2,
	"--h3":                       noHTTP2,
	"--latency-correction":       "faya's open model measures latency from each request's intended start; see -r/--rate (there is nothing to correct)",
	"--no-latency-correction":    "faya's open model measures latency from each request's intended start; see -r/--rate",
}

const (
	useHTTP2 = "use --http 2 (HTTP/2 required: ALPN h2 on https, prior-knowledge h2c on http), on either engine; --http auto, the default, uses h2 when an https server picks it on --engine net/http"
	noHTTP2  = "faya speaks HTTP/1.1 and HTTP/2 (--http auto|1.1|2), not HTTP/3 yet"
)

// flagError makes pflag's errors say what the user meant: the faya flag
// for another tool's, the flag a typo is closest to, the collision of -d
// with hey's and curl's body.
func flagError(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		name := "--" + ne.GetSpecifiedName()
		if ne.GetSpecifiedShortnames() != "" {
			name = "-" + ne.GetSpecifiedName()
		}
		if hint := flagHint(cmd, name); hint != "" {
			return usageError{fmt.Errorf("%w\n%s", err, hint)}
		}
		return usageError{err}
	}
	var ie *pflag.InvalidValueError
	if errors.As(err, &ie) && ie.GetFlag().Name == "duration" && ie.GetFlag().Shorthand == "d" {
		if _, nerr := strconv.ParseFloat(ie.GetValue(), 64); nerr != nil {
			return usagef("-d %s: -d is the duration here (hey's and curl's -d is the body): give the body with --body (or --body-file FILE), and a duration like -d 30s", ie.GetValue())
		}
	}
	return usageError{err}
}

// flagHint is what to say about an unknown flag: another tool's meaning,
// or the flags of cmd its name is closest to.
func flagHint(cmd *cobra.Command, name string) string {
	if h, ok := otherTools[name]; ok {
		return h
	}
	if !strings.HasPrefix(name, "--") {
		return ""
	}
	if near := closeFlags(cmd, strings.TrimPrefix(name, "--")); len(near) > 0 {
		return "did you mean " + strings.Join(near, " or ") + "?"
	}
	return ""
}

// closeFlags returns cmd's long flags within two edits of name, or that
// name starts (at least four letters of it).
func closeFlags(cmd *cobra.Command, name string) []string {
	var out []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if editDistance(name, f.Name) <= 2 || len(name) >= 4 && strings.HasPrefix(f.Name, name) {
			out = append(out, "--"+f.Name)
		}
	})
	slices.Sort(out)
	return out
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// singleDash refuses long flags written with one dash, as hey's and Go's
// flag package take them (-disable-keepalive, -rate 50): pflag would read
// them as a cluster of short flags (-d isable-keepalive, -r ate). A token
// is one when its name, up to an "=", is a long flag of cmd, is within
// two edits of one, or is another tool's flag. Values of flags are
// skipped, so -H -rate is a header.
func singleDash(cmd *cobra.Command, args []string) error {
	fs := cmd.Flags()
	needsValue := func(f *pflag.Flag) bool { return f != nil && f.NoOptDefVal == "" }
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return nil
		case strings.HasPrefix(a, "--"):
			if !strings.Contains(a, "=") && needsValue(fs.Lookup(a[2:])) {
				i++
			}
			continue
		case !strings.HasPrefix(a, "-") || len(a) < 2:
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) >= 3 && isFlagWord(name) {
			if f := fs.Lookup(name); f != nil {
				return usagef("%s: faya's long flags take two dashes: --%s", a, f.Name)
			}
			if near := closeFlags(cmd, name); len(near) > 0 && len(name) >= 5 {
				return usagef("%s: faya's long flags take two dashes: %s", a, strings.Join(near, " or "))
			}
			if h, ok := otherTools["--"+name]; ok {
				return usagef("%s: faya's long flags take two dashes, and --%s is not one of them: %s", a, name, h)
			}
		}
		// A cluster of short flags: the first that takes a value takes
		// the rest of the token, or the next argument.
		for j, c := range a[1:] {
			f := fs.ShorthandLookup(string(c))
			if needsValue(f) {
				if j == len(a)-2 {
					i++
				}
				break
			}
		}
	}
	return nil
}

// isFlagWord reports whether s looks like a flag name: lower-case letters,
// digits and dashes, starting with a letter.
func isFlagWord(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c == '-' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return true
}

// quietRate refuses hey's -q RATE: -q is --quiet here, and the number
// would be taken for the URL.
func quietRate(fs *pflag.FlagSet, args []string) error {
	if !fs.Changed("quiet") {
		return nil
	}
	for _, a := range args {
		if _, err := strconv.ParseFloat(a, 64); err == nil {
			return usagef("-q is --quiet here (hey's -q is a rate per worker): for %s requests a second use -r %s", a, a)
		}
	}
	return nil
}
