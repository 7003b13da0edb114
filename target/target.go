package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Body is what GET / answers: a small fixed body.
var Body = []byte("faya target: ok\n")

var bodyLen = []string{strconv.Itoa(len(Body))}

// Limits on what the endpoints accept, so that a mistyped query cannot make
// the target allocate gigabytes or hold a request for hours.
const (
	MaxBytes  = 64 << 20
	MaxSlowMS = 60_000
)

// Stats are the target's counters since the last reset.
type Stats struct {
	// ConnsNew counts accepted TCP connections.
	ConnsNew int64 `json:"conns_new"`
	// ConnsClosed counts connections closed (or hijacked).
	ConnsClosed int64 `json:"conns_closed"`
	// ConnsActive is the number open now.
	ConnsActive int64 `json:"conns_active"`
	// ConnsMax is the most open at once.
	ConnsMax int64 `json:"conns_max"`
	// Requests counts load requests (every path but /stats and /reset).
	Requests int64 `json:"requests"`
	// Logins counts successful logins; Unauthorized the requests refused
	// for want of a valid session.
	Logins       int64 `json:"logins"`
	Unauthorized int64 `json:"unauthorized"`
	// Sessions maps each session's user to the requests made with it
	// (login included).
	Sessions map[string]int64 `json:"sessions,omitempty"`
	// Peers maps each client IP address (the request's remote address
	// without the port) to the load requests it made, so that a test can
	// tell clients, or the proxies in front of them, apart.
	Peers map[string]int64 `json:"peers"`
}

// Target is the built-in target server. Its zero value is not usable; call
// [New].
type Target struct {
	connsNew, connsClosed, active, maxActive, requests atomic.Int64
	logins, unauthorized                               atomic.Int64

	mux *http.ServeMux

	mu       sync.Mutex
	sessions map[string]*session // by session id

	// peers is an immutable map from client IP to its request counter,
	// replaced (under peersMu) when a new IP shows up or on Reset, so that
	// counting a known peer takes no lock; lastPeer is the newest peer in
	// it (set and cleared under peersMu), found without parsing the remote
	// address or hashing it.
	peers    atomic.Pointer[map[string]*peer]
	lastPeer atomic.Pointer[peer]
	peersMu  sync.Mutex
}

// peer counts one client IP's requests, on a cache line of its own.
type peer struct {
	n  atomic.Int64
	ip string
	_  [40]byte
}

// session is one login's state.
type session struct {
	user     string
	requests int64
}

// New returns a Target.
func New() *Target {
	t := &Target{mux: http.NewServeMux(), sessions: map[string]*session{}}
	t.peers.Store(&map[string]*peer{})
	t.mux.HandleFunc("/bytes", t.bytes)
	t.mux.HandleFunc("/slow", t.slow)
	t.mux.HandleFunc("/status", t.status)
	t.mux.HandleFunc("/close", t.close)
	t.mux.HandleFunc("POST /login", t.login)
	t.mux.HandleFunc("GET /me", t.me)
	t.mux.HandleFunc("GET /items", t.items)
	t.mux.HandleFunc("GET /items/{id}", t.item)
	t.mux.HandleFunc("/stats", t.stats)
	t.mux.HandleFunc("/reset", t.reset)
	t.mux.HandleFunc("/", t.root)
	return t
}

// ServeHTTP serves the target's endpoints.
func (t *Target) ServeHTTP(w http.ResponseWriter, r *http.Request) { t.mux.ServeHTTP(w, r) }

// Admin returns a handler of /stats and /reset alone, to serve on a
// separate listener whose connections the target does not count.
func (t *Target) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", t.stats)
	mux.HandleFunc("/reset", t.reset)
	return mux
}

// ConnState counts connections; set it as an [http.Server]'s ConnState.
func (t *Target) ConnState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		t.connsNew.Add(1)
		n := t.active.Add(1)
		for {
			m := t.maxActive.Load()
			if n <= m || t.maxActive.CompareAndSwap(m, n) {
				break
			}
		}
	case http.StateClosed, http.StateHijacked:
		t.connsClosed.Add(1)
		t.active.Add(-1)
	}
}

