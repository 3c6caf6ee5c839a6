package webapp

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"presence"
)

// msgids are every sentence the app shows: marked T("…") in its Go code,
// translated with {{t .Lang "…"}} in its templates, and the server's
// guidance it shows as tips.
func msgids(t *testing.T) []string {
	t.Helper()
	var out []string
	add := func(pattern, glob string) {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if filepath.Ext(f) == ".go" && regexp.MustCompile(`_test\.go$`).MatchString(f) {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(string(raw), -1) {
				if !slices.Contains(out, m[1]) {
					out = append(out, m[1])
				}
			}
		}
	}
	add(`\bT\("((?:[^"\\]|\\.)*)"\)`, "*.go")
	add(`\{\{t \$?\.Lang "((?:[^"\\]|\\.)*)"`, "templates/*.html")
	for _, c := range presence.ReasonCodes() {
		if m := presence.NewReason(c).Message; !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) < 150 {
		t.Fatalf("only %d sentences found: the patterns no longer match the code", len(out))
	}
	return out
}

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// Every sentence is in every catalogue, with the same placeholders, and
// no catalogue keeps sentences the app no longer shows.
func TestCataloguesAreComplete(t *testing.T) {
	ids := msgids(t)
	for lang, m := range catalogues {
		for _, id := range ids {
			tr, ok := m[id]
			if !ok || tr == "" {
				t.Errorf("%s: no translation of %q", lang, id)
				continue
			}
			a, b := placeholder.FindAllString(id, -1), placeholder.FindAllString(tr, -1)
			sort.Strings(a)
			sort.Strings(b)
			if !slices.Equal(a, b) {
				t.Errorf("%s: %q has placeholders %v, its translation %v", lang, id, a, b)
			}
		}
		for id := range m {
			if !slices.Contains(ids, id) {
				t.Errorf("%s: %q is translated but no longer shown", lang, id)
			}
		}
	}
}

func TestLanguageChoice(t *testing.T) {
	for h, want := range map[string]string{
		"fr-FR,fr;q=0.9,en;q=0.8": "fr", "en-GB,en;q=0.9": "en", "de-DE,de;q=0.9,fr;q=0.5": "fr", "de": "en", "": "en", "FR": "fr",
	} {
		if got := acceptLanguage(h); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", h, got, want)
		}
	}
	if got := tr("fr", "Hello, {name}", "name", "zoé"); got != "Bonjour, zoé" {
		t.Errorf("tr: %q", got)
	}
	if got := tr("fr", "a sentence no catalogue has"); got != "a sentence no catalogue has" {
		t.Errorf("untranslated: %q", got)
	}
}
