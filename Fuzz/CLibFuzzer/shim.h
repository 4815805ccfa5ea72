// libFuzzer's own mutator, for GuestSpecFuzzer's custom mutator to fall back on. The symbol
// comes from libFuzzer, linked only into the --sanitize=fuzzer build (-DFUZZING).
#include <stddef.h>
#include <stdint.h>
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);
