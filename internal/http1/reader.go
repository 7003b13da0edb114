package http1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// ProtocolError is a response that is not valid HTTP/1.x. Its message
// starts with "malformed HTTP response", as net/http's do.
type ProtocolError struct{ msg string }

func (e *ProtocolError) Error() string { return "malformed HTTP response: " + e.msg }

func protoErr(msg string) error { return &ProtocolError{msg} }

// Response is what the reader learned of one response. Header values are
// not kept: a Response is a handful of numbers.
type Response struct {
	Status int
	Major  int // HTTP/Major.Minor
	Minor  int
	// Close is set when the connection cannot carry another request: the
	// server said "Connection: close", answered HTTP/1.0 without
	// keep-alive, switched protocols, or sent a body delimited by closing
	// the connection.
	Close bool
	// CloseAnswer is set when the response itself says the connection
	// ends after it ("Connection: close", HTTP/1.0 without keep-alive, or
	// a body delimited by the close): net/http's Response.Close, which
	// the net/http engine counts, so both engines count the same answers.
	CloseAnswer bool
	BodyBytes   int64
	// Truncated is set when the body was longer than the cap and reading
	// stopped there; the connection cannot be reused.
	Truncated bool
	// FirstByte is when the first byte of the response arrived, on the
	// reader's clock (the dialer's, for a Client's reader).
	FirstByte time.Duration
	// Location is the Location header, when the reader was asked to keep
	// it (it aliases the reader's storage until the next response).
	Location []byte
}

// HTTP10 reports an HTTP/1.0 response.
func (r *Response) HTTP10() bool { return r.Major == 1 && r.Minor == 0 }

// HeaderFunc sees each response header; name is in the case the server
// sent. Both slices alias the reader's buffer: copy what you keep.
type HeaderFunc func(name, value []byte)

// Reader reads HTTP/1.x responses from a connection into one buffer,
// without allocating per response. A Reader serves one goroutine; it may
// read from different connections one after another, as long as each
// response is read whole (a connection with bytes left over is not
// reused).
//
// It follows RFC 9112, and net/http's reader where the RFC leaves a choice,
// so that both engines accept and reject the same bytes: a status line is
// "HTTP/D.D", spaces, a three-digit code (100-999), an optional reason;
// bytes that cannot start one fail at once, newline or not. Header lines
// may be folded (obs-fold: joined with a space); a value holds no control
// byte but tabs; Transfer-Encoding is "chunked" or nothing (HTTP/1.0
// ignores it); Content-Length is digits up to 2^63-1, repeated only with
// the same value; chunk sizes are up to 16 hex digits on lines ending in
// CRLF. The status lines and headers of a response, its 1xx answers
// included, are bounded by MaxHeaderBytes.
type Reader struct {
	// The fields a response whose head is the last one's touches come
	// first, together: with many VUs each reader's lines are cold when
	// its next response comes (bench/instr.sh cache).
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	src  io.Reader
	// MaxHeaderBytes bounds the status lines and headers of one response,
	// its 1xx answers included (net/http's Transport.MaxResponseHeaderBytes).
	MaxHeaderBytes int
	first          time.Duration        // on the clock now reads, when got
	now            func() time.Duration // the clock FirstByte is read from
	maxBody        int64
	headBytes      int    // status lines and headers read by this ReadResponse
	onHead         func() // called when the final response's headers were read
	// capture, when not nil, receives the body, up to captureMax bytes.
	capture *[]byte
	got     bool // a byte came for this ReadResponse
	// last is the head of the last response read in full, status line
	// to the empty line, and what it said: a response whose head is the
	// same bytes says the same (a server's heads differ only when its
	// Date changes, once a second), so it is not parsed again.
	last lastHead
	// moves counts the times fill moved or dropped the bytes read: a head
	// read between two equal counts is whole in the buffer.
	moves int
	hits  int // heads found equal to the last one (for the tests)

	captureMax int64
	loc        []byte
	cl         []byte // the first Content-Length value, to compare with the next
	te         []byte // the Transfer-Encoding value, for the error
	// names are the header names of the last responses, by position
	// (servers send the same headers in the same order every time): a
	// line that starts with the name this position held and a colon has
	// a name already checked and classified.
	names []knownName
}

