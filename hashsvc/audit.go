package hashsvc

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Record is one signature in the audit log.
type Record struct {
	// Seq numbers the records from 1, without gaps. The log sets it.
	Seq int64
	// Time is when the signature was made.
	Time time.Time
	// KeyID is the id of the API key that asked for the signature.
	KeyID string
	// Credential is the credential that signed.
	Credential string
	// Operation is "signHash" or "cades".
	Operation string
	// HashAlgorithm and SignAlgorithm are the hashAlgorithmOID and
	// signAlgo of the signature.
	HashAlgorithm string
	SignAlgorithm string
	// Hash is the hash that was signed: for /v1/cades/sign, the hash of
	// the signed attributes.
	Hash []byte
	// RequestID is the request's X-Request-Id.
	RequestID string
	// PrevHash is the RecordHash of the previous record (32 zero bytes
	// for the first) and RecordHash the SHA-256 of this record's fields
	// and PrevHash. The log sets both.
	PrevHash, RecordHash []byte
}

// AuditLog records signatures. Append returns only once the records are
// durably stored; the server returns no signature whose record it could
// not append.
type AuditLog interface {
	Append(ctx context.Context, recs []Record) error
	// Ping reports whether the log can be written. The server calls it at
	// start and for /readyz. After an Append failed, Ping fails until an
	// Append, or a write that Ping tries itself, succeeds.
	Ping(ctx context.Context) error
	Close() error
}

// recordHash returns the SHA-256 that chains r to the previous record: the
// hash of a domain separator followed by each field, length-prefixed.
func recordHash(r *Record) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte("hashsvc audit record v1"))
	field(r.PrevHash)
	field([]byte(strconv.FormatInt(r.Seq, 10)))
	field([]byte(formatAuditTime(r.Time)))
	field([]byte(r.KeyID))
	field([]byte(r.Credential))
	field([]byte(r.Operation))
	field([]byte(r.HashAlgorithm))
	field([]byte(r.SignAlgorithm))
	field(r.Hash)
	field([]byte(r.RequestID))
	return h.Sum(nil)
}

func formatAuditTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

const auditSchema = `
CREATE TABLE IF NOT EXISTS audit (
	seq         INTEGER PRIMARY KEY,
	time        TEXT NOT NULL,
	key_id      TEXT NOT NULL,
	credential  TEXT NOT NULL,
	operation   TEXT NOT NULL,
	hash_alg    TEXT NOT NULL,
	sign_alg    TEXT NOT NULL,
	hash        TEXT NOT NULL,
	request_id  TEXT NOT NULL,
	prev_hash   TEXT NOT NULL,
	record_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	count INTEGER NOT NULL,
	head  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_probe (pad BLOB);`

// SQLiteAudit is an AuditLog in an SQLite database (modernc.org/sqlite).
// Each record carries the hash of the previous one, and the table
// audit_head holds the count and the last hash, so that VerifyAudit detects
// records edited, deleted or inserted by hand.
//
// Appends from concurrent requests are grouped into one transaction (group
// commit); the database runs in WAL mode with synchronous=FULL, so a record
// is on stable storage when Append returns.
type SQLiteAudit struct {
	db   *sql.DB
	path string
	reqs chan *appendReq
	// failed is the size in bytes of the last append when it failed,
	// 0 once a write succeeds: Ping reports it.
	failed atomic.Int64

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

type appendReq struct {
	recs []Record
	err  chan error
}

// maxGroup bounds how many Append calls share one transaction.
const maxGroup = 128

// OpenAudit opens (creating if needed) the audit database at path, a file:
// in-memory databases are refused. A new database and its -wal and -shm
// files are readable by their owner only (0600). OpenAudit fails unless
// the database can be written.
func OpenAudit(ctx context.Context, path string) (*SQLiteAudit, error) {
	db, err := openAuditDB(path, false)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, auditSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: creating tables in %s: %w", path, err)
	}
	a := &SQLiteAudit{db: db, path: path, reqs: make(chan *appendReq), stop: make(chan struct{}), done: make(chan struct{})}
	if err := a.probe(ctx, true, probePad); err != nil {
		db.Close()
		return nil, err
	}
	go a.writer()
	return a, nil
}

