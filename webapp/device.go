package webapp

import "strings"

// deviceHint turns a User-Agent into what a person recognises in their
// login history ("Chrome on Android"). It is a hint for people, never a
// security decision: the header is whatever the client sends.
func deviceHint(ua string) string {
	if len(ua) > 512 {
		ua = ua[:512]
	}
	browser := T("Unknown browser")
	for _, b := range []struct{ token, name string }{
		// Order matters: Edge and Opera also say Chrome, Chrome says Safari.
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"}, {"Firefox/", "Firefox"},
		{"FxiOS/", "Firefox"}, {"CriOS/", "Chrome"}, {"HeadlessChrome/", "Headless Chrome"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, s := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system // stored so; deviceText words it per language
}

// deviceText words a stored device hint in lang.
func deviceText(lang, hint string) string {
	browser, system, ok := strings.Cut(hint, " on ")
	if !ok {
		return tr(lang, hint)
	}
	return tr(lang, T("{browser} on {system}"), "browser", tr(lang, browser), "system", system)
}
