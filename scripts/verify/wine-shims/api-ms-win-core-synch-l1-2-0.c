/* Test-only (the Wine run of scripts/verify-packages.js): the api-ms-win-core-synch-l1-2-0 set
   Rust's std imports, which Wine 8.0 has in kernelbase.dll but not under this name. Never packaged. */
#include <windows.h>

typedef BOOL(WINAPI *WaitFn)(volatile VOID *, PVOID, SIZE_T, DWORD);
typedef VOID(WINAPI *WakeFn)(PVOID);

static FARPROC kernelbase(const char *name) {
  HMODULE m = GetModuleHandleA("kernelbase.dll");
  return GetProcAddress(m ? m : LoadLibraryA("kernelbase.dll"), name);
}

__declspec(dllexport) BOOL WINAPI WaitOnAddress(volatile VOID *addr, PVOID cmp, SIZE_T size, DWORD ms) {
  static WaitFn f;
  if (!f) f = (WaitFn)kernelbase("WaitOnAddress");
  return f(addr, cmp, size, ms);
}

__declspec(dllexport) VOID WINAPI WakeByAddressAll(PVOID addr) {
  static WakeFn f;
  if (!f) f = (WakeFn)kernelbase("WakeByAddressAll");
  f(addr);
}

__declspec(dllexport) VOID WINAPI WakeByAddressSingle(PVOID addr) {
  static WakeFn f;
  if (!f) f = (WakeFn)kernelbase("WakeByAddressSingle");
  f(addr);
}
