#ifndef TIMELINE_CRC32C_H
#define TIMELINE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Non-zero when `timeline_crc32c` runs on the CPU's CRC-32C instructions: SSE4.2 `crc32` on
/// x86-64 (checked at run time), the ARMv8 CRC32 extension on aarch64. Zero elsewhere.
int timeline_crc32c_hardware(void);

/// The CRC-32C (Castagnoli) of `length` bytes at `data`, continuing from `crc`, the CRC of the
/// bytes before them (0 to start). Same convention as the Swift `CRC32C.checksum(_:seed:)`:
/// `timeline_crc32c(timeline_crc32c(0, a, n), b, m)` is the CRC of `a` followed by `b`.
/// `data` may be NULL when `length` is 0. Without the hardware path it falls back to a bit at a
/// time: correct but slow, so callers check `timeline_crc32c_hardware()` first.
uint32_t timeline_crc32c(uint32_t crc, const void *data, size_t length);

#ifdef __cplusplus
}
#endif

#endif