// auditURI returns the SQLite URI of the database file path with the query
// q. The path is made absolute and escaped, so that a "?", "#" or "%" in it
// names the file and does not end the path.
func auditURI(path string, q url.Values) (string, error) {
	if path == "" || path == ":memory:" {
		return "", fmt.Errorf("audit: %q is not a database file; the audit log must be kept in a file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("audit: %s: %w", path, err)
	}
	p := filepath.ToSlash(abs)
	if p[0] != '/' {
		p = "/" + p // a Windows drive: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String(), nil
}

func openAuditDB(path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	}
	uri, err := auditURI(path, q)
	if err != nil {
		return nil, err
	}
	if !readOnly {
		// SQLite creates the -wal and -shm files with the permissions
		// of the database file.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case err == nil:
			f.Close()
		case !errors.Is(err, os.ErrExist):
			return nil, fmt.Errorf("audit: creating %s: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return nil, fmt.Errorf("audit: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := checkAuditFile(db, path); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkAuditFile opens db and checks that its main database is a file, not
// an in-memory database that would vanish on exit.
func checkAuditFile(db *sql.DB, path string) error {
	rows, err := db.Query(`PRAGMA database_list`)
	if err != nil {
		return fmt.Errorf("audit: opening %s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq        int
			name, file string
		)
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return fmt.Errorf("audit: opening %s: %w", path, err)
		}
		if name == "main" {
			if file == "" {
				return fmt.Errorf("audit: %s opens an in-memory database; the audit log must be kept in a file", path)
			}
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: opening %s: %w", path, err)
	}
	return fmt.Errorf("audit: opening %s: no main database", path)
}

// probePad is the size of the blob that a probe writes: two pages, so
// that a database that cannot grow fails the probe. After a failed append,
// the probe writes as much as the append did, up to maxProbePad.
const (
	probePad    = 8192
	maxProbePad = 4 << 20
)

// probe checks that the database can be written: it inserts and deletes a
// blob of pad bytes in one transaction, which it commits when commit is set
// (the data then reaches the disk) and rolls back otherwise (read-only and
// locked databases and a full page count are still found, without a disk
// write).
func (a *SQLiteAudit) probe(ctx context.Context, commit bool, pad int64) (err error) {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: %s cannot be written: %w", a.path, err)
	}
	defer func() {
		if err != nil || !commit {
			tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, `INSERT INTO audit_probe (pad) VALUES (zeroblob(?))`, pad); err != nil {
		return fmt.Errorf("audit: %s cannot be written: %w", a.path, err)
	}
	if _, err = tx.ExecContext(ctx, `DELETE FROM audit_probe`); err != nil {
		return fmt.Errorf("audit: %s cannot be written: %w", a.path, err)
	}
	if commit {
		if err = tx.Commit(); err != nil {
			return fmt.Errorf("audit: %s cannot be written: %w", a.path, err)
		}
	}
	return nil
}

// Append stores recs, setting their Seq, PrevHash and RecordHash, and
// returns once they are committed. Records of concurrent calls may share a
// transaction; when it fails, every call in it fails.
func (a *SQLiteAudit) Append(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	req := &appendReq{recs: recs, err: make(chan error, 1)}
	select {
	case a.reqs <- req:
	case <-a.stop:
		return errors.New("audit: log is closed")
	case <-ctx.Done():
		return fmt.Errorf("audit: %w", ctx.Err())
	}
	// Once handed over, the write is waited for even if ctx ends, so that
	// the caller never returns a signature whose record is not durable,
	// nor reports failure for a record that was written.
	return <-req.err
}

// writer serializes appends, grouping those that arrive together.
func (a *SQLiteAudit) writer() {
	defer close(a.done)
	for {
		var first *appendReq
		select {
		case first = <-a.reqs:
		case <-a.stop:
			return
		}
		group := []*appendReq{first}
	collect:
		for len(group) < maxGroup {
			select {
			case r := <-a.reqs:
				group = append(group, r)
			default:
				break collect
			}
		}
		err := a.write(group)
		if err != nil {
			a.failed.Store(groupSize(group))
		} else {
			a.failed.Store(0)
		}
		for _, r := range group {
			r.err <- err
		}
	}
}

// groupSize estimates the bytes that the records of group take in the
// database.
func groupSize(group []*appendReq) int64 {
	n := int64(1)
	for _, req := range group {
		for _, r := range req.recs {
			n += 256 + int64(2*len(r.Hash)+len(r.KeyID)+len(r.Credential)+len(r.Operation)+
				len(r.HashAlgorithm)+len(r.SignAlgorithm)+len(r.RequestID))
		}
	}
	return n
}

// write appends the records of group in one transaction.
func (a *SQLiteAudit) write(group []*appendReq) (err error) {
	ctx := context.Background()
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var (
		seq  int64
		head string
	)
	err = tx.QueryRowContext(ctx, `SELECT count, head FROM audit_head WHERE id = 1`).Scan(&seq, &head)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		seq, head = 0, hex.EncodeToString(make([]byte, 32))
	case err != nil:
		return fmt.Errorf("audit: reading the head: %w", err)
	}
	prev, err := hex.DecodeString(head)
	if err != nil {
		return fmt.Errorf("audit: corrupt head %q", head)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit
		(seq, time, key_id, credential, operation, hash_alg, sign_alg, hash, request_id, prev_hash, record_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("audit: prepare: %w", err)
	}
	defer stmt.Close()
	for _, req := range group {
		for i := range req.recs {
			r := &req.recs[i]
			seq++
			r.Seq, r.PrevHash = seq, prev
			r.RecordHash = recordHash(r)
			if _, err = stmt.ExecContext(ctx, r.Seq, formatAuditTime(r.Time), r.KeyID, r.Credential, r.Operation,
				r.HashAlgorithm, r.SignAlgorithm, hex.EncodeToString(r.Hash), r.RequestID,
				hex.EncodeToString(r.PrevHash), hex.EncodeToString(r.RecordHash)); err != nil {
				return fmt.Errorf("audit: insert: %w", err)
			}
			prev = r.RecordHash
		}
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO audit_head (id, count, head) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET count = excluded.count, head = excluded.head`, seq, hex.EncodeToString(prev)); err != nil {
		return fmt.Errorf("audit: updating the head: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("audit: commit: %w", err)
	}
	return nil
}

// Ping checks that the database can be written, with a write that it
// rolls back. After an append failed, Ping fails until an append, or a
// write as large as the failed one that Ping commits, succeeds: only a
// committed write finds a full disk.
func (a *SQLiteAudit) Ping(ctx context.Context) error {
	select {
	case <-a.stop:
		return errors.New("audit: log is closed")
	default:
	}
	failed := a.failed.Load()
	if failed == 0 {
		return a.probe(ctx, false, probePad)
	}
	if err := a.probe(ctx, true, min(max(failed, probePad), maxProbePad)); err != nil {
		return fmt.Errorf("the last append failed, and still: %w", err)
	}
	a.failed.CompareAndSwap(failed, 0)
	return nil
}

// Close stops the writer, after the append in progress, and closes the
// database. Appends after Close fail.
func (a *SQLiteAudit) Close() error {
	var err error
	a.closeOnce.Do(func() {
		close(a.stop)
		<-a.done
		err = a.db.Close()
	})
	return err
}

// AuditSummary is the result of VerifyAudit.
type AuditSummary struct {
	Records int64  // number of records
	Head    string // hex RecordHash of the last record
}

// AuditError reports the first record at which the audit chain breaks.
type AuditError struct {
	Seq    int64 // the record, or 0 when the problem is not one record's
	Reason string
}

func (e *AuditError) Error() string {
	if e.Seq == 0 {
		return "audit log: " + e.Reason
	}
	return fmt.Sprintf("audit log: record %d: %s", e.Seq, e.Reason)
}

// VerifyAudit checks the audit database at path: sequence numbers from 1
// without gaps, each record's hash over its contents, each record's link
// to the previous one, and the stored head. When head is not empty it is a
// hex record hash noted earlier (for example from a previous run of
// VerifyAudit) that must still be in the chain, which detects the removal
// of the newest records together with the head. A broken chain gives an
// *AuditError.
func VerifyAudit(ctx context.Context, path, head string) (AuditSummary, error) {
	db, err := openAuditDB(path, true)
	if err != nil {
		return AuditSummary{}, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT seq, time, key_id, credential, operation, hash_alg, sign_alg,
		hash, request_id, prev_hash, record_hash FROM audit ORDER BY seq`)
	if err != nil {
		return AuditSummary{}, fmt.Errorf("audit: reading %s: %w", path, err)
	}
	defer rows.Close()
	prev := make([]byte, 32)
	var n int64
	foundHead := head == ""
	for rows.Next() {
		var (
			r                            Record
			tm, hashHex, prevHex, recHex string
		)
		if err := rows.Scan(&r.Seq, &tm, &r.KeyID, &r.Credential, &r.Operation, &r.HashAlgorithm,
			&r.SignAlgorithm, &hashHex, &r.RequestID, &prevHex, &recHex); err != nil {
			return AuditSummary{}, fmt.Errorf("audit: reading %s: %w", path, err)
		}
		n++
		if r.Seq != n {
			if r.Seq == n+1 {
				return AuditSummary{}, &AuditError{Seq: r.Seq, Reason: fmt.Sprintf("record %d before it is missing", n)}
			}
			if r.Seq > n {
				return AuditSummary{}, &AuditError{Seq: r.Seq, Reason: fmt.Sprintf("records %d to %d before it are missing", n, r.Seq-1)}
			}
			return AuditSummary{}, &AuditError{Seq: r.Seq, Reason: "out of sequence"}
		}
		if r.Time, err = time.Parse(time.RFC3339Nano, tm); err != nil {
			return AuditSummary{}, &AuditError{Seq: r.Seq, Reason: fmt.Sprintf("bad time %q", tm)}
		}
		if r.Hash, err = hex.DecodeString(hashHex); err != nil {
			return AuditSummary{}, &AuditError{Seq: r.Seq, Reason: "bad hash"}
		}
		if prevHex != hex.EncodeToString(prev) {
			return AuditSummary{}, &AuditError{Seq: r.Seq, Reason: "does not link to the previous record (a record was deleted, inserted or edited)"}
		}
		r.PrevHash = prev
		sum := recordHash(&r)
		if recHex != hex.EncodeToString(sum) {
			return AuditSummary{}, &AuditError{Seq: r.Seq, Reason: "contents do not match the record hash (the record was edited)"}
		}
		prev = sum
		if !foundHead && recHex == head {
			foundHead = true
		}
	}
	if err := rows.Err(); err != nil {
		return AuditSummary{}, fmt.Errorf("audit: reading %s: %w", path, err)
	}
	var count int64
	var stored string
	err = db.QueryRowContext(ctx, `SELECT count, head FROM audit_head WHERE id = 1`).Scan(&count, &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if n != 0 {
			return AuditSummary{}, &AuditError{Reason: "the head record is missing"}
		}
	case err != nil:
		return AuditSummary{}, fmt.Errorf("audit: reading %s: %w", path, err)
	case count != n:
		return AuditSummary{}, &AuditError{Reason: fmt.Sprintf("the stored head says %d records, the chain has %d (newest records deleted?)", count, n)}
	case stored != hex.EncodeToString(prev):
		return AuditSummary{}, &AuditError{Reason: "the stored head does not match the last record (the last record was edited?)"}
	}
	if !foundHead {
		return AuditSummary{}, &AuditError{Reason: fmt.Sprintf("the expected head %s is not in the chain (records deleted?)", head)}
	}
	return AuditSummary{Records: n, Head: hex.EncodeToString(prev)}, nil
}
