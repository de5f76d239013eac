package csc

import (
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Signature requests are hashsvc's own API (not CSC): a sender asks people
// to sign documents that stay with the sender. The service never sees a
// document, only the hashes that each signer's step signs.
//
// The protocol of one step: once the step opens, the signer's certificate
// is known (a one-time certificate is issued then); the sender prepares each
// document as the previous signer left it, computes the hash of the signed
// attributes with that certificate, and posts the hashes (PathRequestHashes);
// the signer is invited, identifies with a code and consents on the consent
// page; the signatures appear on the request (GET), and the sender embeds
// them. The next step opens when this one is signed (sequential order).

// Paths of the signature-request endpoints. {id} is the request's id, {k}
// a signer's step number (1-based).
const (
	PathRequests        = "/v1/requests"
	PathRequest         = "/v1/requests/{id}"
	PathRequestStart    = "/v1/requests/{id}/start"
	PathRequestCancel   = "/v1/requests/{id}/cancel"
	PathRequestHashes   = "/v1/requests/{id}/signers/{k}/hashes"
	PathRequestEvidence = "/v1/requests/{id}/evidence"
	PathRequestDelivery = "/v1/requests/{id}/deliveries"
	PathConsent         = "/consent/{token}"
)

// Orders of a request's signers.
const (
	OrderSequential = "sequential" // one after another: step K opens when step K-1 is signed
	OrderParallel   = "parallel"   // all steps open at once
)

// States of a request. A request waiting for its K-th signer is in state
// "waiting-for-signer-K" ([StateWaiting] followed by K); a parallel
// request waiting for several is in StateWaitingAll.
const (
	StateDraft      = "draft"
	StateWaiting    = "waiting-for-signer-"
	StateWaitingAll = "waiting-for-signers"
	StateCompleted  = "completed"
	StateDeclined   = "declined"
	StateExpired    = "expired"
	StateCancelled  = "cancelled"
)

// States of one signer's step.
const (
	StepWaiting  = "waiting"  // not open yet: an earlier signer has not signed
	StepReady    = "ready"    // open: the certificate is known, the sender's hashes are awaited
	StepPending  = "pending"  // the hashes are there; the signer is invited to consent
	StepSigned   = "signed"   // the signatures are there
	StepDeclined = "declined" // the signer declined
	StepEnded    = "ended"    // the request ended before this step was signed
)

// Error codes of the request endpoints, besides those of CSC.
const (
	ErrOutOfOrder = "out_of_order"  // 409: the step is not open (an earlier signer has not signed)
	ErrEnded      = "request_ended" // 409: the request is completed, declined, expired or cancelled
	ErrReopened   = "step_reopened" // 409: the step has another certificate than the one the hashes were computed with
)

// CreateRequest is the body of POST /v1/requests.
type CreateRequest struct {
	// Sender names who asks, as the signers see it on the consent page.
	Sender string `json:"sender"`
	// Message is shown to the signers.
	Message   string            `json:"message,omitempty"`
	Documents []RequestDocument `json:"documents"`
	Signers   []RequestSigner   `json:"signers"`
	// Order is OrderSequential (the default) or OrderParallel.
	Order string `json:"order,omitempty"`
	// Expires ends the request (default: 7 days after creation).
	Expires time.Time `json:"expires,omitzero"`
	// Level is the PAdES level the sender will reach (B-B, B-T, B-LT,
	// B-LTA); it goes into the evidence.
	Level string `json:"level,omitempty"`
	// CallbackURLs receive each state change (POST, JSON, signed).
	CallbackURLs []string `json:"callbackURLs,omitempty"`
	// Draft keeps the request in state draft until POST .../start.
	Draft bool `json:"draft,omitempty"`
}

// RequestDocument is a document of a request: a name, and where the signer
// can see it at the sender's (the service never has it).
type RequestDocument struct {
	Name    string `json:"name"`
	ViewURL string `json:"viewURL,omitempty"`
}

// RequestSigner is a person who signs. A signer with a CredentialID signs
// with that explicit credential (and identifies as it is set up); the
// others get a one-time certificate naming them, and identify by OTP:
// "email" (the default when Email is set), "sms" or "totp".
type RequestSigner struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Email        string `json:"email,omitempty"`
	Phone        string `json:"phone,omitempty"`
	OTP          string `json:"otp,omitempty"`
	CredentialID string `json:"credentialID,omitempty"`
}

