package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan"
	"github.com/sever-ir/sever/service"
)

// signalWire is the native signal schema as clients send it: sever.Signal without the
// fields sever assigns at intake.
type signalWire struct {
	Source        string           `json:"source"`
	SourceEventID string           `json:"source_event_id"`
	Origin        sever.Origin     `json:"origin"`
	Kind          sever.SignalKind `json:"kind"`
	ObservedAt    rfc3339          `json:"observed_at"`
	Credential    credentialWire   `json:"credential"`
	Severity      string           `json:"severity"`
	Summary       string           `json:"summary"`
	Drill         bool             `json:"drill"`
	Labels        []string         `json:"labels"`
}

// credentialWire is spelled out rather than reusing sever.Credential so that a field
// added to the domain type does not silently become part of the accepted input.
type credentialWire struct {
	Provider  string               `json:"provider"`
	Type      sever.CredentialType `json:"type"`
	ID        string               `json:"id"`
	Principal string               `json:"principal"`
	Account   string               `json:"account"`
}

// rfc3339 marks a string field that must hold an RFC 3339 time. It is parsed after
// decoding so the error can name the field; time.Time's own decoder cannot.
type rfc3339 string

// assignedSignalFields are sever.Signal fields set at intake. A client that sends them
// has probably re-posted a stored signal; saying so beats calling them unknown.
var assignedSignalFields = []string{"id", "received_at", "payload_sha256", "receipt"}

type closeWire struct {
	Reason        string `json:"reason"`
	FalsePositive bool   `json:"false_positive"`
}

// decideWire is the body of POST /v1/incidents/{id}/approvals.
type decideWire struct {
	Step       string `json:"step"`
	Decision   string `json:"decision"`
	Reason     string `json:"reason"`
	ArgsSHA256 string `json:"args_sha256"`
	// As asserts who the caller means to decide as; a token of someone else is
	// refused rather than silently deciding in that person's name.
	As      string `json:"as"`
	Channel string `json:"channel"`
	// Nonce is the approval_nonce of the waiting step (GET /v1/incidents/{id}):
	// the request this decision answers.
	Nonce string `json:"nonce"`
}

var (
	signalSchema = schemaOf(reflect.TypeFor[signalWire]())
	closeSchema  = schemaOf(reflect.TypeFor[closeWire]())
	decideSchema = schemaOf(reflect.TypeFor[decideWire]())
)

const (
	maxLabels      = 32
	maxLabelLength = 64
)

// DecodeSignal parses a native signal with the rules POST /v1/signals applies: strict
// JSON (exact field names, no unknown or duplicate fields, no trailing data), no field
// or value that looks like secret material, then sever.Signal.Validate. It sets
// PayloadSHA256 to the SHA-256 of body; ID, ReceivedAt and Receipt are left to the
// caller because they belong to one submission, not to the content.
//
// Every error is a *sever.Error whose Field names the offending field.
func DecodeSignal(body []byte) (sever.Signal, error) {
	var w signalWire
	if err := decodeStrict(body, signalSchema, assignedSignalFields, &w); err != nil {
		return sever.Signal{}, err
	}
	sig := sever.Signal{
		Source:        w.Source,
		SourceEventID: w.SourceEventID,
		Origin:        w.Origin,
		Kind:          w.Kind,
		Credential: sever.Credential{
			Provider:  w.Credential.Provider,
			Type:      w.Credential.Type,
			ID:        w.Credential.ID,
			Principal: w.Credential.Principal,
			Account:   w.Credential.Account,
		},
		Severity: w.Severity,
		Summary:  w.Summary,
		Drill:    w.Drill,
		Labels:   w.Labels,
	}
	if w.ObservedAt != "" {
		t, err := time.Parse(time.RFC3339, string(w.ObservedAt))
		if err != nil {
			return sever.Signal{}, sever.Errorf(sever.EINVALID, "observed_at",
				"observed_at: want an RFC 3339 time such as 2025-06-01T12:00:00Z")
		}
		sig.ObservedAt = t.UTC()
	}
	if err := checkCredentialID(sig.Credential); err != nil {
		return sever.Signal{}, err
	}
	if err := sig.Validate(); err != nil {
		return sever.Signal{}, err
	}
	if err := checkLabels(sig.Labels); err != nil {
		return sever.Signal{}, err
	}
	sig.PayloadSHA256 = sever.SHA256Hex(body)
	return sig, nil
}

