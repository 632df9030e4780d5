/* Test-only (the Wine run of scripts/verify-packages.js): the three functions zig's UCRT import
   library takes from api-ms-win-crt-private-l1-1-0.dll, which Wine 8.0 does not have. Built
   with -fno-builtin so these are the loops below, not calls to themselves. Never packaged. */
#include <stddef.h>

__declspec(dllexport) void *memchr(const void *s, int c, size_t n) {
  const unsigned char *p = s;
  for (; n; n--, p++)
    if (*p == (unsigned char)c) return (void *)p;
  return NULL;
}

__declspec(dllexport) char *strchr(const char *s, int c) {
  for (;; s++) {
    if (*s == (char)c) return (char *)s;
    if (!*s) return NULL;
  }
}

__declspec(dllexport) char *strrchr(const char *s, int c) {
  const char *last = NULL;
  for (;; s++) {
    if (*s == (char)c) last = s;
    if (!*s) return (char *)last;
  }
}
