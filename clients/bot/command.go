package bot

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"conclave/e2ee/session"
)

// ParseQuality parses "low", "medium" or "high".
func ParseQuality(s string) (Layer, error) {
	switch strings.ToLower(s) {
	case "low", "q":
		return LayerLow, nil
	case "medium", "h":
		return LayerMedium, nil
	case "high", "f", "":
		return LayerHigh, nil
	}
	return 0, fmt.Errorf("bot: quality %q: want low, medium or high", s)
}

// parsePublish parses "audio,video", "audio", "video" or "none".
func parsePublish(s string) (audio, video bool, err error) {
	if s == "none" {
		return false, false, nil
	}
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimSpace(p) {
		case "audio":
			audio = true
		case "video":
			video = true
		default:
			return false, false, fmt.Errorf("bot: publish %q: want audio,video, audio, video or none", s)
		}
	}
	return audio, video, nil
}

// Command implements `conclave bot`: it joins a meeting, publishes and
// receives for --duration, leaves, and prints its report (one JSON object
// with --json). The lead's main.go calls it with the arguments after "bot".
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	link := fs.String("link", "", "meeting link http://HOST:PORT/m/<room>#<secret> (a fragment ending in ~nophones forbids phones if this bot creates the group)")
	url := fs.String("url", "", "signal server URL ws://HOST:PORT, with --token, instead of --link (e.g. a LiveKit server)")
	token := fs.String("token", "", "access token for --url")
	secret := fs.String("secret", "", "with --url: base64url link secret, the admission proof's key")
	room := fs.String("room", "", "with --url and --secret: the link's room ID")
	knock := fs.Bool("secret-less", false, "join without the link secret: wait in the lobby until a member admits the bot")
	admitAll := fs.Bool("admit-all", false, "admit every joiner waiting in the lobby")
	forbidPhones := fs.Bool("forbid-phones", false, "if this bot creates the meeting's group, forbid phone gateways in it")
	phone := fs.String("phone-gateway", "", "knock with --link as a phone gateway member carrying this phone (e.g. \"+15550100 via gw-1\"): its credential's kind is phone, it never uses the link secret, and it leaves a meeting that forbids phones")
	chat := fs.String("chat", "", "send this end-to-end encrypted chat message once joined")
	name := fs.String("name", "bot", "display name")
	duration := fs.Duration("duration", 20*time.Second, "how long to stay (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	quality := fs.String("quality", "high", "video layer to receive: low, medium or high")
	publish := fs.String("publish", "audio,video", "what to publish: audio,video, audio, video or none")
	logLevel := fs.String("log-level", "warn", "log level on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bot: unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("bot: --log-level: %w", err)
	}
	q, err := ParseQuality(*quality)
	if err != nil {
		return err
	}
	audio, video, err := parsePublish(*publish)
	if err != nil {
		return err
	}
	cfg := Config{
		Name:    *name,
		NoAudio: !audio,
		NoVideo: !video,
		Quality: &q,
		Logger:  slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		E2EE:    E2EEOptions{Knock: *knock, AdmitAll: *admitAll, ForbidPhones: *forbidPhones, WaitJoined: *chat != ""},
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var b *Bot
	switch {
	case *phone != "" && *link != "" && *url == "":
		l, perr := ParseLink(*link)
		if perr != nil {
			return perr
		}
		cfg.Member = MemberIdentity{Kind: session.KindPhone, Detail: *phone}
		b, err = JoinRoom(ctx, l.Base, l.RoomID, cfg)
	case *phone != "":
		return errors.New("bot: --phone-gateway needs --link")
	case *link != "" && *url == "":
		b, err = Join(ctx, *link, cfg)
	case *link == "" && *url != "" && *token != "":
		if *room == "" || (*secret == "" && !*knock) {
			return errors.New("bot: --url needs --room and --secret (or --secret-less) to join the MLS group")
		}
		var sec []byte
		if !*knock {
			if sec, err = decodeSecret(*secret); err != nil {
				return err
			}
		}
		l := Link{RoomID: *room, Secret: sec}
		creds := Credentials{URL: *url, Token: *token, Identity: tokenIdentity(*token)}
		b, err = joinE2EE(ctx, l, creds, cfg, time.Now())
	default:
		return errors.New("bot: give either --link, or --url with --token")
	}
	if err != nil {
		return err
	}
	if *chat != "" {
		if e := b.E2EE(); e != nil {
			if err := e.SendChat(*chat); err != nil {
				b.Close()
				return err
			}
		}
	}

	var timeout <-chan time.Time
	if *duration > 0 {
		t := time.NewTimer(*duration)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-ctx.Done():
	case <-b.Done():
	}
	b.Leave()
	rep := b.Report()
	var chats []ChatMessage
	if e := b.E2EE(); e != nil {
		chats = e.Chats()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(struct {
			Report
			Chat []ChatMessage `json:"chat"`
		}{rep, chats}); err != nil {
			return fmt.Errorf("bot: write report: %w", err)
		}
	} else {
		printReport(stdout, &rep)
		fmt.Fprintf(stdout, "epoch %s, security code %s\n", rep.Epoch, rep.SecurityCode)
		for _, c := range chats {
			fmt.Fprintf(stdout, "chat from %s (epoch %d): %q\n", c.From, c.Epoch, c.Text)
		}
	}
	return b.Err()
}

// tokenIdentity reads the identity ("sub") of an access token without
// verifying it: the bot only names itself with it; the server verifies.
func tokenIdentity(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(body, &c) != nil {
		return ""
	}
	return c.Sub
}

func decodeSecret(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != linkSecretLen {
		return nil, fmt.Errorf("%w: --secret is not a 128-bit base64url secret", ErrBadLink)
	}
	return b, nil
}

func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "identity %s: sent %d frames, received %d, decrypted %d, decrypt failures %d, lost %d\n",
		r.Identity, r.FramesSent, r.FramesReceived, r.FramesDecrypted, r.DecryptFailures, r.FramesLost)
	fmt.Fprintf(w, "participants seen %d, join-to-first-frame %.1f ms, latency p50 %.2f ms p99 %.2f ms, resumes %d\n",
		r.ParticipantsSeen, r.JoinToFirstFrameMS, r.LatencyP50MS, r.LatencyP99MS, r.Resumes)
	for _, t := range r.Tracks {
		fmt.Fprintf(w, "  %s %s from %s: %d frames, %d lost, layer %s\n",
			t.Kind, t.TrackSID, t.Participant, t.FramesDecrypted, t.FramesLost, t.Layer)
	}
}
