package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

func TestRunProxy(t *testing.T) {
	srv := testserver.Start(t)
	px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{User: "alice", Password: "s3cret-pw", SourceIP: "127.0.0.3"})
	out := filepath.Join(t.TempDir(), "r.json")
	r := faya(t.Context(), "run", "-c", "5", "-n", "200", "--proxy", px.URLWithAuth(), "--json", out, srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st := srv.Stats(); st.Peers["127.0.0.3"] != 200 {
		t.Errorf("the target saw %v, want 200 requests through the proxy", st.Peers)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{r.stdout, r.stderr, string(b)} {
		if strings.Contains(text, "s3cret-pw") {
			t.Fatalf("the proxy password is in the output:\n%s", text)
		}
	}
	var rep struct {
		Run struct {
			Proxies []string `json:"proxies"`
		} `json:"run"`
		Proxies []struct {
			URL      string `json:"url"`
			Requests int64  `json:"requests"`
			Dialed   int64  `json:"dialed"`
		} `json:"proxies"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(px.URL, "://", "://alice:xxxxx@", 1)
	if len(rep.Run.Proxies) != 1 || rep.Run.Proxies[0] != want || len(rep.Proxies) != 1 || rep.Proxies[0].Requests != 200 || rep.Proxies[0].Dialed > 5 {
		t.Errorf("run.proxies %v, proxies %+v; want %s with 200 requests over at most 5 connections", rep.Run.Proxies, rep.Proxies, want)
	}
	for _, want := range []string{"through proxy " + want, "Proxies", want} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the text report lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestProxyBadInput(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	list := filepath.Join(dir, "proxies.txt")
	_ = os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644)
	_ = os.WriteFile(list, []byte("# proxies\nhttp://127.0.0.1:3128\n\nsocks4://127.0.0.1:1080\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--proxy", "ftp://127.0.0.1:21"}, `--proxy: "ftp://127.0.0.1:21": unknown proxy scheme "ftp": use http, https, socks5 or socks5h`},
		{[]string{"--proxy", "http://user:topsecret@127.0.0.1"}, `--proxy: "http://user:xxxxx@127.0.0.1" has no port: add one, e.g. http://127.0.0.1:3128`},
		{[]string{"--proxy", "127.0.0.1:3128"}, "no scheme"},
		{[]string{"--proxy-file", filepath.Join(dir, "none.txt")}, "--proxy-file: open"},
		{[]string{"--proxy-file", list}, `--proxy-file ` + list + `:4: "socks4://127.0.0.1:1080": unknown proxy scheme "socks4"`},
		{[]string{"--proxy", "https://127.0.0.1:3129", "--proxy-ca", notPEM}, "--proxy-ca " + notPEM + ": not a PEM certificate"},
		{[]string{"--proxy", "http://127.0.0.1:3128", "--proxy-mode", "random"}, `--proxy-mode "random": want per-vu or round-robin`},
		{[]string{"--proxy-mode", "round-robin"}, "--proxy-mode without a proxy"},
		{[]string{"--proxy", "http://127.0.0.1:3128", "--proxy-from-env"}, "--proxy-from-env with --proxy or --proxy-file: use one"},
	} {
		args := append([]string{"run", "-n", "1"}, tc.args...)
		r := faya(t.Context(), append(args, srv.URL+"/")...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "topsecret") {
			t.Errorf("faya %s: exit %d, stderr:\n%s\nwant exit 2 and %q (and no password)", strings.Join(args, " "), r.code, r.stderr, tc.want)
		}
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("bad proxy input sent %d requests", n)
	}
}

// --proxy-from-env: Go's rules (loopback targets are not proxied), and
// without the flag the environment is ignored.
func TestProxyFromEnv(t *testing.T) {
	srv := testserver.Start(t)
	px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{})
	t.Setenv("HTTP_PROXY", px.URL)
	r := faya(t.Context(), "run", "-c", "1", "-n", "5", srv.URL+"/")
	if r.code != cli.ExitOK || px.Stats().Conns != 0 || srv.Stats().Requests != 5 {
		t.Errorf("without --proxy-from-env: exit %d, the proxy got %d connections", r.code, px.Stats().Conns)
	}
	r = faya(t.Context(), "run", "-c", "1", "-n", "5", "--proxy-from-env", srv.URL+"/")
	if r.code != cli.ExitOK || px.Stats().Conns != 0 || !strings.Contains(r.stdout, "through proxy "+px.URL+" (from HTTP_PROXY/HTTPS_PROXY; NO_PROXY and loopback targets go direct)") {
		t.Errorf("--proxy-from-env, loopback target: exit %d, the proxy got %d connections\n%s", r.code, px.Stats().Conns, r.stdout)
	}
	t.Setenv("HTTP_PROXY", "http://127.0.0.1")
	r = faya(t.Context(), "run", "-n", "1", "--proxy-from-env", srv.URL+"/")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "HTTP_PROXY") || !strings.Contains(r.stderr, "has no port") {
		t.Errorf("a bad HTTP_PROXY: exit %d\n%s", r.code, r.stderr)
	}
}
