package report

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/sever-ir/sever"
)

// Formats are the formats Render writes, in the order help texts list them.
var Formats = []string{"md", "html", "json", "ocsf"}

var contentTypes = map[string]string{
	"md":   "text/markdown; charset=utf-8",
	"html": "text/html; charset=utf-8",
	"json": "application/json",
	"ocsf": "application/json",
}

// ContentType returns the media type of a format. An unknown format is an EINVALID
// *sever.Error on field "format" that names the allowed ones.
func ContentType(format string) (string, error) {
	ct, ok := contentTypes[format]
	if !ok {
		shown := format
		if len(shown) > 32 {
			shown = shown[:32] + "…"
		}
		return "", sever.Errorf(sever.EINVALID, "format", "unknown report format %q (one of %s)",
			shown, strings.Join(Formats, ", "))
	}
	return ct, nil
}

// Render writes r in format and returns its media type.
func Render(w io.Writer, r *Report, format string) (contentType string, err error) {
	ct, err := ContentType(format)
	if err != nil {
		return "", err
	}
	switch format {
	case "md":
		err = r.Markdown(w)
	case "html":
		err = r.HTML(w)
	case "json":
		err = r.JSON(w)
	case "ocsf":
		err = r.OCSF(w)
	}
	return ct, err
}

// JSON writes the report as indented JSON: the exported fields of Report.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
