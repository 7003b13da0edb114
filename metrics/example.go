package metrics

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxExample bounds the text of an example message (an error's, a
// check's): a longer one keeps its first MaxExample bytes (escapes
// included) and says how long it was.
const MaxExample = 300

// Example returns msg as reports keep it: printable (see [Printable]) and
// at most MaxExample bytes, followed by its length when it was cut
// ("… (1843210 bytes)"). A server chooses much of an error's text (a
// status line, a reason phrase, a Location, a certificate's names), so
// none of it reaches a report or a terminal as it came, nor grows it
// without bound. Example of an example is itself.
func Example(msg string) string {
	if isExample(msg) {
		return msg
	}
	b, used := appendPrintable(make([]byte, 0, min(len(msg), MaxExample)+24), msg, MaxExample)
	if used < len(msg) {
		b = append(b, "… ("...)
		b = strconv.AppendInt(b, int64(len(msg)), 10)
		b = append(b, " bytes)"...)
	}
	return string(b)
}

// isExample reports whether msg is already what Example returns.
func isExample(msg string) bool {
	if len(msg) > MaxExample {
		i := strings.LastIndex(msg, "… (")
		if i < 0 || i > MaxExample || !strings.HasSuffix(msg, " bytes)") {
			return false
		}
		n, err := strconv.Atoi(msg[i+len("… (") : len(msg)-len(" bytes)")])
		if err != nil || n <= i {
			return false
		}
		msg = msg[:i]
	}
	return clean(msg)
}

// Printable returns s with every byte that is not printable text escaped:
// control characters (ESC, BEL, CR, LF, NUL, DEL, the C1 range), Unicode
// format characters (bidirectional overrides), other unprintable runes and
// invalid UTF-8 become \xNN, \uNNNN or \UNNNNNNNN; printable text, spaces
// and tabs stay as they are (a backslash too). What it returns can be
// written to a terminal without being interpreted, and Printable of it is
// itself.
func Printable(s string) string {
	if clean(s) {
		return s
	}
	b, _ := appendPrintable(make([]byte, 0, len(s)+16), s, -1)
	return string(b)
}

func clean(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !printable(r, size) {
			return false
		}
		i += size
	}
	return true
}

// appendPrintable appends s escaped to b, stopping before the output of
// this call would pass limit bytes (negative: no limit), and returns how
// many bytes of s it wrote.
func appendPrintable(b []byte, s string, limit int) ([]byte, int) {
	const hex = "0123456789abcdef"
	start := len(b)
	var esc [10]byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		piece := esc[:0]
		switch {
		case printable(r, size):
		case r == utf8.RuneError || r < utf8.RuneSelf:
			size = 1
			piece = append(piece, '\\', 'x', hex[s[i]>>4], hex[s[i]&15])
		case r <= 0xffff:
			piece = append(piece, '\\', 'u')
			for shift := 12; shift >= 0; shift -= 4 {
				piece = append(piece, hex[r>>shift&15])
			}
		default:
			piece = append(piece, '\\', 'U')
			for shift := 28; shift >= 0; shift -= 4 {
				piece = append(piece, hex[r>>shift&15])
			}
		}
		n := len(piece)
		if n == 0 {
			n = size
		}
		if limit >= 0 && len(b)-start+n > limit {
			return b, i
		}
		if len(piece) == 0 {
			b = append(b, s[i:i+size]...)
		} else {
			b = append(b, piece...)
		}
		i += size
	}
	return b, len(s)
}

func printable(r rune, size int) bool {
	if r == utf8.RuneError && size <= 1 {
		return false
	}
	if r < utf8.RuneSelf {
		return r == '\t' || r >= ' ' && r != 0x7f
	}
	return unicode.IsPrint(r)
}
