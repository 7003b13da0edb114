package h2

import (
	"bytes"
	"errors"

	"golang.org/x/net/http2/hpack"
)

// decoder is an HPACK decoder (RFC 7541) for response header blocks that
// does not allocate per field: each field is handed to emit as byte
// slices valid until the next one, the dynamic table's strings live in
// one byte arena, and a literal the table does not keep is not even
// Huffman-decoded when skip says the rest of the block is not wanted.
// (x/net's hpack.Decoder makes two strings per literal; nginx sends its
// every response header as a literal with incremental indexing.)
// Huffman decoding is hpack's.
type decoder struct {
	maxSize int // the table size the client allows (SETTINGS_HEADER_TABLE_SIZE)
	limit   int // the table size the server set (a size update), at most maxSize
	size    int // the table's size as RFC 7541 counts it (32 more per entry)
	// ents[head:] are the table's entries, oldest first: eviction moves
	// head, and the live ones move to the front only once head passes
	// half of ents (an eviction per added field is the usual case: nginx
	// adds every response header).
	ents    []entry
	head    int
	arena   []byte
	maxStr  int // the longest string accepted (0: no bound)
	skip    bool
	scratch [2]strBuf
	// memo holds the last Huffman-coded values decoded, coded and
	// decoded: a server sends the same values again and again (nginx:
	// server, content-type, content-length, the date for a second).
	memo     [8]struct{ raw, dec []byte }
	memoNext int

	// The last block decoded in full and the fields it held, replayed
	// when the next block is the same bytes and the table is in a state
	// that block leaves as it found it (see decode). rec* are the block
	// being decoded's.
	last      []byte
	lastReps  int  // full decodes of last in a row
	lastOK    bool // the next copy of last may be replayed
	fields    []byte
	fieldLens []int // name and value lengths, in turn
	recAdd    int   // the sizes of the entries the block added
	recUpdate bool  // it changed the table's size
	recSkip   bool  // a field of it went undecoded (skip)
}

type entry struct{ off, nlen, vlen int }

type strBuf struct{ b []byte }

func (s *strBuf) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

var (
	errHpackIndex  = errors.New("hpack: invalid index")
	errHpackInt    = errors.New("hpack: integer overflow")
	errHpackTrunc  = errors.New("hpack: truncated header block")
	errHpackSize   = errors.New("hpack: table size update over the allowed size")
	errHpackString = errors.New("hpack: string over the header limit")
	errHpackBad    = errors.New("hpack: invalid encoding")
)

func newDecoder(maxSize, maxStr int) *decoder {
	return &decoder{maxSize: maxSize, limit: maxSize, maxStr: maxStr}
}

// decode decodes one whole header block, calling emit per field. Setting
// d.skip from emit makes the rest of the block's literals go unread
// (those the table keeps are still decoded and kept).
//
// A server sends the same header block again and again (nginx: the same
// answer's headers, the date changing once a second), and each one adds
// the same entries to the table (nginx indexes every field). Once a
// block was decoded in full often enough that the table holds nothing
// but its entries (and its fields were read from such a table: the
// decodes in a row before the last one added at least the table's size),
// decoding it again leaves the table as it was and yields the same
// fields: the next copy replays them instead (a block that changes the
// table's size, or had a field left undecoded, is never replayed).
// FuzzDecoderRepeats and TestDecoderReplays hold it to x/net's decoder.
func (d *decoder) decode(p []byte, emit func(name, value []byte)) error {
	d.skip = false
	if d.lastOK && bytes.Equal(p, d.last) {
		off := 0
		for i := 0; i+1 < len(d.fieldLens) && !d.skip; i += 2 {
			n, v := d.fieldLens[i], d.fieldLens[i+1]
			emit(d.fields[off:off+n], d.fields[off+n:off+n+v])
			off += n + v
		}
		return nil
	}
	d.fields, d.fieldLens = d.fields[:0], d.fieldLens[:0]
	d.recAdd, d.recUpdate, d.recSkip = 0, false, false
	d.lastOK = false
	if err := d.decodeFull(p, emit); err != nil {
		d.lastReps = 0
		d.last = d.last[:0]
		return err
	}
	if d.lastReps > 0 && bytes.Equal(p, d.last) {
		d.lastReps++
	} else {
		d.last = append(d.last[:0], p...)
		d.lastReps = 1
	}
	d.lastOK = !d.recUpdate && !d.recSkip && len(p) <= 4096 &&
		(d.recAdd == 0 || (d.lastReps-1)*d.recAdd >= d.limit)
	return nil
}

