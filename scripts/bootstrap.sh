#!/bin/sh
# Makes a fresh checkout runnable: installs node_modules when package-lock.json
# changed since the last `npm ci`, then ensures the native tools (Temporal,
# Pulumi) are in the cache. Silent when nothing needs doing.
set -eu
cd "$(dirname "$0")/.."

stamp=node_modules/.stackwright-lock.sha256
if command -v sha256sum >/dev/null 2>&1; then
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
else
  want=$(shasum -a 256 package-lock.json | cut -d' ' -f1) # macOS
fi
have=$(cat "$stamp" 2>/dev/null || true)

if [ ! -d node_modules ] || [ "$want" != "$have" ]; then
  echo "stackwright: package-lock.json changed or node_modules missing; running npm ci…" >&2
  npm ci --no-audit --no-fund >&2
  # Written only after npm ci succeeded, so a failed install is retried next time.
  echo "$want" >"$stamp"
fi

exec node scripts/tools.mjs
