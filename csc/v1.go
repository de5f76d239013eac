package csc

import (
	"errors"
	"slices"
)

// SpecV1 is the CSC API v1 version that hashsvc also serves.
const SpecV1 = "1.0.4.0"

// Paths of the CSC API v1 endpoints. They take and answer the same
// messages as their v2 counterparts, whose requests also carry the v1
// field names.
const (
	PathV1Info                 = "/csc/v1/info"
	PathV1CredentialsList      = "/csc/v1/credentials/list"
	PathV1CredentialsInfo      = "/csc/v1/credentials/info"
	PathV1CredentialsAuthorize = "/csc/v1/credentials/authorize"
	PathV1CredentialsSendOTP   = "/csc/v1/credentials/sendOTP"
	PathV1SignHash             = "/csc/v1/signatures/signHash"
)

// Normalize merges the CSC v1 fields Hash and HashAlgo into Hashes and
// HashAlgorithmOID, and clears them. It fails when both names of a field
// are given with different values.
func (r *SignHashRequest) Normalize() error {
	return normalize(&r.Hashes, &r.Hash, &r.HashAlgorithmOID, &r.HashAlgo)
}

// Normalize merges the CSC v1 fields Hash and HashAlgo into Hashes and
// HashAlgorithmOID, and clears them. It fails when both names of a field
// are given with different values.
func (r *AuthorizeRequest) Normalize() error {
	return normalize(&r.Hashes, &r.Hash, &r.HashAlgorithmOID, &r.HashAlgo)
}

func normalize(hashes, hash *[]string, oid, algo *string) error {
	switch {
	case len(*hash) == 0:
	case len(*hashes) == 0:
		*hashes = *hash
	case !slices.Equal(*hashes, *hash):
		return errors.New("hashes and hash (its CSC v1 name) differ; give one")
	}
	switch {
	case *algo == "":
	case *oid == "":
		*oid = *algo
	case *oid != *algo:
		return errors.New("hashAlgorithmOID and hashAlgo (its CSC v1 name) differ; give one")
	}
	*hash, *algo = nil, ""
	return nil
}
