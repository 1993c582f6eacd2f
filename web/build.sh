#!/usr/bin/env bash
# Builds rfy's web UI into web/dist/app.js (committed; the JobManager embeds it
# with index.html at compile time, so building rfy needs no npm). Run after
# changing web/src: exact versions from package-lock.json, then esbuild.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund
npm run build
