package h2

import (
	"bytes"
	"fmt"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// decodeBoth decodes the blocks in turn with faya's decoder and x/net's,
// and returns each one's fields (or the first error).
func decodeBoth(blocks [][]byte) (ours, theirs []string, errOurs, errTheirs error) {
	d := newDecoder(4096, 16<<10)
	x := hpack.NewDecoder(4096, nil)
	x.SetMaxStringLength(16 << 10)
	for _, b := range blocks {
		if errOurs == nil {
			errOurs = d.decode(b, func(name, value []byte) { ours = append(ours, string(name)+": "+string(value)) })
		}
		if errTheirs == nil {
			fs, err := x.DecodeFull(b)
			errTheirs = err
			for _, f := range fs {
				theirs = append(theirs, f.Name+": "+f.Value)
			}
		}
	}
	return
}

// encoded returns header blocks as Go's encoder writes them (with the
// dynamic table), one per field list.
func encoded(lists ...[]hpack.HeaderField) [][]byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	var out [][]byte
	for _, l := range lists {
		buf.Reset()
		for _, f := range l {
			_ = enc.WriteField(f)
		}
		out = append(out, bytes.Clone(buf.Bytes()))
	}
	return out
}

func TestDecoderMatchesXNet(t *testing.T) {
	var lists [][]hpack.HeaderField
	for i := range 300 {
		lists = append(lists, []hpack.HeaderField{
			{Name: ":status", Value: "200"},
			{Name: "server", Value: "nginx/1.22.1"},
			{Name: "date", Value: fmt.Sprintf("Wed, 02 Dec 2026 14:%02d:%02d GMT", i/60%60, i%60)},
			{Name: "content-type", Value: "text/plain"},
			{Name: "x-long", Value: string(bytes.Repeat([]byte{byte('a' + i%26)}, i*7%900))},
			{Name: "x-secret", Value: "s", Sensitive: true},
			{Name: fmt.Sprintf("x-name-%d", i%40), Value: fmt.Sprint(i)},
		})
	}
	ours, theirs, e1, e2 := decodeBoth(encoded(lists...))
	if e1 != nil || e2 != nil {
		t.Fatal(e1, e2)
	}
	if fmt.Sprint(ours) != fmt.Sprint(theirs) {
		t.Fatalf("fields differ:\nours   %q\ntheirs %q", ours[:10], theirs[:10])
	}
	if len(ours) != 7*300 {
		t.Fatalf("%d fields", len(ours))
	}
}

// TestDecoderEvictsOnePerField is nginx's pattern: every answer adds its
// few small fields to a full table, each evicting the oldest entry (the
// table's entries move to the front only now and then), and a field that
// refers to an old entry by index must still find it.
func TestDecoderEvictsOnePerField(t *testing.T) {
	var lists [][]hpack.HeaderField
	for i := range 3000 {
		lists = append(lists, []hpack.HeaderField{
			{Name: ":status", Value: "200"},
			{Name: "server", Value: "nginx"},
			{Name: "date", Value: fmt.Sprintf("Thu, 03 Dec 2026 %02d:%02d:%02d GMT", i/3600, i/60%60, i%60)},
			{Name: "content-length", Value: fmt.Sprint(i)},
			{Name: fmt.Sprintf("x-%d", i%97), Value: fmt.Sprint(i % 89)},
		})
	}
	ours, theirs, e1, e2 := decodeBoth(encoded(lists...))
	if e1 != nil || e2 != nil {
		t.Fatal(e1, e2)
	}
	if len(ours) != 5*3000 || fmt.Sprint(ours) != fmt.Sprint(theirs) {
		t.Fatalf("%d fields, x/net %d; first ours %q, theirs %q", len(ours), len(theirs), ours[:5], theirs[:5])
	}
}

// FuzzDecoder: on any bytes, faya's decoder and x/net's agree on the
// fields of every block up to the first error, and on whether there is
// one.
func FuzzDecoder(f *testing.F) {
	for _, b := range encoded([]hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "server", Value: "x"}}, []hpack.HeaderField{{Name: "server", Value: "x"}, {Name: "a", Value: "b"}}) {
		f.Add(b, []byte{0x3f, 0xe1, 0x1f})
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ours, theirs, e1, e2 := decodeBoth([][]byte{a, b})
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("errors differ: ours %v, x/net %v", e1, e2)
		}
		if e1 == nil && fmt.Sprint(ours) != fmt.Sprint(theirs) {
			t.Fatalf("fields differ:\nours   %q\ntheirs %q", ours, theirs)
		}
	})
}

