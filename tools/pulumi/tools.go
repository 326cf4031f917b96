//go:build tools

// Package tools pins the Pulumi CLI that Stackwright builds.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
