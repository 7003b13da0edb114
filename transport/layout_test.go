package transport

import (
	"testing"
	"unsafe"
)

// TestConnSize: a Conn's size is a multiple of 64 bytes, so that every
// Conn starts on a cache line, and the fields a request touches (all
// before the dial's phases) take four lines.
func TestConnSize(t *testing.T) {
	var c Conn
	if n := unsafe.Sizeof(c); n%64 != 0 {
		t.Errorf("Conn is %d bytes; want a multiple of 64 (adjust its padding)", n)
	}
	if hot := unsafe.Offsetof(c.DNS); hot > 4*64 {
		t.Errorf("the request's fields end at byte %d, want at most 256", hot)
	}
}
