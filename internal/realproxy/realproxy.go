// Package realproxy starts real proxy servers from Debian's packages for
// tests: tinyproxy (HTTP proxy with CONNECT), stunnel4 in front of tinyproxy
// (an HTTPS proxy: TLS from the client to the proxy) and dante-server's
// SOCKS5 daemon (danted, upstream name sockd).
//
// Each proxy listens on a free 127.0.0.1 port, is configured by files
// written to t.TempDir(), is ready when the constructor returns and is
// stopped (and waited for) by t.Cleanup.
//
// When a binary is missing the test is skipped, unless the environment
// variable FAYA_CI is 1, in which case it fails and names the Debian package
// to install. REALPROXY_BIN_DIR, when set, is the only directory searched for
// the binaries (set it to an empty directory to simulate a machine without
// them).
package realproxy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SOCKSUser and SOCKSPassword are the credentials of the system account that
// .ci/run creates for dante's username authentication (dante checks the
// system's user database, so the account must exist):
//
//	useradd --no-create-home --shell /usr/sbin/nologin fayaproxy
//	echo 'fayaproxy:fayaproxy-pw' | chpasswd
const SOCKSUser, SOCKSPassword = "fayaproxy", "fayaproxy-pw"

// ReadyTimeout bounds the wait for a proxy to accept TCP connections.
const ReadyTimeout = 10 * time.Second

// Options for a real proxy.
type Options struct {
	// User and Password: SOCKS5 (dante) only: require username/password
	// authentication. Dante checks the system's user database (getpwnam and
	// /etc/shadow), so User must be a system account (see SOCKSUser) and the
	// tests must run as root.
	User, Password string
	// SourceIP, if the proxy supports it, binds the proxy's outgoing
	// connections to this loopback IP (tinyproxy: "Bind"; dante: "external:")
	// so that a target can tell proxied requests apart by peer IP, e.g.
	// "127.0.0.2". Empty: the proxy's default (127.0.0.1 for dante, the
	// kernel's choice for tinyproxy).
	SourceIP string
}

// Proxy is a running proxy.
type Proxy struct {
	// URL of the proxy without credentials: "http://127.0.0.1:PORT",
	// "https://127.0.0.1:PORT" or "socks5://127.0.0.1:PORT".
	URL string
	// CAPEM is, for the HTTPS proxy, the PEM of the proxy's self-signed
	// certificate (IP SAN 127.0.0.1) that clients must trust; nil otherwise.
	CAPEM []byte
	// Addr is the proxy's listening address, "127.0.0.1:PORT".
	Addr string
	// User and Password are Options.User and Options.Password.
	User, Password string
	// LogFiles are the proxy's log files (for a HTTPS proxy: stunnel's and
	// its tinyproxy's); their content is logged when the test fails.
	LogFiles []string
}

// URLWithAuth returns URL with the credentials (user:password@) if the proxy
// requires them, else URL.
func (p *Proxy) URLWithAuth() string {
	if p.User == "" {
		return p.URL
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return p.URL
	}
	u.User = url.UserPassword(p.User, p.Password)
	return u.String()
}

// binary finds one of names, in REALPROXY_BIN_DIR if set, else in PATH plus
// /usr/sbin, /sbin, /usr/bin and /bin. Missing: t.Fatalf with FAYA_CI=1,
// else t.Skipf, naming the Debian package pkg.
func binary(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	var dirs []string
	if d, ok := os.LookupEnv("REALPROXY_BIN_DIR"); ok {
		dirs = []string{d}
	} else {
		dirs = append(filepath.SplitList(os.Getenv("PATH")), "/usr/sbin", "/sbin", "/usr/bin", "/bin")
	}
	for _, name := range names {
		for _, dir := range dirs {
			if dir == "" {
				continue
			}
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	unavailable(t, "%s not installed (apt-get install %s)", strings.Join(names, "/"), pkg)
	return ""
}

// unavailable skips the test, or fails it when FAYA_CI=1.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("FAYA_CI") == "1" {
		t.Fatalf("%s; required because FAYA_CI=1", msg)
	}
	t.Skipf("%s; FAYA_CI=1 makes this a failure", msg)
}

