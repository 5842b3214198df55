/*
 * Test-only stand-in for Windows' bcryptprimitives.dll, which Wine 8 lacks. Rust's standard
 * library (1.78 and later) takes its random bytes from ProcessPrng in that DLL; real Windows
 * (10 and later) ships it. Built by scripts/wine-tests.sh into the private Wine prefix's
 * system32 only: never shipped, never in the .msi.
 *
 * ProcessPrng(PBYTE, SIZE_T) -> BOOL, answered with RtlGenRandom (advapi32's SystemFunction036).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