// awsSecretAccessKey is the shape of an AWS secret access key. An access key ID is 20
// characters, so a 40-character base64 string as an aws_access_key's ID is almost
// certainly the secret pasted into the wrong field.
var awsSecretAccessKey = regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`)

func checkCredentialID(c sever.Credential) error {
	if c.Type == sever.CredAWSAccessKey && awsSecretAccessKey.MatchString(c.ID) {
		return secretValueError("credential.id", "an AWS secret access key (an access key ID has 20 characters)")
	}
	return nil
}

func checkLabels(labels []string) error {
	if len(labels) > maxLabels {
		return sever.Errorf(sever.EINVALID, "labels", "labels has %d entries; at most %d are allowed", len(labels), maxLabels)
	}
	for i, l := range labels {
		field := fmt.Sprintf("labels[%d]", i)
		if strings.TrimSpace(l) == "" {
			return sever.Errorf(sever.EINVALID, field, "%s is empty", field)
		}
		if utf8.RuneCountInString(l) > maxLabelLength {
			return sever.Errorf(sever.EINVALID, field, "%s is longer than %d characters", field, maxLabelLength)
		}
	}
	return nil
}

// decodeCloseRequest parses the body of POST /v1/incidents/{id}/close.
func decodeCloseRequest(body []byte) (service.CloseRequest, error) {
	var w closeWire
	if err := decodeStrict(body, closeSchema, nil, &w); err != nil {
		return service.CloseRequest{}, err
	}
	switch reason := strings.TrimSpace(w.Reason); {
	case reason == "":
		return service.CloseRequest{}, sever.Errorf(sever.EINVALID, "reason", "reason is required")
	case utf8.RuneCountInString(reason) > maxReasonLength:
		return service.CloseRequest{}, sever.Errorf(sever.EINVALID, "reason", "reason is longer than %d characters", maxReasonLength)
	default:
		return service.CloseRequest{Reason: reason, FalsePositive: w.FalsePositive}, nil
	}
}

const maxReasonLength = 1024

// decodeStrict decodes body, a single JSON object, into v. Before encoding/json sees
// the body, a walk over every token checks it against s, because encoding/json
// matches names case-insensitively, keeps the last of duplicate names, reports
// unknown fields without their path, and would never look inside them for secrets.
// assigned lists top-level names that sever sets itself.
func decodeStrict(body []byte, s *schema, assigned []string, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return sever.Errorf(sever.EINVALID, "", "request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return malformed(err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return sever.Errorf(sever.EINVALID, "", "unexpected data after the JSON object at byte %d; send exactly one object", end)
	}
	if raw[0] != '{' {
		return sever.Errorf(sever.EINVALID, "", "request body must be a JSON object")
	}

	wk := walker{dec: json.NewDecoder(bytes.NewReader(raw)), assigned: assigned}
	wk.dec.UseNumber()
	if err := wk.value("", &field{typ: tObject, schema: s}, 0); err != nil {
		return err
	}
	// A secret anywhere outranks any other problem: the client must learn that sever
	// refuses secrets, not that it should fix a typo and send the secret again.
	if wk.secret != nil {
		return wk.secret
	}
	if wk.problem != nil {
		return wk.problem
	}

	// The walk has checked names and types; this decode is a second line of defence.
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return sever.Errorf(sever.EINVALID, "", "decoding request body: %v", err)
	}
	return nil
}

func malformed(err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return sever.Errorf(sever.EINVALID, "", "malformed JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return sever.Errorf(sever.EINVALID, "", "malformed JSON: the body ends before the object does")
	}
	return sever.Errorf(sever.EINVALID, "", "malformed JSON: %v", err)
}

// fieldType is the JSON shape a known field must have.
type fieldType int

const (
	tString fieldType = iota
	tTime
	tBool
	tStrings
	tObject
)

func (t fieldType) want() string {
	return [...]string{
		tString:  "a string",
		tTime:    "an RFC 3339 time",
		tBool:    "true or false",
		tStrings: "an array of strings",
		tObject:  "an object",
	}[t]
}

type field struct {
	typ    fieldType
	schema *schema // for tObject
}

// schema is the set of fields an object may have, in declaration order for messages.
type schema struct {
	fields map[string]field
	order  []string
}

// schemaOf derives a schema from a struct's json tags, so the walk and the final
// decode can never disagree about which fields exist.
func schemaOf(t reflect.Type) *schema {
	s := &schema{fields: map[string]field{}}
	for sf := range t.Fields() {
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		var f field
		switch {
		case sf.Type == reflect.TypeFor[rfc3339]():
			f.typ = tTime
		case sf.Type.Kind() == reflect.String:
			f.typ = tString
		case sf.Type.Kind() == reflect.Bool:
			f.typ = tBool
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.String:
			f.typ = tStrings
		case sf.Type.Kind() == reflect.Struct:
			f.typ, f.schema = tObject, schemaOf(sf.Type)
		default:
			panic(fmt.Sprintf("httpapi: no wire type for %s.%s (%s)", t, sf.Name, sf.Type))
		}
		s.fields[name] = f
		s.order = append(s.order, name)
	}
	return s
}

// maxDepth bounds nesting so a hostile body cannot drive the walk's recursion deep.
// The real schema is two levels deep.
const maxDepth = 16

// walker checks a syntactically valid JSON value token by token. It keeps going past
// schema problems so a secret later in the body is still found; it records the
// first secret and the first other problem.
type walker struct {
	dec      *json.Decoder
	assigned []string
	secret   *sever.Error
	problem  *sever.Error
}

func (w *walker) note(e *sever.Error) {
	if w.problem == nil {
		w.problem = e
	}
}

// value walks one value at path. f is nil inside unknown fields, where only secrets
// are looked for. The returned error is fatal; everything else is recorded.
func (w *walker) value(path string, f *field, depth int) error {
	tok, err := w.dec.Token()
	if err != nil {
		return malformed(err)
	}
	switch t := tok.(type) {
	case json.Delim: // always an opening one here: closings are consumed by object and array
		if depth >= maxDepth {
			return sever.Errorf(sever.EINVALID, path, "JSON nested deeper than %d levels", maxDepth)
		}
		if t == '{' {
			w.expect(path, f, "an object", tObject)
			return w.object(path, f, depth+1)
		}
		w.expect(path, f, "an array", tStrings)
		return w.array(path, f, depth+1)
	case string:
		w.checkSecretValue(path, t)
		w.expect(path, f, "a string", tString, tTime)
	case bool:
		w.expect(path, f, "a boolean", tBool)
	case nil:
		// null means absent, as it does for encoding/json; Validate catches required fields.
	default:
		w.expect(path, f, "a number")
	}
	return nil
}

func (w *walker) expect(path string, f *field, got string, ok ...fieldType) {
	if f != nil && !slices.Contains(ok, f.typ) {
		w.note(sever.Errorf(sever.EINVALID, path, "%s: want %s, got %s", path, f.typ.want(), got))
	}
}

func (w *walker) object(path string, f *field, depth int) error {
	var s *schema
	if f != nil && f.typ == tObject {
		s = f.schema
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return malformed(err)
		}
		key, _ := tok.(string) // the decoder only yields string keys inside an object
		if m, ok := secretscan.Find(key); ok && w.secret == nil {
			// The name itself is the secret; name only the parent so the message cannot echo it.
			w.secret = sever.Errorf(sever.EINVALID, path,
				"a field name in %s looks like %s; %s", orTop(path), m, refuseSecret)
		}
		kpath := shorten(joinPath(path, key))
		w.checkSecretName(kpath, key)
		if seen[key] {
			w.note(sever.Errorf(sever.EINVALID, kpath, "duplicate field %q", kpath))
		}
		seen[key] = true
		var child *field
		if s != nil {
			if c, ok := s.fields[key]; ok {
				child = &c
			} else {
				w.note(w.unknownField(path, kpath, key, s))
			}
		}
		if err := w.value(kpath, child, depth); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // the closing brace
	if err != nil {
		return malformed(err)
	}
	return nil
}

func (w *walker) array(path string, f *field, depth int) error {
	var elem *field
	if f != nil && f.typ == tStrings {
		elem = &field{typ: tString}
	}
	for i := 0; w.dec.More(); i++ {
		if err := w.value(fmt.Sprintf("%s[%d]", path, i), elem, depth); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // the closing bracket
	if err != nil {
		return malformed(err)
	}
	return nil
}

func (w *walker) unknownField(parent, kpath, key string, s *schema) *sever.Error {
	if parent == "" && slices.Contains(w.assigned, key) {
		return sever.Errorf(sever.EINVALID, kpath, "%s is assigned by sever at intake; do not send it", key)
	}
	for _, name := range s.order {
		if strings.EqualFold(name, key) {
			return sever.Errorf(sever.EINVALID, kpath,
				"unknown field %q (field names are case-sensitive; did you mean %q?)", kpath, joinPath(parent, name))
		}
	}
	return sever.Errorf(sever.EINVALID, kpath, "unknown field %q (known fields here: %s)", kpath, strings.Join(s.order, ", "))
}

// shorten bounds a field path or value that came from the client before it goes
// into a message, so a megabyte-long field name does not come back as a megabyte
// error. sever.Clip is the one clipper: Signal.Validate bounds the values it
// quotes with it too.
func shorten(p string) string { return sever.Clip(p, 128) }

func orTop(path string) string {
	if path == "" {
		return "the body"
	}
	return path
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// Names that say a field holds secret material. Names are compared lower-cased with
// everything but letters and digits removed, so "Secret-Access-Key",
// "secret_access_key" and "secretAccessKey" all match.
var (
	secretNameParts = []string{"secret", "token", "keymaterial", "value", "password", "passwd", "privatekey"}
	secretNames     = []string{"key", "apikey", "pwd", "pass", "pat"}
)

func (w *walker) checkSecretName(kpath, key string) {
	if w.secret != nil {
		return
	}
	n := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return -1
	}, key)
	if slices.Contains(secretNames, n) || slices.ContainsFunc(secretNameParts, func(p string) bool { return strings.Contains(n, p) }) {
		w.secret = sever.Errorf(sever.EINVALID, kpath,
			"field %q looks like it carries secret material; %s", kpath, refuseSecret)
	}
}

// checkSecretValue refuses a string value in which the one secret detector
// (internal/secretscan) finds secret material, after normalization, so a key split
// by a space or an invisible character is refused like the plain key.
func (w *walker) checkSecretValue(path, v string) {
	if w.secret == nil {
		if m, ok := secretscan.Find(v); ok {
			w.secret = secretValueError(path, m.String())
		}
	}
}

// secretValueError names the field and what it looks like (the detector's rule),
// never the value: the message may end up in a log.
func secretValueError(path, what string) *sever.Error {
	return sever.Errorf(sever.EINVALID, path, "%s looks like %s; %s", path, what, refuseSecret)
}

const refuseSecret = "sever never accepts or stores a credential's secret value: remove it and send only the credential's identifier (credential.id)"

var argsHashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// noncePattern is the form of a step's approval_nonce.
var noncePattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func decodeDecideRequest(body []byte) (service.DecideRequest, string, error) {
	var w decideWire
	if err := decodeStrict(body, decideSchema, nil, &w); err != nil {
		return service.DecideRequest{}, "", err
	}
	r := service.DecideRequest{Step: strings.TrimSpace(w.Step), ArgsSHA256: w.ArgsSHA256, Reason: strings.TrimSpace(w.Reason), Channel: w.Channel, Nonce: w.Nonce}
	switch {
	case r.Step == "":
		return service.DecideRequest{}, "", sever.Errorf(sever.EINVALID, "step", "step is required")
	case len(r.Step) > 128:
		return service.DecideRequest{}, "", sever.Errorf(sever.EINVALID, "step", "step is longer than 128 characters")
	case w.Decision != "approve" && w.Decision != "deny":
		return service.DecideRequest{}, "", sever.Errorf(sever.EINVALID, "decision", "decision must be approve or deny")
	case r.ArgsSHA256 != "" && !argsHashPattern.MatchString(r.ArgsSHA256):
		return service.DecideRequest{}, "", sever.Errorf(sever.EINVALID, "args_sha256", "args_sha256 must be 64 lowercase hex digits")
	case r.Nonce != "" && !noncePattern.MatchString(r.Nonce):
		return service.DecideRequest{}, "", sever.Errorf(sever.EINVALID, "nonce", "nonce must be 32 lowercase hex digits (the step's approval_nonce)")
	case utf8.RuneCountInString(r.Reason) > maxReasonLength:
		return service.DecideRequest{}, "", sever.Errorf(sever.EINVALID, "reason", "reason is longer than %d characters", maxReasonLength)
	case r.Channel == "":
		r.Channel = "api"
	case r.Channel != "api" && r.Channel != "cli":
		return service.DecideRequest{}, "", sever.Errorf(sever.EINVALID, "channel", "channel must be api or cli")
	}
	r.Approve = w.Decision == "approve"
	return r, strings.TrimSpace(w.As), nil
}
