package hashsvc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"

	"hashsign/csc"
)

// consentCookie carries the browser's random value that the consent
// forms' CSRF tokens are bound to (double submit, keyed with the consent
// secret).
const consentCookie = "hashsvc_consent"

// consentPage is what the consent page shows.
type consentPage struct {
	Sender, Message, Signer string
	Documents               []consentDoc
	Step, Steps             int
	StepState, State        string
	Expires                 string
	Channel                 string
	SendCode, PIN, Open     bool
	CSRF, Notice, Error     string
}

type consentDoc struct {
	Name, SHA256, ViewURL string
}

var consentTmpl = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign: {{.Sender}}</title>
<style>
body{font-family:sans-serif;max-width:44em;margin:2em auto;padding:0 1em;line-height:1.4}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4em;text-align:left;vertical-align:top}
code{word-break:break-all;font-size:.85em}.notice{background:#eef6ee;padding:.6em}.error{background:#fbeaea;padding:.6em}
button{font-size:1em;padding:.4em 1em;margin:.3em 0}input{font-size:1.1em;padding:.3em;width:10em}
</style>
</head>
<body>
<h1>{{.Sender}} asks you to sign</h1>
<p>Hello {{.Signer}}: you are signer {{.Step}} of {{.Steps}}.{{if .Open}} This request ends at {{.Expires}}.{{end}}</p>
{{with .Message}}<p>{{.}}</p>{{end}}
<table>
<tr><th>Document</th><th>SHA-256 of the file you sign</th></tr>
{{range .Documents}}<tr><td>{{if .ViewURL}}<a href="{{.ViewURL}}" rel="noreferrer" target="_blank">{{.Name}}</a>{{else}}{{.Name}}{{end}}</td><td><code>{{.SHA256}}</code></td></tr>
{{end}}</table>
<p>This service never receives your documents: open them at the sender's with the links above, and compare the SHA-256 of the file with the one shown here before you sign.</p>
{{with .Notice}}<p class="notice" id="notice">{{.}}</p>{{end}}
{{with .Error}}<p class="error" id="error" role="alert">{{.}}</p>{{end}}
<p id="status" data-state="{{.StepState}}">Status: {{.StepState}} (request: {{.State}})</p>
{{if .Open}}
{{if .SendCode}}<form method="post">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" name="action" value="code" id="send-code">Send me a code by {{.Channel}}</button>
</form>{{end}}
<form method="post">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<p><label for="code">Code{{if not .SendCode}} from your {{.Channel}}{{end}}</label><br>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]*" maxlength="10"></p>
{{if .PIN}}<p><label for="pin">PIN</label><br><input id="pin" name="pin" type="password" autocomplete="off"></p>{{end}}
<p>By signing you agree to sign the documents listed above with an electronic signature in your name.</p>
<button type="submit" name="action" value="consent" id="consent">Sign</button>
</form>
<form method="post">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" name="action" value="decline" id="decline">Decline</button>
</form>
{{end}}
</body>
</html>
`))

// handleConsentPage shows a signer the request of a consent link.
func (s *Server) handleConsentPage(w http.ResponseWriter, r *http.Request) {
	s.renderConsent(w, r, http.StatusOK, "", "")
}

// renderConsent renders the page of the link in r's path, with a notice
// or an error.
func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, status int, notice, errText string) {
	token := r.PathValue("token")
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	s.sweepRequests(r.Context())
	req, k, err := s.consentByToken(r.Context(), token)
	if err != nil {
		writeConsentError(w, err)
		return
	}
	cookie := browserValue(w, r)
	sg, st := req.Signers[k-1], req.Steps[k-1]
	p := consentPage{
		Sender: req.Sender, Message: req.Message, Signer: sg.Name, Step: k, Steps: len(req.Signers),
		StepState: sg.State, State: req.State, Expires: req.Expires.UTC().Format("2006-01-02 15:04 UTC"),
		CSRF: s.csrf(cookie, token), Notice: notice, Error: errText,
	}
	p.Open = sg.State == csc.StepPending && s.checkOpen(req) == nil
	if a := s.authOf(st.Credential); a != nil {
		p.PIN = a.pinBcrypt != nil
		switch a.channel {
		case ChannelEmail:
			p.Channel, p.SendCode = "e-mail", true
		case ChannelSMS:
			p.Channel, p.SendCode = "SMS", true
		case ChannelTOTP:
			p.Channel = "authenticator app"
		}
	}
	for i, h := range sg.Hashes {
		d, _ := base64.StdEncoding.DecodeString(h.DocumentHash)
		p.Documents = append(p.Documents, consentDoc{Name: h.Document, SHA256: hex.EncodeToString(d), ViewURL: req.Documents[i].ViewURL})
	}
	if len(sg.Hashes) == 0 {
		for _, d := range req.Documents {
			p.Documents = append(p.Documents, consentDoc{Name: d.Name, SHA256: "(not prepared yet)", ViewURL: d.ViewURL})
		}
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	consentTmpl.Execute(w, p)
}

// writeConsentError answers a consent link that cannot be shown.
func writeConsentError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var re *RequestError
	if errors.As(err, &re) {
		status = re.Status
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign</title></head><body><p class=\"error\" id=\"error\">%s</p></body></html>\n",
		template.HTMLEscapeString(err.Error()))
}

// browserValue returns the browser's consent cookie, setting a new one
// when it has none.
func browserValue(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(consentCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	b := make([]byte, 24)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: consentCookie, Value: v, Path: "/consent/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return v
}

// csrf returns the form token bound to a browser's cookie and a link.
func (s *Server) csrf(cookie, token string) string {
	m := hmac.New(sha256.New, s.consent.secret)
	fmt.Fprintf(m, "hashsvc consent csrf\x00%s\x00%s", cookie, token)
	return hex.EncodeToString(m.Sum(nil))
}

// handleConsentPost takes the signer's answer: send a code, sign, or
// decline. The form must carry the CSRF token of the browser's cookie.
func (s *Server) handleConsentPost(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderConsent(w, r, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	c, err := r.Cookie(consentCookie)
	site := r.Header.Get("Sec-Fetch-Site")
	if err != nil || !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.csrf(c.Value, token))) || (site != "" && site != "same-origin" && site != "none") {
		s.renderConsent(w, r, http.StatusForbidden, "", "This form has expired or did not come from this page. Reload the page and try again.")
		return
	}
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "code":
		sent, err := s.SendConsentCode(ctx, token)
		if err != nil {
			s.renderConsent(w, r, consentStatus(err), "", err.Error())
			return
		}
		s.renderConsent(w, r, http.StatusOK, fmt.Sprintf("A code was sent by %s to %s. It is valid until %s.", sent.Channel, sent.To, sent.Expires.UTC().Format("15:04 UTC")), "")
	case "consent", "decline":
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		ans := Consent{Decline: r.PostFormValue("action") == "decline", OTP: r.PostFormValue("code"), PIN: r.PostFormValue("pin"), IP: ip, UserAgent: r.UserAgent()}
		if err := s.AnswerConsent(ctx, token, ans); err != nil {
			s.renderConsent(w, r, consentStatus(err), "", err.Error())
			return
		}
		http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
	default:
		s.renderConsent(w, r, http.StatusBadRequest, "", "Unknown action.")
	}
}

// consentStatus is the HTTP status of a refusal.
func consentStatus(err error) int {
	var (
		re *RequestError
		ce *ConsentError
	)
	switch {
	case errors.As(err, &re):
		return re.Status
	case errors.As(err, &ce):
		return ce.Status
	}
	return http.StatusInternalServerError
}
