package transport_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/faya-load/faya/transport"
)

func TestParseProxy(t *testing.T) {
	for _, tc := range []struct {
		raw, kind, addr, auth, str, err string
		forwardsHTTP                    bool
	}{
		{raw: "http://127.0.0.1:3128", kind: "http", addr: "127.0.0.1:3128", str: "http://127.0.0.1:3128", forwardsHTTP: true},
		{raw: "https://proxy.example:3129", kind: "https", addr: "proxy.example:3129", str: "https://proxy.example:3129", forwardsHTTP: true},
		{raw: "socks5://u:p@[::1]:1080", kind: "socks5", addr: "[::1]:1080", str: "socks5://u:xxxxx@[::1]:1080"},
		{raw: "SOCKS5H://127.0.0.1:1080/", kind: "socks5h", addr: "127.0.0.1:1080", str: "socks5h://127.0.0.1:1080/"},
		{raw: "http://a%20b:c%3Ad@127.0.0.1:8080", kind: "http", addr: "127.0.0.1:8080", auth: "Basic YSBiOmM6ZA==", str: "http://a%20b:xxxxx@127.0.0.1:8080", forwardsHTTP: true},
		{raw: "ftp://127.0.0.1:21", err: `unknown proxy scheme "ftp"`},
		{raw: "127.0.0.1:3128", err: "has no scheme"},
		{raw: "http://127.0.0.1", err: "has no port: add one, e.g. http://127.0.0.1:3128"},
		{raw: "socks5://:1080", err: "has no host"},
		{raw: "http://127.0.0.1:99999", err: "not a number from 1 to 65535"},
		{raw: "http://127.0.0.1:3128/path", err: "no path or query"},
		{raw: "http://u:pw@bad host:1", err: "is not a URL"},
	} {
		px, err := transport.ParseProxy(tc.raw, nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseProxy(%q) = %v, want an error with %q", tc.raw, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), ":pw@") {
				t.Errorf("ParseProxy(%q): the error shows the password: %v", tc.raw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseProxy(%q): %v", tc.raw, err)
			continue
		}
		if px.Kind() != tc.kind || px.Addr() != tc.addr || px.String() != tc.str || px.Forwards(false) != tc.forwardsHTTP || px.Forwards(true) {
			t.Errorf("ParseProxy(%q) = kind %s addr %s str %s forwards %v", tc.raw, px.Kind(), px.Addr(), px.String(), px.Forwards(false))
		}
		if tc.auth != "" && px.Authorization() != tc.auth {
			t.Errorf("ParseProxy(%q): authorization %q, want %q", tc.raw, px.Authorization(), tc.auth)
		}
	}
	if _, err := transport.ParseProxy("https://127.0.0.1:3129", []byte("junk")); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA without PEM: %v", err)
	}
	if _, err := transport.ParseProxy("http://127.0.0.1:3128", []byte("-----BEGIN CERTIFICATE-----")); err == nil || !strings.Contains(err.Error(), "https:// proxies only") {
		t.Errorf("a CA for an http proxy: %v", err)
	}
}

// FuzzParseProxy: any input gives a proxy or an error, never a panic, and
// neither the error nor the proxy's String shows a password.
func FuzzParseProxy(f *testing.F) {
	for _, s := range []string{"http://u:pw@127.0.0.1:3128", "socks5h://127.0.0.1:1080", "https://[::1]:3129", "x", "http://u:pw@h", "http://u:pw@%zz:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		px, err := transport.ParseProxy(raw, nil)
		u, perr := url.Parse(raw)
		pass := ""
		if perr == nil && u.User != nil {
			pass, _ = u.User.Password()
		}
		if len(pass) < 4 || strings.Contains("xxxxx"+raw[:strings.Index(raw, "://")+3]+u.User.Username()+u.Host, pass) {
			return // too short (or part of the rest) to tell apart
		}
		if err != nil && strings.Contains(err.Error(), pass) {
			t.Fatalf("error shows the password %q: %v", pass, err)
		}
		if err == nil && strings.Contains(px.String(), pass) {
			t.Fatalf("String shows the password %q: %s", pass, px.String())
		}
	})
}
