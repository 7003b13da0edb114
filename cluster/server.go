package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is an embedded NATS server with JetStream.
type Server struct {
	s   *server.Server
	dir string
}

// StartServer starts a NATS server listening on addr (HOST:PORT; port 0
// picks one), with JetStream storing in a temporary directory removed by
// Shutdown.
func StartServer(addr string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%q: want HOST:PORT, e.g. 127.0.0.1:4222", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("%q: the port must be a number from 0 to 65535", addr)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	dir, err := os.MkdirTemp("", "faya-nats-")
	if err != nil {
		return nil, err
	}
	s, err := server.NewServer(&server.Options{
		Host: host, Port: p, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		_ = os.RemoveAll(dir)
		return nil, errors.New("the embedded NATS server did not start within 10s (is the port taken?)")
	}
	return &Server{s: s, dir: dir}, nil
}

// URL is the server's client URL (nats://HOST:PORT).
func (s *Server) URL() string { return s.s.ClientURL() }

// Shutdown stops the server and removes its storage.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
	_ = os.RemoveAll(s.dir)
}
