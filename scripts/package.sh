#!/usr/bin/env bash
# Builds installers into dist/ with the `packaging` cargo profile (LTO, one codegen unit, stripped).
#
#   scripts/package.sh deb        Debian/Ubuntu package (cargo-deb; installed if missing)
#   scripts/package.sh msi        Windows installer: on Windows cargo-wix + WiX Toolset; on Linux
#                                 scripts/windows.sh build (mingw-w64 cross-build, wixl)
#   scripts/package.sh dmg        macOS disk image with audioMi.app (hdiutil; macOS only)
#   scripts/package.sh msi-check  builds the WiX configuration with wixl (msitools) around a
#                                 placeholder exe: checks packaging/windows/main.wxs on Linux
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
mkdir -p dist

case "$kind" in
  deb)
    if ! cargo deb --version >/dev/null 2>&1; then
      cargo install cargo-deb --locked --version '^3'
    fi
    cargo deb -p audiomi --profile packaging --locked --output dist/
    ls -l dist/*.deb
    ;;
  msi)
    case "$(uname -s)" in
      MINGW* | MSYS* | CYGWIN* | Windows_NT) ;;
      *)
        # On Linux: cross-built with mingw-w64, the .msi made by wixl.
        exec scripts/windows.sh build
        ;;
    esac
    if ! cargo wix --version >/dev/null 2>&1; then
      cargo install cargo-wix --locked
    fi
    cargo build -p audiomi --profile packaging --locked
    cargo wix -p audiomi --profile packaging --no-build --include packaging/windows/main.wxs --output "dist/audiomi-$version-x86_64.msi"
    ls -l dist/*.msi
    ;;
  msi-check)
    command -v wixl >/dev/null || { echo "msi-check needs wixl (Debian package msitools/wixl)" >&2; exit 2; }
    mkdir -p target/wixcheck
    printf 'MZ placeholder for a configuration check' >target/wixcheck/audiomi.exe
    wixl -a x64 -D "Version=$version" -D CargoTargetBinDir=target/wixcheck \
      -o target/wixcheck/audiomi-check.msi packaging/windows/main.wxs 2> >(grep -v "GLib-GObject-WARNING" >&2)
    ls -l target/wixcheck/audiomi-check.msi
    ;;
  dmg)
    if [ "$(uname -s)" != "Darwin" ]; then
      echo "dmg: hdiutil and app bundles need macOS" >&2
      exit 2
    fi
    cargo build -p audiomi --profile packaging --locked
    app=target/packaging/audioMi.app
    rm -rf "$app"
    mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
    cp target/packaging/audiomi "$app/Contents/MacOS/audiomi"
    sed "s/<string>0.1.0<\/string>/<string>$version<\/string>/g" packaging/macos/Info.plist >"$app/Contents/Info.plist"
    cp assets/audiomi.icns "$app/Contents/Resources/audiomi.icns"
    hdiutil create -volname audioMi -srcfolder "$app" -ov -format UDZO "dist/audioMi-$version.dmg"
    ls -l dist/*.dmg
    ;;
  *)
    echo "usage: $0 deb|msi|dmg|msi-check" >&2
    exit 2
    ;;
esac
