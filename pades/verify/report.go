package verify

import (
	"crypto/x509"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON form of Report (its "schema"
// field). It changes only when a field changes meaning or goes away;
// fields may be added without a change.
const SchemaVersion = 1

// Indications of ETSI EN 319 102-1 (section 5.1.3).
const (
	TotalPassed   = "TOTAL-PASSED"
	Indeterminate = "INDETERMINATE"
	TotalFailed   = "TOTAL-FAILED"
)

// Sub-indications of ETSI EN 319 102-1 (Table 5) that the validator gives.
const (
	FormatFailure                  = "FORMAT_FAILURE"
	HashFailure                    = "HASH_FAILURE"
	SigCryptoFailure               = "SIG_CRYPTO_FAILURE"
	Revoked                        = "REVOKED"
	NotYetValid                    = "NOT_YET_VALID"
	NoSigningCertificateFound      = "NO_SIGNING_CERTIFICATE_FOUND"
	NoCertificateChainFound        = "NO_CERTIFICATE_CHAIN_FOUND"
	CertificateChainGeneralFailure = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
	OutOfBoundsNoPOE               = "OUT_OF_BOUNDS_NO_POE"
	RevokedNoPOE                   = "REVOKED_NO_POE"
	RevokedCANoPOE                 = "REVOKED_CA_NO_POE"
	TryLater                       = "TRY_LATER"
	Generic                        = "GENERIC"
	SignedDataNotFound             = "SIGNED_DATA_NOT_FOUND"
)

// Report is the result of validating the signatures of a PDF file. Its
// JSON form is the documented, stable output of `pades verify -json` and
// of hashsvc's POST /v1/verify (see README.md, "Verifying signatures").
type Report struct {
	Schema         int       `json:"schema"`
	ValidationTime time.Time `json:"validationTime"`
	Size           int64     `json:"size"`
	Encrypted      bool      `json:"encrypted"`
	Trust          Trust     `json:"trust"`
	// Indication is the verdict on the document: TOTAL-FAILED when a
	// signature failed, else INDETERMINATE when one is indeterminate,
	// else TOTAL-PASSED. A document without signatures is INDETERMINATE
	// with SIGNED_DATA_NOT_FOUND.
	Indication    string      `json:"indication"`
	SubIndication string      `json:"subIndication,omitempty"`
	Revisions     []Revision  `json:"revisions"`
	Signatures    []Signature `json:"signatures"`
	// Notes holds what the validator noticed about the file as a whole.
	Notes []string `json:"notes,omitempty"`
}

// Trust says what the certificate paths were validated against.
type Trust struct {
	Anchors     []string `json:"anchors"` // subjects of the -trust certificates
	SystemRoots bool     `json:"systemRoots"`
	Online      bool     `json:"online"`
}

// Revision is one revision of the file: the original, then each
// incremental update, oldest first.
type Revision struct {
	Number int   `json:"number"`
	End    int64 `json:"end"` // offset just after its %%EOF line
	// Signatures names the fields whose signatures sign this revision.
	Signatures []string `json:"signatures,omitempty"`
	// Changes lists what this update changed, compared with the revision
	// before it, object by object. It is empty for the first revision.
	Changes []Change `json:"changes,omitempty"`
}

// Kinds of change.
const (
	ChangeSignature      = "signature"          // a new signature, or an empty signature field signed
	ChangeDocTimeStamp   = "document-timestamp" // a new document timestamp
	ChangeDSS            = "dss"                // the document security store
	ChangeFormFill       = "form-fill"          // a field's value or appearance
	ChangeAnnotation     = "annotation"         // an annotation added, changed or removed
	ChangeMetadata       = "metadata"           // the document information dictionary or XMP metadata
	ChangePageContent    = "page-content"       // a page's content stream or its /Contents
	ChangePageResources  = "page-resources"     // fonts, images and other resources of pages
	ChangePages          = "pages"              // the page tree: pages added, removed or reordered; page attributes
	ChangeFormStructure  = "form-structure"     // fields added, removed or redefined
	ChangeSignatureField = "signature-altered"  // an existing signature dictionary or field rewritten
	ChangeCatalog        = "catalog"            // other entries of the document catalog
	ChangeOther          = "other"              // any other object
)

// Change is one change of an incremental update.
type Change struct {
	Kind        string `json:"kind"`
	Object      int    `json:"object,omitempty"` // the object changed, when one is
	Field       string `json:"field,omitempty"`  // the form field, for form-fill changes
	Description string `json:"description"`
}

// Signature is the validation of one signature or document timestamp.
type Signature struct {
	Number    int      `json:"number"` // 1-based, in the order of the revisions
	Field     string   `json:"field"`
	Kind      string   `json:"kind"` // "signature" or "document-timestamp"
	SubFilter string   `json:"subFilter"`
	Revision  int      `json:"revision"` // the revision it signs (0: none matches its byte range)
	ByteRange [4]int64 `json:"byteRange"`
	// CoversWholeFile is set when the signature signs the whole file:
	// no update follows it.
	CoversWholeFile bool         `json:"coversWholeFile"`
	Signer          *Certificate `json:"signer,omitempty"`
	Name            string       `json:"name,omitempty"` // /Name, /Reason, /Location as written
	Reason          string       `json:"reason,omitempty"`
	Location        string       `json:"location,omitempty"`

	// Integrity: the byte range brackets exactly /Contents, the digest
	// matches and the signature value verifies.
	Integrity Check `json:"integrity"`
	// PAdES says whether the signature follows the PAdES baseline
	// profile (ETSI.CAdES.detached with the required attributes).
	PAdES           Check      `json:"pades"`
	CertificatePath Path       `json:"certificatePath"`
	Revocation      Revocation `json:"revocation"`
	Time            Time       `json:"time"`
	// Timestamps holds the signature timestamps of a signature.
	Timestamps    []Timestamp   `json:"timestamps,omitempty"`
	Level         *Level        `json:"level,omitempty"` // nil for document timestamps
	Modifications Modifications `json:"modifications"`

	Indication    string   `json:"indication"`
	SubIndication string   `json:"subIndication,omitempty"`
	Reasons       []string `json:"reasons,omitempty"`
}

// Check statuses.
const (
	Passed     = "passed"
	Failed     = "failed"
	NotChecked = "not-checked"
)

// Check is the outcome of one check.
type Check struct {
	Status string `json:"status"` // passed, failed or not-checked
	Detail string `json:"detail,omitempty"`
}

// Certificate describes a certificate.
type Certificate struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"` // hexadecimal
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

func describe(c *x509.Certificate) *Certificate {
	if c == nil {
		return nil
	}
	return &Certificate{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: strings.ToUpper(c.SerialNumber.Text(16)),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
	}
}

// Path statuses.
const (
	PathTrusted    = "trusted"
	PathNotTrusted = "not-trusted"
	PathInvalid    = "invalid" // it reaches an anchor, but not valid at the time (expired, not yet valid, constraints)
)

// Path is the certificate path of a signer or a TSA.
type Path struct {
	Status string        `json:"status"` // trusted, not-trusted, invalid or not-checked
	Chain  []Certificate `json:"chain,omitempty"`
	// At is the time at which the path was validated: the time proven
	// for the signature, or the validation time.
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

// Revocation statuses.
const (
	StatusGood    = "good"
	StatusRevoked = "revoked"
	StatusUnknown = "unknown"
)

// Revocation is the revocation status of the certificates of a path.
type Revocation struct {
	Status string            `json:"status"` // good, revoked, unknown or not-checked
	Checks []RevocationCheck `json:"checks,omitempty"`
}

// RevocationCheck is the status of one certificate of a path.
type RevocationCheck struct {
	Certificate string     `json:"certificate"`      // its subject
	Status      string     `json:"status"`           // good, revoked or unknown
	Source      string     `json:"source,omitempty"` // dss, cms or online
	Kind        string     `json:"kind,omitempty"`   // ocsp or crl
	ThisUpdate  *time.Time `json:"thisUpdate,omitempty"`
	NextUpdate  *time.Time `json:"nextUpdate,omitempty"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	Detail      string     `json:"detail,omitempty"`
}

// Time sources.
const (
	TimeSignatureTimestamp = "signature-timestamp"
	TimeDocumentTimestamp  = "document-timestamp"
	TimeClaimed            = "claimed" // /M, not proven
	TimeNone               = "none"
)

// Time is the time of a signature.
type Time struct {
	// Value is the time: the earliest timestamp that proves the
	// signature existed, or the claimed /M. For a document timestamp, its
	// own time.
	Value *time.Time `json:"value,omitempty"`
	// Source says where Value comes from: signature-timestamp,
	// document-timestamp, claimed or none.
	Source string `json:"source"`
	Proven bool   `json:"proven"`
	// Claimed is /M as written.
	Claimed string `json:"claimed,omitempty"`
}

// Timestamp is the validation of a signature timestamp.
type Timestamp struct {
	Time            time.Time    `json:"time"`
	TSA             *Certificate `json:"tsa,omitempty"`
	Integrity       Check        `json:"integrity"`
	CertificatePath Path         `json:"certificatePath"`
	Revocation      Revocation   `json:"revocation"`
	// Valid is set when the timestamp proves the signature's time.
	Valid bool `json:"valid"`
}

// Level is the PAdES baseline level that a signature reaches.
type Level struct {
	Reached string `json:"reached"`          // B-B, B-T, B-LT, B-LTA or none
	Reason  string `json:"reason,omitempty"` // why not the next level (or why none)
}

// Modification verdicts.
const (
	ModNone       = "none"
	ModAllowed    = "allowed"
	ModDisallowed = "disallowed"
	ModUnknown    = "unknown"
)

// Modifications judges what the updates after a signature changed.
type Modifications struct {
	Verdict string `json:"verdict"` // none, allowed, disallowed or unknown
	// Permissions says what the signer allowed: the DocMDP level in
	// force and the fields a FieldMDP lock freezes.
	Permissions string         `json:"permissions,omitempty"`
	Changes     []JudgedChange `json:"changes,omitempty"`
	Detail      string         `json:"detail,omitempty"`
}

// JudgedChange is a change after a signature, judged against the
// permissions in force.
type JudgedChange struct {
	Revision int `json:"revision"`
	Change
	Allowed bool   `json:"allowed"`
	Why     string `json:"why,omitempty"`
}