// out hands a decoded field to emit (unless skip) and records it for a
// replay.
func (d *decoder) out(name, value []byte, emit func(name, value []byte)) {
	d.fields = append(append(d.fields, name...), value...)
	d.fieldLens = append(d.fieldLens, len(name), len(value))
	if !d.skip {
		emit(name, value)
	}
}

func (d *decoder) decodeFull(p []byte, emit func(name, value []byte)) error {
	first := true
	for len(p) > 0 {
		b := p[0]
		switch {
		case b&0x80 != 0: // indexed field
			i, rest, err := varint(p, 7)
			if err != nil {
				return err
			}
			p = rest
			name, value, ok := d.at(i)
			if !ok {
				return errHpackIndex
			}
			d.out(name, value, emit)
		case b&0xc0 == 0x40: // literal, added to the table
			rest, err := d.literal(p, 6, true, emit)
			if err != nil {
				return err
			}
			p = rest
		case b&0xf0 == 0x00, b&0xf0 == 0x10: // literal, not added (never indexed or not)
			rest, err := d.literal(p, 4, false, emit)
			if err != nil {
				return err
			}
			p = rest
		case b&0xe0 == 0x20: // dynamic table size update
			if !first && d.size > 0 { // as x/net's decoder: only first, or with the table empty
				return errHpackBad
			}
			n, rest, err := varint(p, 5)
			if err != nil {
				return err
			}
			if n > uint64(d.maxSize) {
				return errHpackSize
			}
			p = rest
			d.limit = int(n)
			d.recUpdate = true
			d.evict(0)
			continue
		default:
			return errHpackBad
		}
		first = false
	}
	return nil
}

func (d *decoder) literal(p []byte, n uint8, index bool, emit func(name, value []byte)) ([]byte, error) {
	i, p, err := varint(p, n)
	if err != nil {
		return nil, err
	}
	var name []byte
	nameRaw, nameHuff := []byte(nil), false
	if i > 0 {
		nn, _, ok := d.at(i)
		if !ok {
			return nil, errHpackIndex
		}
		name = nn
		if i > uint64(len(staticTable)) {
			// In the arena, which adding to the table may move.
			d.scratch[0].b = append(d.scratch[0].b[:0], nn...)
			name = d.scratch[0].b
		}
	} else {
		if nameRaw, nameHuff, p, err = d.str(p); err != nil {
			return nil, err
		}
	}
	valRaw, valHuff, p, err := d.str(p)
	if err != nil {
		return nil, err
	}
	if d.skip && !index {
		d.recSkip = true
		return p, nil
	}
	if i == 0 {
		if name, err = d.text(&d.scratch[0], nameRaw, nameHuff); err != nil {
			return nil, err
		}
	}
	value, err := d.value(valRaw, valHuff)
	if err != nil {
		return nil, err
	}
	if index {
		d.recAdd += len(name) + len(value) + 32
		d.add(name, value)
	}
	d.out(name, value, emit)
	return p, nil
}

// str reads a string literal: its bytes, and whether they are Huffman
// coded.
func (d *decoder) str(p []byte) (raw []byte, huff bool, rest []byte, err error) {
	if len(p) == 0 {
		return nil, false, nil, errHpackTrunc
	}
	huff = p[0]&0x80 != 0
	n, p, err := varint(p, 7)
	if err != nil {
		return nil, false, nil, err
	}
	if d.maxStr > 0 && n > uint64(d.maxStr) {
		return nil, false, nil, errHpackString
	}
	if uint64(len(p)) < n {
		return nil, false, nil, errHpackTrunc
	}
	return p[:n], huff, p[n:], nil
}

// text returns raw decoded (into buf when Huffman coded).
func (d *decoder) text(buf *strBuf, raw []byte, huff bool) ([]byte, error) {
	if !huff {
		return raw, nil
	}
	buf.b = buf.b[:0]
	if _, err := hpack.HuffmanDecode(buf, raw); err != nil {
		return nil, err
	}
	if d.maxStr > 0 && len(buf.b) > d.maxStr {
		return nil, errHpackString
	}
	return buf.b, nil
}

// value returns a field's value decoded, from the memo when it was seen
// lately.
func (d *decoder) value(raw []byte, huff bool) ([]byte, error) {
	if !huff || len(raw) > 128 {
		return d.text(&d.scratch[1], raw, huff)
	}
	for i := range d.memo {
		if m := &d.memo[i]; m.raw != nil && bytes.Equal(m.raw, raw) {
			return m.dec, nil
		}
	}
	dec, err := d.text(&d.scratch[1], raw, huff)
	if err != nil {
		return nil, err
	}
	m := &d.memo[d.memoNext]
	d.memoNext = (d.memoNext + 1) % len(d.memo)
	m.raw = append(m.raw[:0], raw...)
	m.dec = append(m.dec[:0], dec...)
	return m.dec, nil
}

