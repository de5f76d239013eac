package hashsvctest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"testing"

	"github.com/emersion/go-smtp"
)

// Mailbox is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 that keeps the messages it receives, for tests of e-mailed
// codes and links.
type Mailbox struct {
	// Addr is host:port of the server.
	Addr string
	msgs chan *Mail
}

// Mail is a received message.
type Mail struct {
	From, To string
	Subject  string
	Body     string // decoded text
}

// NewMailbox starts a Mailbox; it stops when the test ends.
func NewMailbox(t testing.TB) *Mailbox {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb := &Mailbox{Addr: ln.Addr().String(), msgs: make(chan *Mail, 64)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{mb: mb}, nil }))
	srv.Domain = "mailbox.test"
	srv.AllowInsecureAuth = true
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return mb
}

// Next waits for the next message, until ctx is done.
func (mb *Mailbox) Next(ctx context.Context) (*Mail, error) {
	select {
	case m := <-mb.msgs:
		return m, nil
	case <-ctx.Done():
		return nil, errors.New("no mail arrived")
	}
}

// codePattern finds a code in a message: the first run of 6 to 10 digits.
var codePattern = regexp.MustCompile(`\b[0-9]{6,10}\b`)

// Code returns the first code (6 to 10 digits) of the message's body.
func (m *Mail) Code() string { return codePattern.FindString(m.Body) }

type session struct {
	mb       *Mailbox
	from, to string
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *session) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	rd := io.Reader(msg.Body)
	if msg.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
		rd = quotedprintable.NewReader(rd)
	}
	if _, err := io.Copy(&body, rd); err != nil {
		return err
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subj = msg.Header.Get("Subject")
	}
	s.mb.msgs <- &Mail{From: s.from, To: s.to, Subject: subj, Body: body.String()}
	return nil
}
