package metrics_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/faya-load/faya/metrics"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, tabs\tand a \\ stay", "plain text, tabs\tand a \\ stay"},
		{"caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"},
		{"title \x1b]0;owned\x07 clear \x1b[2J", `title \x1b]0;owned\x07 clear \x1b[2J`},
		{"nul\x00 cr\r lf\n del\x7f", `nul\x00 cr\x0d lf\x0a del\x7f`},
		{"c1 csi \u009b2J", `c1 csi \u009b2J`},
		{"invalid \xff\xfe utf-8", `invalid \xff\xfe utf-8`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"tag \U000e0041", `tag \U000e0041`},
	} {
		got := metrics.Printable(tc.in)
		if got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := metrics.Printable(got); again != got {
			t.Errorf("Printable(%q) = %q, not itself", got, again)
		}
	}
}

// An example is bounded, says how long the message was, and is printable:
// a 900 kB Location with escapes in it is a few hundred bytes.
func TestExample(t *testing.T) {
	huge := "redirect to " + strings.Repeat("a\x1b[2J", 180_000)
	ex := metrics.Example(huge)
	if len(ex) > metrics.MaxExample+len("… (1000000 bytes)") || !strings.HasSuffix(ex, "… (900012 bytes)") {
		t.Errorf("example of %d bytes, ends %q: want at most %d and the length", len(ex), ex[max(0, len(ex)-30):], metrics.MaxExample)
	}
	if strings.ContainsRune(ex, 0x1b) || !utf8.ValidString(ex) || !strings.HasPrefix(ex, `redirect to a\x1b[2Ja`) {
		t.Errorf("example not escaped: %q", ex[:40])
	}
	if again := metrics.Example(ex); again != ex {
		t.Errorf("Example of an example: %q, want it unchanged", again)
	}
	// An escape is never cut in the middle, nor a rune.
	for n := metrics.MaxExample - 8; n < metrics.MaxExample+8; n++ {
		for _, fill := range []string{"\x01", "\u00e9", "\u202e"} {
			ex := metrics.Example(strings.Repeat("x", n) + strings.Repeat(fill, 20))
			body, _, _ := strings.Cut(ex, "… (")
			if len(body) > metrics.MaxExample || !utf8.ValidString(ex) || strings.HasSuffix(body, `\`) || strings.HasSuffix(body, `\x0`) || strings.HasSuffix(body, `\u202`) {
				t.Fatalf("n %d fill %q: %q", n, fill, body[max(0, len(body)-12):])
			}
		}
	}
	if short := "connection refused"; metrics.Example(short) != short {
		t.Errorf("a short message changed: %q", metrics.Example(short))
	}
}

// The recorder keeps each class's example bounded, so that a saved
// interval is too.
func TestRecordedExampleBounded(t *testing.T) {
	rec := metrics.NewRecorder(1)
	s := &metrics.Sample{Err: metrics.ErrProtocol, Step: 1, CheckFailure: "body " + strings.Repeat("\x07", 100_000)}
	rec.Shard(0).Record(s, errors.New("malformed HTTP response "+strings.Repeat("x", 900_000)))
	snap := rec.Flush(nil)
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 4000 {
		t.Errorf("an interval with one example is %d bytes encoded", len(b))
	}
	if ex := snap.ErrExample[metrics.ErrProtocol]; !strings.HasSuffix(ex, "(900024 bytes)") {
		t.Errorf("example %q", ex[max(0, len(ex)-40):])
	}
	if cf := snap.Steps[0].CheckFailure; !strings.HasPrefix(cf, `body \x07\x07`) || !strings.HasSuffix(cf, "(100005 bytes)") {
		t.Errorf("check failure %q ... %q", cf[:min(len(cf), 20)], cf[max(0, len(cf)-40):])
	}
	var back metrics.Snapshot
	if err := json.Unmarshal(b, &back); err != nil || back.ErrExample != snap.ErrExample {
		t.Errorf("decoded: %v, example changed", err)
	}
}
