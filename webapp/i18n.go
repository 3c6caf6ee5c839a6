package webapp

import (
	"embed"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Languages. Every string a person reads comes from a message catalogue:
// the English sentence is the message id (as with gettext), and
// i18n/LANG.json maps it to the sentence in another language. Sentences
// are whole, with named placeholders ({client}, {time}), never assembled
// from pieces. Go code marks its sentences with T(…) and templates
// translate with {{t .Lang "…"}}, so a test can check that every one is
// in every catalogue.

//go:embed i18n
var catalogueFiles embed.FS

// Languages lists the languages the app speaks, the first the default.
var Languages = []string{"en", "fr"}

// languageNames are the names of the languages in themselves, for the
// switch.
var languageNames = map[string]string{"en": "English", "fr": "Français"}

var catalogues = loadCatalogues()

func loadCatalogues() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range Languages[1:] {
		raw, err := catalogueFiles.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			panic("webapp: catalogue " + lang + ": " + err.Error()) // embedded: caught by every test run
		}
		m := map[string]string{}
		if err := json.Unmarshal(raw, &m); err != nil {
			panic("webapp: catalogue " + lang + ": " + err.Error())
		}
		out[lang] = m
	}
	return out
}

// T marks an English sentence for translation; it returns it unchanged.
func T(s string) string { return s }

// tr is s in lang, with placeholders {name} replaced by args (name,
// value, name, value...).
func tr(lang, s string, args ...string) string {
	if m := catalogues[lang]; m != nil {
		if t, ok := m[s]; ok && t != "" {
			s = t
		}
	}
	for i := 0; i+1 < len(args); i += 2 {
		s = strings.ReplaceAll(s, "{"+args[i]+"}", args[i+1])
	}
	return s
}

const langCookie = "presence_app_lang"

// lang is the language of a request: ?lang= (remembered in a cookie),
// the cookie, then the browser's Accept-Language, then English.
func (a *App) lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); known(l) {
		if w != nil {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/app/", MaxAge: int(365 * 24 * time.Hour / time.Second),
				HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
		}
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && known(c.Value) {
		return c.Value
	}
	return acceptLanguage(r.Header.Get("Accept-Language"))
}

func known(l string) bool { return slices.Contains(Languages, l) }

// acceptLanguage picks the first known language of an Accept-Language
// header, in the browser's order (weights are ordered by every browser).
func acceptLanguage(h string) string {
	for _, part := range strings.Split(h, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if known(primary) {
			return primary
		}
	}
	return Languages[0]
}

// translateScreen is s in lang.
func translateScreen(lang string, s Screen, args ...string) Screen {
	s.Title, s.Message, s.LinkText = tr(lang, s.Title, args...), tr(lang, s.Message, args...), tr(lang, s.LinkText)
	s.Tips = slices.Clone(s.Tips)
	for i, t := range s.Tips {
		s.Tips[i] = tr(lang, t)
	}
	return s
}

// jsMessages are the sentences app.js shows itself, in lang.
func jsMessages(lang string) map[string]string {
	out := map[string]string{}
	for _, s := range jsSentences {
		out[s] = tr(lang, s)
	}
	return out
}

var jsSentences = []string{
	T("Username needed"), T("Enter your username, or log in with your face only."),
	T("Starting the face check…"), T("Checking your face…"),
	T("Connection lost"), T("The connection to the server was lost. Check your connection, then try again."),
	T("Something went wrong"), T("Please try again in a moment."),
}