// Tinyproxy starts an HTTP proxy (tinyproxy) on a free 127.0.0.1 port. It
// allows CONNECT to any port, clients from 127.0.0.1 and at least 100
// concurrent connections. With o.SourceIP, outgoing connections are bound to
// it ("Bind"). o.User is not supported (tinyproxy's BasicAuth is not used by
// these tests) and fails the test.
func Tinyproxy(t testing.TB, o Options) *Proxy {
	t.Helper()
	bin := binary(t, "tinyproxy", "tinyproxy")
	if o.User != "" {
		t.Fatalf("realproxy.Tinyproxy: Options.User is only supported by Dante")
	}
	if err := checkLoopback(o.SourceIP); err != nil {
		t.Fatalf("realproxy.Tinyproxy: %v", err)
	}
	return startTinyproxy(t, bin, o)
}

func startTinyproxy(t testing.TB, bin string, o Options) *Proxy {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "tinyproxy.conf")
	logFile := filepath.Join(dir, "tinyproxy.log")
	addr := start(t, "tinyproxy", logFile, func(port int) *exec.Cmd {
		// No ConnectPort line: tinyproxy 1.11 then allows CONNECT to any
		// port. No Syslog, no PidFile, no User: runs as the current user.
		// tinyproxy has no keep-alive option: it keeps CONNECT tunnels open
		// but closes a plain HTTP request's connections after the response.
		c := fmt.Sprintf(`Port %d
Listen 127.0.0.1
Allow 127.0.0.1
Timeout 60
MaxClients 256
LogFile %q
LogLevel Connect
`, port, logFile)
		if o.SourceIP != "" {
			c += fmt.Sprintf("Bind %s\n", o.SourceIP)
		}
		writeFile(t, conf, c, 0o644)
		return exec.Command(bin, "-d", "-c", conf)
	})
	return &Proxy{URL: "http://" + addr, Addr: addr, LogFiles: []string{logFile}}
}

// HTTPSProxy starts an HTTPS proxy: stunnel (server mode, TLS with a
// self-signed certificate for 127.0.0.1, see Proxy.CAPEM) on a free
// 127.0.0.1 port in front of a tinyproxy it starts too (Options as for
// Tinyproxy).
func HTTPSProxy(t testing.TB, o Options) *Proxy {
	t.Helper()
	bin := binary(t, "stunnel4", "stunnel4", "stunnel")
	tp := Tinyproxy(t, o)
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		t.Fatalf("realproxy.HTTPSProxy: certificate: %v", err)
	}
	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	keyFile := filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(certPEM), 0o644)
	writeFile(t, keyFile, string(keyPEM), 0o600)
	conf := filepath.Join(dir, "stunnel.conf")
	logFile := filepath.Join(dir, "stunnel.log")
	addr := start(t, "stunnel", logFile, func(port int) *exec.Cmd {
		writeFile(t, conf, fmt.Sprintf(`foreground = yes
pid =
syslog = no
output = %s
debug = notice

[https-proxy]
accept = 127.0.0.1:%d
connect = %s
cert = %s
key = %s
`, logFile, port, tp.Addr, certFile, keyFile), 0o644)
		return exec.Command(bin, conf)
	})
	return &Proxy{
		URL:      "https://" + addr,
		Addr:     addr,
		CAPEM:    certPEM,
		LogFiles: append([]string{logFile}, tp.LogFiles...),
	}
}