// Stats returns the counters.
func (t *Target) Stats() Stats {
	st := Stats{
		ConnsNew:     t.connsNew.Load(),
		ConnsClosed:  t.connsClosed.Load(),
		ConnsActive:  t.active.Load(),
		ConnsMax:     t.maxActive.Load(),
		Requests:     t.requests.Load(),
		Logins:       t.logins.Load(),
		Unauthorized: t.unauthorized.Load(),
	}
	t.mu.Lock()
	if len(t.sessions) > 0 {
		st.Sessions = make(map[string]int64, len(t.sessions))
		for _, s := range t.sessions {
			st.Sessions[s.user] += s.requests
		}
	}
	t.mu.Unlock()
	peers := *t.peers.Load()
	st.Peers = make(map[string]int64, len(peers))
	for ip, p := range peers {
		st.Peers[ip] = p.n.Load()
	}
	return st
}

// Reset zeroes the counters (the open connections stay counted as active).
func (t *Target) Reset() {
	t.logins.Store(0)
	t.unauthorized.Store(0)
	t.mu.Lock()
	t.sessions = map[string]*session{}
	t.mu.Unlock()
	t.connsNew.Store(0)
	t.connsClosed.Store(0)
	t.maxActive.Store(t.active.Load())
	t.requests.Store(0)
	t.peersMu.Lock()
	t.peers.Store(&map[string]*peer{})
	t.lastPeer.Store(nil)
	t.peersMu.Unlock()
}

// count counts a load request, in total and by the client's IP address.
func (t *Target) count(r *http.Request) {
	t.requests.Add(1)
	addr := r.RemoteAddr
	// Fast path: the newest peer (often the only one), for "ip:port"
	// without parsing.
	if p := t.lastPeer.Load(); p != nil && len(addr) > len(p.ip) && addr[len(p.ip)] == ':' && addr[:len(p.ip)] == p.ip {
		p.n.Add(1)
		return
	}
	ip := peerIP(addr)
	p := (*t.peers.Load())[ip]
	if p == nil {
		t.peersMu.Lock()
		old := *t.peers.Load()
		if p = old[ip]; p == nil {
			peers := make(map[string]*peer, len(old)+1)
			maps.Copy(peers, old)
			p = &peer{ip: ip}
			peers[ip] = p
			t.peers.Store(&peers)
			t.lastPeer.Store(p)
		}
		t.peersMu.Unlock()
	}
	p.n.Add(1)
}

// peerIP returns the IP address in a request's RemoteAddr ("ip:port" or
// "[ip]:port"), or the whole address when it has no port.
func peerIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// Server returns an *http.Server serving t on addr with its connection
// counting wired in.
func (t *Target) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           t,
		ConnState:         t.ConnState,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}

