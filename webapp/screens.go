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
	// args fill the message's placeholders ({time}).
	args []string
}

// screens is the one table of failure screens.
var screens = map[string]Screen{
	// The camera, as the capture SDK reports it.
	"permission_denied": {Title: T("Camera access denied"), Message: T("Allow the camera for this site in your browser's settings, then try again.")},
	"no_camera":         {Title: T("No camera found"), Message: T("This device has no camera the browser can use. Connect one or use another device, then try again.")},
	"camera_in_use":     {Title: T("Camera in use"), Message: T("Another application is using the camera. Close it, then try again.")},
	"unsupported":       {Title: T("Browser not supported"), Message: T("This browser cannot use the camera. Try a recent Chrome, Firefox or Safari.")},
	"network_lost":      {Title: T("Connection lost"), Message: T("The connection to the server was lost during the face check. Check your connection, then try again.")},
	"session_used":      {Title: T("Check already used"), Message: T("This face check was already used. Start again.")},
	"cancelled":         {Title: T("Cancelled"), Message: T("You cancelled the face check.")},
	// The verdict.
	"no_face":       {Title: T("No face found"), Message: T("We could not see your face. Look straight at the camera in good light, then try again.")},
	"several_faces": {Title: T("Several faces"), Message: T("More than one face was in view, or the face changed during the check. Make sure only you are in view, then try again.")},
	"spoof":         {Title: T("Live person not confirmed"), Message: T("We could not confirm that a live person was in front of the camera. Photos, screens, videos and masks are not accepted.")},
	"unsteady":      {Title: T("Connection unsteady"), Message: T("The video did not reach us steadily. Check your connection, then try again.")},
	"steps":         {Title: T("Steps not completed"), Message: T("The steps shown on the screen were not done in time. Follow each instruction while looking at the camera, then try again.")},
	"poor_capture":  {Title: T("Let's try that again"), Message: T("We could not check your face this time. This is not a judgement of you: a better view usually fixes it.")},
	"no_match":      {Title: T("Face does not match"), Message: T("The face does not match this account. You are not logged in.")},
	"no_account":    {Title: T("No account for this face"), Message: T("We found no account with this face. Log in with your username, or create an account."), Link: "/app/register", LinkText: T("Create an account")},
	// The account.
	"unknown_user":        {Title: T("Unknown user"), Message: T("There is no account with this username. Check the spelling, or create an account."), Link: "/app/register", LinkText: T("Create an account")},
	"wrong_recovery_code": {Title: T("Recovery code not accepted"), Message: T("That recovery code is wrong, or was already used. Check it, or use another one.")},
	"username_taken":      {Title: T("Username taken"), Message: T("This username is already in use. Choose another one.")},
	"invalid_username":    {Title: T("Invalid username"), Message: T("A username is 3 to 32 characters: lowercase letters, digits, dots, dashes and underscores, starting with a letter or digit.")},
	"duplicate_face":      {Title: T("Face already registered"), Message: T("This face already belongs to an account. Log in to that account instead."), Link: "/app/login", LinkText: T("Log in")},
	"expired":             {Title: T("Session expired"), Message: T("The face check took too long and has expired. Start again.")},
	"locked":              {Title: T("Too many attempts"), Message: T("For your security, logging in is paused after several failed attempts. Try again later.")},
	"forbidden":           {Title: T("This page has expired"), Message: T("Reload the page and try again.")},
	"error":               {Title: T("Something went wrong"), Message: T("The face check could not be completed. Please try again in a moment.")},
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
		return T("Registration")
	case account.KindLogin:
		return T("Login")
	case account.KindFaceLogin:
		return T("Face-only login")
	case account.KindSecondFactor:
		return T("Second factor")
	case account.KindRecovery:
		return T("Recovery")
	}
	return kind
}

func outcomeText(outcome string) string {
	switch outcome {
	case account.OutcomeSuccess:
		return T("Succeeded")
	case account.OutcomeFailure:
		return T("Failed")
	case account.OutcomeAbandoned:
		return T("Not completed")
	}
	return outcome
}