// Dante starts a SOCKS5 proxy (dante-server's danted) on a free 127.0.0.1
// port: socksmethod none, or username when o.User is set (then the tests
// must run as root and o.User must be a system account whose password is
// o.Password, see SOCKSUser). Outgoing connections come from o.SourceIP
// (default 127.0.0.1). Only CONNECT to 127.0.0.0/8 is allowed.
func Dante(t testing.TB, o Options) *Proxy {
	t.Helper()
	bin := binary(t, "dante-server", "danted", "sockd")
	if err := checkLoopback(o.SourceIP); err != nil {
		t.Fatalf("realproxy.Dante: %v", err)
	}
	root := os.Geteuid() == 0
	method := "none"
	if o.User != "" {
		method = "username"
		if !root {
			unavailable(t, "realproxy.Dante: username authentication needs root (dante reads /etc/shadow), running as uid %d", os.Geteuid())
		}
		if _, err := user.Lookup(o.User); err != nil {
			unavailable(t, "realproxy.Dante: username authentication checks system accounts and %q is not one (%v): "+
				"useradd --no-create-home --shell /usr/sbin/nologin %s; echo '%s:PASSWORD' | chpasswd (.ci/run does this for SOCKSUser)",
				o.User, err, o.User, o.User)
		}
	}
	external := o.SourceIP
	if external == "" {
		external = "127.0.0.1"
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "danted.conf")
	logFile := filepath.Join(dir, "danted.log")
	users := ""
	if root {
		// Like Debian's danted.conf: only privileged operations (reading
		// /etc/shadow for username authentication) run as root, the
		// relaying as nobody. (Without these lines all of dante runs as
		// root, which works too.)
		users = "user.privileged: root\nuser.unprivileged: nobody\n"
	}
	addr := start(t, "danted", logFile, func(port int) *exec.Cmd {
		writeFile(t, conf, fmt.Sprintf(`logoutput: %s
internal: 127.0.0.1 port = %d
external: %s
clientmethod: none
socksmethod: %s
%stimeout.negotiate: 10
timeout.io: 120
client pass {
	from: 127.0.0.0/8 to: 0.0.0.0/0
	log: error
}
socks pass {
	from: 127.0.0.0/8 to: 127.0.0.0/8
	command: connect
	log: error
}
socks block {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	log: connect error
}
`, logFile, port, external, method, users), 0o644)
		// -f: configuration; no -D: foreground. -N 1: one main server.
		return exec.Command(bin, "-f", conf, "-N", "1")
	})
	return &Proxy{URL: "socks5://" + addr, Addr: addr, User: o.User, Password: o.Password, LogFiles: []string{logFile}}
}

func checkLoopback(ip string) error {
	if ip == "" {
		return nil
	}
	a := net.ParseIP(ip)
	if a == nil || a.To4() == nil || !a.IsLoopback() {
		return fmt.Errorf("Options.SourceIP %q: want an IPv4 loopback address (127.0.0.0/8)", ip)
	}
	return nil
}

func writeFile(t testing.TB, name, content string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), perm); err != nil {
		t.Fatalf("realproxy: %v", err)
	}
}

