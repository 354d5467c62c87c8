package drillcloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

var bedrockOps = map[string]*opDef{
	"GetModelInvocationLoggingConfiguration":    {readOnly: true, handle: brGetLogging},
	"PutModelInvocationLoggingConfiguration":    {handle: brPutLogging},
	"DeleteModelInvocationLoggingConfiguration": {handle: brDeleteLogging},
	"InvokeModel": {resource: func(cl *call) string {
		return fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", cl.region, cl.path["modelId"])
	}, handle: brInvokeModel},
}

// bedrockLoggingOps are the model invocation logging operations by method.
var bedrockLoggingOps = map[string]string{
	http.MethodGet:    "GetModelInvocationLoggingConfiguration",
	http.MethodPut:    "PutModelInvocationLoggingConfiguration",
	http.MethodDelete: "DeleteModelInvocationLoggingConfiguration",
}

// bedrockRoute maps control-plane and runtime paths; both sign as "bedrock".
func bedrockRoute(r *http.Request) (string, map[string]string) {
	p := map[string]string{}
	if r.URL.Path == "/logging/modelinvocations" {
		return bedrockLoggingOps[r.Method], p
	}
	// Split the escaped path so a model id containing "/" (an ARN) stays one
	// segment.
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(segs) == 3 && segs[0] == "model" && r.Method == http.MethodPost {
		id, err := url.PathUnescape(segs[1])
		if err != nil {
			return "", p
		}
		p["modelId"] = id
		switch segs[2] {
		case "invoke":
			return "InvokeModel", p
		case "invoke-with-response-stream":
			return "InvokeModelWithResponseStream", p
		case "converse":
			return "Converse", p
		}
	}
	return "", p
}

func brJSON(cl *call, v any) (*response, error) {
	return jsonResponse("application/json", cl.reqID, v)
}

func brGetLogging(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	raw, ok := c.st.accounts[cl.id.account].bedrockLogging[cl.region]
	c.mu.Unlock()
	if !ok {
		return brJSON(cl, struct{}{})
	}
	return brJSON(cl, map[string]json.RawMessage{"loggingConfig": raw})
}

func brPutLogging(cl *call) (*response, error) {
	var in struct {
		LoggingConfig json.RawMessage `json:"loggingConfig"`
	}
	if err := json.Unmarshal(cl.body, &in); err != nil || len(in.LoggingConfig) == 0 || in.LoggingConfig[0] != '{' {
		return nil, &apiError{Status: 400, Code: "ValidationException", Message: "1 validation error detected: Value null at 'loggingConfig' failed to satisfy constraint: Member must not be null"}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, in.LoggingConfig); err != nil {
		return nil, &apiError{Status: 400, Code: "ValidationException", Message: "loggingConfig is not valid JSON"}
	}
	c := cl.c
	c.mu.Lock()
	a := c.st.accounts[cl.id.account]
	if old, ok := a.bedrockLogging[cl.region]; !ok || !bytes.Equal(old, compact.Bytes()) {
		a.bedrockLogging[cl.region] = compact.Bytes()
		cl.applied = true
	}
	c.mu.Unlock()
	return brJSON(cl, struct{}{})
}

func brDeleteLogging(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	a := c.st.accounts[cl.id.account]
	if _, ok := a.bedrockLogging[cl.region]; ok {
		delete(a.bedrockLogging, cl.region)
		cl.applied = true
	}
	c.mu.Unlock()
	return brJSON(cl, struct{}{})
}

const cannedCompletion = "This is a canned completion from the sever drill cloud. No model was run."

// brInvokeModel returns a small canned completion in the shape of the
// model family's own response, and records whether the call was logged.
func brInvokeModel(cl *call) (*response, error) {
	model := cl.path["modelId"]
	cl.param("modelId", model)
	cl.resource("AWS::Bedrock::Model", model)
	if !json.Valid(cl.body) {
		return nil, &apiError{Status: 400, Code: "ValidationException", Message: "Malformed input request, please reformat your input and try again."}
	}
	in, out := len(cl.body)/4+1, len(cannedCompletion)/4
	var body any
	switch {
	case strings.HasPrefix(model, "anthropic.") || strings.Contains(model, ".anthropic."):
		body = map[string]any{
			"id": "msg_drill_" + randAlnum(12), "type": "message", "role": "assistant", "model": model,
			"content":     []map[string]string{{"type": "text", "text": cannedCompletion}},
			"stop_reason": "end_turn", "stop_sequence": nil,
			"usage": map[string]int{"input_tokens": in, "output_tokens": out},
		}
	case strings.HasPrefix(model, "amazon.titan"):
		body = map[string]any{"inputTextTokenCount": in, "results": []map[string]any{{"tokenCount": out, "outputText": cannedCompletion, "completionReason": "FINISH"}}}
	case strings.HasPrefix(model, "meta."):
		body = map[string]any{"generation": cannedCompletion, "prompt_token_count": in, "generation_token_count": out, "stop_reason": "stop"}
	default:
		body = map[string]any{"outputText": cannedCompletion}
	}
	resp, err := brJSON(cl, body)
	if err != nil {
		return nil, err
	}
	resp.header.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(in))
	resp.header.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(out))
	resp.header.Set("X-Amzn-Bedrock-Invocation-Latency", "42")
	c := cl.c
	c.mu.Lock()
	_, logged := c.st.accounts[cl.id.account].bedrockLogging[cl.region]
	c.invocations = append(c.invocations, Invocation{Time: cl.now, KeyID: cl.id.keyID, Account: cl.id.account, Region: cl.region,
		ModelID: model, InputTokens: in, OutputTokens: out, Logged: logged})
	c.mu.Unlock()
	return resp, nil
}
