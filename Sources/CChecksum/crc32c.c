#include "crc32c.h"

#include <string.h>

// CRC-32C with the CPU's instructions. Both instruction sets compute the reflected CRC with
// polynomial 0x1EDC6F41 and no inversion, so the ~ on entry and exit gives the standard CRC-32C
// and the convention of the Swift implementation (the seed is a finished CRC).
//
// One 8-byte step per instruction: the instruction has a latency of about three cycles, so this
// is several times faster than a table, and simple enough to check against it byte for byte.

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <nmmintrin.h>

#define TIMELINE_CRC32C_X86 1

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *bytes, size_t length) {
    uint64_t state = (uint32_t)~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof word);
        state = _mm_crc32_u64(state, word);
        bytes += 8;
        length -= 8;
    }
    uint32_t tail = (uint32_t)state;
    while (length > 0) {
        tail = _mm_crc32_u8(tail, *bytes);
        bytes += 1;
        length -= 1;
    }
    return ~tail;
}

#elif defined(__aarch64__) && (defined(__ARM_FEATURE_CRC32) || (defined(__clang__) && defined(__linux__)))

#include <arm_acle.h>

#define TIMELINE_CRC32C_ARM 1

#if defined(__ARM_FEATURE_CRC32)
// The target has the CRC32 extension (ARMv8.1 and later, every Apple CPU): no check needed.
#define TIMELINE_CRC32C_ARM_TARGET
static int crc32c_arm_supported(void) { return 1; }
#else
// Plain ARMv8.0 leaves the extension optional: compile the loop for it and ask the kernel.
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#define TIMELINE_CRC32C_ARM_TARGET __attribute__((target("crc")))
static int crc32c_arm_supported(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#endif

TIMELINE_CRC32C_ARM_TARGET
static uint32_t crc32c_armv8(uint32_t crc, const unsigned char *bytes, size_t length) {
    uint32_t state = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof word);
        state = __crc32cd(state, word);
        bytes += 8;
        length -= 8;
    }
    while (length > 0) {
        state = __crc32cb(state, *bytes);
        bytes += 1;
        length -= 1;
    }
    return ~state;
}

#endif

/// The definition, one bit at a time; only reached on a CPU without the instructions, where the
/// Swift caller uses its own tables instead.
static uint32_t crc32c_bitwise(uint32_t crc, const unsigned char *bytes, size_t length) {
    uint32_t state = ~crc;
    for (size_t index = 0; index < length; index++) {
        state ^= bytes[index];
        for (int bit = 0; bit < 8; bit++) {
            state = (state & 1) ? (state >> 1) ^ 0x82F63B78u : state >> 1;
        }
    }
    return ~state;
}

int timeline_crc32c_hardware(void) {
#if defined(TIMELINE_CRC32C_X86)
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
#elif defined(TIMELINE_CRC32C_ARM)
    return crc32c_arm_supported();
#else
    return 0;
#endif
}

uint32_t timeline_crc32c(uint32_t crc, const void *data, size_t length) {
    const unsigned char *bytes = data;
    if (length == 0) {
        return crc;
    }
#if defined(TIMELINE_CRC32C_X86)
    if (__builtin_cpu_supports("sse4.2")) {
        return crc32c_sse42(crc, bytes, length);
    }
#elif defined(TIMELINE_CRC32C_ARM)
    if (crc32c_arm_supported()) {
        return crc32c_armv8(crc, bytes, length);
    }
#endif
    return crc32c_bitwise(crc, bytes, length);
}
