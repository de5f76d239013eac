package hashsvc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"os"
	"strings"
	"time"

	"hashsign/internal/webhook"
)

// codeMessage is what a one-time code message says.
type codeMessage struct {
	Code       string
	Expires    time.Time
	Credential string
	Name       string
	Note       string
}

func (m codeMessage) text() string {
	var b strings.Builder
	if m.Name != "" {
		fmt.Fprintf(&b, "Hello %s,\n\n", m.Name)
	}
	fmt.Fprintf(&b, "your code to authorize a signature is %s\n\n", m.Code)
	if m.Note != "" {
		fmt.Fprintf(&b, "%s\n\n", m.Note)
	}
	fmt.Fprintf(&b, "It is valid until %s and serves once. If you did not ask to sign, ignore this message.\n",
		m.Expires.UTC().Format("2006-01-02 15:04:05 UTC"))
	return b.String()
}

// Mail is an e-mail message that a Mailer sends: plain text in UTF-8.
type Mail struct {
	To      string
	Subject string
	Body    string
}

// Mailer sends e-mail through the SMTP server of ConsentConfig.SMTP (with
// net/smtp: STARTTLS, TLS or plain, and PLAIN authentication).
type Mailer struct {
	cfg      *SMTPConfig
	from     *mail.Address
	password string
	host     string
}

func newMailer(c *Config, sc *SMTPConfig) (*Mailer, error) {
	from, err := mail.ParseAddress(sc.From)
	if err != nil {
		return nil, fmt.Errorf("consent.smtp.from: %w", err)
	}
	host, _, err := net.SplitHostPort(sc.Addr)
	if err != nil {
		return nil, fmt.Errorf("consent.smtp.addr %q: %w", sc.Addr, err)
	}
	m := &Mailer{cfg: sc, from: from, host: host}
	switch {
	case sc.PasswordFile != "":
		if err := checkKeyFile("consent.smtp.password_file", c.path(sc.PasswordFile)); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(c.path(sc.PasswordFile))
		if err != nil {
			return nil, fmt.Errorf("consent.smtp.password_file: %w", err)
		}
		m.password = strings.TrimRight(string(b), "\r\n")
	case sc.PasswordEnv != "":
		p, ok := os.LookupEnv(sc.PasswordEnv)
		if !ok {
			return nil, fmt.Errorf("consent.smtp.password_env: %s is not set", sc.PasswordEnv)
		}
		m.password = p
	}
	return m, nil
}

// SendCode e-mails a code.
func (m *Mailer) SendCode(ctx context.Context, to string, msg codeMessage) error {
	return m.Send(ctx, Mail{To: to, Subject: "Your signing code: " + msg.Code, Body: msg.text()})
}

// Send delivers msg, within the configured timeout and ctx.
func (m *Mailer) Send(ctx context.Context, msg Mail) error {
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return fmt.Errorf("mail to %q: %w", msg.To, err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.cfg.Addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	tc := &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
	if m.cfg.TLS == "tls" {
		conn = tls.Client(conn, tc)
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.cfg.Addr, err)
	}
	defer c.Close()
	if m.cfg.TLS == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("smtp %s offers no STARTTLS (set consent.smtp.tls: none for a plain relay)", m.cfg.Addr)
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("smtp %s: STARTTLS: %w", m.cfg.Addr, err)
		}
	}
	if m.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.cfg.Username, m.password, m.host)); err != nil {
			return fmt.Errorf("smtp %s: authentication: %w", m.cfg.Addr, err)
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", m.cfg.Addr, err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("smtp %s: RCPT TO: %w", m.cfg.Addr, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.cfg.Addr, err)
	}
	if _, err := w.Write(m.compose(to, msg)); err != nil {
		return fmt.Errorf("smtp %s: writing the message: %w", m.cfg.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: the server refused the message: %w", m.cfg.Addr, err)
	}
	return c.Quit()
}

// compose returns the RFC 5322 message.
func (m *Mailer) compose(to *mail.Address, msg Mail) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	rand.Read(id)
	domain := m.from.Address[strings.LastIndexByte(m.from.Address, '@')+1:]
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", m.from.String())
	hdr("To", to.String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	hdr("Date", time.Now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(msg.Body, "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}

// WebhookSignatureHeader carries the HMAC-SHA256 of a webhook post:
// "t=UNIX,v1=HEX", the hex HMAC of "UNIX." followed by the body, keyed with
// the configured secret.
const WebhookSignatureHeader = "Hashsvc-Signature"

// Webhook posts JSON messages to an HTTP endpoint, such as an SMS gateway,
// signed with an HMAC when a secret is configured.
type Webhook struct {
	url    string
	secret []byte
	http   *http.Client
}

func newWebhook(c *Config, wc *WebhookConfig) (*Webhook, error) {
	w := &Webhook{url: wc.URL, http: &http.Client{Timeout: wc.Timeout}}
	if wc.SecretFile != "" {
		if err := checkKeyFile("consent.sms_webhook.secret_file", c.path(wc.SecretFile)); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(c.path(wc.SecretFile))
		if err != nil {
			return nil, fmt.Errorf("consent.sms_webhook.secret_file: %w", err)
		}
		w.secret = bytes.TrimSpace(b)
		if len(w.secret) == 0 {
			return nil, errors.New("consent.sms_webhook.secret_file is empty")
		}
	}
	return w, nil
}

// SMSMessage is the JSON body that the SMS webhook receives.
type SMSMessage struct {
	To         string    `json:"to"`
	Text       string    `json:"text"`
	Code       string    `json:"code"`
	Expires    time.Time `json:"expires"`
	Credential string    `json:"credentialID"`
}

// SendCode posts a code.
func (w *Webhook) SendCode(ctx context.Context, to string, msg codeMessage) error {
	text := fmt.Sprintf("Your signing code is %s (valid until %s).", msg.Code, msg.Expires.UTC().Format("15:04 UTC"))
	return w.Post(ctx, SMSMessage{To: to, Text: text, Code: msg.Code, Expires: msg.Expires.UTC(), Credential: msg.Credential})
}

// Post sends v as JSON. Any 2xx answer is success.
func (w *Webhook) Post(ctx context.Context, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := http.Header{}
	if w.secret != nil {
		h.Set(WebhookSignatureHeader, SignWebhook(w.secret, time.Now(), body))
	}
	if err := webhook.Post(ctx, w.http, w.url, h, body); err != nil {
		return fmt.Errorf("webhook %s: %w", w.url, err)
	}
	return nil
}

// SignWebhook returns the Hashsvc-Signature header value for body sent at
// t: "t=UNIX,v1=HEX", HEX the HMAC-SHA256 under secret of "UNIX." and body.
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	return webhook.Sign(secret, t, body)
}
