/* Test-only (the Wine run of scripts/verify-packages.js): Windows 10+ has bcryptprimitives.dll's
   ProcessPrng, where Rust's std draws its randomness; Debian 12's Wine 8.0 does not. This one
   answers from RtlGenRandom (advapi32's SystemFunction036), which Wine has. Never packaged. */
#include <windows.h>

typedef BOOLEAN(WINAPI *GenRandom)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  static GenRandom gen;
  if (!gen) gen = (GenRandom)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
  while (len > 0) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!gen || !gen(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
