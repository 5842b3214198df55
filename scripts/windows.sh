#!/usr/bin/env bash
# The Windows build, made on Debian/Ubuntu (no Windows machine needed):
#
#   scripts/windows.sh build   installs what it needs from Debian, cross-builds
#                              dist/windows/audiomi.exe for x86_64-pc-windows-gnu and builds
#                              dist/windows/audiomi-VERSION.msi from it with wixl
#   scripts/windows.sh test    the Wine tests (scripts/wine-tests.sh): the .exe against the Linux build,
#                              the .msi installed and removed, all in a private Wine prefix
#
# How: Debian's rustc-web/cargo-web 1.96 (/usr/bin/cargo) ship no Windows standard library, so
# the standard library is built from rust-web-src's source (-Zbuild-std, which RUSTC_BOOTSTRAP=1
# allows on a stable compiler); mingw-w64's gcc links, statically (libgcc, libwinpthread), so the
# .exe imports only DLLs that Windows ships (checked after the build with objdump -p; the build
# fails on any other). libopus, built by CMake, leaves out the stack protector, whose runtime
# would be libssp-0.dll (packaging/windows/mingw-toolchain.cmake).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-pc-windows-gnu
OUT=dist/windows
# Its own target dir: another compiler than rustup's, whose artefacts must not mix with them.
# Set for the Windows build only: `test` builds the Linux binary into the usual target/.
WINDOWS_TARGET_DIR="${AUDIOMI_WINDOWS_TARGET_DIR:-target/windows}"

install() {
  # Debian's compiler with the standard library's source; mingw-w64 to link; Wine to run it;
  # wixl and msitools to build and read the .msi.
  scripts/install-packages.sh rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 \
    binutils-mingw-w64-x86-64 wine wine64 msitools wixl
}

version() {
  grep -m1 '^version' Cargo.toml | sed 's/.*"\(.*\)".*/\1/'
}

# DLLs the .exe imports that are not part of Windows.
foreign_imports() {
  x86_64-w64-mingw32-objdump -p "$1" | awk '/DLL Name:/ { print tolower($3) }' | sort -u |
    grep -viE '^(kernel32|combase|rpcrt4|user32|gdi32|advapi32|shell32|ole32|oleaut32|comdlg32|comctl32|ws2_32|bcrypt|bcryptprimitives|ntdll|userenv|crypt32|secur32|ncrypt|iphlpapi|dwmapi|imm32|uxtheme|winmm|version|opengl32|dxgi|d3d11|d3d12|dcomp|propsys|shlwapi|setupapi|powrprof|avrt|mmdevapi|dbghelp|api-ms-win-[a-z0-9-]+|msvcrt|ucrtbase|winspool|cfgmgr32|hid|dinput8|xinput1_4|uiautomationcore|windows\.networking|msimg32|usp10|wtsapi32|oleacc|mfplat|ksuser|synchronization)\.dll$' || true
}

build() {
  install
  local started=$SECONDS
  # /usr/bin first: Debian's cargo and rustc, not rustup's (which has no std source here).
  PATH="/usr/bin:$PATH" \
  CARGO_TARGET_DIR="$WINDOWS_TARGET_DIR" \
  RUSTC=/usr/bin/rustc \
  RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-C target-feature=+crt-static -C link-arg=-static -C link-arg=-static-libgcc" \
  CARGO_PROFILE_WINDOWS_BUILD_OVERRIDE_OPT_LEVEL=0 \
  CMAKE_TOOLCHAIN_FILE_x86_64_pc_windows_gnu="$(pwd)/packaging/windows/mingw-toolchain.cmake" \
    /usr/bin/cargo build --locked --profile windows -Zbuild-std=std,panic_abort \
      --target "$TARGET" -p audiomi --bin audiomi
  mkdir -p "$OUT"
  cp "$WINDOWS_TARGET_DIR/$TARGET/windows/audiomi.exe" "$OUT/audiomi.exe"
  local foreign
  foreign=$(foreign_imports "$OUT/audiomi.exe")
  if [ -n "$foreign" ]; then
    echo "windows: audiomi.exe imports DLLs Windows does not ship: $foreign" >&2
    exit 1
  fi
  msi
  echo "windows: built in $((SECONDS - started)) s: $(stat -c %s "$OUT/audiomi.exe") bytes exe, imports:" \
    "$(x86_64-w64-mingw32-objdump -p "$OUT/audiomi.exe" | awk '/DLL Name:/ { print tolower($3) }' | sort -u | tr '\n' ' ')"
}

msi() {
  local v
  v=$(version)
  wixl -a x64 -D "Version=$v" -D "CargoTargetBinDir=$OUT" \
    -o "$OUT/audiomi-$v.msi" packaging/windows/main.wxs 2> >(grep -v "GLib-GObject-WARNING" >&2)
  ls -l "$OUT/audiomi-$v.msi"
}

case "${1:-build}" in
  build) build ;;
  msi) msi ;;
  test) exec scripts/wine-tests.sh ;;
  screenshots) exec scripts/wine-screenshots.sh "${2:-docs/images}" ;;
  imports) foreign_imports "${2:-$OUT/audiomi.exe}" ;;
  *) echo "usage: $0 build|msi|test|screenshots [dir]|imports [exe]" >&2; exit 2 ;;
esac
