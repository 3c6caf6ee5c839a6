package cli

import (
	"fmt"
	"io"

	"presence/seal"
)

func runTemplates(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "keygen" {
		fmt.Fprintln(stderr, "Usage: presence templates keygen   print a new random template key (base64, 32 bytes)")
		return usageError("templates needs keygen")
	}
	_, text, err := seal.NewKey()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, text)
	return nil
}