// at returns the field at index i (1-based: the static table, then the
// dynamic one, newest first).
func (d *decoder) at(i uint64) (name, value []byte, ok bool) {
	if i == 0 {
		return nil, nil, false
	}
	if i <= uint64(len(staticTable)) {
		f := &staticTable[i-1]
		return f[0], f[1], true
	}
	j := i - uint64(len(staticTable))
	if j > uint64(len(d.ents)-d.head) {
		return nil, nil, false
	}
	e := d.ents[len(d.ents)-int(j)]
	return d.arena[e.off : e.off+e.nlen], d.arena[e.off+e.nlen : e.off+e.nlen+e.vlen], true
}

// add puts a field in the dynamic table, evicting the oldest to fit.
func (d *decoder) add(name, value []byte) {
	sz := len(name) + len(value) + 32
	if sz > d.limit {
		d.ents, d.head = d.ents[:0], 0
		d.size = 0
		d.arena = d.arena[:0]
		return
	}
	d.evict(sz)
	if len(d.arena)+len(name)+len(value) > 4*d.maxSize+4096 {
		d.compact()
	}
	off := len(d.arena)
	d.arena = append(d.arena, name...)
	d.arena = append(d.arena, value...)
	d.ents = append(d.ents, entry{off, len(name), len(value)})
	d.size += sz
}

// evict drops the oldest entries until room more bytes fit.
func (d *decoder) evict(room int) {
	k := d.head
	for d.size+room > d.limit && k < len(d.ents) {
		e := d.ents[k]
		d.size -= e.nlen + e.vlen + 32
		k++
	}
	d.head = k
	switch {
	case k == len(d.ents):
		d.ents, d.head = d.ents[:0], 0
		d.arena = d.arena[:0]
	case k > len(d.ents)/2:
		n := copy(d.ents, d.ents[k:])
		d.ents, d.head = d.ents[:n], 0
	}
}

// compact moves the live entries' bytes to the front of the arena.
func (d *decoder) compact() {
	if len(d.ents) == d.head {
		d.ents, d.head = d.ents[:0], 0
		d.arena = d.arena[:0]
		return
	}
	start := d.ents[d.head].off
	n := copy(d.arena, d.arena[start:])
	d.arena = d.arena[:n]
	for i := range d.ents[d.head:] {
		d.ents[d.head+i].off -= start
	}
}

// varint reads an HPACK integer with an n-bit prefix.
func varint(p []byte, n uint8) (uint64, []byte, error) {
	if len(p) == 0 {
		return 0, nil, errHpackTrunc
	}
	mask := uint64(1)<<n - 1
	i := uint64(p[0]) & mask
	p = p[1:]
	if i < mask {
		return i, p, nil
	}
	var m uint
	for len(p) > 0 {
		b := p[0]
		p = p[1:]
		i += uint64(b&0x7f) << m
		if b&0x80 == 0 {
			return i, p, nil
		}
		m += 7
		if m >= 63 {
			return 0, nil, errHpackInt
		}
	}
	return 0, nil, errHpackTrunc
}

// staticTable is RFC 7541's Appendix A.
var staticTable = func() [][2][]byte {
	src := [...][2]string{
		{":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
		{":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"}, {":status", "200"},
		{":status", "204"}, {":status", "206"}, {":status", "304"}, {":status", "400"},
		{":status", "404"}, {":status", "500"}, {"accept-charset", ""}, {"accept-encoding", "gzip, deflate"},
		{"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""}, {"access-control-allow-origin", ""},
		{"age", ""}, {"allow", ""}, {"authorization", ""}, {"cache-control", ""},
		{"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
		{"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
		{"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""},
		{"from", ""}, {"host", ""}, {"if-match", ""}, {"if-modified-since", ""},
		{"if-none-match", ""}, {"if-range", ""}, {"if-unmodified-since", ""}, {"last-modified", ""},
		{"link", ""}, {"location", ""}, {"max-forwards", ""}, {"proxy-authenticate", ""},
		{"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""},
		{"retry-after", ""}, {"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""},
		{"transfer-encoding", ""}, {"user-agent", ""}, {"vary", ""}, {"via", ""},
		{"www-authenticate", ""},
	}
	t := make([][2][]byte, len(src))
	for i, f := range src {
		t[i] = [2][]byte{[]byte(f[0]), []byte(f[1])}
	}
	return t
}()
