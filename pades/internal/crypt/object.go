package crypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"fmt"
)

// EncryptString encrypts the value of a string of object num, generation gen
// with the string crypt filter (/StrF). AES ciphertext starts with a fresh
// random IV. The result never aliases plain.
func (h *Handler) EncryptString(num, gen int, plain []byte) ([]byte, error) {
	return h.encrypt(h.str, num, gen, plain)
}

// DecryptString decrypts the value of a string of object num, generation
// gen, encrypted with the string crypt filter (/StrF).
//
// For AES, data shorter than one block gives an error and no plaintext.
// Data that is not a whole number of blocks, or whose padding is invalid,
// gives an error wrapping ErrInvalidCiphertext together with the decrypted
// whole blocks, padding not removed, for callers that want to be as lenient
// as PDF readers are.
func (h *Handler) DecryptString(num, gen int, data []byte) ([]byte, error) {
	return h.decrypt(h.str, num, gen, data)
}

// EncryptStream encrypts the (already filtered) data of stream object num,
// generation gen with the stream crypt filter (/StmF). AES ciphertext
// starts with a fresh random IV. The result never aliases plain.
func (h *Handler) EncryptStream(num, gen int, plain []byte) ([]byte, error) {
	return h.encrypt(h.stm, num, gen, plain)
}

// DecryptStream decrypts the raw data of stream object num, generation gen,
// encrypted with the stream crypt filter (/StmF). Errors are as for
// DecryptString.
func (h *Handler) DecryptStream(num, gen int, data []byte) ([]byte, error) {
	return h.decrypt(h.stm, num, gen, data)
}

// objectKey returns the key for object num, generation gen (Algorithm 1):
// the MD5 hash of the file key, the low 3 bytes of num and the low 2 bytes
// of gen (little-endian), followed by "sAlT" for AES, truncated to n+5
// bytes and at most 16. AES-256 uses the file key itself.
func (h *Handler) objectKey(method string, num, gen int) []byte {
	if method == MethodAESV3 {
		return h.key
	}
	d := md5.New()
	d.Write(h.key)
	d.Write([]byte{byte(num), byte(num >> 8), byte(num >> 16), byte(gen), byte(gen >> 8)})
	if method == MethodAESV2 {
		d.Write([]byte("sAlT"))
	}
	return d.Sum(nil)[:min(len(h.key)+5, 16)]
}

func (h *Handler) encrypt(method string, num, gen int, plain []byte) ([]byte, error) {
	switch method {
	case MethodRC4:
		out := make([]byte, len(plain))
		rc4XOR(h.objectKey(method, num, gen), out, plain)
		return out, nil
	case MethodAESV2, MethodAESV3:
		b, err := aes.NewCipher(h.objectKey(method, num, gen))
		if err != nil {
			return nil, fmt.Errorf("crypt: %w", err)
		}
		pad := aes.BlockSize - len(plain)%aes.BlockSize
		out := make([]byte, aes.BlockSize+len(plain)+pad)
		iv, body := out[:aes.BlockSize], out[aes.BlockSize:]
		if _, err := rand.Read(iv); err != nil {
			return nil, fmt.Errorf("crypt: generating IV: %w", err)
		}
		copy(body, plain)
		for i := len(plain); i < len(body); i++ {
			body[i] = byte(pad)
		}
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(body, body)
		return out, nil
	}
	return bytes.Clone(plain), nil
}

func (h *Handler) decrypt(method string, num, gen int, data []byte) ([]byte, error) {
	switch method {
	case MethodRC4:
		out := make([]byte, len(data))
		rc4XOR(h.objectKey(method, num, gen), out, data)
		return out, nil
	case MethodAESV2, MethodAESV3:
		return decryptAES(h.objectKey(method, num, gen), num, gen, data)
	}
	return bytes.Clone(data), nil
}

// decryptAES decrypts IV || CBC ciphertext and removes PKCS#7 padding.
func decryptAES(key []byte, num, gen int, data []byte) ([]byte, error) {
	if len(data) < aes.BlockSize {
		return nil, fmt.Errorf("crypt: object %d %d: %w: %d bytes, shorter than the IV",
			num, gen, ErrInvalidCiphertext, len(data))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypt: %w", err)
	}
	iv, body := data[:aes.BlockSize], data[aes.BlockSize:]
	whole := len(body) - len(body)%aes.BlockSize
	out := make([]byte, whole)
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, body[:whole])
	if whole != len(body) {
		return out, fmt.Errorf("crypt: object %d %d: %w: %d bytes after the IV, not a multiple of 16",
			num, gen, ErrInvalidCiphertext, len(body))
	}
	if len(out) == 0 {
		// Only an IV: some writers encrypt empty strings this way.
		return out, nil
	}
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		return out, fmt.Errorf("crypt: object %d %d: %w: padding length %d",
			num, gen, ErrInvalidCiphertext, pad)
	}
	for _, c := range out[len(out)-pad:] {
		if int(c) != pad {
			return out, fmt.Errorf("crypt: object %d %d: %w: inconsistent padding",
				num, gen, ErrInvalidCiphertext)
		}
	}
	return out[:len(out)-pad], nil
}
