package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"conclave/signaling/admin/totp"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Sentinel errors.
var (
	// ErrUnauthorized: missing, unknown, wrong, expired or revoked
	// credentials. Callers answer every case alike.
	ErrUnauthorized = errors.New("admin: unauthorized")
	// ErrForbidden: valid credentials without the scope the action needs.
	ErrForbidden = errors.New("admin: forbidden")
	// ErrExists: an admin or key with that name already exists.
	ErrExists = errors.New("admin: already exists")
	// ErrNotFound: no such admin or key.
	ErrNotFound = errors.New("admin: not found")
)

// Scope is one power an API key may hold.
type Scope string

// The scopes. There is deliberately no scope to add anyone to a meeting or
// to read anything of one: no such power exists.
const (
	ScopeRead     Scope = "read"     // list meetings (counts, durations) and nodes
	ScopeMeetings Scope = "meetings" // end a meeting, remove a participant
	ScopeNodes    Scope = "nodes"    // drain and undrain nodes
	ScopeKeys     Scope = "keys"     // create, list and revoke API keys
	ScopeAudit    Scope = "audit"    // read and verify the audit log
)

// AllScopes lists every scope, in a stable order.
var AllScopes = []Scope{ScopeRead, ScopeMeetings, ScopeNodes, ScopeKeys, ScopeAudit}

// ParseScopes parses a comma-separated scope list ("all" means every scope).
func ParseScopes(s string) ([]Scope, error) {
	if strings.TrimSpace(s) == "all" {
		return slices.Clone(AllScopes), nil
	}
	var out []Scope
	for _, f := range strings.Split(s, ",") {
		sc := Scope(strings.TrimSpace(f))
		if !slices.Contains(AllScopes, sc) {
			return nil, fmt.Errorf("admin: unknown scope %q (want %s)", sc, joinScopes(AllScopes))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	slices.Sort(out)
	return out, nil
}

func joinScopes(ss []Scope) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

// dbFile is the admin database in the data folder: API keys, admins, and
// the audit log (package audit).
const dbFile = "admin.db"

// OpenDB opens (creating if needed) the admin database in dir, readable by
// its owner only. Writers in several processes (the server, the CLI) wait
// for each other (_txlock=immediate with a busy timeout).
func OpenDB(ctx context.Context, dir string) (*sql.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("admin: create data dir: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=secure_delete(1)")
	if err != nil {
		return nil, fmt.Errorf("admin: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("admin: open %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("admin: chmod %s: %w", path, err)
	}
	return db, nil
}

// Argon2Params are argon2id's cost parameters (RFC 9106, Section 4).
type Argon2Params struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2 follows RFC 9106, Section 4's second recommended option
// (t=3, 64 MiB), with 2 lanes.
var DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// minPassword is the shortest admin password accepted.
const minPassword = 12

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,31}$`)

// Credentials keeps API keys (as SHA-256 of their secret part) and admins
// (argon2id password hashes and TOTP secrets) in the admin database.
//
// TOTP secrets are stored as they are: a verifier needs them. Anyone who can
// read admin.db can therefore mint second-factor codes, but still needs the
// password, which is stored only as an argon2id hash.
type Credentials struct {
	db     *sql.DB
	argon  Argon2Params
	now    func() time.Time
	issuer string

	dummyOnce sync.Once
	dummy     string // a password hash to spend time on for unknown names
}

// NewCredentials creates the tables if needed. now may be nil.
func NewCredentials(ctx context.Context, db *sql.DB, p Argon2Params, now func() time.Time) (*Credentials, error) {
	if now == nil {
		now = time.Now
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS api_keys (
			id TEXT PRIMARY KEY,
			secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
			scopes TEXT NOT NULL,
			label TEXT NOT NULL,
			created_at INTEGER NOT NULL,
			expires_at INTEGER NOT NULL,
			revoked_at INTEGER
		)`,
		`CREATE TABLE IF NOT EXISTS admins (
			name TEXT PRIMARY KEY,
			password_hash TEXT NOT NULL,
			totp_secret BLOB NOT NULL,
			totp_last INTEGER NOT NULL DEFAULT 0,
			created_at INTEGER NOT NULL
		)`,
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("admin: create tables: %w", err)
		}
	}
	return &Credentials{db: db, argon: p, now: now, issuer: "Conclave"}, nil
}

