package webapp

import (
	"slices"

	"presence/webapp/account"
)

// Screen is what a person sees when a registration or login does not go
// through: a title and a sentence that say what happened and what to do.
// Code is stable (tests and the history use it).
type Screen struct {
	Code    string   `json:"code"`
	Title   string   `json:"title"`
	Message string   `json:"message"`
	Tips    []string `json:"tips,omitempty"`
	// RetryAt is when a lockout ends (RFC 3339).
	RetryAt string `json:"retry_at,omitempty"`
	// Link offers the next step (e.g. create an account).
	Link     string `json:"link,omitempty"`
	LinkText string `json:"link_text,omitempty"`
}

// screens is the one table of failure screens.
var screens = map[string]Screen{
	// The camera, as the capture SDK reports it.
	"permission_denied": {Title: "Camera access denied", Message: "Allow the camera for this site in your browser's settings, then try again."},
	"no_camera":         {Title: "No camera found", Message: "This device has no camera the browser can use. Connect one or use another device, then try again."},
	"camera_in_use":     {Title: "Camera in use", Message: "Another application is using the camera. Close it, then try again."},
	"unsupported":       {Title: "Browser not supported", Message: "This browser cannot use the camera. Try a recent Chrome, Firefox or Safari."},
	"network_lost":      {Title: "Connection lost", Message: "The connection to the server was lost during the face check. Check your connection, then try again."},
	"session_used":      {Title: "Check already used", Message: "This face check was already used. Start again."},
	"cancelled":         {Title: "Cancelled", Message: "You cancelled the face check."},
	// The verdict.
	"no_face":       {Title: "No face found", Message: "We could not see your face. Look straight at the camera in good light, then try again."},
	"several_faces": {Title: "Several faces", Message: "More than one face was in view, or the face changed during the check. Make sure only you are in view, then try again."},
	"spoof":         {Title: "Live person not confirmed", Message: "We could not confirm that a live person was in front of the camera. Photos, screens, videos and masks are not accepted."},
	"unsteady":      {Title: "Connection unsteady", Message: "The video did not reach us steadily. Check your connection, then try again."},
	"steps":         {Title: "Steps not completed", Message: "The steps shown on the screen were not done in time. Follow each instruction while looking at the camera, then try again."},
	"poor_capture":  {Title: "Let's try that again", Message: "We could not check your face this time. This is not a judgement of you: a better view usually fixes it."},
	"no_match":      {Title: "Face does not match", Message: "The face does not match this account. You are not logged in."},
	"no_account":    {Title: "No account for this face", Message: "We found no account with this face. Log in with your username, or create an account.", Link: "/app/register", LinkText: "Create an account"},
	// The account.
	"unknown_user":        {Title: "Unknown user", Message: "There is no account with this username. Check the spelling, or create an account.", Link: "/app/register", LinkText: "Create an account"},
	"wrong_recovery_code": {Title: "Recovery code not accepted", Message: "That recovery code is wrong, or was already used. Check it, or use another one."},
	"username_taken":      {Title: "Username taken", Message: "This username is already in use. Choose another one."},
	"invalid_username":    {Title: "Invalid username", Message: "A username is 3 to 32 characters: lowercase letters, digits, dots, dashes and underscores, starting with a letter or digit."},
	"duplicate_face":      {Title: "Face already registered", Message: "This face already belongs to an account. Log in to that account instead.", Link: "/app/login", LinkText: "Log in"},
	"expired":             {Title: "Session expired", Message: "The face check took too long and has expired. Start again."},
	"locked":              {Title: "Too many attempts", Message: "For your security, logging in is paused after several failed attempts. Try again later."},
	"forbidden":           {Title: "This page has expired", Message: "Reload the page and try again."},
	"error":               {Title: "Something went wrong", Message: "The face check could not be completed. Please try again in a moment."},
}

func screenFor(code string) Screen {
	s, ok := screens[code]
	if !ok {
		code, s = "error", screens["error"]
	}
	s.Code = code
	return s
}

// verdictScreen names the screen for a verdict that did not log anyone
// in, from its reasons. Spoof evidence wins over everything else: a
// photo that also failed a step is a spoof to the person, not a hint.
func verdictScreen(v *verdict) Screen {
	has := func(codes ...string) bool {
		return slices.ContainsFunc(v.Reasons, func(r reason) bool { return slices.Contains(codes, r.Code) })
	}
	switch {
	case v.Decision == "fake" && has("spoof_suspected", "replayed_frame"):
		return screenFor("spoof")
	case has("timing_anomaly"):
		// Frames that arrived implausibly: an unsteady network to an
		// honest person, and no hint to anyone else.
		return screenFor("unsteady")
	case has("face_changed", "multiple_faces"):
		return screenFor("several_faces")
	case has("no_face", "face_lost"):
		return screenFor("no_face")
	case has("challenge_failed"):
		return screenFor("steps")
	case v.Decision == "fake":
		return screenFor("spoof")
	case has("session_timeout"):
		return screenFor("expired")
	case has("connection_lost"):
		return screenFor("network_lost")
	}
	s := screenFor("poor_capture")
	for _, r := range v.Reasons {
		if !slices.Contains(s.Tips, r.Message) {
			s.Tips = append(s.Tips, r.Message)
		}
	}
	return s
}

// reasonText is how the history names an attempt's reason.
func reasonText(code string) string {
	if code == "" {
		return ""
	}
	if s, ok := screens[code]; ok {
		return s.Title
	}
	return code
}

func kindText(kind string) string {
	switch kind {
	case account.KindRegister:
		return "Registration"
	case account.KindLogin:
		return "Login"
	case account.KindFaceLogin:
		return "Face-only login"
	case account.KindSecondFactor:
		return "Second factor"
	case account.KindRecovery:
		return "Recovery"
	}
	return kind
}

func outcomeText(outcome string) string {
	switch outcome {
	case account.OutcomeSuccess:
		return "Succeeded"
	case account.OutcomeFailure:
		return "Failed"
	case account.OutcomeAbandoned:
		return "Not completed"
	}
	return outcome
}
