package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestOpenAPIDocumentIsValid lints the published document with
// kin-openapi (OpenAPI 3.1 / JSON Schema 2020-12 rules).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
}

// TestRealResponsesMatchTheDocument runs the API's main flow against a
// real server and validates every answer (status, content type, body)
// against the published document.
func TestRealResponsesMatchTheDocument(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil // any host: the test server's
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, options{})
	checked := 0
	e.check = func(req *http.Request, status int, header http.Header, body []byte) {
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: no route in the document: %v", req.Method, req.URL.Path, err)
			return
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
			Status: status, Header: header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		in.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s -> %d does not match the document: %v\n%s", req.Method, req.URL.Path, status, err, body)
		}
		checked++
	}
	e.do("GET", "/healthz", "", "", nil)
	e.do("GET", "/v1/key", e.key, "", nil)
	id, token := e.create(`{"mode":"passive","audit_images":1,"correlation_id":"c-1","enrolable":true}`)
	e.upload(id, token, e.capture(t, "fr_deepface_pairs/img20.jpg"))
	e.upload(id, token, e.capture(t, "fr_deepface_pairs/img20.jpg")) // token_used
	e.get(id)
	e.post("/v1/subjects", `{"id":"doc-1"}`)
	e.post("/v1/subjects/doc-1/enrol", `{"session_id":"`+id+`"}`)
	e.get2("/v1/subjects/doc-1")
	second := e.passed(t, "fr_deepface_pairs/img21.jpg")
	e.post("/v1/subjects/doc-1/verify", `{"session_id":"`+second+`"}`)
	e.post("/v1/identify", `{"session_id":"`+second+`"}`)
	e.do("GET", "/v1/subjects/doc-1/export", e.key, "", nil)
	e.do("GET", "/v1/sessions/ses_nope", e.key, "", nil) // 404
	e.do("DELETE", "/v1/sessions/"+second, e.key, "", nil)
	e.do("DELETE", "/v1/subjects/doc-1", e.key, "", nil)
	// Webhooks: an endpoint that refuses, so a delivery fails and is
	// retried by hand.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer refusing.Close()
	hook := e.post("/v1/webhooks", `{"url":"`+refusing.URL+`","events":["session.succeeded"]}`)
	hookID, _ := hook.body["id"].(string)
	e.post("/v1/webhooks", `{"url":"ftp://nowhere"}`) // 400
	e.passed(t, "fr_deepface_pairs/img22.jpg")
	e.Webhooks.DeliverDue(context.Background())
	e.get2("/v1/webhooks")
	e.get2("/v1/webhooks/" + hookID)
	e.get2("/v1/webhooks/" + hookID + "/deliveries?state=pending")
	e.get2("/v1/webhooks/" + hookID + "/deliveries?limit=0") // 400
	e.post("/v1/webhooks/"+hookID+"/deliveries/1/retry", "") // 404: pending, not failed
	e.post("/v1/webhooks/"+hookID+"/rotate", "")
	e.do("DELETE", "/v1/webhooks/"+hookID, e.key, "", nil)
	e.get2("/v1/webhooks/" + hookID) // 404
	if checked < 25 {
		t.Fatalf("only %d answers checked", checked)
	}
}
