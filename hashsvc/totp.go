package hashsvc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"hashsign/csc"
)

// TOTP parameters (RFC 6238): what every authenticator app supports.
const (
	totpPeriod = 30
	totpSkew   = 1 // one step either side, for clocks that drift
)

// totpSecret derives a person's TOTP secret from the server secret and
// the enrolment's salt, so that the database alone does not hold it.
func (k *consent) totpSecret(subject string, salt []byte) []byte {
	m := hmac.New(sha256.New, k.secret)
	fmt.Fprintf(m, "hashsvc totp\x00%d:%s", len(subject), subject)
	m.Write(salt)
	return m.Sum(nil)[:20]
}

// EnrolTOTP enrols person (by Person.ID) for codes from an authenticator
// app, replacing an earlier enrolment, and returns the provisioning URI
// (otpauth://totp/...) to show as a QR code or to paste into the app.
// account names the person in the app (such as their e-mail address).
// Explicit credentials whose signer has that ID and otp "totp" then take
// its codes. It needs ConsentConfig.SecretFile. The enrolment is audited.
func (s *Server) EnrolTOTP(ctx context.Context, personID, account string) (uri string, err error) {
	k := s.consent
	if k.cfg.SecretFile == "" {
		return "", errors.New("TOTP needs consent.secret_file, from which the enrolled secrets are derived")
	}
	if personID == "" || account == "" {
		return "", errors.New("TOTP enrolment needs a person id and an account name")
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: k.cfg.TOTPIssuer, AccountName: account, Period: totpPeriod,
		Secret: k.totpSecret(personID, salt), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("TOTP enrolment: %w", err)
	}
	if _, err := k.db.ExecContext(ctx, `INSERT INTO consent_totp (subject, salt, last_step) VALUES (?, ?, 0)
		ON CONFLICT (subject) DO UPDATE SET salt = excluded.salt, last_step = 0`, personID, hex.EncodeToString(salt)); err != nil {
		return "", fmt.Errorf("TOTP enrolment: %w", err)
	}
	sum := sha256.Sum256([]byte(personID))
	if err := s.auditEvent(ctx, Record{Operation: "totp.enrolled", Hash: sum[:]}); err != nil {
		return "", err
	}
	return key.URL(), nil
}

// checkTOTP checks a code from person subject's authenticator app at
// time now. A code serves once: a step at or before the last accepted one
// is refused.
func (k *consent) checkTOTP(ctx context.Context, tx *sql.Tx, subject, credentialID, code string, now time.Time) (*ConsentError, error) {
	wrong := func(format string, args ...any) (*ConsentError, error) {
		return consentErr(http.StatusBadRequest, csc.ErrInvalidOTP, ErrWrongCode, format, args...), nil
	}
	if code == "" {
		return wrong("OTP is required for credential %q: the code of the signer's authenticator app", credentialID)
	}
	var (
		saltHex string
		last    int64
	)
	switch err := tx.QueryRowContext(ctx, `SELECT salt, last_step FROM consent_totp WHERE subject = ?`, subject).Scan(&saltHex, &last); {
	case errors.Is(err, sql.ErrNoRows):
		return wrong("the signer of credential %q has not enrolled an authenticator app", credentialID)
	case err != nil:
		return nil, err
	}
	salt, err := hex.DecodeString(saltHex)
	if err != nil {
		return nil, fmt.Errorf("consent: corrupt TOTP salt of %q", subject)
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(k.totpSecret(subject, salt))
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		ok, err := hotp.ValidateCustom(code, uint64(step+d), secret, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil || !ok {
			continue
		}
		if step+d <= last {
			return wrong("this TOTP code for credential %q was used already; wait for the next one", credentialID)
		}
		_, err = tx.ExecContext(ctx, `UPDATE consent_totp SET last_step = ? WHERE subject = ?`, step+d, subject)
		return nil, err
	}
	return wrong("wrong OTP for credential %q", credentialID)
}