// lastHead is a head the reader parsed and its outcome.
type lastHead struct {
	head          []byte
	resp          Response // Status, Major, Minor, CloseAnswer, Close
	contentLength int64
	loc           []byte // what Location said, when keepLocation (nil: none)
	chunked       bool
	keepLocation  bool // Location was looked for
}

// maxLastHead bounds the head the reader keeps.
const maxLastHead = 1 << 10

// knownName is a header name the reader checked, and what it is.
type knownName struct {
	name []byte
	kind fieldKind
}

// fieldKind is what the reader makes of a header.
type fieldKind uint8

const (
	fieldOther fieldKind = iota
	fieldContentLength
	fieldTransferEncoding
	fieldConnection
	fieldTrailer
	fieldLocation
)

// kindOf classifies a header name, in any case.
func kindOf(name []byte) fieldKind {
	switch {
	case equalFold(name, "content-length"):
		return fieldContentLength
	case equalFold(name, "transfer-encoding"):
		return fieldTransferEncoding
	case equalFold(name, "connection"):
		return fieldConnection
	case equalFold(name, "trailer"):
		return fieldTrailer
	case equalFold(name, "location"):
		return fieldLocation
	}
	return fieldOther
}

// The names kept: the first maxKnownNames positions, names of up to
// maxKnownNameLen bytes.
const (
	maxKnownNames   = 32
	maxKnownNameLen = 64
)

// header splits the header line at position i into its name, its value
// and its kind, as splitField checks it, with the name looked up first
// among the names the last responses had there.
func (rd *Reader) header(line []byte, folded bool, i int) (name, value []byte, kind fieldKind, err error) {
	if i < len(rd.names) {
		k := &rd.names[i]
		if n := len(k.name); n < len(line) && line[n] == ':' && string(line[:n]) == string(k.name) {
			value = line[n+1:]
			if !validValue(value) {
				return nil, nil, 0, protoErr("invalid byte in a header value: " + quoted(line))
			}
			if folded {
				return line[:n], trimLeftOWS(value), k.kind, nil
			}
			return line[:n], trimOWS(value), k.kind, nil
		}
	}
	if name, value, err = splitField(line, folded); err != nil {
		return nil, nil, 0, err
	}
	kind = kindOf(name)
	if i < maxKnownNames && len(name) <= maxKnownNameLen {
		for len(rd.names) <= i {
			rd.names = append(rd.names, knownName{})
		}
		k := &rd.names[i]
		k.name, k.kind = append(k.name[:0], name...), kind
	}
	return name, value, kind, nil
}

// gotBytes reports whether the last ReadResponse read any byte.
func (rd *Reader) gotBytes() bool { return rd.got }

// DefaultMaxHeaderBytes is the default limit on a response's headers.
const DefaultMaxHeaderBytes = 1 << 20

const initialBuf = 4 << 10

// NewReader returns a Reader with a small buffer that grows, for a large
// header block, up to MaxHeaderBytes.
func NewReader() *Reader {
	return &Reader{buf: make([]byte, initialBuf), MaxHeaderBytes: DefaultMaxHeaderBytes, now: sinceStart}
}

// start is the epoch of a reader's default clock.
var start = time.Now()

func sinceStart() time.Duration { return time.Since(start) }

// Reset points the reader at src with nothing buffered.
func (rd *Reader) Reset(src io.Reader) {
	rd.src = src
	rd.r, rd.w = 0, 0
}

// Buffered is the number of bytes read from the connection and not yet
// consumed: after a whole response it is 0 unless the server sent more
// than the response.
func (rd *Reader) Buffered() int { return rd.w - rd.r }

// headerLimit is the bound on the header bytes of one response.
func (rd *Reader) headerLimit() int { return max(rd.MaxHeaderBytes, initialBuf) }

func (rd *Reader) errHeaderLimit() error {
	return protoErr("response headers exceeded " + strconv.Itoa(rd.headerLimit()) + " bytes (the header limit)")
}

