package cms

import (
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	// oidAdbeRevocationInfoArchival is Adobe's signed attribute that
	// carries the CRLs and OCSP responses of the signer's chain
	// (adbe-revocationInfoArchival, ISO 32000-2 §12.8.3.3.2).
	oidAdbeRevocationInfoArchival = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}
	// oidRIOCSPResponse is id-ri-ocsp-response (RFC 5940), an OCSP
	// response among the RevocationInfoChoices of a SignedData.
	oidRIOCSPResponse = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 16, 2}
)

// RevocationInfo returns the revocation data that the SignedData carries:
// the CRLs and OCSP responses (RFC 5940) of its crls field, and those of an
// adbe-revocationInfoArchival signed attribute, as DER CertificateLists and
// OCSPResponses. Entries that do not parse are skipped; nothing is
// verified.
func (sd *SignedData) RevocationInfo() (crls, ocsps [][]byte) {
	in := sd.rawRevocationInfo
	for !in.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !in.ReadAnyASN1Element(&elem, &tag) {
			break
		}
		switch tag {
		case cbasn1.SEQUENCE: // CertificateList
			crls = append(crls, []byte(elem))
		case cbasn1.Tag(1).ContextSpecific().Constructed(): // [1] OtherRevocationInfoFormat
			var other cryptobyte.String
			var format asn1.ObjectIdentifier
			var info cryptobyte.String
			var t cbasn1.Tag
			if elem.ReadASN1(&other, tag) && other.ReadASN1ObjectIdentifier(&format) &&
				format.Equal(oidRIOCSPResponse) && other.ReadAnyASN1Element(&info, &t) && t == cbasn1.SEQUENCE {
				ocsps = append(ocsps, []byte(info))
			}
		}
	}
	for _, a := range sd.SignedAttributes {
		if !a.Type.Equal(oidAdbeRevocationInfoArchival) {
			continue
		}
		for _, v := range a.Values {
			c, o := parseRevocationInfoArchival(v)
			crls = append(crls, c...)
			ocsps = append(ocsps, o...)
		}
	}
	return crls, ocsps
}

// parseRevocationInfoArchival reads a RevocationInfoArchival:
//
//	SEQUENCE { crl [0] EXPLICIT SEQUENCE OF CRL OPTIONAL,
//	           ocsp [1] EXPLICIT SEQUENCE OF OCSPResponse OPTIONAL,
//	           otherRevInfo [2] EXPLICIT SEQUENCE OF OtherRevInfo OPTIONAL }
func parseRevocationInfoArchival(der []byte) (crls, ocsps [][]byte) {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, nil
	}
	for i, dst := range []*[][]byte{&crls, &ocsps} {
		var explicit, list cryptobyte.String
		var present bool
		tag := cbasn1.Tag(i).ContextSpecific().Constructed()
		if !seq.ReadOptionalASN1(&explicit, &present, tag) || !present || !explicit.ReadASN1(&list, cbasn1.SEQUENCE) {
			continue
		}
		for !list.Empty() {
			var item cryptobyte.String
			if !list.ReadASN1Element(&item, cbasn1.SEQUENCE) {
				break
			}
			*dst = append(*dst, []byte(item))
		}
	}
	return crls, ocsps
}
