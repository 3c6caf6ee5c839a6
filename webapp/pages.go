package webapp

import (
	"bytes"
	"html/template"
	"net/http"
	"time"

	"presence/webapp/account"
)

// pageData is what every template gets.
type pageData struct {
	Title string
	CSRF  string
	// Lang is the page's language; Title, Heading, Message and Notice are
	// English sentences translated into it when the page is rendered,
	// their placeholders filled from Args (name, value...).
	Lang       string
	Args       []string
	Languages  []languageLink
	JSMessages map[string]string
	User       *account.User
	// Notice is a one-line confirmation at the top ("You are logged out").
	Notice string
	// Page-specific values.
	Heading string
	Message string
	History []historyRow
	Erased  *erasedCounts
	// OpenID Provider pages: the client asking, the pending request, what
	// it would share; where a logout returns.
	Client   string
	ClientID string
	Request  string
	Scopes   []string
	Target   string
	State    string
	// Second factor: the QR code and secret of a new authenticator, the
	// recovery codes (shown once), the account's factor.
	QR           template.URL
	Secret       string
	Codes        []string
	HasTOTP      bool
	RecoveryLeft int
}

type historyRow struct {
	At      time.Time
	Kind    string
	Outcome string
	Success bool
	Reason  string
	Device  string
}

// languageLink is an entry of the language switch.
type languageLink struct {
	Code, Name string
	Current    bool
}

func (a *App) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	d.CSRF = a.csrfToken(w, r)
	d.Lang = a.lang(w, r)
	d.Title, d.Heading, d.Message, d.Notice = tr(d.Lang, d.Title, d.Args...), tr(d.Lang, d.Heading, d.Args...), tr(d.Lang, d.Message, d.Args...), tr(d.Lang, d.Notice, d.Args...)
	for _, l := range Languages {
		d.Languages = append(d.Languages, languageLink{Code: l, Name: languageNames[l], Current: l == d.Lang})
	}
	d.JSMessages = jsMessages(d.Lang)
	var buf bytes.Buffer
	if err := a.pages[page].Execute(&buf, d); err != nil {
		a.cfg.Log.Error("face-login app: rendering failed", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (a *App) message(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	a.render(w, r, status, "message", pageData{Title: heading, Heading: heading, Message: message})
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	if u, _ := a.currentUser(r); u != nil {
		http.Redirect(w, r, "/app/account", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "home", pageData{Title: T("Face login")})
}

func (a *App) registerPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "register", pageData{Title: T("Create an account")})
}

func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	d := pageData{Title: T("Log in")}
	switch r.URL.Query().Get("done") {
	case "logout":
		d.Notice = T("You are logged out.")
	case "login":
		d.Notice = T("Please log in to see that page.")
	case "confirm":
		d.Notice = T("Confirm it is you: log in with your face again.")
	case "continue":
		if _, client := a.pendingRequest(r); client != nil {
			d.Notice, d.Args = T("Log in with your face to continue to {client}."), []string{"client", client.Name}
		}
	}
	a.render(w, r, http.StatusOK, "login", d)
}

func (a *App) recoverPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "recover", pageData{Title: T("Get back into your account")})
}

// historyLength is how many attempts the account page lists.
const historyLength = 50

func (a *App) accountPage(w http.ResponseWriter, r *http.Request) {
	u, _ := a.currentUser(r)
	if u == nil {
		http.Redirect(w, r, "/app/login?done=login", http.StatusSeeOther)
		return
	}
	attempts, err := a.cfg.Store.History(r.Context(), u.ID, historyLength)
	if err != nil {
		a.cfg.Log.Error("face-login app: reading history failed", "err", err)
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Your history could not be read. Try again in a moment."))
		return
	}
	d := pageData{Title: T("Your account"), User: u}
	if r.URL.Query().Get("done") == "recovered" {
		d.Notice = T("Your face is enrolled again. Each recovery code works once: keep the others safe.")
	}
	_, d.HasTOTP = a.hasTOTP(r.Context(), u.ID)
	if d.HasTOTP {
		d.RecoveryLeft, _ = a.cfg.Store.RecoveryCodesLeft(r.Context(), u.ID)
	}
	for _, at := range attempts {
		d.History = append(d.History, historyRow{
			At: *at.FinishedAt, Kind: kindText(at.Kind), Outcome: outcomeText(at.Outcome),
			Success: at.Outcome == account.OutcomeSuccess, Reason: reasonText(at.Reason), Device: at.Device,
		})
	}
	a.render(w, r, http.StatusOK, "account", d)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	a.endLogin(w, r)
	http.Redirect(w, r, "/app/login?done=logout", http.StatusSeeOther)
}

// endLogin logs the browser out.
func (a *App) endLogin(w http.ResponseWriter, r *http.Request) {
	if _, h := a.currentUser(r); h != nil {
		if err := a.cfg.Store.DeleteBrowserLogin(r.Context(), h); err != nil {
			a.cfg.Log.Error("face-login app: logout failed", "err", err)
		}
	}
	clearLogin(w, r)
}

func (a *App) deletePage(w http.ResponseWriter, r *http.Request) {
	u, fresh := a.requireFresh(w, r, "/app/account/delete")
	if !fresh {
		return
	}
	a.render(w, r, http.StatusOK, "delete", pageData{Title: T("Delete your account"), User: u})
}

type erasedCounts struct {
	Templates int
	Sessions  int
}

// deleteAccount erases the user's face data in Presence first, then the
// app's records: if Presence cannot be reached nothing is lost, and the
// person can try again.
func (a *App) deleteAccount(w http.ResponseWriter, r *http.Request) {
	// Deleting needs a face login of the last few minutes: a browser left
	// logged in is not enough.
	u, fresh := a.requireFresh(w, r, "/app/account/delete")
	if !fresh {
		return
	}
	ctx := r.Context()
	erased, err := a.api.deleteSubjectCounts(ctx, u.SubjectID)
	if err != nil && codeOf(err) != "not_found" {
		a.cfg.Log.Error("face-login app: erasing face data failed", "subject", u.SubjectID, "err", err)
		a.message(w, r, http.StatusBadGateway, T("Your account was not deleted"), T("Your face data could not be erased just now, so nothing was deleted. Try again in a moment."))
		return
	}
	sessions, err := a.cfg.Store.DeleteUser(ctx, u.ID)
	if err != nil {
		a.cfg.Log.Error("face-login app: deleting a user failed", "user", u.ID, "err", err)
		a.message(w, r, http.StatusInternalServerError, T("Your account was not fully deleted"), T("Your face data was erased but your account record was not. Try again in a moment."))
		return
	}
	for _, id := range sessions {
		a.forgetSession(ctx, id)
	}
	clearLogin(w, r)
	a.render(w, r, http.StatusOK, "deleted", pageData{Title: T("Account deleted"), Erased: &erasedCounts{Templates: erased.Templates, Sessions: erased.Sessions}})
}