// nginxBlock is a response header block as nginx writes it: every field
// a literal with incremental indexing and a static name, Huffman off.
func nginxBlock(date, extra string) []byte {
	lit := func(b []byte, idx byte, v string) []byte {
		b = append(b, 0x40|idx, byte(len(v)))
		return append(b, v...)
	}
	b := []byte{0x88} // :status 200
	b = lit(b, 54, "nginx")
	b = lit(b, 33, date)
	b = lit(b, 31, "text/plain")
	b = lit(b, 28, "65")
	if extra != "" {
		b = lit(b, 24, extra) // cache-control
	}
	return b
}

// sameFields decodes the blocks in turn with one decoder of each kind
// and fails unless every block's fields agree; it returns how many
// blocks faya's decoder replayed.
func sameFields(t *testing.T, blocks [][]byte) (replayed int) {
	t.Helper()
	d := newDecoder(4096, 16<<10)
	x := hpack.NewDecoder(4096, nil)
	for i, b := range blocks {
		var ours, theirs []string
		replay := d.lastOK && bytes.Equal(b, d.last)
		errOurs := d.decode(b, func(name, value []byte) { ours = append(ours, string(name)+": "+string(value)) })
		fs, errTheirs := x.DecodeFull(b)
		for _, f := range fs {
			theirs = append(theirs, f.Name+": "+f.Value)
		}
		if (errOurs == nil) != (errTheirs == nil) || errOurs == nil && fmt.Sprint(ours) != fmt.Sprint(theirs) {
			t.Fatalf("block %d (replayed %v): ours %q (%v), x/net %q (%v)", i, replay, ours, errOurs, theirs, errTheirs)
		}
		if errOurs != nil {
			return replayed
		}
		if replay {
			replayed++
		}
	}
	return replayed
}

// TestDecoderReplays: nginx's answers, the date changing now and then,
// another block between, and blocks whose fields are read from the
// dynamic table (by index: they depend on the table's state): each
// decodes as x/net's decoder does, and the runs of the same block are
// replayed once the table holds only their entries.
func TestDecoderReplays(t *testing.T) {
	var blocks [][]byte
	for i := range 600 {
		date := fmt.Sprintf("Thu, 03 Dec 2026 12:00:%02d GMT", i/100)
		switch {
		case i%150 == 75:
			blocks = append(blocks, nginxBlock(date, "no-cache"))
		case i%150 == 100:
			// The newest entry and an older one, by index.
			blocks = append(blocks, []byte{0x88, 0xbe, 0xc3})
		default:
			blocks = append(blocks, nginxBlock(date, ""))
		}
	}
	// A block of references alone, again and again: it adds nothing.
	for range 50 {
		blocks = append(blocks, []byte{0x88, 0xbf, 0xc5})
	}
	replayed := sameFields(t, blocks)
	// A run of nginx's block is replayed after 21 decodes in full (its
	// four entries add 210 bytes to a 4,096-byte table), the block of
	// references from its second copy on: 389 of the 650.
	if replayed < 350 {
		t.Errorf("%d of %d blocks replayed, want at least 350", replayed, len(blocks))
	}
}

// FuzzDecoderRepeats: a block decoded many times in a row, another, and
// the first again, decode as x/net's decoder does.
func FuzzDecoderRepeats(f *testing.F) {
	f.Add(nginxBlock("Thu, 03 Dec 2026 12:00:00 GMT", ""), []byte{0x88, 0xbe, 0xc3}, uint8(40))
	f.Add([]byte{0x88, 0xbe}, []byte{0x3f, 0xe1, 0x1f}, uint8(3))
	f.Fuzz(func(t *testing.T, a, b []byte, n uint8) {
		var blocks [][]byte
		for range int(n%64) + 1 {
			blocks = append(blocks, a)
		}
		blocks = append(blocks, b)
		for range 30 {
			blocks = append(blocks, a)
		}
		sameFields(t, blocks)
	})
}