// Serve serves t on l until ctx is canceled, then shuts down gracefully.
func (t *Target) Serve(ctx context.Context, l net.Listener) error {
	srv := t.Server(l.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func writeBody(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = bodyLen
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(Body)
}

var textPlain = []string{"text/plain; charset=utf-8"}

func (t *Target) root(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		t.count(r)
		http.NotFound(w, r)
		return
	}
	t.count(r)
	writeBody(w)
}

// queryInt reads the integer query parameter name, answering 400 and
// returning false when it is malformed or outside [lo, hi].
func queryInt(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		http.Error(w, name+" must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi), http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

// bytes answers n bytes (?n=, default 1024).
func (t *Target) bytes(w http.ResponseWriter, r *http.Request) {
	t.count(r)
	n, ok := queryInt(w, r, "n", 1024, 0, MaxBytes)
	if !ok {
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/octet-stream"}
	h["Content-Length"] = []string{strconv.Itoa(n)}
	w.WriteHeader(http.StatusOK)
	chunk := make([]byte, min(n, 32<<10))
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	for n > 0 {
		m, err := w.Write(chunk[:min(n, len(chunk))])
		if err != nil {
			return
		}
		n -= m
	}
}

// slow answers the fixed body after ?ms= milliseconds (default 100).
func (t *Target) slow(w http.ResponseWriter, r *http.Request) {
	t.count(r)
	ms, ok := queryInt(w, r, "ms", 100, 0, MaxSlowMS)
	if !ok {
		return
	}
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		writeBody(w)
	case <-r.Context().Done():
	}
}

// status answers with status ?code= (default 200).
func (t *Target) status(w http.ResponseWriter, r *http.Request) {
	t.count(r)
	code, ok := queryInt(w, r, "code", 200, 200, 599)
	if !ok {
		return
	}
	w.Header()["Content-Type"] = textPlain
	w.WriteHeader(code)
	_, _ = w.Write([]byte(http.StatusText(code) + "\n"))
}

// close answers with "Connection: close", so every request needs a new
// connection.
func (t *Target) close(w http.ResponseWriter, r *http.Request) {
	t.count(r)
	w.Header()["Connection"] = []string{"close"}
	writeBody(w)
}

func (t *Target) stats(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(t.Stats())
}

func (t *Target) reset(w http.ResponseWriter, r *http.Request) {
	t.Reset()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("reset\n"))
}

// SessionCookie is the name of the cookie /login sets.
const SessionCookie = "faya_session"

// login accepts a user and a password, as a form (user=, password=) or as
// JSON ({"user": ..., "password": ...}), and sets a session cookie. Any user
// with a non-empty password is welcome; the password "wrong" is refused.
func (t *Target) login(w http.ResponseWriter, r *http.Request) {
	t.count(r)
	var user, password string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var in struct{ User, Password string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
			http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		user, password = in.User, in.Password
	} else {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		user, password = r.PostFormValue("user"), r.PostFormValue("password")
	}
	if user == "" || password == "" || password == "wrong" {
		t.unauthorized.Add(1)
		http.Error(w, "wrong user or password", http.StatusUnauthorized)
		return
	}
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	t.mu.Lock()
	t.sessions[id] = &session{user: user, requests: 1}
	t.mu.Unlock()
	t.logins.Add(1)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true})
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"user":`+strconv.Quote(user)+`,"session":"`+id+`"}`+"\n")
}

// authorized returns the request's session, counting the request on it,
// or answers 401.
func (t *Target) authorized(w http.ResponseWriter, r *http.Request) (*session, bool) {
	t.count(r)
	c, err := r.Cookie(SessionCookie)
	if err == nil {
		t.mu.Lock()
		s := t.sessions[c.Value]
		if s != nil {
			s.requests++
		}
		t.mu.Unlock()
		if s != nil {
			return s, true
		}
	}
	t.unauthorized.Add(1)
	http.Error(w, "log in first: POST /login", http.StatusUnauthorized)
	return nil, false
}

// me answers the session's user.
func (t *Target) me(w http.ResponseWriter, r *http.Request) {
	s, ok := t.authorized(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"user":`+strconv.Quote(s.user)+`}`+"\n")
}

// NumItems is how many items /items lists.
const NumItems = 20

// items lists the items (for a logged-in session).
func (t *Target) items(w http.ResponseWriter, r *http.Request) {
	if _, ok := t.authorized(w, r); !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 1; i <= NumItems; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item %d"}`, i, i)
	}
	b.WriteString("]}\n")
	_, _ = io.WriteString(w, b.String())
}

// item answers one item by id (1..NumItems).
func (t *Target) item(w http.ResponseWriter, r *http.Request) {
	if _, ok := t.authorized(w, r); !ok {
		return
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 || id > NumItems {
		http.Error(w, "no such item", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":%d,"name":"item %d","price":%d}`+"\n", id, id, 100*id)
}