// fill reads more bytes into the buffer, growing it when it is full of
// unread bytes (up to limit). The unread bytes keep their offsets from
// rd.r.
func (rd *Reader) fill(limit int) error {
	if rd.r > 0 && rd.r == rd.w {
		rd.r, rd.w = 0, 0
		rd.moves++
	}
	if rd.w == len(rd.buf) {
		rd.moves++
		if rd.r > 0 {
			n := copy(rd.buf, rd.buf[rd.r:rd.w])
			rd.r, rd.w = 0, n
		} else {
			if len(rd.buf) >= limit {
				return rd.errHeaderLimit()
			}
			nb := make([]byte, min(2*len(rd.buf), limit))
			copy(nb, rd.buf[:rd.w])
			rd.buf = nb
		}
	}
	n, err := rd.src.Read(rd.buf[rd.w:])
	if n > 0 {
		if !rd.got {
			rd.first, rd.got = rd.now(), true
		}
		rd.w += n
		return nil
	}
	if err == nil {
		return io.ErrNoProgress
	}
	return err
}

// statusPrefixLen is the length of what every status line starts with:
// "HTTP/D.D ".
const statusPrefixLen = len("HTTP/1.1 ")

// statusPrefixByte reports whether c may be byte i of that prefix.
func statusPrefixByte(i int, c byte) bool {
	switch i {
	case 5, 7:
		return '0' <= c && c <= '9'
	case 6:
		return c == '.'
	case 8:
		return c == ' '
	}
	return c == "HTTP/"[i]
}

// statusPrefix reports whether b starts with "HTTP/D.D ".
func statusPrefix(b []byte) bool {
	return string(b[:5]) == "HTTP/" && b[5]-'0' <= 9 && b[6] == '.' && b[7]-'0' <= 9 && b[8] == ' '
}

// statusLine reads the status line (without its CR LF or LF). Bytes that
// cannot start one fail at once, whether or not a newline came; at EOF,
// the bytes read are the line, as net/http takes them.
func (rd *Reader) statusLine() ([]byte, error) {
	limit := rd.headerLimit()
	checked, scan := 0, 0 // offsets from rd.r
	for {
		b := rd.buf[rd.r:rd.w]
		if checked == 0 && len(b) >= statusPrefixLen && statusPrefix(b) {
			checked = statusPrefixLen // the usual case: the whole prefix came
		}
		for ; checked < len(b) && checked < statusPrefixLen; checked++ {
			if !statusPrefixByte(checked, b[checked]) {
				return nil, protoErr("malformed status line " + quoted(b))
			}
		}
		if i := bytes.IndexByte(b[scan:], '\n'); i >= 0 {
			n := scan + i
			rd.r += n + 1
			rd.headBytes += n + 1
			if rd.headBytes > limit {
				return nil, rd.errHeaderLimit()
			}
			return dropCR(b[:n]), nil
		}
		scan = len(b)
		if rd.headBytes+len(b) > limit {
			return nil, rd.errHeaderLimit()
		}
		if err := rd.fill(limit); err != nil {
			if b = rd.buf[rd.r:rd.w]; errors.Is(err, io.EOF) && len(b) > 0 {
				rd.r += len(b)
				return b, nil
			}
			return nil, err
		}
	}
}

