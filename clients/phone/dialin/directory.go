package dialin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"conclave/internal/secretfile"
)

// CodeDigits is the length of a dial-in code.
const CodeDigits = 10

// Errors.
var (
	// ErrUnknownCode: no live meeting has this code (or it expired).
	ErrUnknownCode = errors.New("dialin: unknown code")
	// ErrSecret: Assign was given a link with its fragment secret.
	ErrSecret = errors.New("dialin: the meeting link's secret must not be given to the gateway")
	// ErrRoom: the room reference is not usable.
	ErrRoom = errors.New("dialin: invalid room")
	// ErrKey: the directory key file is missing, of the wrong size, or
	// readable by others.
	ErrKey = errors.New("dialin: unusable directory key")
)

// Room is where a code leads: the Conclave server and the room ID part of
// a meeting link (https://SERVER/m/ROOM). It is a capability to knock, so
// it is redacted in logs.
type Room struct {
	Server string `json:"server"`
	ID     string `json:"room"`
}

// LogValue redacts the room ID to a short hash.
func (r Room) LogValue() slog.Value {
	h := sha256.Sum256([]byte(r.ID))
	return slog.GroupValue(slog.String("server", r.Server), slog.String("room_hash", hex.EncodeToString(h[:4])))
}

// ParseLink reads a meeting link and returns its room, refusing a link that
// carries the fragment secret.
func ParseLink(link string) (Room, error) {
	u, err := url.Parse(link)
	if err != nil {
		return Room{}, fmt.Errorf("%w: %w", ErrRoom, err)
	}
	if u.Fragment != "" || strings.Contains(link, "#") {
		return Room{}, ErrSecret
	}
	id, ok := strings.CutPrefix(u.Path, "/m/")
	if !ok || id == "" || strings.Contains(id, "/") || (u.Scheme != "https" && u.Scheme != "http") {
		return Room{}, fmt.Errorf("%w: want https://HOST/m/ROOM", ErrRoom)
	}
	return Room{Server: u.Scheme + "://" + u.Host, ID: id}, nil
}

type entry struct {
	Sealed  []byte    `json:"sealed"`
	Expires time.Time `json:"expires"`
}

// Directory is the code table. Safe for concurrent use.
type Directory struct {
	key  [32]byte
	path string // "" for memory only
	rand io.Reader
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]entry // hex(lookup) -> entry
}

// NewDirectory returns a directory keyed by key (32 bytes), persisted at
// path (empty: in memory).
func NewDirectory(key []byte, path string) (*Directory, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: %d bytes", ErrKey, len(key))
	}
	d := &Directory{path: path, rand: rand.Reader, now: time.Now, entries: map[string]entry{}}
	copy(d.key[:], key)
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("dialin: read directory: %w", err)
		default:
			if err := json.Unmarshal(b, &d.entries); err != nil {
				return nil, fmt.Errorf("dialin: parse directory %s: %w", path, err)
			}
		}
	}
	return d, nil
}

// LoadKey reads the 32-byte key file (hex, see internal/secretfile),
// creating it (0600) if it does not exist, and refusing one that group or
// others can read.
func LoadKey(path string) ([]byte, error) {
	k, err := secretfile.LoadOrCreate(path, func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("%w: %d bytes", ErrKey, len(k))
	}
	return k, nil
}

func (d *Directory) mac(label, code string) []byte {
	m := hmac.New(sha256.New, d.key[:])
	m.Write([]byte(label))
	m.Write([]byte(code))
	return m.Sum(nil)
}

func (d *Directory) aead(code string) (cipher.AEAD, error) {
	b, err := aes.NewCipher(d.mac("conclave dial-in seal v1", code))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// ValidCode reports whether s has the shape of a code (only then is it
// looked up).
func ValidCode(s string) bool {
	if len(s) != CodeDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Assign gives room a new code valid for ttl.
func (d *Directory) Assign(room Room, ttl time.Duration) (string, error) {
	if room.Server == "" || room.ID == "" || strings.Contains(room.ID, "#") {
		return "", ErrRoom
	}
	pt, err := json.Marshal(room)
	if err != nil {
		return "", fmt.Errorf("dialin: assign: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expireLocked()
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(CodeDigits), nil)
	for range 16 {
		n, err := rand.Int(d.rand, limit)
		if err != nil {
			return "", fmt.Errorf("dialin: draw code: %w", err)
		}
		code := fmt.Sprintf("%0*d", CodeDigits, n)
		lookup := d.mac("conclave dial-in lookup v1", code)
		id := hex.EncodeToString(lookup)
		if _, taken := d.entries[id]; taken {
			continue
		}
		a, err := d.aead(code)
		if err != nil {
			return "", fmt.Errorf("dialin: seal: %w", err)
		}
		nonce := make([]byte, a.NonceSize())
		if _, err := io.ReadFull(d.rand, nonce); err != nil {
			return "", fmt.Errorf("dialin: nonce: %w", err)
		}
		d.entries[id] = entry{Sealed: a.Seal(nonce, nonce, pt, lookup), Expires: d.now().Add(ttl)}
		if err := d.saveLocked(); err != nil {
			delete(d.entries, id)
			return "", err
		}
		return code, nil
	}
	return "", errors.New("dialin: no free code found")
}

// Lookup returns the room of code.
func (d *Directory) Lookup(code string) (Room, error) {
	if !ValidCode(code) {
		return Room{}, ErrUnknownCode
	}
	lookup := d.mac("conclave dial-in lookup v1", code)
	d.mu.Lock()
	e, ok := d.entries[hex.EncodeToString(lookup)]
	d.mu.Unlock()
	if !ok || !d.now().Before(e.Expires) {
		return Room{}, ErrUnknownCode
	}
	a, err := d.aead(code)
	if err != nil || len(e.Sealed) < a.NonceSize() {
		return Room{}, ErrUnknownCode
	}
	pt, err := a.Open(nil, e.Sealed[:a.NonceSize()], e.Sealed[a.NonceSize():], lookup)
	if err != nil {
		return Room{}, fmt.Errorf("%w: entry does not open", ErrUnknownCode)
	}
	var r Room
	if err := json.Unmarshal(pt, &r); err != nil {
		return Room{}, fmt.Errorf("%w: entry: %w", ErrUnknownCode, err)
	}
	return r, nil
}

// Revoke removes code.
func (d *Directory) Revoke(code string) error {
	id := hex.EncodeToString(d.mac("conclave dial-in lookup v1", code))
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.entries[id]; !ok {
		return ErrUnknownCode
	}
	delete(d.entries, id)
	return d.saveLocked()
}

func (d *Directory) expireLocked() {
	now := d.now()
	for id, e := range d.entries {
		if !now.Before(e.Expires) {
			delete(d.entries, id)
		}
	}
}

func (d *Directory) saveLocked() error {
	if d.path == "" {
		return nil
	}
	b, err := json.Marshal(d.entries)
	if err != nil {
		return fmt.Errorf("dialin: save: %w", err)
	}
	tmp := d.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("dialin: save: %w", err)
	}
	if err := os.Rename(tmp, d.path); err != nil {
		return fmt.Errorf("dialin: save: %w", err)
	}
	return nil
}
