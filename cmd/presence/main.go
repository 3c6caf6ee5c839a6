// Command presence is the Presence face liveness and verification service:
// `presence serve` runs the API, `presence check` judges photos from the
// command line; `presence help` lists every subcommand.
package main

import (
	"os"

	"presence/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
