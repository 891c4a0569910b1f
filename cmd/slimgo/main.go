// Command slimgo trains, prunes and quantizes convolutional networks stored
// as ONNX. See README.md and docs/ for the commands.
package main

import (
	"os"

	"github.com/slimgo/slimgo/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
