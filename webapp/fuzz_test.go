package webapp

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseStart: any body gives a kind and a valid username, or a named
// screen; never a panic.
func FuzzParseStart(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"register","username":"Alice"}`, `{"kind":"face_login"}`, `{"kind":"login","username":" bob "}`,
		`{"kind":"login","username":"a"}`, `{"kind":1}`, `[]`, ``, `{"kind":"login","username":"ünïcode"}`,
		`{"kind":"recovery","username":"bob","recovery_code":"abcde-fghij"}`, `{"kind":"recovery","username":"bob"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		kind, username, recovery, bad := parseStart(strings.NewReader(body))
		if bad != "" {
			if _, ok := screens[bad]; !ok || kind != "" || username != "" || recovery != "" {
				t.Fatalf("%q: %q %q %q", body, kind, username, bad)
			}
			return
		}
		switch kind {
		case "recovery":
			if recovery == "" || len(recovery) > 20 || !usernamePattern.MatchString(username) {
				t.Fatalf("%q gave recovery %q for %q", body, recovery, username)
			}
		case "register", "login":
			if !usernamePattern.MatchString(username) || recovery != "" {
				t.Fatalf("%q gave username %q", body, username)
			}
		case "face_login":
			if username != "" {
				t.Fatalf("face-only login with a username %q", username)
			}
		default:
			t.Fatalf("%q gave kind %q", body, kind)
		}
	})
}

// FuzzDeviceHint: any User-Agent gives a short, printable hint.
func FuzzDeviceHint(f *testing.F) {
	for _, seed := range []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0",
		"curl/8.0", "", "\xff\xfe",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		h := deviceHint(ua)
		if h == "" || len(h) > 40 || !utf8.ValidString(h) {
			t.Fatalf("%q gave %q", ua, h)
		}
	})
}

func TestDeviceHint(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36":   "Chrome on Android",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0":                   "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0":                                 "Firefox on macOS",
		"curl/8.0": "Unknown browser",
	} {
		if got := deviceHint(ua); got != want {
			t.Errorf("%s: %q, want %q", ua, got, want)
		}
	}
}