// Key is an API key's record. The secret is never stored; Secret is set only
// in the value CreateKey returns.
type Key struct {
	ID        string
	Scopes    []Scope
	Label     string
	CreatedAt time.Time
	ExpiresAt time.Time
	Revoked   bool
	Secret    string // the whole key to hand out, "ck_<id>_<secret>"; only from CreateKey
}

// HasScope reports whether k holds s.
func (k Key) HasScope(s Scope) bool { return slices.Contains(k.Scopes, s) }

const keyPrefix = "ck_"

var idRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// CreateKey makes an API key with scopes, valid for ttl.
func (c *Credentials) CreateKey(ctx context.Context, label string, scopes []Scope, ttl time.Duration) (Key, error) {
	if len(scopes) == 0 {
		return Key{}, errors.New("admin: a key needs at least one scope")
	}
	if ttl <= 0 || ttl > 366*24*time.Hour {
		return Key{}, errors.New("admin: key lifetime must be between 1s and 366 days")
	}
	if len(label) > 64 || strings.ContainsFunc(label, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Key{}, errors.New("admin: label must be at most 64 printable characters")
	}
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Key{}, fmt.Errorf("admin: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return Key{}, fmt.Errorf("admin: %w", err)
	}
	now := c.now()
	k := Key{
		ID: hex.EncodeToString(id[:]), Scopes: slices.Clone(scopes), Label: label,
		CreatedAt: now.UTC().Truncate(time.Second), ExpiresAt: now.Add(ttl).UTC().Truncate(time.Second),
	}
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	h := sha256.Sum256([]byte(sec))
	if _, err := c.db.ExecContext(ctx, `INSERT INTO api_keys (id, secret_hash, scopes, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, h[:], joinScopes(k.Scopes), label, k.CreatedAt.Unix(), k.ExpiresAt.Unix()); err != nil {
		return Key{}, fmt.Errorf("admin: create key: %w", err)
	}
	k.Secret = keyPrefix + k.ID + "_" + sec
	return k, nil
}

// Keys lists every API key, newest first.
func (c *Credentials) Keys(ctx context.Context) ([]Key, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, scopes, label, created_at, expires_at, revoked_at IS NOT NULL FROM api_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("admin: list keys: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		var (
			k         Key
			scopes    string
			cr, ex    int64
			isRevoked bool
		)
		if err := rows.Scan(&k.ID, &scopes, &k.Label, &cr, &ex, &isRevoked); err != nil {
			return nil, fmt.Errorf("admin: list keys: %w", err)
		}
		k.Scopes, _ = ParseScopes(scopes)
		k.CreatedAt, k.ExpiresAt, k.Revoked = time.Unix(cr, 0).UTC(), time.Unix(ex, 0).UTC(), isRevoked
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey revokes the key with id.
func (c *Credentials) RevokeKey(ctx context.Context, id string) error {
	res, err := c.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, c.now().Unix(), id)
	if err != nil {
		return fmt.Errorf("admin: revoke key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// AuthenticateKey checks a whole API key and returns its record.
func (c *Credentials) AuthenticateKey(ctx context.Context, key string) (Key, error) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok || len(rest) > 128 {
		return Key{}, ErrUnauthorized
	}
	id, sec, ok := strings.Cut(rest, "_")
	if !ok || !idRE.MatchString(id) {
		return Key{}, ErrUnauthorized
	}
	var (
		stored []byte
		scopes string
		k      Key
		cr, ex int64
		rev    sql.NullInt64
	)
	err := c.db.QueryRowContext(ctx, `SELECT secret_hash, scopes, label, created_at, expires_at, revoked_at FROM api_keys WHERE id = ?`, id).
		Scan(&stored, &scopes, &k.Label, &cr, &ex, &rev)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, ErrUnauthorized
	}
	if err != nil {
		return Key{}, fmt.Errorf("admin: authenticate: %w", err)
	}
	h := sha256.Sum256([]byte(sec))
	if subtle.ConstantTimeCompare(h[:], stored) != 1 || rev.Valid || !c.now().Before(time.Unix(ex, 0)) {
		return Key{}, ErrUnauthorized
	}
	k.ID = id
	k.Scopes, _ = ParseScopes(scopes)
	k.CreatedAt, k.ExpiresAt = time.Unix(cr, 0).UTC(), time.Unix(ex, 0).UTC()
	return k, nil
}

// hashPassword encodes argon2id(password, salt) with its parameters.
func (c *Credentials) hashPassword(password string, salt []byte) string {
	p := c.argon
	h := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h))
}

// checkPassword verifies password against an encoded hash in constant time.
func checkPassword(password, encoded string) bool {
	var (
		v, m, t uint32
		p       uint8
	)
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 || parts[0] != "argon2id" {
		return false
	}
	if _, err := fmt.Sscanf(parts[1], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[2], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<22 || t > 64 || p == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[3])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(want) != 32 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, 32)
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Enrollment is what a new admin needs once: the TOTP secret for their
// authenticator app. It is shown once and never again.
type Enrollment struct {
	Name   string
	Secret string // base32
	URI    string // otpauth://
}

// AddAdmin creates an admin with a password and a fresh TOTP secret.
func (c *Credentials) AddAdmin(ctx context.Context, name, password string) (Enrollment, error) {
	if !nameRE.MatchString(name) {
		return Enrollment{}, errors.New("admin: name must be 1-32 of a-z 0-9 . _ - starting with a letter")
	}
	if len([]rune(password)) < minPassword {
		return Enrollment{}, fmt.Errorf("admin: password must have at least %d characters", minPassword)
	}
	secret, err := totp.NewSecret()
	if err != nil {
		return Enrollment{}, err
	}
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return Enrollment{}, fmt.Errorf("admin: %w", err)
	}
	var exists int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM admins WHERE name = ?`, name).Scan(&exists); err != nil {
		return Enrollment{}, fmt.Errorf("admin: add admin: %w", err)
	}
	if exists > 0 {
		return Enrollment{}, ErrExists
	}
	if _, err := c.db.ExecContext(ctx, `INSERT INTO admins (name, password_hash, totp_secret, created_at) VALUES (?, ?, ?, ?)`,
		name, c.hashPassword(password, salt[:]), secret, c.now().Unix()); err != nil {
		return Enrollment{}, fmt.Errorf("admin: add admin: %w", err)
	}
	return Enrollment{Name: name, Secret: totp.EncodeSecret(secret), URI: totp.URI(c.issuer, name, secret)}, nil
}

