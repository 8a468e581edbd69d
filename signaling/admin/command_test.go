package admin

import (
	"bytes"
	"context"
	"database/sql"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"conclave/signaling/audit"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := command(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), err
}

func TestCLILocalCommandsAndAuditVerify(t *testing.T) {
	dir := t.TempDir()
	out, err := runCLI(t, "a long enough password\n", "add-admin", "--data", dir, "ada")
	if err != nil || !strings.Contains(out, "otpauth://totp/Conclave:ada?") {
		t.Fatalf("add-admin: %v\n%s", err, out)
	}
	out, err = runCLI(t, "", "create-key", "--data", dir, "--scopes", "read,meetings", "--ttl", "24h", "--label", "ops")
	key := regexp.MustCompile(`ck_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`).FindString(out)
	if err != nil || key == "" {
		t.Fatalf("create-key: %v\n%s", err, out)
	}
	id := key[3:19]
	if out, err = runCLI(t, "", "list-keys", "--data", dir); err != nil || !strings.Contains(out, id+"  active") || strings.Contains(out, key) {
		t.Fatalf("list-keys: %v\n%s", err, out)
	}
	if _, err = runCLI(t, "", "revoke-key", "--data", dir, id); err != nil {
		t.Fatal(err)
	}
	if out, _ = runCLI(t, "", "list-keys", "--data", dir); !strings.Contains(out, id+"  revoked") {
		t.Fatalf("after revoke:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(dir, "token.key"), []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = runCLI(t, "", "rotate-token-key", "--data", dir); err != nil {
		t.Fatal(err)
	}
	newKey, _ := os.ReadFile(filepath.Join(dir, "token.key"))
	oldKey, _ := os.ReadFile(filepath.Join(dir, "token.key.previous"))
	st, _ := os.Stat(filepath.Join(dir, "token.key"))
	if string(oldKey) != "old\n" || len(strings.TrimSpace(string(newKey))) != 64 || st.Mode().Perm() != 0o600 {
		t.Fatalf("rotation: new %q (mode %v), previous %q", newKey, st.Mode().Perm(), oldKey)
	}

	out, err = runCLI(t, "", "audit", "verify", "--data", dir)
	if err != nil || !regexp.MustCompile(`intact: \d+ entries, head \d+:[0-9a-f]{64}`).MatchString(out) {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	out, err = runCLI(t, "", "audit", "list", "--data", dir)
	for _, action := range []string{"admin.add", "key.create", "keys.list", "key.revoke", "token_key.rotate"} {
		if !strings.Contains(out, "\t"+action+"\t") {
			t.Fatalf("audit list lacks %s: %v\n%s", action, err, out)
		}
	}
	if strings.Contains(out, key) || strings.Contains(out, "a long enough password") {
		t.Fatal("the audit log holds a secret")
	}

	// Someone with the file deletes the record of the revocation.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_log_no_delete`, `DELETE FROM audit_log WHERE action = 'key.revoke'`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	_, err = runCLI(t, "", "audit", "verify", "--data", dir)
	if err == nil || !strings.Contains(err.Error(), "tampered") {
		t.Fatalf("verify after deletion: %v", err)
	}
	if _, err := runCLI(t, "", "audit", "verify", "--data", dir, "--head", "not-a-head"); err == nil {
		t.Fatal("bad --head accepted")
	}
}

// TestCLIAuditVerifyCatchesCutTail: deleting the newest entries leaves a
// consistent chain; the head recorded earlier catches it.
func TestCLIAuditVerifyCatchesCutTail(t *testing.T) {
	dir := t.TempDir()
	for range 3 {
		if _, err := runCLI(t, "", "create-key", "--data", dir, "--scopes", "read", "--ttl", "1h"); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := runCLI(t, "", "audit", "verify", "--data", dir)
	head := regexp.MustCompile(`head (\S+)`).FindStringSubmatch(out)[1]
	if _, err := audit.ParseHead(head); err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, dbFile))
	db.Exec(`DROP TRIGGER audit_log_no_delete`)
	if _, err := db.Exec(`DELETE FROM audit_log WHERE seq > 4`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := runCLI(t, "", "audit", "verify", "--data", dir); err != nil {
		t.Fatalf("a cut chain is consistent on its own: %v", err)
	}
	if _, err := runCLI(t, "", "audit", "verify", "--data", dir, "--head", head); err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Fatalf("verify against the recorded head: %v", err)
	}
}

func TestCLIRemoteCommands(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	t.Setenv("CONCLAVE_ADMIN_URL", srv.URL)
	t.Setenv("CONCLAVE_ADMIN_TOKEN", h.key(t, ScopeRead, ScopeMeetings, ScopeNodes))
	out, err := runCLI(t, "", "meetings")
	if err != nil || !strings.Contains(out, `"participants": 3`) || !strings.Contains(out, testRoom) {
		t.Fatalf("meetings: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "", "end", testRoom); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "", "remove", testRoom, "P_ABCDEFGHIJKL"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "", "drain", "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "", "end", "ffffffffffffffffffffffffffffffff"); err == nil || !strings.Contains(err.Error(), "no such meeting") {
		t.Fatalf("end unknown: %v", err)
	}
	want := []string{"meetings", "end " + testRoom, "remove " + testRoom + " P_ABCDEFGHIJKL", "drain n1 true", "end ffffffffffffffffffffffffffffffff"}
	if got := h.powers.Calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("calls %v", got)
	}
	t.Setenv("CONCLAVE_ADMIN_TOKEN", "")
	if _, err := runCLI(t, "", "nodes"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no credential: %v", err)
	}
	if _, err := runCLI(t, "", "bogus"); err == nil {
		t.Fatal("unknown command accepted")
	}
}
