package drillcloud

import (
	"encoding/base64"
	"strconv"
)

// Offset paging: EC2 and Secrets Manager list operations hand out an opaque
// NextToken that is the base64 (in each service's own alphabet) of the offset
// of the next item.

// decodeOffset reads a NextToken; ok is false for one this cloud did not issue.
func decodeOffset(enc *base64.Encoding, tok string) (n int, ok bool) {
	b, err := enc.DecodeString(tok)
	n, err2 := strconv.Atoi(string(b))
	return n, err == nil && err2 == nil && n >= 0
}

// pageAt returns up to max items of all from start (start <= len(all)) and the
// NextToken of the rest, "" when there is none.
func pageAt[T any](enc *base64.Encoding, all []T, start, max int) ([]T, string) {
	page := all[start:]
	if len(page) > max {
		return page[:max], enc.EncodeToString([]byte(strconv.Itoa(start + max)))
	}
	return page, ""
}

// maxResults is the page size an awsJson request asks for: *p, hi when it
// gives none, and a value outside 1..hi refused with bad.
func maxResults(p *int, hi int, bad func(n int) *apiError) (int, *apiError) {
	if p == nil {
		return hi, nil
	}
	if *p < 1 || *p > hi {
		return 0, bad(*p)
	}
	return *p, nil
}

// jsonPage holds the paging members of an awsJson list request; embedded in
// the input struct, json decodes them as top-level members.
type jsonPage struct {
	MaxResults *int
	NextToken  string
}