// RemoveAdmin deletes an admin.
func (c *Credentials) RemoveAdmin(ctx context.Context, name string) error {
	res, err := c.db.ExecContext(ctx, `DELETE FROM admins WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("admin: remove admin: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Login checks an admin's password and TOTP code. Both are always checked,
// and an unknown name costs the same argon2id work, so the answer and its
// timing say nothing about which part was wrong. A code is accepted once.
func (c *Credentials) Login(ctx context.Context, name, password, code string) error {
	var (
		encoded string
		secret  []byte
		last    int64
	)
	err := c.db.QueryRowContext(ctx, `SELECT password_hash, totp_secret, totp_last FROM admins WHERE name = ?`, name).Scan(&encoded, &secret, &last)
	known := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("admin: login: %w", err)
	}
	if !known {
		c.dummyOnce.Do(func() {
			var salt [16]byte
			rand.Read(salt[:])
			c.dummy = c.hashPassword("no such admin", salt[:])
		})
		encoded, secret = c.dummy, make([]byte, totp.SecretSize)
	}
	pwOK := checkPassword(password, encoded)
	ctr, codeErr := totp.Verify(secret, code, c.now(), uint64(last))
	if !known || !pwOK || codeErr != nil {
		return ErrUnauthorized
	}
	// Spend the code: only a counter above the last one used is accepted,
	// and of two logins racing with one code only one gets here first.
	res, err := c.db.ExecContext(ctx, `UPDATE admins SET totp_last = ? WHERE name = ? AND totp_last < ?`, int64(ctr), name, int64(ctr))
	if err != nil {
		return fmt.Errorf("admin: login: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrUnauthorized
	}
	return nil
}