// freePort returns a port that was free on 127.0.0.1 a moment ago. It is
// chosen below the kernel's ephemeral range (ephemeralLow) where that range
// is known: a port from the range can be taken meanwhile as the source port
// of any outgoing connection, even of waitReady's own dial to it (a TCP
// self-connect, which succeeds as if a server had accepted), and then the
// proxy fails to bind while the wait sees it ready (seen in CI: stunnel's
// "Binding service failed", then "connection refused" for every request).
func freePort() (int, error) {
	if lo := ephemeralLow(); lo-lowPort >= 1000 {
		for range 100 {
			port := lowPort + rand.IntN(lo-lowPort)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err == nil {
				l.Close()
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lowPort is the lowest port freePort picks: above the ports that services
// and users commonly pick by hand (8080, 4222, 9090, ...).
const lowPort = 20000

// start runs the command that cmdFor builds for a free port until it accepts
// TCP connections on 127.0.0.1:port, retrying with another port if the
// process exits early (the port may have been taken meanwhile). The process
// is stopped by t.Cleanup. It returns "127.0.0.1:port".
func start(t testing.TB, name, logFile string, cmdFor func(port int) *exec.Cmd) string {
	t.Helper()
	return Serve(t, name, logFile, 1, func(ports []int) *exec.Cmd { return cmdFor(ports[0]) })[0]
}

// Serve runs the server that cmdFor builds for n free loopback ports (from
// below the kernel's ephemeral range, as the proxies' are) until it
// accepts TCP connections on each of them, retrying with other ports if it
// exits early (a port may have been taken meanwhile), at most 3 times. Its
// output goes to a file next to logFile, shown with logFile when the test
// fails; t.Cleanup stops it (SIGTERM, then its process group is killed). It
// returns the addresses, "127.0.0.1:port", in the order of ports.
func Serve(t testing.TB, name, logFile string, n int, cmdFor func(ports []int) *exec.Cmd) []string {
	t.Helper()
	var lastErr error
	var outputs []string
	for attempt := 0; attempt < 3; attempt++ {
		ports := make([]int, n)
		addrs := make([]string, n)
		for i := range ports {
			port, err := freePort()
			for try := 0; err == nil && slices.Contains(ports[:i], port) && try < 10; try++ {
				port, err = freePort() // free, but this server's already
			}
			if err != nil {
				t.Fatalf("realproxy: %s: free port: %v", name, err)
			}
			ports[i], addrs[i] = port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		}
		cmd := cmdFor(ports)
		out, err := os.CreateTemp(filepath.Dir(logFile), name+"-output-*.txt")
		if err != nil {
			t.Fatalf("realproxy: %s: %v", name, err)
		}
		outputs = append(outputs, out.Name())
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Stdin = nil
		setProcAttr(cmd)
		if err := cmd.Start(); err != nil {
			out.Close()
			t.Fatalf("realproxy: %s: start %s: %v", name, cmd.Path, err)
		}
		out.Close()
		startedMu.Lock()
		started = append(started, cmd.Process.Pid)
		startedMu.Unlock()
		p := &process{cmd: cmd, done: make(chan struct{})}
		go func() { p.err = cmd.Wait(); close(p.done) }()
		err = nil
		for _, addr := range addrs {
			if err = waitReady(addr, p); err != nil {
				break
			}
		}
		if err == nil {
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					dumpLogs(t, name, logFile, out.Name())
				}
			})
			return addrs
		}
		p.stop()
		lastErr = err
		if !p.exitedEarly {
			break // did not exit yet did not listen: retrying won't help
		}
	}
	logs := readLogs(append([]string{logFile}, outputs...)...)
	t.Fatalf("realproxy: %s did not become ready: %v\n%s", name, lastErr, logs)
	return nil
}

// started holds the pids (= process group ids on Linux) of all processes
// started, for this package's leak check.
var (
	startedMu sync.Mutex
	started   []int
)

type process struct {
	cmd         *exec.Cmd
	done        chan struct{}
	err         error // of Wait, valid after done
	exitedEarly bool
}

// waitReady polls a TCP connect to addr for up to ReadyTimeout.
func waitReady(addr string, p *process) error {
	deadline := time.Now().Add(ReadyTimeout)
	for {
		select {
		case <-p.done:
			p.exitedEarly = true
			return fmt.Errorf("exited before listening on %s: %v", addr, p.err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			self := c.LocalAddr().String() == c.RemoteAddr().String()
			c.Close()
			if !self { // a self-connect is no server: wait on
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %v: %v", addr, ReadyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop asks the process to terminate (SIGTERM, so that dante reaps its
// children), kills it (and its process group) after 3 s and waits for it.
func (p *process) stop() {
	select {
	case <-p.done:
	default:
		terminate(p.cmd)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			kill(p.cmd)
			<-p.done
		}
	}
	killGroup(p.cmd) // stragglers, if any
}

func readLogs(files ...string) string {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(&b, "--- %s: %v\n", f, err)
			continue
		}
		fmt.Fprintf(&b, "--- %s:\n", f)
		const max = 16 << 10
		if len(data) > max {
			data = append([]byte("...\n"), data[len(data)-max:]...)
		}
		b.Write(data)
	}
	return b.String()
}

func dumpLogs(t testing.TB, name string, files ...string) {
	t.Helper()
	t.Logf("realproxy: %s logs:\n%s", name, readLogs(files...))
}