// RequestStatus describes a request: the answer of create, get, list,
// start and cancel.
type RequestStatus struct {
	ID        string            `json:"id"`
	State     string            `json:"state"`
	Sender    string            `json:"sender"`
	Message   string            `json:"message,omitempty"`
	Order     string            `json:"order"`
	Level     string            `json:"level,omitempty"`
	Created   time.Time         `json:"created"`
	Expires   time.Time         `json:"expires"`
	Ended     time.Time         `json:"ended,omitzero"`
	Documents []RequestDocument `json:"documents"`
	Signers   []SignerStatus    `json:"signers"`
	// Evidence is true once the evidence record is ready
	// (PathRequestEvidence).
	Evidence bool `json:"evidence"`
	// Deliveries counts the webhook deliveries by status.
	Deliveries map[string]int `json:"deliveries,omitempty"`
}

// SignerStatus is one signer's step.
type SignerStatus struct {
	RequestSigner
	Step  int    `json:"step"`
	State string `json:"state"`
	// Certificates (base64 DER, the signer's first) are known once the
	// step opens: the sender computes the hashes with them.
	Certificates []string `json:"certificates,omitempty"`
	// Hashes are what the sender posted; Signatures (base64) answer them
	// in order once the step is signed.
	HashAlgorithmOID string     `json:"hashAlgorithmOID,omitempty"`
	SignAlgo         string     `json:"signAlgo,omitempty"`
	Hashes           []StepHash `json:"hashes,omitempty"`
	Signatures       []string   `json:"signatures,omitempty"`
	// Identified says how and when the signer proved control.
	Identified *Identification `json:"identified,omitempty"`
	Signed     time.Time       `json:"signed,omitzero"`
	// ConsentURL is the signer's consent page, in the answer to posting
	// the hashes only (the service keeps just its hash): the invitation
	// e-mail carries it, and a sender may pass it on itself.
	ConsentURL string `json:"consentURL,omitempty"`
}

// StepHash is one document's hash in a step.
type StepHash struct {
	// Document is the document's name.
	Document string `json:"document"`
	// DocumentHash is the base64 SHA-256 of the document as this signer
	// is asked to sign it (as the previous signer left it): the signer
	// compares it with the file the sender's viewer shows.
	DocumentHash string `json:"documentHash"`
	// Hash is the base64 hash to be signed (for PAdES, of the CMS signed
	// attributes, which name this signer's certificate).
	Hash string `json:"hash"`
}

// Identification is how a signer identified before consenting.
type Identification struct {
	Method    string    `json:"method"` // "otp-email", "otp-sms", "totp", "pin"
	At        time.Time `json:"at"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"userAgent,omitempty"`
}

// StepHashesRequest is the body of POST /v1/requests/{id}/signers/{k}/hashes:
// the hashes that signer k is to sign, one per document, in the order of
// the request's documents. SignAlgo (and SignAlgoParams for RSASSA-PSS)
// are as in signHash.
type StepHashesRequest struct {
	HashAlgorithmOID string     `json:"hashAlgorithmOID"`
	SignAlgo         string     `json:"signAlgo"`
	SignAlgoParams   string     `json:"signAlgoParams,omitempty"`
	Hashes           []StepHash `json:"hashes"`
	// CertificateSHA256 (base64) is the SHA-256 of the DER of the signer
	// certificate the hashes were computed with, the first of the step's
	// Certificates. If the step has been reopened with another certificate
	// since, the service refuses the hashes with ErrReopened instead of
	// signing with a key that the prepared documents do not name.
	CertificateSHA256 string `json:"certificateSHA256,omitempty"`
}

// RequestList answers GET /v1/requests.
type RequestList struct {
	Requests []RequestStatus `json:"requests"`
}

// Delivery is one webhook delivery of a request's event.
type Delivery struct {
	Event     string    `json:"event"`
	Seq       int       `json:"seq"`
	URL       string    `json:"url"`
	Status    string    `json:"status"` // "pending", "delivered", "failed"
	Attempts  int       `json:"attempts"`
	Next      time.Time `json:"next,omitzero"`
	Delivered time.Time `json:"delivered,omitzero"`
	LastError string    `json:"lastError,omitempty"`
}

// DeliveryList answers GET /v1/requests/{id}/deliveries.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
}

// Event is the JSON body posted to a request's callback URLs at each state
// change, signed in the Hashsvc-Signature header. Seq numbers a request's
// events from 1: a receiver processes them in that order.
type Event struct {
	ID      string    `json:"id"`
	Request string    `json:"request"`
	Seq     int       `json:"seq"`
	Type    string    `json:"type"` // request.<state>, or step.ready / step.pending / step.signed / step.declined
	State   string    `json:"state"`
	Step    int       `json:"step,omitempty"`
	Signer  string    `json:"signer,omitempty"` // the signer's id
	Time    time.Time `json:"time"`
}

// CertificateSHA256 returns the base64 SHA-256 of a certificate's DER, as
// StepHashesRequest.CertificateSHA256 names it.
func CertificateSHA256(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:])
}
