package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"conclave/signaling/audit"
)

const usageText = `usage: conclave admin <command> [flags] [arguments]

On the server machine (reads and writes the data folder; flags first):
  add-admin        --data DIR NAME          add an admin; reads the password from stdin,
                                            prints the TOTP secret for an authenticator app once
  remove-admin     --data DIR NAME
  create-key       --data DIR --scopes S --ttl D [--label L]
                                            make an API key (scopes: read,meetings,nodes,keys,audit or all);
                                            prints it once
  list-keys        --data DIR
  revoke-key       --data DIR ID
  rotate-token-key --data DIR               new access-token signing key (in effect at the next start;
                                            in a cluster every node needs the same token.key)
  audit verify     --data DIR [--head SEQ:HASH]...
                                            check the audit log's hash chain (and recorded heads)
  audit list       --data DIR [--after N] [--limit N]

Through the admin API (--server URL or $CONCLAVE_ADMIN_URL, default http://127.0.0.1:8081;
credential in $CONCLAVE_ADMIN_TOKEN: an API key, or a session from login):
  login     NAME                password and TOTP code from stdin, one per line; prints a session token
  meetings                      running meetings: room key, node, participants, duration
  end       ROOM                end a meeting (every participant is disconnected)
  remove    ROOM IDENTITY       remove one participant
  nodes                         nodes with their load
  drain     NODE                the node takes no new meetings; running ones stay
  undrain   NODE
`

// Command is `conclave admin`.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return command(ctx, args, os.Stdin, stdout, stderr)
}

func command(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usageText)
		if len(args) == 0 {
			return errors.New("admin: no command")
		}
		return nil
	}
	name, rest := args[0], args[1:]
	if name == "audit" {
		if len(rest) == 0 {
			fmt.Fprint(stderr, usageText)
			return errors.New("admin: audit needs verify or list")
		}
		name, rest = "audit "+rest[0], rest[1:]
	}
	switch name {
	case "add-admin", "remove-admin", "create-key", "list-keys", "revoke-key", "rotate-token-key", "audit verify", "audit list":
		return localCommand(ctx, name, rest, stdin, stdout, stderr)
	case "login", "meetings", "end", "remove", "nodes", "drain", "undrain":
		return remoteCommand(ctx, name, rest, stdin, stdout, stderr)
	case "release-keygen", "release-sign", "release-verify":
		return releaseCommand(name, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usageText)
	return fmt.Errorf("admin: unknown command %q", name)
}

// localEnv is what local commands work on.
type localEnv struct {
	db    *sql.DB
	creds *Credentials
	log   *audit.Log
	actor string
}

func (e *localEnv) record(ctx context.Context, action, target, result string) error {
	_, err := e.log.Append(ctx, audit.Record{Actor: e.actor, Action: action, Target: target, Source: "cli", Result: result})
	return err
}

func localActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	return fmt.Sprintf("local:uid%d", os.Getuid())
}

