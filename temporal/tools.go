//go:build tools

// Package tools pins the Temporal server and its SQL schema tool that
// Stackwright builds for running on PostgreSQL (see README.md here).
package tools

import (
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
