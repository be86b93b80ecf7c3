// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// notls: a Go program without crypto/tls, for go_cases.py's near miss
// (a Go binary spanprobe must recognise as Go and leave alone).
package main

import "fmt"

func main() {
	fmt.Println("no tls here")
}
