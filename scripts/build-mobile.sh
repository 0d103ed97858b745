#!/usr/bin/env bash
# Usage: scripts/build-mobile.sh [--force]
# Build the collectors' field app (mobile/) into build/mobile/, which the server serves at
# /app/: esbuild bundles mobile/src/app.js and mobile/src/sw.js (minified), copies the page,
# the stylesheet, the manifest and the icons, and stamps one version (a hash of every output)
# into the service worker and the page, so a phone swaps the whole shell at once.
# Skips when build/mobile is newer than mobile/ and the node packages. Needs scripts/ensure-node.sh.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MINQING_ROOT"

out=build/mobile
stamp="$out/.built"
esbuild=node_modules/.bin/esbuild
[[ -x "$esbuild" ]] || die "$esbuild missing: run scripts/ensure-node.sh (npm ci)"

if [[ "${1:-}" != "--force" && -f "$stamp" && "$stamp" -nt package-lock.json ]] \
  && [[ -z "$(find mobile scripts/build-mobile.sh -newer "$stamp" -print -quit)" ]]; then
  say "field app up to date in $out (skip)"
  exit 0
fi

say "building the field app: esbuild mobile/src -> $out"
tmp="$(mktemp -d)"
chmod 755 "$tmp"
add_cleanup "rm -rf '$tmp'"
"$esbuild" mobile/src/app.js --bundle --minify --format=iife --platform=browser \
  --target=es2019 --legal-comments=none --log-level=warning --outfile="$tmp/app.js"
cp mobile/app.css mobile/manifest.webmanifest "$tmp/"
mkdir -p "$tmp/icons"
cp mobile/icons/* "$tmp/icons/"
# One version for the whole shell: the hash of every file the service worker caches.
version="$(cat "$tmp/app.js" "$tmp/app.css" "$tmp/manifest.webmanifest" mobile/index.html \
  mobile/src/sw.js "$tmp"/icons/* | sha256sum | cut -c1-12)"
sed "s/__VERSION__/$version/g" mobile/index.html >"$tmp/index.html"
"$esbuild" mobile/src/sw.js --bundle --minify --format=iife --platform=browser \
  --target=es2019 --legal-comments=none --log-level=warning \
  --define:__VERSION__="\"$version\"" --outfile="$tmp/sw.js"
printf '{"version":"%s"}\n' "$version" >"$tmp/version.json"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
touch "$stamp"
say "field app $version: $(du -cb "$out"/app.js "$out"/app.css "$out"/index.html | tail -1 | cut -f1) bytes of shell"
