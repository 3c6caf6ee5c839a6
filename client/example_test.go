package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"

	"presence/client"
)

// A relying party's backend starts a check, hands the session id and
// client token to the person's browser (the capture SDK), and reads the
// verdict once the SDK reports the check ended.
func ExampleClient_CreateSession() {
	c := client.New("https://presence.example.com", "pk_...")
	ctx := context.Background()
	s, err := c.CreateSession(ctx, client.SessionRequest{Mode: "active", CorrelationID: "order-7"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("give the browser:", s.ID, s.ClientToken)

	// ...later, when the SDK's onDone fires in the browser:
	v, err := c.Session(ctx, s.ID)
	switch {
	case client.CodeOf(err) == "not_found":
		log.Fatal("the session was deleted")
	case err != nil:
		log.Fatal(err)
	case v.Decision == "realface":
		fmt.Println("a live person")
	default:
		fmt.Println("not confirmed:", v.Reasons)
	}
}

// Errors carry the API's codes.
func ExampleCodeOf() {
	c := client.New("https://presence.example.com", "pk_...")
	_, err := c.Enrol(context.Background(), "user-42", "ses_...")
	switch client.CodeOf(err) {
	case "":
		// enrolled, or a network failure (err != nil)
	case "duplicate_face":
		fmt.Println("this face is enrolled under another account")
	case "session_not_live":
		fmt.Println("only a live, enrolable session can be enrolled")
	}
}

// A backend registers an endpoint once and keeps its secret...
func ExampleClient_CreateWebhook() {
	c := client.New("https://presence.example.com", "pk_...")
	hook, err := c.CreateWebhook(context.Background(), "https://rp.example.com/presence/webhook", "session.succeeded", "session.failed", "session.expired")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("store this secret; it is not shown again:", hook.Secret)
}

// ...and its handler verifies every delivery before trusting it.
func ExampleParseWebhook() {
	secret := os.Getenv("PRESENCE_WEBHOOK_SECRET")
	http.HandleFunc("/presence/webhook", func(w http.ResponseWriter, r *http.Request) {
		ev, err := client.ParseWebhook(r, secret)
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		// Delivery is at least once: an event id seen before is done.
		if ev.Type == "session.succeeded" {
			var s client.SessionEvent
			json.Unmarshal(ev.Data, &s)
			fmt.Println(s.CorrelationID, s.Decision)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
