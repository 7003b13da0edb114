//go:build !linux

package transport

// rawIO is Linux's (rawio_linux.go); elsewhere reads and writes stay
// net.Conn's.
type rawIO struct{}

func (*rawIO) idling() bool { return false }

// RawIO does nothing here: reads and writes stay net.Conn's (see
// rawio_linux.go).
func (c *Conn) RawIO() {}

func (c *Conn) rawRead(b []byte, _ readMode) (int, error) { return c.Conn.Read(b) }

func (c *Conn) rawWrite(b []byte) (int, error) { return c.Conn.Write(b) }
