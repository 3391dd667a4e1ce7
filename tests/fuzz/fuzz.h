/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - the libFuzzer entry points every tests/fuzz/fuzz_*.c defines.
 *
 * `make fuzz` links each harness with clang's -fsanitize=fuzzer; `make
 * check` links it with replay.c, whose main() feeds every file of the
 * committed corpus (tests/fuzz/corpus/NAME/) to LLVMFuzzerTestOneInput.
 * A harness that needs something the machine may lack (io_uring) defines
 * LLVMFuzzerInitialize and exits 77 (skip) with a message when it is
 * missing.
 */
#ifndef TIDE_FUZZ_H
#define TIDE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
