package secretscan

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// span is the range of original input bytes that one byte of a normalized text
// came from.
type span struct{ lo, hi int32 }

// Normalize returns s as the detector reads it: Unicode NFKC (so full-width and other
// compatibility forms of ASCII become ASCII), without invisible characters (zero-width
// space, joiners, word joiner, byte-order mark, soft hyphen, other format characters,
// variation selectors, control characters other than whitespace, and bytes that are
// not UTF-8), and with every run of whitespace as one space. A key hidden with any of
// these reads as the plain key. Normalize(Normalize(s)) == Normalize(s).
func Normalize(s string) string {
	n, _ := normalize(s, false)
	return n
}

// normalize is Normalize that can also say, for each output byte, which input bytes
// it came from, so a match can be redacted in the original text.
func normalize(s string, track bool) (string, []span) {
	if isPlain(s) {
		if !track {
			return s, nil
		}
		sp := make([]span, len(s))
		for i := range sp {
			sp[i] = span{int32(i), int32(i + 1)}
		}
		return s, sp
	}
	if isASCII(s) {
		return normalizeASCII(s, track)
	}
	return normalizeUnicode(s, track)
}

// normalizeUnicode is the general path of normalize.
func normalizeUnicode(s string, track bool) (string, []span) {
	b := []byte(s)
	var sp []span
	if track {
		sp = make([]span, len(b))
		for i := range sp {
			sp[i] = span{int32(i), int32(i + 1)}
		}
	}
	// Stripping can bring together characters that NFKC composes, and NFKC could in
	// principle yield a character that is stripped, so repeat until neither changes
	// anything. Two rounds suffice in practice; four bound the work.
	for range 4 {
		b, sp = strip(b, sp, track)
		var changed bool
		b, sp, changed = nfkc(b, sp, track)
		if !changed || !hasInvisible(b) {
			break
		}
	}
	b, sp = foldSpace(b, sp, track)
	return string(b), sp
}

// isPlain reports whether s is printable ASCII with no two spaces in a row: text
// that normalizes to itself. Most input is like this, and it costs no allocation.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == ' ' && i > 0 && s[i-1] == ' ' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// normalizeASCII is normalize for ASCII text, which NFKC leaves alone: one pass
// that drops control characters and folds whitespace.
func normalizeASCII(s string, track bool) (string, []span) {
	out := make([]byte, 0, len(s))
	var sp []span
	if track {
		sp = make([]span, 0, len(s))
	}
	inRun := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c >= '\t' && c <= '\r':
			if !inRun {
				out = append(out, ' ')
				if track {
					sp = append(sp, span{int32(i), int32(i + 1)})
				}
			} else if track {
				sp[len(sp)-1].hi = int32(i + 1)
			}
			inRun = true
			continue
		case c < 0x20 || c == 0x7f:
			// Invisible: dropped, and it neither starts nor ends a run of spaces.
			continue
		}
		out = append(out, c)
		if track {
			sp = append(sp, span{int32(i), int32(i + 1)})
		}
		inRun = false
	}
	return string(out), sp
}

// invisible reports whether r renders as nothing, so that it can split a key
// without a reader or a naive pattern noticing.
func invisible(r rune) bool {
	switch {
	case r < 0x80:
		return r < 0x20 && !unicode.IsSpace(r) || r == 0x7f
	case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Cc, r) && !unicode.IsSpace(r):
		return true // soft hyphen, U+200B..U+200F, U+202A..U+202E, U+2060..U+2064, U+FEFF, tags, ...
	case r == 0x034f, // combining grapheme joiner
		r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0, // Hangul fillers
		r == 0x17b4, r == 0x17b5, // Khmer inherent vowels
		r >= 0x180b && r <= 0x180f,                               // Mongolian variation selectors and vowel separator
		r >= 0xfe00 && r <= 0xfe0f, r >= 0xe0100 && r <= 0xe01ef: // variation selectors
		return true
	}
	return false
}

func hasInvisible(b []byte) bool {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 || invisible(r) {
			return true
		}
		i += n
	}
	return false
}

// strip drops invisible characters and bytes that are not UTF-8.
func strip(b []byte, sp []span, track bool) ([]byte, []span) {
	out := make([]byte, 0, len(b))
	var osp []span
	if track {
		osp = make([]span, 0, len(b))
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if !(r == utf8.RuneError && n <= 1) && !invisible(r) {
			out = append(out, b[i:i+n]...)
			if track {
				osp = append(osp, sp[i:i+n]...)
			}
		}
		i += n
	}
	return out, osp
}

// nfkc applies NFKC segment by segment; every output byte of a segment maps to the
// whole input range of that segment.
func nfkc(b []byte, sp []span, track bool) ([]byte, []span, bool) {
	if norm.NFKC.IsNormal(b) {
		return b, sp, false
	}
	var it norm.Iter
	it.Init(norm.NFKC, b)
	out := make([]byte, 0, len(b)+len(b)/4)
	var osp []span
	var whole span
	for !it.Done() {
		p0 := it.Pos()
		seg := it.Next()
		p1 := it.Pos()
		out = append(out, seg...)
		if !track {
			continue
		}
		// A long expansion comes in several pieces, the later ones without
		// consuming input: they belong to the same input as the first.
		if p1 > p0 {
			whole = span{sp[p0].lo, sp[p1-1].hi}
		} else if whole == (span{}) && p0 < len(sp) {
			whole = sp[p0]
		}
		for range seg {
			osp = append(osp, whole)
		}
	}
	return out, osp, true
}

// foldSpace turns every run of whitespace into one space.
func foldSpace(b []byte, sp []span, track bool) ([]byte, []span) {
	out := make([]byte, 0, len(b))
	var osp []span
	inRun := false
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if unicode.IsSpace(r) {
			if !inRun {
				out = append(out, ' ')
				if track {
					osp = append(osp, sp[i])
				}
			} else if track {
				osp[len(osp)-1].hi = sp[i+n-1].hi
			}
			inRun = true
		} else {
			out = append(out, b[i:i+n]...)
			if track {
				osp = append(osp, sp[i:i+n]...)
			}
			inRun = false
		}
		i += n
	}
	return out, osp
}
