package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"presence"
)

func runModels(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "reload" || args[0] == "rollback" || args[0] == "history") {
		return runModelChange(args[0], args[1:], stdout, stderr)
	}
	cfg := DefaultConfig()
	fs := newFlagSet("models", "[--json] | reload [--manifest FILE] | rollback | history", stderr)
	cfg.bindFlags(fs)
	asJSON := fs.Bool("json", false, "print the manifest as JSON")
	if err := cfg.load(fs, args, os.Getenv); err != nil {
		return err
	}
	m, err := cfg.LoadManifest()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	printModels(stdout, m)
	return nil
}

func printModels(w io.Writer, m *presence.Manifest) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSHA256\tVERSION\tLICENCE")
	fmt.Fprintf(tw, "onnxruntime\truntime\t%s\t%s\t%s\n", m.Runtime.SHA256[:16], m.Runtime.Version, m.Runtime.License)
	for _, s := range m.Models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Role, s.SHA256[:16], s.Version, s.License)
	}
	tw.Flush()
	_, which := jpegDecoder()
	fmt.Fprintf(w, "\nJPEG decoder: %s\n", which)
}
