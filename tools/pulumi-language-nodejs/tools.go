//go:build tools

// Package tools pins the Node.js language host. Its own module
// (sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served by the module
// proxy, so it is built from the last sdk/v3 release that still contained it.
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
