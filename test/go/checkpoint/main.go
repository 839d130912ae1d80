// Command checkpoint verifies a regate audit checkpoint with golang.org/x/mod/sumdb/note, an
// implementation of C2SP signed notes independent of regate: it proves regate's checkpoints are
// what standard transparency tooling reads.
//
// Usage: checkpoint VERIFIER-KEY CHECKPOINT-FILE
//
// It prints "OK <origin> <tree size> <root hash>" and exits 0 when the note's signature by the key
// verifies and its text is a tlog-checkpoint (origin, decimal size, base64 32-byte root); otherwise
// it prints the reason and exits 1.
package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	if len(os.Args) != 3 {
		fail("usage: checkpoint VERIFIER-KEY CHECKPOINT-FILE")
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(os.Args[1]))
	if err != nil {
		fail("verifier key: " + err.Error())
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail(err.Error())
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("note: " + err.Error())
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		fail("checkpoint: fewer than 3 lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		fail("checkpoint: bad tree size " + lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		fail("checkpoint: bad root hash " + lines[2])
	}
	fmt.Printf("OK %s %d %s\n", lines[0], size, lines[2])
}

func fail(why string) {
	fmt.Fprintln(os.Stderr, why)
	os.Exit(1)
}
