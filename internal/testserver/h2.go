package testserver

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// H2Frames counts what an [H2FramesURL] server saw.
type H2Frames struct {
	Conns    atomic.Int64 // connections that sent the client preface
	Requests atomic.Int64 // HEADERS frames answered
}

// HTTP/2 frame types and flags the frames server reads and writes (RFC
// 9113 6).
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2Settings     = 0x4
	h2Ping         = 0x6
	h2FlagEnd      = 0x1 // END_STREAM (DATA, HEADERS), ACK (SETTINGS, PING)
	h2FlagEndHdrs  = 0x4
	h2Preface      = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	h2MaxFrameRead = 1 << 20
)

// H2FramesURL starts an HTTP/2 server over plain TCP (h2c with prior
// knowledge: --http 2 on its http:// URL) allowing 100 streams per
// connection, that answers every request (a HEADERS frame; its header
// block is not decoded) with a 200 whose body of frames bytes comes in
// frames DATA frames of one byte each, delay after the request (0: at
// once, in order). Each answer is written with one write of bytes made
// ahead (only the stream id changes), so that the server costs little per
// frame: with many frames the client's side, which handles each frame,
// is the slow one. It answers SETTINGS and PING, and ignores the rest.
func H2FramesURL(t testing.TB, frames int, delay time.Duration) (string, *H2Frames) {
	frames = max(frames, 1)
	st := &H2Frames{}
	// The answer: HEADERS (":status: 200", static table index 8), then
	// the DATA frames; ids at 5 + 10*i after the HEADERS' 10 bytes.
	answer := make([]byte, 0, 10+10*frames)
	answer = appendFrame(answer, h2Headers, h2FlagEndHdrs, 0, []byte{0x88})
	for i := range frames {
		flags := byte(0)
		if i == frames-1 {
			flags = h2FlagEnd
		}
		answer = appendFrame(answer, h2Data, flags, 0, []byte{'x'})
	}
	settings := appendFrame(nil, h2Settings, 0, 0, []byte{0, 3, 0, 0, 0, 100}) // MAX_CONCURRENT_STREAMS 100
	url := Raw(t, func(c net.Conn) {
		defer func() { _ = c.Close() }()
		// Bounded, whatever the client does.
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		pre := make([]byte, len(h2Preface))
		if _, err := io.ReadFull(c, pre); err != nil || string(pre) != h2Preface {
			return
		}
		st.Conns.Add(1)
		var wmu sync.Mutex
		write := func(b []byte) error {
			wmu.Lock()
			defer wmu.Unlock()
			_, err := c.Write(b)
			return err
		}
		if write(settings) != nil {
			return
		}
		var timers sync.WaitGroup
		defer timers.Wait()
		out := make([]byte, len(answer))
		var hdr [9]byte
		payload := make([]byte, 0, 16<<10)
		for {
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
			if n > h2MaxFrameRead {
				return
			}
			if cap(payload) < n {
				payload = make([]byte, n)
			}
			payload = payload[:n]
			if _, err := io.ReadFull(c, payload); err != nil {
				return
			}
			typ, flags, id := hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:])&(1<<31-1)
			var err error
			switch {
			case typ == h2Settings && flags&h2FlagEnd == 0:
				err = write(appendFrame(nil, h2Settings, h2FlagEnd, 0, nil))
			case typ == h2Ping && flags&h2FlagEnd == 0 && n == 8:
				err = write(appendFrame(nil, h2Ping, h2FlagEnd, 0, payload))
			case typ == h2Headers && id != 0:
				st.Requests.Add(1)
				if delay <= 0 {
					copy(out, answer)
					setIDs(out, id)
					err = write(out)
					break
				}
				b := setIDs(append([]byte(nil), answer...), id)
				timers.Add(1)
				time.AfterFunc(delay, func() {
					defer timers.Done()
					_ = write(b)
				})
			}
			if err != nil {
				return
			}
		}
	})
	return strings.TrimSuffix(url, "/"), st
}

// setIDs puts stream id in each frame of b, an answer of H2FramesURL.
func setIDs(b []byte, id uint32) []byte {
	for i := 0; i+9 <= len(b); {
		n := int(b[i])<<16 | int(b[i+1])<<8 | int(b[i+2])
		binary.BigEndian.PutUint32(b[i+5:], id)
		i += 9 + n
	}
	return b
}

// appendFrame appends an HTTP/2 frame to b.
func appendFrame(b []byte, typ, flags byte, id uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	b = binary.BigEndian.AppendUint32(b, id)
	return append(b, payload...)
}
