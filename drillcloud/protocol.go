package drillcloud

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// protocol is the wire protocol family of a service.
type protocol int

const (
	protoQuery    protocol = iota // awsQuery: IAM, STS
	protoEC2                      // ec2Query
	protoJSON                     // awsJson1.1: Secrets Manager, CloudTrail
	protoRESTXML                  // S3
	protoRESTJSON                 // restJson1: Bedrock
)

// serviceDef describes one service by its SigV4 signing name.
type serviceDef struct {
	name        string
	proto       protocol
	eventSource string
	xmlns       string
	version     string
	serverCode  string // the service's own 5xx error code
}

var services = map[string]*serviceDef{
	"iam":            {name: "iam", proto: protoQuery, eventSource: "iam.amazonaws.com", xmlns: "https://iam.amazonaws.com/doc/2010-05-08/", version: "2010-05-08", serverCode: "ServiceFailure"},
	"sts":            {name: "sts", proto: protoQuery, eventSource: "sts.amazonaws.com", xmlns: "https://sts.amazonaws.com/doc/2011-06-15/", version: "2011-06-15", serverCode: "InternalFailure"},
	"ec2":            {name: "ec2", proto: protoEC2, eventSource: "ec2.amazonaws.com", xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/", version: "2016-11-15", serverCode: "InternalError"},
	"secretsmanager": {name: "secretsmanager", proto: protoJSON, eventSource: "secretsmanager.amazonaws.com", serverCode: "InternalServiceError"},
	"cloudtrail":     {name: "cloudtrail", proto: protoJSON, eventSource: "cloudtrail.amazonaws.com", serverCode: "InternalFailure"},
	"s3":             {name: "s3", proto: protoRESTXML, eventSource: "s3.amazonaws.com", serverCode: "InternalError"},
	"bedrock":        {name: "bedrock", proto: protoRESTJSON, eventSource: "bedrock.amazonaws.com", serverCode: "InternalServerException"},
}

// apiError is an error response in protocol-neutral form.
type apiError struct {
	Status  int
	Code    string
	Message string
	// Receiver marks a server-side fault in the Query error Type element.
	Receiver bool
	Header   map[string]string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errKind names a refusal whose code differs per protocol.
type errKind int

const (
	ekInvalidKey errKind = iota
	ekSigMismatch
	ekSigExpired
	ekExpiredToken
	ekInvalidToken
	ekMissingAuth
	ekMalformedAuth
	ekPayloadMismatch
	ekMissingContentSHA
	ekAccessDenied
	ekThrottle
	ekServer
	ekUnknownOp
)

// refusal is how one protocol answers one errKind: status, code and the
// message used when the caller gives none. A fixed message is used always.
type refusal struct {
	status    int
	code, msg string
	fixedMsg  bool
}

const (
	invalidToken = "The security token included in the request is invalid."
	expiredToken = "The security token included in the request is expired"
)

// ec2AuthFailure is EC2's answer to any bad credential: it does not say which
// part was wrong.
var ec2AuthFailure = refusal{401, "AuthFailure", "AWS was not able to validate the provided access credentials", true}

// refusals holds, per refusal kind, the error each protocol returns; an
// empty code is the service's own serverCode. One row a kind keeps the
// protocols side by side.
var refusals = map[errKind][protoRESTJSON + 1]refusal{
	ekInvalidKey:        {protoQuery: {403, "InvalidClientTokenId", invalidToken, false}, protoJSON: {400, "UnrecognizedClientException", invalidToken, false}, protoEC2: ec2AuthFailure, protoRESTXML: {403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", false}, protoRESTJSON: {403, "UnrecognizedClientException", invalidToken, false}},
	ekInvalidToken:      {protoQuery: {403, "InvalidClientTokenId", invalidToken, false}, protoJSON: {400, "UnrecognizedClientException", invalidToken, false}, protoEC2: ec2AuthFailure, protoRESTXML: {400, "InvalidToken", "The provided token is malformed or otherwise invalid.", false}, protoRESTJSON: {403, "UnrecognizedClientException", invalidToken, false}},
	ekSigMismatch:       {protoQuery: {403, "SignatureDoesNotMatch", "", false}, protoJSON: {400, "InvalidSignatureException", "", false}, protoEC2: ec2AuthFailure, protoRESTXML: {403, "SignatureDoesNotMatch", "", false}, protoRESTJSON: {403, "InvalidSignatureException", "", false}},
	ekSigExpired:        {protoQuery: {403, "SignatureDoesNotMatch", "", false}, protoJSON: {400, "InvalidSignatureException", "", false}, protoEC2: {400, "RequestExpired", "Request has expired.", false}, protoRESTXML: {403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", true}, protoRESTJSON: {403, "InvalidSignatureException", "", false}},
	ekExpiredToken:      {protoQuery: {403, "ExpiredToken", expiredToken, false}, protoJSON: {400, "ExpiredTokenException", expiredToken, false}, protoEC2: {400, "RequestExpired", "Request has expired.", false}, protoRESTXML: {400, "ExpiredToken", "The provided token has expired.", false}, protoRESTJSON: {403, "ExpiredTokenException", expiredToken, false}},
	ekMissingAuth:       {protoQuery: {403, "MissingAuthenticationToken", "Request is missing Authentication Token", false}, protoJSON: {400, "MissingAuthenticationTokenException", "Missing Authentication Token", false}, protoEC2: ec2AuthFailure, protoRESTXML: {403, "AccessDenied", "Access Denied", false}, protoRESTJSON: {403, "MissingAuthenticationTokenException", "Missing Authentication Token", false}},
	ekMalformedAuth:     {protoQuery: {400, "IncompleteSignature", "", false}, protoJSON: {400, "IncompleteSignatureException", "", false}, protoEC2: ec2AuthFailure, protoRESTXML: {400, "AuthorizationHeaderMalformed", "", false}, protoRESTJSON: {403, "IncompleteSignatureException", "", false}},
	ekPayloadMismatch:   {protoQuery: {403, "SignatureDoesNotMatch", "", false}, protoJSON: {400, "InvalidSignatureException", "", false}, protoEC2: ec2AuthFailure, protoRESTXML: {400, "XAmzContentSHA256Mismatch", "", false}, protoRESTJSON: {403, "InvalidSignatureException", "", false}},
	ekMissingContentSHA: {protoQuery: {403, "SignatureDoesNotMatch", "", false}, protoJSON: {400, "InvalidSignatureException", "", false}, protoEC2: ec2AuthFailure, protoRESTXML: {400, "InvalidRequest", "", false}, protoRESTJSON: {403, "InvalidSignatureException", "", false}},
	ekAccessDenied:      {protoQuery: {403, "AccessDenied", "", false}, protoJSON: {400, "AccessDeniedException", "", false}, protoEC2: {403, "UnauthorizedOperation", "", false}, protoRESTXML: {403, "AccessDenied", "", false}, protoRESTJSON: {403, "AccessDeniedException", "", false}},
	ekThrottle:          {protoQuery: {400, "Throttling", "Rate exceeded", false}, protoJSON: {400, "ThrottlingException", "Rate exceeded", false}, protoEC2: {503, "RequestLimitExceeded", "Request limit exceeded.", false}, protoRESTXML: {503, "SlowDown", "Please reduce your request rate.", false}, protoRESTJSON: {429, "ThrottlingException", "Too many requests, please wait before trying again.", false}},
	ekServer:            {protoQuery: {500, "", "An internal error occurred.", false}, protoJSON: {500, "", "An error occurred on the server side.", false}, protoEC2: {500, "InternalError", "An internal error has occurred", false}, protoRESTXML: {500, "InternalError", "We encountered an internal error. Please try again.", false}, protoRESTJSON: {500, "InternalServerException", "Internal server error.", false}},
	ekUnknownOp:         {protoQuery: {400, "InvalidAction", "", false}, protoJSON: {400, "UnknownOperationException", "", false}, protoEC2: {400, "InvalidAction", "", false}, protoRESTXML: {501, "NotImplemented", "A header you provided implies functionality that is not implemented", false}, protoRESTJSON: {404, "UnknownOperationException", "", false}},
}

// protocolError maps a refusal kind to the error AWS returns on that
// protocol, so SDK callers see the same codes they would in production.
func protocolError(svc *serviceDef, kind errKind, msg string) *apiError {
	p := protoQuery
	if svc != nil {
		p = svc.proto
	}
	row, ok := refusals[kind]
	r := refusal{500, "InternalFailure", "unmapped error", false}
	if ok && p >= 0 && int(p) < len(row) {
		r = row[p]
	}
	if r.code == "" {
		r.code = svc.serverCode
	}
	if msg == "" || r.fixedMsg {
		msg = r.msg
	}
	return &apiError{Status: r.status, Code: r.code, Message: msg, Receiver: kind == ekServer}
}

// response is a fully rendered HTTP response, held in memory so that a
// drop_response fault can apply the mutation and still withhold the reply.
type response struct {
	status int
	header http.Header
	body   []byte
}

func newResponse(status int, contentType string, body []byte) *response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &response{status: status, header: h, body: body}
}

// renderError writes e in the error shape of the service's protocol.
func renderError(svc *serviceDef, reqID string, method string, e *apiError) *response {
	var resp *response
	p := protoQuery
	if svc != nil {
		p = svc.proto
	}
	switch p {
	case protoQuery:
		typ := "Sender"
		if e.Receiver || e.Status >= 500 {
			typ = "Receiver"
		}
		ns := ""
		if svc != nil {
			ns = svc.xmlns
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			ns, typ, xmlEscape(e.Code), xmlEscape(e.Message), reqID)
		resp = newResponse(e.Status, "text/xml", b.Bytes())
		resp.header.Set("X-Amzn-Requestid", reqID)
	case protoEC2:
		var b bytes.Buffer
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
			xmlEscape(e.Code), xmlEscape(e.Message), reqID)
		resp = newResponse(e.Status, "text/xml;charset=UTF-8", b.Bytes())
	case protoJSON:
		body, _ := json.Marshal(map[string]string{"__type": e.Code, "Message": e.Message})
		resp = newResponse(e.Status, "application/x-amz-json-1.1", body)
		resp.header.Set("X-Amzn-Requestid", reqID)
	case protoRESTXML:
		if method == http.MethodHead {
			resp = newResponse(e.Status, "", nil)
		} else {
			var b bytes.Buffer
			fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId><HostId>%s</HostId></Error>`,
				xmlEscape(e.Code), xmlEscape(e.Message), reqID, hostID(reqID))
			resp = newResponse(e.Status, "application/xml", b.Bytes())
		}
		resp.header.Set("X-Amz-Request-Id", reqID)
		resp.header.Set("X-Amz-Id-2", hostID(reqID))
	case protoRESTJSON:
		body, _ := json.Marshal(map[string]string{"message": e.Message})
		resp = newResponse(e.Status, "application/json", body)
		resp.header.Set("X-Amzn-Errortype", e.Code)
		resp.header.Set("X-Amzn-Requestid", reqID)
	}
	for k, v := range e.Header {
		resp.header.Set(k, v)
	}
	return resp
}

func hostID(reqID string) string {
	return hashHex([]byte(reqID))[:32]
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// queryXML renders an awsQuery success response: <OpResponse><OpResult>…
// The result value must marshal as the <OpResult> element (or be nil).
func queryXML(svc *serviceDef, op, reqID string, result any) (*response, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, op, svc.xmlns)
	if result != nil {
		inner, err := xml.Marshal(result)
		if err != nil {
			return nil, fmt.Errorf("marshal %s result: %w", op, err)
		}
		b.Write(inner)
	}
	fmt.Fprintf(&b, `<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, reqID, op)
	resp := newResponse(200, "text/xml", b.Bytes())
	resp.header.Set("X-Amzn-Requestid", reqID)
	return resp, nil
}

func jsonResponse(contentType, reqID string, v any) (*response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal json response: %w", err)
	}
	resp := newResponse(200, contentType, body)
	resp.header.Set("X-Amzn-Requestid", reqID)
	return resp, nil
}

// isoTime marshals as the second-precision ISO 8601 that IAM and STS emit.
type isoTime time.Time

func (t isoTime) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format("2006-01-02T15:04:05Z")), nil
}

// msTime marshals with milliseconds, as EC2 and S3 emit.
type msTime time.Time

func (t msTime) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z")), nil
}

// epochTime marshals as fractional epoch seconds, the awsJson timestamp form.
type epochTime time.Time

func (t epochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func epochPtr(t time.Time) *epochTime {
	if t.IsZero() {
		return nil
	}
	e := epochTime(t)
	return &e
}

// memberList renders an awsQuery list as <Name><member>…</member></Name>,
// emitting the wrapper even when empty as IAM does.
type memberList[T any] struct {
	Members []T `xml:"member"`
}

// itemList renders an ec2Query list as <name><item>…</item></name>.
type itemList[T any] struct {
	Items []T `xml:"item"`
}
