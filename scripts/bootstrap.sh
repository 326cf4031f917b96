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

# Deployments run in a sandbox (bubblewrap, slirp4netns; setpriv and unshare come with util-linux).
if [ "${STACKWRIGHT_SANDBOX:-on}" != off ] && ! { command -v bwrap && command -v slirp4netns; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "stackwright: installing bubblewrap and slirp4netns for the deployment sandbox…" >&2
    (apt-get update -qq && apt-get install -y -qq bubblewrap slirp4netns) >/dev/null 2>&1 || echo "stackwright: could not install bubblewrap and slirp4netns" >&2
  else
    echo "stackwright: the deployment sandbox needs bubblewrap and slirp4netns (apt-get install bubblewrap slirp4netns)" >&2
  fi
fi

exec node scripts/tools.mjs
