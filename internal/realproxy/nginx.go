package realproxy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binary finds the program of one of names as the proxies' are found (in
// REALPROXY_BIN_DIR if set, else in PATH plus /usr/sbin, /sbin, /usr/bin
// and /bin). Missing: the test fails with FAYA_CI=1 (.ci/run installs
// it), else it is skipped, naming the Debian package pkg.
func Binary(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	return binary(t, pkg, names...)
}

// CertFiles writes a self-signed certificate for 127.0.0.1 to
// dir/cert.pem and its key to dir/key.pem.
func CertFiles(t testing.TB, dir string) {
	t.Helper()
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		t.Fatalf("realproxy: certificate: %v", err)
	}
	writeFile(t, filepath.Join(dir, "cert.pem"), string(certPEM), 0o600)
	writeFile(t, filepath.Join(dir, "key.pem"), string(keyPEM), 0o600)
}

// FreeAddrs returns n loopback addresses ("127.0.0.1:port") that were
// free a moment ago, for a server's listen directives.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		port, err := freePort()
		if err != nil {
			t.Fatalf("realproxy: free port: %v", err)
		}
		out[i] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return out
}

// Nginx starts Debian's nginx in a directory of its own, which holds a
// self-signed certificate for 127.0.0.1 (cert.pem, key.pem: CertFiles)
// and takes its error log. http(dir) is the body of its http block (the
// temporary paths are set); its listen directives name addrs (from
// FreeAddrs). Nginx returns dir once each of addrs accepts connections;
// t.Cleanup stops the server.
func Nginx(t testing.TB, addrs []string, http func(dir string) string) (dir string) {
	t.Helper()
	bin := binary(t, "nginx", "nginx")
	dir = t.TempDir()
	CertFiles(t, dir)
	user := ""
	if os.Getuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
daemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 1024; }
http {
	client_body_temp_path %[2]s; proxy_temp_path %[2]s; fastcgi_temp_path %[2]s; uwsgi_temp_path %[2]s; scgi_temp_path %[2]s;
%[3]s
}
`, user, dir, http(dir))
	confFile, errorLog := filepath.Join(dir, "nginx.conf"), filepath.Join(dir, "error.log")
	writeFile(t, confFile, conf, 0o600)
	cmd := exec.Command(bin, "-p", dir, "-c", confFile)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("realproxy: nginx: %v", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			dumpLogs(t, "nginx", errorLog)
		}
	})
	for _, addr := range addrs {
		if err := waitReady(addr, p); err != nil {
			t.Fatalf("realproxy: nginx: %v\n%s", err, readLogs(errorLog))
		}
	}
	return dir
}

// Listening waits, ReadyTimeout at most, until addr accepts a connection
// (a server the test started itself); logFile, if it does not, says why.
func Listening(t testing.TB, addr, logFile string) {
	t.Helper()
	p := &process{done: make(chan struct{})} // never done: only the wait
	if err := waitReady(addr, p); err != nil {
		t.Fatalf("realproxy: %v\n%s", err, readLogs(logFile))
	}
}
