/* A stand-in bcryptprimitives.dll for Wine 8 test prefixes only (never shipped).
 * Rust's std (1.78+) gets its random bytes on Windows from ProcessPrng in bcryptprimitives.dll,
 * which every Windows 10+ has but Wine 8 lacks: without it a Rust program exits at once with
 * STATUS_DLL_NOT_FOUND (c0000135). This forwards to RtlGenRandom (advapi32's SystemFunction036),
 * the system CSPRNG Wine does implement. Built by installer/windows/wine/prefix.sh:
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>
#include <ntsecapi.h>

/* ProcessPrng takes any length (SIZE_T) and always succeeds on Windows; RtlGenRandom takes a
 * ULONG, so a longer request is filled in chunks. A failure returns FALSE rather than leaving
 * the buffer unfilled unnoticed. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
