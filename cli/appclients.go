package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"presence/webapp"
)

// runApp is `presence app clients add|list|remove` and `presence app keys
// rotate`: the face-login app's OpenID Provider, in its own database.
func runApp(args []string, stdout, stderr io.Writer) error {
	usage := "usage: presence app clients add --name NAME --redirect-uri URI [--redirect-uri URI] [--post-logout-uri URI] [--public]\n" +
		"       presence app clients list | clients remove ID | keys rotate"
	if len(args) < 2 {
		return usageError("%s", usage)
	}
	what := args[0] + " " + args[1]
	cfg := DefaultConfig()
	fs := newFlagSet("app "+what, "", stderr)
	cfg.bindFlags(fs)
	cfg.bindServerFlags(fs)
	name := fs.String("name", "", "clients add: the application's name, shown on the consent screen")
	var redirects, logouts []string
	fs.Func("redirect-uri", "clients add: a redirect URI (repeat for more); https, or http on loopback", func(v string) error {
		redirects = append(redirects, v)
		return nil
	})
	fs.Func("post-logout-uri", "clients add: where a logout may return (repeat for more)", func(v string) error {
		logouts = append(logouts, v)
		return nil
	})
	public := fs.Bool("public", false, "clients add: no secret (a browser or mobile app): PKCE alone")
	if err := cfg.load(fs, args[2:], os.Getenv); err != nil {
		return usageError("%v", err)
	}
	ctx := context.Background()
	store, err := openAppStore(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	switch what {
	case "clients add":
		c, err := webapp.RegisterClient(ctx, store, *name, redirects, logouts, *public, time.Now())
		if err != nil {
			return err
		}
		out, _ := json.MarshalIndent(c, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
		if c.Secret != "" {
			fmt.Fprintln(stderr, "Keep the client secret: it is not shown again.")
		}
	case "clients list":
		list, err := store.ListClients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tREDIRECT URIS")
		for _, c := range list {
			kind := "confidential"
			if c.SecretHash == nil {
				kind = "public"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, strings.Join(c.RedirectURIs, " "))
		}
		return tw.Flush()
	case "clients remove":
		if fs.NArg() != 1 {
			return usageError("app clients remove ID")
		}
		if err := store.DeleteClient(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s and its codes, tokens and consents\n", fs.Arg(0))
	case "keys rotate":
		id, err := webapp.RotateSigningKey(ctx, store, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s; the others stay published for a day\n", id)
	default:
		return usageError("%s", usage)
	}
	return nil
}