func localCommand(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	data := fset.String("data", "./data", "the server's data folder")
	scopes := fset.String("scopes", "", "create-key: comma-separated scopes, or all")
	ttl := fset.Duration("ttl", 0, "create-key: lifetime, e.g. 720h")
	label := fset.String("label", "", "create-key: a note on what the key is for")
	after := fset.Int64("after", 0, "audit list: entries after this sequence number")
	limit := fset.Int("limit", 100, "audit list: at most this many entries")
	var heads headList
	fset.Var(&heads, "head", "audit verify: a head SEQ:HASH recorded earlier (repeatable)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	pos := fset.Args()
	want := map[string]int{"add-admin": 1, "remove-admin": 1, "revoke-key": 1}[name]
	if len(pos) != want {
		return fmt.Errorf("admin %s: want %d argument(s), got %d (flags go first)", name, want, len(pos))
	}
	db, err := OpenDB(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	creds, err := NewCredentials(ctx, db, DefaultArgon2, nil)
	if err != nil {
		return err
	}
	alog, err := audit.Open(ctx, db, nil, nil)
	if err != nil {
		return err
	}
	env := &localEnv{db: db, creds: creds, log: alog, actor: localActor()}

	switch name {
	case "add-admin":
		pw, err := readLine(stdin)
		if err != nil {
			return fmt.Errorf("admin add-admin: reading the password from stdin: %w", err)
		}
		if err := env.record(ctx, "admin.add", pos[0], "started"); err != nil {
			return err
		}
		en, err := creds.AddAdmin(ctx, pos[0], pw)
		if err != nil {
			env.record(ctx, "admin.add", pos[0], "error: "+err.Error())
			return err
		}
		if err := env.record(ctx, "admin.add", pos[0], "ok"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Admin %s added. Add this TOTP secret to an authenticator app now; it is not shown again:\n  secret: %s\n  uri:    %s\n", en.Name, en.Secret, en.URI)
		return nil
	case "remove-admin":
		if err := env.record(ctx, "admin.remove", pos[0], "started"); err != nil {
			return err
		}
		err := creds.RemoveAdmin(ctx, pos[0])
		env.record(ctx, "admin.remove", pos[0], resultOf(err))
		return err
	case "create-key":
		sc, err := ParseScopes(*scopes)
		if err != nil {
			return err
		}
		if err := env.record(ctx, "key.create", "", "started"); err != nil {
			return err
		}
		k, err := creds.CreateKey(ctx, *label, sc, *ttl)
		if err != nil {
			env.record(ctx, "key.create", "", "error: "+err.Error())
			return err
		}
		if err := env.record(ctx, "key.create", k.ID, "ok"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "API key %s (scopes %s, expires %s). It is shown only now:\n%s\n", k.ID, joinScopes(k.Scopes), k.ExpiresAt.Format(time.RFC3339), k.Secret)
		return nil
	case "list-keys":
		ks, err := creds.Keys(ctx)
		if err != nil {
			return err
		}
		for _, k := range ks {
			state := "active"
			switch {
			case k.Revoked:
				state = "revoked"
			case !time.Now().Before(k.ExpiresAt):
				state = "expired"
			}
			fmt.Fprintf(stdout, "%s  %-7s  %-28s  expires %s  %s\n", k.ID, state, joinScopes(k.Scopes), k.ExpiresAt.Format(time.RFC3339), k.Label)
		}
		return env.record(ctx, "keys.list", "", "ok")
	case "revoke-key":
		if err := env.record(ctx, "key.revoke", pos[0], "started"); err != nil {
			return err
		}
		err := creds.RevokeKey(ctx, pos[0])
		env.record(ctx, "key.revoke", pos[0], resultOf(err))
		return err
	case "rotate-token-key":
		if err := env.record(ctx, "token_key.rotate", "", "started"); err != nil {
			return err
		}
		err := RotateTokenKey(*data)
		env.record(ctx, "token_key.rotate", "", resultOf(err))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "New token key written to %s; the old one is kept as %s.\nRestart the server to use it (tokens already issued stop working then). In a cluster, copy token.key to every node.\n",
			filepath.Join(*data, "token.key"), filepath.Join(*data, "token.key.previous"))
		return nil
	case "audit verify":
		rep, err := alog.Verify(ctx, heads...)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "audit log intact: %d entries, head %s\n", rep.Entries, rep.Head)
		return nil
	case "audit list":
		es, err := alog.List(ctx, *after, *limit)
		if err != nil {
			return err
		}
		for _, e := range es {
			fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Target, e.Source, e.Result)
		}
		return nil
	}
	return fmt.Errorf("admin: unknown command %q", name)
}

func resultOf(err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}

type headList []audit.Head

func (h *headList) String() string { return fmt.Sprint(*h) }
func (h *headList) Set(s string) error {
	v, err := audit.ParseHead(s)
	if err != nil {
		return err
	}
	*h = append(*h, v)
	return nil
}

