package http1

import (
	"bytes"
	"errors"
	"io"
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
	Minor  int // HTTP/1.Minor
	// Close is set when the connection cannot carry another request: the
	// server said "Connection: close", answered HTTP/1.0 without
	// keep-alive, or sent a body delimited by closing the connection.
	Close bool
	// CloseAnswer is set when the response itself asked for the close
	// ("Connection: close", or HTTP/1.0 without keep-alive).
	CloseAnswer bool
	BodyBytes   int64
	// Truncated is set when the body was longer than the cap and reading
	// stopped there; the connection cannot be reused.
	Truncated bool
	// FirstByte is when the first byte of the response arrived.
	FirstByte time.Time
	// Location is the Location header, when the reader was asked to keep
	// it (it aliases the reader's storage until the next response).
	Location []byte
}

// HeaderFunc sees each response header; name is in the case the server
// sent. Both slices alias the reader's buffer: copy what you keep.
type HeaderFunc func(name, value []byte)

// Reader reads HTTP/1.x responses from a connection into one buffer,
// without allocating per response. A Reader serves one goroutine; it may
// read from different connections one after another, as long as each
// response is read whole (a connection with bytes left over is not
// reused).
type Reader struct {
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	src  io.Reader
	// MaxHeaderBytes bounds the status line and headers of one response.
	MaxHeaderBytes int
	first          time.Time
	now            func() time.Time // the clock FirstByte is read from
	maxBody        int64
	loc            []byte
	onHead         func() // called when the final response's headers were read
	// capture, when not nil, receives the body, up to captureMax bytes.
	capture    *[]byte
	captureMax int64
}

// gotBytes reports whether the last ReadResponse read any byte.
func (rd *Reader) gotBytes() bool { return !rd.first.IsZero() }

// DefaultMaxHeaderBytes is net/http's default limit on response headers.
const DefaultMaxHeaderBytes = 1 << 20

const initialBuf = 4 << 10

// NewReader returns a Reader with a small buffer that grows, for a large
// header block, up to MaxHeaderBytes.
func NewReader() *Reader {
	return &Reader{buf: make([]byte, initialBuf), MaxHeaderBytes: DefaultMaxHeaderBytes, now: time.Now}
}

// Reset points the reader at src with nothing buffered.
func (rd *Reader) Reset(src io.Reader) {
	rd.src = src
	rd.r, rd.w = 0, 0
}

// Buffered is the number of bytes read from the connection and not yet
// consumed: after a whole response it is 0 unless the server sent more
// than the response.
func (rd *Reader) Buffered() int { return rd.w - rd.r }

// fill reads more bytes into the buffer, growing it when it is full of
// unread header bytes (up to limit).
func (rd *Reader) fill(limit int) error {
	if rd.r > 0 && rd.r == rd.w {
		rd.r, rd.w = 0, 0
	}
	if rd.w == len(rd.buf) {
		if rd.r > 0 {
			n := copy(rd.buf, rd.buf[rd.r:rd.w])
			rd.r, rd.w = 0, n
		} else {
			if len(rd.buf) >= limit {
				return protoErr("headers larger than " + strconv.Itoa(limit) + " bytes")
			}
			nb := make([]byte, min(2*len(rd.buf), limit))
			copy(nb, rd.buf[:rd.w])
			rd.buf = nb
		}
	}
	n, err := rd.src.Read(rd.buf[rd.w:])
	if n > 0 {
		if rd.first.IsZero() {
			rd.first = rd.now()
		}
		rd.w += n
		return nil
	}
	if err == nil {
		return io.ErrNoProgress
	}
	return err
}

// line returns the next line (without its CR LF or LF), reading more as
// needed; the line aliases the buffer until the next call.
func (rd *Reader) line(limit int) ([]byte, error) {
	scanned := rd.r
	for {
		if i := bytes.IndexByte(rd.buf[scanned:rd.w], '\n'); i >= 0 {
			end := scanned + i
			line := rd.buf[rd.r:end]
			rd.r = end + 1
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		}
		off := rd.r
		scanned = rd.w
		if err := rd.fill(limit); err != nil {
			return nil, err
		}
		scanned -= off - rd.r // the buffer may have moved
	}
}

