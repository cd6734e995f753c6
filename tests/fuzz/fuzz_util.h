/* Shared by the fuzz targets: a check that stays on in release builds (a
 * failed invariant is a finding, reported as a crash with a stack), and the
 * lists of request descriptors. */
#ifndef KN_FUZZ_UTIL_H
#define KN_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