// readLine reads one line (without its end) from r.
func readLine(r io.Reader) (string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 4096))
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", err
		}
		return "", io.ErrUnexpectedEOF
	}
	return strings.TrimRight(sc.Text(), "\r"), nil
}

// RotateTokenKey writes a fresh access-token signing key to dir/token.key
// (mode 0600), keeping the current one as token.key.previous. The server
// reads the key at start.
func RotateTokenKey(dir string) error {
	cur := filepath.Join(dir, "token.key")
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return fmt.Errorf("admin: rotate token key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".token.key.*")
	if err != nil {
		return fmt.Errorf("admin: rotate token key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("admin: rotate token key: %w", err)
	}
	if _, err := tmp.WriteString(hex.EncodeToString(k[:]) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("admin: rotate token key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("admin: rotate token key: %w", err)
	}
	if _, err := os.Stat(cur); err == nil {
		if err := os.Rename(cur, cur+".previous"); err != nil {
			return fmt.Errorf("admin: rotate token key: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), cur); err != nil {
		return fmt.Errorf("admin: rotate token key: %w", err)
	}
	return nil
}

func remoteCommand(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	def := os.Getenv("CONCLAVE_ADMIN_URL")
	if def == "" {
		def = "http://127.0.0.1:8081"
	}
	server := fset.String("server", def, "admin API base URL")
	if err := fset.Parse(args); err != nil {
		return err
	}
	pos := fset.Args()
	want := map[string]int{"login": 1, "meetings": 0, "end": 1, "remove": 2, "nodes": 0, "drain": 1, "undrain": 1}[name]
	if len(pos) != want {
		return fmt.Errorf("admin %s: want %d argument(s), got %d (flags go first)", name, want, len(pos))
	}
	base, err := url.Parse(*server)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("admin: --server %q must be an http(s) URL", *server)
	}
	cl := &client{base: strings.TrimRight(base.String(), "/"), token: os.Getenv("CONCLAVE_ADMIN_TOKEN"), http: &http.Client{Timeout: 30 * time.Second}}
	var (
		method = http.MethodGet
		path   string
		body   any
	)
	esc := url.PathEscape
	switch name {
	case "login":
		sc := bufio.NewScanner(io.LimitReader(stdin, 8192))
		var lines []string
		for len(lines) < 2 && sc.Scan() {
			lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
		}
		if len(lines) != 2 {
			return errors.New("admin login: want the password and the TOTP code on stdin, one per line")
		}
		method, path, body = http.MethodPost, "/admin/v1/login", loginRequest{Name: pos[0], Password: lines[0], Code: lines[1]}
	case "meetings":
		path = "/admin/v1/meetings"
	case "nodes":
		path = "/admin/v1/nodes"
	case "end":
		method, path = http.MethodPost, "/admin/v1/meetings/"+esc(pos[0])+"/end"
	case "remove":
		method, path = http.MethodPost, "/admin/v1/meetings/"+esc(pos[0])+"/participants/"+esc(pos[1])+"/remove"
	case "drain", "undrain":
		method, path = http.MethodPost, "/admin/v1/nodes/"+esc(pos[0])+"/"+name
	}
	out, err := cl.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if name == "login" {
		var lr loginResponse
		if err := json.Unmarshal(out, &lr); err != nil {
			return fmt.Errorf("admin login: %w", err)
		}
		fmt.Fprintf(stdout, "export CONCLAVE_ADMIN_TOKEN=%s   # valid until %s\n", lr.Token, lr.ExpiresAt.Format(time.RFC3339))
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Write(out)
	}
	_, err = stdout.Write(pretty.Bytes())
	return err
}

type client struct {
	base, token string
	http        *http.Client
}

// maxResponse bounds what the CLI reads from the admin API.
const maxResponse = 8 << 20

func (c *client) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("admin: %s: %s", resp.Status, e.Error)
		}
		return nil, fmt.Errorf("admin: %s", resp.Status)
	}
	return b, nil
}
