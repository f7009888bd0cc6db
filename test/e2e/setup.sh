#!/usr/bin/env bash
# Prepares a machine for the end-to-end editor tests (test/e2e/*.test.ts). Idempotent: every step
# checks whether it is already done, so a second run takes a few seconds.
#   1. Debian packages: neovim, chromium, libkrb5-dev (code-server's kerberos addon), ripgrep, bubblewrap,
#      bsdutils (`script`, for tests of terminal prompts; present on Debian already)
#   2. code-server 4.100.3 (VS Code 1.100.3 on Node 20) into test/e2e/.tools/code-server
#   3. @vscode/vsce 3.9.2 into test/e2e/.tools/vsce, then the .vsix of extensions/vscode
# Run as root on CI (apt-get); as a normal user the apt step is skipped when the tools are present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$ROOT/test/e2e/.tools"
CODE_SERVER_VERSION=4.100.3
VSCE_VERSION=3.9.2
mkdir -p "$TOOLS"

log() { printf '[e2e setup] %s\n' "$*"; }

# 1. Debian packages --------------------------------------------------------------------------
missing=()
command -v nvim >/dev/null 2>&1 || missing+=(neovim)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v script >/dev/null 2>&1 || missing+=(bsdutils) # util-linux `script`: terminal prompts are tested on a real pty
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "[e2e setup] missing Debian packages: ${missing[*]}; run this script as root (it uses apt-get)" >&2
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# 2. code-server ------------------------------------------------------------------------------
CS_DIR="$TOOLS/code-server"
CS_BIN="$CS_DIR/node_modules/.bin/code-server"
installed_version() { node -p "require('$1/package.json').version" 2>/dev/null || true; }
if [ -x "$CS_BIN" ] && [ "$(installed_version "$CS_DIR/node_modules/code-server")" = "$CODE_SERVER_VERSION" ]; then
  log "code-server $CODE_SERVER_VERSION present"
else
  log "installing code-server $CODE_SERVER_VERSION (about 70 s)"
  # Its postinstall downloads ripgrep from GitHub, which is unreachable here: pre-seed the cache
  # it looks in with Debian's rg, packed the way the download would be.
  tmp="${TMPDIR:-/tmp}"
  cache="$tmp/vscode-ripgrep-cache-1.15.11"
  tarball="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
  if [ ! -s "$tarball" ]; then
    mkdir -p "$cache"
    stage="$(mktemp -d)"
    cp "$(command -v rg)" "$stage/rg"
    tar -czf "$tarball" -C "$stage" rg
    rm -rf "$stage"
  fi
  mkdir -p "$CS_DIR"
  [ -f "$CS_DIR/package.json" ] || printf '{ "name": "hearth-e2e-code-server", "private": true }\n' > "$CS_DIR/package.json"
  # code-server's argon2 compiles against Node's headers; with an empty HOME there is no npm
  # config naming them and node-gyp tries to download them (blocked here). Debian's nodejs puts
  # them under /usr/include/node.
  nodedir="${npm_config_nodedir:-}"
  if [ -z "$nodedir" ] && [ -f /usr/include/node/node_version.h ]; then nodedir=/usr; fi
  (cd "$CS_DIR" && env npm_config_yes=true npm_config_unsafe_perm=true ${nodedir:+"npm_config_nodedir=$nodedir"} \
    npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" >/dev/null)
  log "code-server $(installed_version "$CS_DIR/node_modules/code-server") installed"
fi

# 3. vsce and the .vsix -----------------------------------------------------------------------
VSCE_DIR="$TOOLS/vsce"
VSCE_BIN="$VSCE_DIR/node_modules/.bin/vsce"
if [ -x "$VSCE_BIN" ] && [ "$(installed_version "$VSCE_DIR/node_modules/@vscode/vsce")" = "$VSCE_VERSION" ]; then
  log "vsce $VSCE_VERSION present"
else
  log "installing @vscode/vsce $VSCE_VERSION"
  mkdir -p "$VSCE_DIR"
  [ -f "$VSCE_DIR/package.json" ] || printf '{ "name": "hearth-e2e-vsce", "private": true }\n' > "$VSCE_DIR/package.json"
  (cd "$VSCE_DIR" && npm install --no-audit --no-fund --loglevel=error "@vscode/vsce@$VSCE_VERSION" >/dev/null)
fi

# The root build (dist/hearth.mjs) is packed into the extension, so build it first.
if [ ! -f "$ROOT/node_modules/.package-lock.json" ]; then
  echo "[e2e setup] $ROOT/node_modules is missing; run npm install in $ROOT first" >&2
  exit 1
fi
(cd "$ROOT" && node esbuild.config.mjs)
VSCE="$VSCE_BIN" node "$ROOT/extensions/vscode/package.mjs"
log "done"
