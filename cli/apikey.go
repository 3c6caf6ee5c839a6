package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"presence"
	"presence/session"
)

func runAPIKey(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke" && args[0] != "policy") {
		fmt.Fprintln(stderr, "Usage: presence apikey create --name NAME [--frames stream|any] [--refuse-virtual-cameras] [--quiet]")
		fmt.Fprintln(stderr, "                                                     make a key (shown once; only its hash is stored)")
		fmt.Fprintln(stderr, "       presence apikey list                          list keys and their capture policies")
		fmt.Fprintln(stderr, "       presence apikey policy ID [--frames stream|any] [--refuse-virtual-cameras=true|false]")
		fmt.Fprintln(stderr, "                                                     change a key's capture policy (new sessions only)")
		fmt.Fprintln(stderr, "       presence apikey revoke ID                     revoke a key")
		return usageError("apikey needs create, list, policy or revoke")
	}
	sub := args[0]
	cfg := DefaultConfig()
	fs := newFlagSet("apikey "+sub, "[--db DSN]", stderr)
	fs.String("config", "", "JSON configuration file (env PRESENCE_CONFIG)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite file or postgres:// URL (env PRESENCE_DB)")
	name := fs.String("name", "", "create: what the key is for")
	quiet := fs.Bool("quiet", false, "create: print only the key")
	frames := fs.String("frames", "", `create, policy: how frames may arrive: "stream" (the capture SDK's stream only) or "any" (passive checks may upload too; the default)`)
	refuseVirtual := fs.Bool("refuse-virtual-cameras", false, "create, policy: end streams from devices reporting a known virtual camera as fake (injection_suspected)")
	var retain presence.Retention
	fs.DurationVar(&retain.Sessions, "retain-sessions", 0, "create, policy: keep this key's sessions this long after they end (at most the server's --retention; 0 = the server's)")
	fs.DurationVar(&retain.AuditImages, "retain-images", 0, "create, policy: keep their audit images this long (at most the server's --retention; 0 = as long as the session)")
	fs.DurationVar(&retain.Fingerprints, "retain-fingerprints", 0, "create, policy: keep their replay fingerprints this long (at most the server's --fingerprint-retention; 0 = the server's)")
	noticeFile := fs.String("notice", "", `create, policy: JSON file with the notice shown before the camera opens ({"version","policy_url","texts":{"en":{"controller","purpose","kept"}}}); "none" removes it`)
	if err := cfg.load(fs, args[1:], os.Getenv); err != nil {
		return usageError("%v", err)
	}
	ctx := context.Background()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := session.New(session.Config{Store: store, Retention: time.Duration(cfg.Retention), FingerprintRetention: fingerprintRetention(cfg)})
	switch sub {
	case "create":
		if *name == "" {
			return usageError("apikey create needs --name")
		}
		notice, err := readNotice(*noticeFile)
		if err != nil {
			return err
		}
		text, k, err := svc.CreateAPIKeyWithPolicy(ctx, *name, presence.KeyPolicy{Capture: presence.CapturePolicy{Frames: *frames, RefuseVirtualCameras: *refuseVirtual}, Notice: notice, Retention: retain})
		if err != nil {
			return err
		}
		if *quiet {
			fmt.Fprintln(stdout, text)
			return nil
		}
		fmt.Fprintf(stdout, "API key %s (%s) created. Store it now; it is not shown again:\n\n%s\n\n", k.ID, k.Name, text)
		fmt.Fprintln(stdout, "Send it as:  Authorization: Bearer <key>")
	case "list":
		keys, err := store.ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED\tREVOKED\tCAPTURE")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.Format(time.RFC3339), stamp(k.LastUsedAt), stamp(k.RevokedAt), describeCapture(k.Policy.Capture))
		}
		tw.Flush()
	case "policy":
		if fs.NArg() != 1 {
			return usageError("apikey policy needs the key ID (see `presence apikey list`)")
		}
		k, err := store.APIKey(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		var noticeErr error
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "frames":
				k.Policy.Capture.Frames = *frames
			case "refuse-virtual-cameras":
				k.Policy.Capture.RefuseVirtualCameras = *refuseVirtual
			case "notice":
				k.Policy.Notice, noticeErr = readNotice(*noticeFile)
			case "retain-sessions":
				k.Policy.Retention.Sessions = retain.Sessions
			case "retain-images":
				k.Policy.Retention.AuditImages = retain.AuditImages
			case "retain-fingerprints":
				k.Policy.Retention.Fingerprints = retain.Fingerprints
			}
		})
		if noticeErr != nil {
			return noticeErr
		}
		if err := k.Policy.Notice.Validate(); err != nil {
			return usageError("%s", presence.ErrorMessage(err))
		}
		if err := k.Policy.Retention.Within(time.Duration(cfg.Retention), time.Duration(cfg.FingerprintRetention)); err != nil {
			return usageError("%s", presence.ErrorMessage(err))
		}
		if err := k.Policy.Capture.Validate(); err != nil {
			return usageError("%s", presence.ErrorMessage(err))
		}
		if err := store.SetAPIKeyPolicy(ctx, k.ID, k.Policy); err != nil {
			return err
		}
		notice := "no notice"
		if k.Policy.Notice != nil {
			notice = "notice " + k.Policy.Notice.Version
		}
		fmt.Fprintf(stdout, "API key %s: %s, %s (sessions created from now on)\n", k.ID, describeCapture(k.Policy.Capture), notice)
	case "revoke":
		if fs.NArg() != 1 {
			return usageError("apikey revoke needs the key ID (see `presence apikey list`)")
		}
		if err := store.RevokeAPIKey(ctx, fs.Arg(0), time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "API key %s revoked\n", fs.Arg(0))
	}
	return nil
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// readNotice reads a notice from a JSON file; "" or "none" is no notice.
func readNotice(file string) (*presence.Notice, error) {
	if file == "" || file == "none" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var n presence.Notice
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return nil, usageError("--notice %s: %v", file, err)
	}
	if err := n.Validate(); err != nil {
		return nil, usageError("--notice %s: %s", file, presence.ErrorMessage(err))
	}
	return &n, nil
}

// describeCapture says a capture policy in a few words.
func describeCapture(p presence.CapturePolicy) string {
	out := "stream or upload"
	if !p.UploadsAllowed() {
		out = "stream only"
	}
	if p.RefuseVirtualCameras {
		out += ", no virtual cameras"
	}
	return out
}