// fieldLine reads the next header (or trailer) line, with the lines that
// continue it (obs-fold: they start with a space or a tab) joined to it as
// net/http joins them: each trimmed of its spaces and tabs, one space
// between. The end of the fields is an empty line. At EOF, the bytes read
// are the line. The line aliases the buffer until the next read; folded
// says it was joined (its value is not trimmed at its end). The first
// field of a block may not start with a space or a tab.
func (rd *Reader) fieldLine(limit int, first bool) (line []byte, folded bool, err error) {
	scan := 0 // offset from rd.r: no newline before it in the last physical line
	for {
		b := rd.buf[rd.r:rd.w]
		if first && len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
			// No field to continue: net/http refuses it, whatever follows.
			return nil, false, protoErr("the first header line starts with a space: " + quoted(b[:min(len(b), 80)]))
		}
		i := bytes.IndexByte(b[scan:], '\n')
		if i >= 0 {
			n := scan + i
			if n == 0 || n == 1 && b[0] == '\r' {
				rd.r += n + 1
				rd.headBytes += n + 1
				return b[:0], false, nil
			}
			if n+1 < len(b) {
				if c := b[n+1]; c == ' ' || c == '\t' {
					folded, scan = true, n+1
					continue
				}
				if !folded { // the common case, kept inline
					rd.r += n + 1
					if rd.headBytes += n + 1; rd.headBytes > limit {
						return nil, false, rd.errHeaderLimit()
					}
					return dropCR(b[:n]), false, nil
				}
				return rd.field(b[:n+1], folded, limit)
			}
			scan = n // the next byte decides whether a continuation follows
		} else {
			scan = len(b)
		}
		if rd.headBytes+len(b) > limit {
			return nil, false, rd.errHeaderLimit()
		}
		if err := rd.fill(limit); err != nil {
			if b = rd.buf[rd.r:rd.w]; errors.Is(err, io.EOF) && len(b) > 0 {
				return rd.field(b, folded, limit)
			}
			return nil, false, err
		}
	}
}

// field consumes raw (one field's physical lines) and returns the line,
// joined in place when folded.
func (rd *Reader) field(raw []byte, folded bool, limit int) ([]byte, bool, error) {
	rd.r += len(raw)
	rd.headBytes += len(raw)
	if rd.headBytes > limit {
		return nil, false, rd.errHeaderLimit()
	}
	if !folded {
		if n := len(raw); n > 0 && raw[n-1] == '\n' {
			raw = dropCR(raw[:n-1])
		}
		return raw, false, nil
	}
	// The first line trimmed, then for each continuation a space and the
	// line trimmed, written over raw from its start: each continuation
	// starts with a space or a tab and the line before it ended in a
	// newline, so what is written never passes what is still to be read.
	dst, src := raw[:0], raw
	for k := 0; len(src) > 0; k++ {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = dropCR(src[:i]), src[i+1:]
		} else {
			src = nil
		}
		if k == 0 {
			if bytes.IndexByte(line, ':') < 0 {
				return nil, false, protoErr("header line without a colon: " + quoted(line))
			}
		} else {
			dst = append(dst, ' ')
		}
		dst = append(dst, trimOWS(line)...)
	}
	return dst, true, nil
}

// dropCR drops one CR at the end of a line.
func dropCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// quoted is b in Go syntax, cut to 64 bytes, for an error message.
func quoted(b []byte) string {
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "..."
	}
	return strconv.Quote(string(b))
}

// splitField splits a header or trailer line into its name and value, and
// checks both as net/http does: a colon, a name of token characters (a
// space is let through: such a name is no header faya knows), a value
// without control bytes but tabs.
func splitField(line []byte, folded bool) (name, value []byte, err error) {
	colon := 0 // the name is read and checked in one pass
	for colon < len(line) && nameChars[line[colon]] {
		colon++
	}
	switch {
	case colon < len(line) && line[colon] == ':' && colon > 0:
	case bytes.IndexByte(line, ':') < 0:
		return nil, nil, protoErr("header line without a colon: " + quoted(line))
	default:
		return nil, nil, protoErr("invalid header name: " + quoted(line))
	}
	name, value = line[:colon], line[colon+1:]
	if !validValue(value) {
		return nil, nil, protoErr("invalid byte in a header value: " + quoted(line))
	}
	if folded {
		return name, trimLeftOWS(value), nil // joined: its end is as net/http leaves it
	}
	return name, trimOWS(value), nil
}

// ReadResponse reads one response to its end. head says the request was a
// HEAD (no body follows). maxBody caps the body bytes read (negative: no
// cap). onHeader, if not nil, sees every header of the final response.
// keepLocation keeps a 3xx response's Location.
func (rd *Reader) ReadResponse(head bool, maxBody int64, onHeader HeaderFunc, keepLocation bool) (Response, error) {
	var resp Response
	err := rd.readResponse(&resp, head, maxBody, onHeader, keepLocation)
	return resp, err
}

