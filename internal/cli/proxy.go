package cli

import (
	"fmt"
	"os"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/transport"
	"github.com/spf13/pflag"
)

// proxyOpts are the proxy flags of faya run.
type proxyOpts struct {
	urls    []string
	file    string
	mode    string
	ca      string
	fromEnv bool
}

func (o *proxyOpts) bind(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.urls, "proxy", nil, "send through this proxy: http://, https://, socks5:// (local DNS) or socks5h:// (DNS by the proxy), HOST:PORT, user:password@ if needed (repeatable: a pool)")
	fs.StringVar(&o.file, "proxy-file", "", "read proxy URLs from this file, one per line (# comments), as a pool")
	fs.StringVar(&o.mode, "proxy-mode", engine.ProxyPerVU, "with several proxies: per-vu (each VU sticks to one) or round-robin (each request the next)")
	fs.StringVar(&o.ca, "proxy-ca", "", "PEM file of the CA certificates an https:// proxy's certificate must chain to")
	fs.BoolVar(&o.fromEnv, "proxy-from-env", false, "take the proxy from HTTP_PROXY, HTTPS_PROXY and NO_PROXY, as Go programs do (loopback targets are not proxied); otherwise they are ignored")
}

// plan turns the proxy flags into a ProxyPlan, or usage errors naming the
// flag; passwords are never shown.
func (o *proxyOpts) plan(fs *pflag.FlagSet) (engine.ProxyPlan, []error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, usagef(format, a...)) }
	p := engine.ProxyPlan{Mode: o.mode, FromEnv: o.fromEnv}
	if o.mode != engine.ProxyPerVU && o.mode != engine.ProxyRoundRobin {
		bad("--proxy-mode %q: want %s or %s", o.mode, engine.ProxyPerVU, engine.ProxyRoundRobin)
	}
	if o.ca != "" {
		b, err := os.ReadFile(o.ca)
		switch {
		case err != nil:
			bad("--proxy-ca: %v", err)
		default:
			if _, err := transport.CAPool(b); err != nil {
				bad("--proxy-ca %s: %v", o.ca, err)
			}
			p.CAPEM = b
		}
	}
	type src struct{ where, raw string }
	var list []src
	for _, u := range o.urls {
		list = append(list, src{"--proxy", u})
	}
	if o.file != "" {
		b, err := os.ReadFile(o.file)
		if err != nil {
			bad("--proxy-file: %v", err)
		}
		for _, l := range transport.ProxyLines(b) {
			list = append(list, src{fmt.Sprintf("--proxy-file %s:%d", o.file, l.Line), l.URL})
		}
		if err == nil && len(list) == len(o.urls) {
			bad("--proxy-file %s: no proxy URL in it (one per line)", o.file)
		}
	}
	if o.fromEnv && len(list) > 0 {
		bad("--proxy-from-env with --proxy or --proxy-file: use one")
	}
	if !o.fromEnv && len(list) == 0 {
		for _, f := range []string{"proxy-mode", "proxy-ca"} {
			if fs.Changed(f) {
				bad("--%s without a proxy: add --proxy URL, --proxy-file FILE or --proxy-from-env", f)
			}
		}
	}
	https := false
	for _, s := range list {
		px, err := transport.ParseProxy(s.raw, nil)
		if err != nil {
			bad("%s: %v", s.where, err)
			continue
		}
		https = https || px.Kind() == transport.ProxyHTTPS
		p.URLs = append(p.URLs, s.raw)
	}
	if p.CAPEM != nil && !https && !o.fromEnv && len(errs) == 0 {
		bad("--proxy-ca applies to https:// proxies, and none is given")
	}
	if len(errs) > 0 {
		return engine.ProxyPlan{}, errs
	}
	return p, nil
}