// ReadResponse reads one response to its end. head says the request was a
// HEAD (no body follows). maxBody caps the body bytes read (negative: no
// cap). onHeader, if not nil, sees every header of the final response.
// keepLocation keeps a 3xx response's Location.
func (rd *Reader) ReadResponse(head bool, maxBody int64, onHeader HeaderFunc, keepLocation bool) (Response, error) {
	rd.first = time.Time{}
	rd.maxBody = maxBody
	if rd.r < rd.w {
		rd.first = rd.now() // bytes were already here
	}
	var resp Response
	for {
		if err := rd.readHead(&resp, head, onHeader, keepLocation); err != nil {
			if rd.first.IsZero() && errors.Is(err, io.EOF) {
				return resp, io.EOF // nothing at all: the server closed the connection
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return resp, err
		}
		// 1xx answers (but 101) precede the real one.
		if resp.Status >= 100 && resp.Status < 200 && resp.Status != 101 {
			resp = Response{}
			continue
		}
		break
	}
	resp.FirstByte = rd.first
	return resp, nil
}

// readHead reads a status line, the headers, and the body they describe.
func (rd *Reader) readHead(resp *Response, head bool, onHeader HeaderFunc, keepLocation bool) error {
	limit := max(rd.MaxHeaderBytes, initialBuf)
	line, err := rd.line(limit)
	if err != nil {
		return err
	}
	if err := parseStatusLine(line, resp); err != nil {
		return err
	}
	size := len(line)
	var (
		contentLength int64 = -1
		chunked       bool
		toEOF         bool
		closeTok      bool
		keepAliveTok  bool
		clSeen        bool
	)
	for {
		line, err := rd.line(limit)
		if err != nil {
			return err
		}
		if size += len(line) + 2; size > limit {
			return protoErr("headers larger than " + strconv.Itoa(limit) + " bytes")
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return protoErr("header line without a colon")
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !validName(name) {
			return protoErr("invalid header name")
		}
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseContentLength(value)
			if !ok || (clSeen && n != contentLength) {
				return protoErr("bad Content-Length")
			}
			contentLength, clSeen = n, true
		case equalFold(name, "transfer-encoding"):
			// chunked must be the last coding; anything else is read to
			// the close of the connection.
			chunked = hasLastToken(value, "chunked")
			toEOF = !chunked
		case equalFold(name, "connection"):
			closeTok = closeTok || hasToken(value, "close")
			keepAliveTok = keepAliveTok || hasToken(value, "keep-alive")
		case keepLocation && equalFold(name, "location"):
			rd.loc = append(rd.loc[:0], value...) // the buffer moves as the body is read
			resp.Location = rd.loc
		}
		if onHeader != nil && (resp.Status < 100 || resp.Status >= 200) {
			onHeader(name, value)
		}
	}
	if resp.Minor == 0 && !keepAliveTok {
		closeTok = true
	}
	resp.CloseAnswer = closeTok
	resp.Close = closeTok
	if rd.onHead != nil && (resp.Status < 100 || resp.Status >= 200 || resp.Status == 101) {
		rd.onHead()
	}
	noBody := head || resp.Status < 200 || resp.Status == 204 || resp.Status == 304
	switch {
	case noBody:
		return nil
	case chunked:
		return rd.chunkedBody(resp)
	case contentLength >= 0 && !toEOF:
		return rd.fixedBody(resp, contentLength)
	default:
		resp.Close = true // delimited by the end of the connection
		return rd.bodyToEOF(resp)
	}
}

func parseStatusLine(line []byte, resp *Response) error {
	// HTTP/1.x SSS[ reason]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return protoErr("malformed status line")
	}
	resp.Minor = int(line[7] - '0')
	code := line[9:12]
	if code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return protoErr("malformed status code")
	}
	if len(line) > 12 && line[12] != ' ' {
		return protoErr("malformed status code")
	}
	resp.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
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
	n, err := rd.src.Read(rd.buf)
	if n > 0 {
		if rd.first.IsZero() {
			rd.first = rd.now()
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

func (rd *Reader) chunkedBody(resp *Response) error {
	limit := max(rd.MaxHeaderBytes, initialBuf)
	for {
		line, err := rd.line(limit)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, ok := parseHex(trimOWS(line))
		if !ok {
			return protoErr("bad chunk size")
		}
		if size == 0 {
			break
		}
		if err := rd.consume(resp, size, true); err != nil {
			return err
		}
		if resp.Truncated {
			return nil
		}
		crlf, err := rd.line(limit)
		if err != nil {
			return err
		}
		if len(crlf) != 0 {
			return protoErr("chunk not followed by CRLF")
		}
	}
	// Trailers, to the empty line.
	for n := 0; ; n++ {
		line, err := rd.line(limit)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if n > 1000 {
			return protoErr("too many trailers")
		}
	}
}

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseHex(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 15 {
		return 0, false
	}
	var n int64
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
		n = n<<4 | int64(d)
	}
	return n, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
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

// hasLastToken reports whether the last item of the list v is tok.
func hasLastToken(v []byte, tok string) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return equalFold(trimOWS(v), tok)
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

func validName(b []byte) bool {
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return len(b) > 0
}