// readResponse is ReadResponse into *resp, which is zero: a client's
// request path does not copy the response out of the reader's frame.
func (rd *Reader) readResponse(resp *Response, head bool, maxBody int64, onHeader HeaderFunc, keepLocation bool) error {
	rd.got = false
	rd.maxBody = maxBody
	rd.headBytes = 0
	if rd.r < rd.w {
		rd.first, rd.got = rd.now(), true // bytes were already here
	}
	for {
		if err := rd.readHead(resp, head, onHeader, keepLocation); err != nil {
			if !rd.got && errors.Is(err, io.EOF) {
				return io.EOF // nothing at all: the server closed the connection
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		// 1xx answers (but 101) precede the real one; their header bytes
		// count against the same limit.
		if resp.Status >= 100 && resp.Status < 200 && resp.Status != 101 {
			*resp = Response{}
			continue
		}
		break
	}
	resp.FirstByte = rd.first
	return nil
}

// readHead reads a status line, the headers, and the body they describe.
// Long: one pass over the head, header by header, whose framing facts
// (Content-Length, Transfer-Encoding, Connection, Trailer) are judged
// together at its end; split, they would travel as a struct of flags.
func (rd *Reader) readHead(resp *Response, head bool, onHeader HeaderFunc, keepLocation bool) error {
	l := &rd.last
	if len(l.head) > 0 && onHeader == nil && rd.headBytes == 0 && rd.r == rd.w {
		// statusLine's first step, taken here to look at the bytes.
		if err := rd.fill(rd.headerLimit()); err != nil {
			return err
		}
	}
	if len(l.head) > 0 && onHeader == nil && rd.headBytes == 0 && l.keepLocation == keepLocation &&
		rd.w-rd.r >= len(l.head) && string(rd.buf[rd.r:rd.r+len(l.head)]) == string(l.head) && len(l.head) <= rd.headerLimit() {
		// The head of the last response again: what it said holds.
		rd.hits++
		rd.r += len(l.head)
		rd.headBytes += len(l.head)
		*resp = l.resp
		if l.loc != nil {
			resp.Location = l.loc
		}
		return rd.body(resp, head, l.chunked, l.contentLength)
	}
	start, moves := rd.r, rd.moves
	line, err := rd.statusLine()
	if err != nil {
		return err
	}
	if err := parseStatusLine(line, resp); err != nil {
		return err
	}
	var (
		clSeen, clDiffer bool
		te               int // Transfer-Encoding lines
		closeTok         bool
		keepAliveTok     bool
		badTrailer       bool
		final            = resp.Status < 100 || resp.Status >= 200
	)
	limit := rd.headerLimit()
	for i := 0; ; i++ {
		line, folded, err := rd.fieldLine(limit, i == 0)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		name, value, kind, err := rd.header(line, folded, i)
		if err != nil {
			return err
		}
		switch kind {
		case fieldContentLength:
			v := trimOWS(value)
			if !clSeen {
				rd.cl = append(rd.cl[:0], v...) // the buffer moves as more is read
				clSeen = true
			} else if !bytes.Equal(v, rd.cl) {
				clDiffer = true
			}
		case fieldTransferEncoding:
			te++
			rd.te = append(rd.te[:0], value...)
		case fieldConnection:
			switch string(value) { // the usual values, without a token scan
			case "keep-alive":
				keepAliveTok = true
			case "close":
				closeTok = true
			default:
				closeTok = closeTok || hasToken(value, "close")
				keepAliveTok = keepAliveTok || hasToken(value, "keep-alive")
			}
		case fieldTrailer:
			badTrailer = badTrailer || hasToken(value, "content-length") || hasToken(value, "transfer-encoding") || hasToken(value, "trailer")
		case fieldLocation:
			if keepLocation {
				rd.loc = append(rd.loc[:0], value...) // the buffer moves as the body is read
				resp.Location = rd.loc
			}
		}
		if onHeader != nil && final {
			onHeader(name, value)
		}
	}
	// Framing, checked as net/http does whatever the status and method.
	// Transfer-Encoding (ignored before HTTP/1.1, but net/http takes
	// "HTTP/0.0" for 1.1) is chunked or nothing.
	chunked := false
	if v := resp.Major*10 + resp.Minor; te > 0 && (v >= 11 || v == 0) {
		if te > 1 {
			return protoErr("too many transfer encodings: " + strconv.Itoa(te) + " Transfer-Encoding lines")
		}
		if !equalFold(rd.te, "chunked") {
			return protoErr("unsupported transfer encoding " + quoted(rd.te))
		}
		chunked = true
	}
	var contentLength int64 = -1
	if clSeen {
		if clDiffer {
			return protoErr("bad Content-Length: several that differ")
		}
		n, ok := parseContentLength(rd.cl)
		if !ok {
			return protoErr("bad Content-Length " + quoted(rd.cl))
		}
		contentLength = n
	}
	if chunked && badTrailer {
		return protoErr("invalid Trailer: it names a framing header")
	}
	if resp.Status < 100 {
		return protoErr("malformed status code " + strconv.Itoa(resp.Status) + ": below 100")
	}
	switch {
	case resp.Major < 1:
		closeTok = true
	case resp.Major == 1 && resp.Minor == 0 && !keepAliveTok:
		closeTok = true
	}
	resp.CloseAnswer = closeTok
	resp.Close = closeTok || resp.Status == 101 // the connection speaks another protocol now
	if n := rd.r - start; rd.moves == moves && n == rd.headBytes && n <= maxLastHead && resp.Status >= 200 {
		// Read whole in the buffer, no 1xx before it: kept for the next.
		l := &rd.last
		l.head = append(l.head[:0], rd.buf[start:rd.r]...)
		l.resp = Response{Status: resp.Status, Major: resp.Major, Minor: resp.Minor, CloseAnswer: resp.CloseAnswer, Close: resp.Close}
		l.chunked, l.contentLength, l.keepLocation = chunked, contentLength, keepLocation
		l.loc = nil
		if resp.Location != nil {
			l.loc = append(l.loc[:0:0], resp.Location...)
		}
	}
	return rd.body(resp, head, chunked, contentLength)
}

// body reads the body a head described, after telling onHead.
func (rd *Reader) body(resp *Response, head, chunked bool, contentLength int64) error {
	final := resp.Status >= 200
	if rd.onHead != nil && (final || resp.Status == 101) {
		rd.onHead()
	}
	noBody := head || resp.Status < 200 || resp.Status == 204 || resp.Status == 304
	switch {
	case noBody:
		return nil
	case chunked:
		return rd.chunkedBody(resp)
	case contentLength >= 0:
		return rd.fixedBody(resp, contentLength)
	default:
		resp.Close = true // delimited by the end of the connection
		resp.CloseAnswer = true
		return rd.bodyToEOF(resp)
	}
}

// parseStatusLine reads "HTTP/D.D", spaces, a three-digit code, and an
// optional reason after a space, as net/http does. A code below 100 is
// refused once the headers are read (net/http takes any three characters
// strconv.Atoi reads, and faya's net/http engine refuses those below 100
// when net/http returns them).
// statusLine has checked the prefix of what it returns.
func parseStatusLine(line []byte, resp *Response) error {
	if len(line) < statusPrefixLen {
		return protoErr("malformed status line " + quoted(line))
	}
	resp.Major, resp.Minor = int(line[5]-'0'), int(line[7]-'0')
	rest := line[statusPrefixLen:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	code := rest
	if i := bytes.IndexByte(rest, ' '); i >= 0 {
		code = rest[:i]
	}
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	if len(code) != 3 || !digit(code[1]) || !digit(code[2]) {
		return protoErr("malformed status code " + quoted(code))
	}
	low := int(code[1]-'0')*10 + int(code[2]-'0')
	switch c := code[0]; {
	case digit(c):
		resp.Status = int(c-'0')*100 + low
	case c == '+' || c == '-' && low == 0:
		resp.Status = low // "+12", "-00": as strconv.Atoi reads them, refused below
	default:
		return protoErr("malformed status code " + quoted(code))
	}
	return nil
}

// fixedBody consumes a body of n bytes, counting them up to the cap.
func (rd *Reader) fixedBody(resp *Response, n int64) error {
	return rd.consume(resp, n, true)
}

// consume reads n body bytes (or until EOF when n < 0 and toEOF), counting
// them, and stops at the cap.
func (rd *Reader) consume(resp *Response, n int64, exact bool) error {
	for n != 0 {
		if rd.r == rd.w {
			if err := rd.fillBody(); err != nil {
				if !exact && errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
		take := int64(rd.w - rd.r)
		if n > 0 {
			take = min(take, n)
		}
		if rd.capture != nil {
			if room := rd.captureMax - int64(len(*rd.capture)); room > 0 {
				*rd.capture = append(*rd.capture, rd.buf[rd.r:rd.r+int(min(take, room))]...)
			}
		}
		rd.r += int(take)
		if n > 0 {
			n -= take
		}
		resp.BodyBytes += take
		if rd.capped(resp) {
			return nil
		}
	}
	return nil
}

// capped stops the body at the cap; the rest stays on the connection,
// which then cannot be reused.
func (rd *Reader) capped(resp *Response) bool {
	if rd.maxBody >= 0 && resp.BodyBytes > rd.maxBody {
		resp.BodyBytes = rd.maxBody
		resp.Truncated, resp.Close = true, true
		rd.r = rd.w
		return true
	}
	return false
}

// fillBody refills the buffer for body bytes, reading into the whole
// buffer.
func (rd *Reader) fillBody() error {
	rd.r, rd.w = 0, 0
	rd.moves++
	n, err := rd.src.Read(rd.buf)
	if n > 0 {
		if !rd.got {
			rd.first, rd.got = rd.now(), true
		}
		rd.w = n
		return nil
	}
	if err == nil {
		return io.ErrNoProgress
	}
	return err
}

func (rd *Reader) bodyToEOF(resp *Response) error {
	return rd.consume(resp, -1, false)
}

// maxChunkLine bounds a chunk-size line and a trailer block, CR LF
// included: the size of net/http's read buffer, which holds them whole.
const maxChunkLine = 4096

// chunkedBody reads a chunked body as net/http's chunked reader does:
// size lines ending in CRLF, sizes of up to 16 hex digits (extensions
// after ';' ignored), CRLF after each chunk, no more than 16 KiB of
// overhead beyond what the data justify, then the trailers.
func (rd *Reader) chunkedBody(resp *Response) error {
	var excess int64
	for {
		line, err := rd.chunkLine()
		if err != nil {
			return err
		}
		excess += int64(len(line)) + 2
		line = trimRightOWS(line)
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, ok := parseHex(line)
		if !ok {
			return protoErr("bad chunk size " + quoted(line))
		}
		// As net/http counts it, overflow included (a size past 2^62
		// makes the count wrap and fail).
		excess -= 16 + 2*int64(size)
		excess = max(excess, 0)
		if excess > 16<<10 {
			return protoErr("chunked encoding contains too much non-data")
		}
		if size == 0 {
			break
		}
		if err := rd.consume(resp, int64(min(size, math.MaxInt64)), true); err != nil {
			return err
		}
		if resp.Truncated {
			return nil
		}
		if err := rd.need(2); err != nil {
			return err
		}
		if rd.buf[rd.r] != '\r' || rd.buf[rd.r+1] != '\n' {
			return protoErr("chunk not followed by CRLF")
		}
		rd.r += 2
	}
	return rd.trailers()
}

// need reads until n bytes are buffered (n at most the buffer's size).
func (rd *Reader) need(n int) error {
	for rd.w-rd.r < n {
		if err := rd.fill(len(rd.buf)); err != nil {
			return err
		}
	}
	return nil
}

// chunkLine reads a chunk-size line, which ends in CR LF (not a bare LF,
// no other CR) and fits in maxChunkLine bytes.
func (rd *Reader) chunkLine() ([]byte, error) {
	scan := 0
	for {
		b := rd.buf[rd.r:rd.w]
		if i := bytes.IndexByte(b[scan:], '\n'); i >= 0 {
			n := scan + i
			if n+1 > maxChunkLine {
				return nil, protoErr("chunk size line too long")
			}
			line := b[:n]
			if n == 0 || line[n-1] != '\r' {
				return nil, protoErr("chunk size line ends with a bare LF")
			}
			if bytes.IndexByte(line, '\r') != n-1 {
				return nil, protoErr("chunk size line holds a CR")
			}
			rd.r += n + 1
			return line[:n-1], nil
		}
		if len(b) >= maxChunkLine {
			return nil, protoErr("chunk size line too long")
		}
		scan = len(b)
		if err := rd.fill(max(len(rd.buf), maxChunkLine)); err != nil {
			return nil, err
		}
	}
}

// errTrailerEOF is the end of the connection where the trailers (or the
// CR LF that ends a chunked body) should be.
var errTrailerEOF = fmt.Errorf("http1: the connection ended before the trailers: %w", io.ErrUnexpectedEOF)

// trailers reads the trailer block after the last chunk as net/http does:
// a CR LF alone, or fields that end in CR LF CR LF within maxChunkLine
// bytes, checked as headers are.
func (rd *Reader) trailers() error {
	if err := rd.need(2); err != nil {
		if errors.Is(err, io.EOF) {
			return errTrailerEOF
		}
		return err
	}
	if rd.buf[rd.r] == '\r' && rd.buf[rd.r+1] == '\n' {
		rd.r += 2
		return nil
	}
	for {
		b := rd.buf[rd.r:rd.w]
		if bytes.Contains(b[:min(len(b), maxChunkLine)], crlfcrlf) {
			break
		}
		if len(b) >= maxChunkLine {
			return protoErr("trailers longer than " + strconv.Itoa(maxChunkLine) + " bytes")
		}
		if err := rd.fill(max(len(rd.buf), maxChunkLine)); err != nil {
			if errors.Is(err, io.EOF) {
				return protoErr("trailers cut off before their end")
			}
			return err
		}
	}
	saved := rd.headBytes
	defer func() { rd.headBytes = saved }()
	limit := rd.headBytes + maxChunkLine // the block is buffered whole
	for first := true; ; first = false {
		line, folded, err := rd.fieldLine(limit, first)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if _, _, err := splitField(line, folded); err != nil {
			return err
		}
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// parseContentLength reads a Content-Length as net/http does: decimal
// digits (leading zeros allowed) up to 2^63-1.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseHex reads a chunk size: 1 to 16 hex digits.
func parseHex(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}

func trimOWS(b []byte) []byte { return trimRightOWS(trimLeftOWS(b)) }

func trimLeftOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func trimRightOWS(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with the lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds tok (ASCII,
// any case).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		item := v
		if i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if equalFold(trimOWS(item), tok) {
			return true
		}
	}
	return false
}

var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// nameChars are the bytes of a header name net/http takes: token
// characters, and spaces (which net/http lets through without
// canonicalizing the name).
var nameChars = func() [256]bool {
	t := tokenChars
	t[' '] = true
	return t
}()

// validValue reports a header value net/http takes (see valueChars),
// eight bytes at a time: a word with no byte below 0x20 and no DEL is
// valid as it is (obs-text, 0x80 and up, is valid); one with a tab, or
// an error, is looked at byte by byte.
func validValue(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		below := (x - ones*0x20) &^ x & highs // some byte < 0x20
		d := x ^ ones*0x7f
		del := (d - ones) &^ d & highs // some byte == 0x7f
		if below|del != 0 {
			for _, c := range v[:8] {
				if !valueChars[c] {
					return false
				}
			}
		}
		v = v[8:]
	}
	for _, c := range v {
		if !valueChars[c] {
			return false
		}
	}
	return true
}

// valueChars are the bytes a header value may hold: tab, space, visible
// ASCII and obs-text (0x80-0xff), as net/http allows.
var valueChars = func() (t [256]bool) {
	t['\t'] = true
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] = true
	}
	return t
}()
