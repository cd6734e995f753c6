/* Shared by the fuzz targets: a check that stays on in release builds (a
 * failed invariant is a finding, reported as a crash with a stack), and the
 * protobuf round trip the transcoding targets check. */
#ifndef KN_FUZZ_UTIL_H
#define KN_FUZZ_UTIL_H

#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* msg packed and unpacked again, both through al (an arena's: nothing to
 * free); *packed_len is the packed size. Never NULL. */
static inline ProtobufCMessage *fuzz_repack(const ProtobufCMessage *msg, ProtobufCAllocator *al,
                                            size_t *packed_len)
{
    size_t want = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = al->alloc(al->allocator_data, want ? want : 1);
    FUZZ_CHECK(buf != NULL);
    FUZZ_CHECK(protobuf_c_message_pack(msg, buf) == want);
    ProtobufCMessage *back = protobuf_c_message_unpack(msg->descriptor, al, want, buf);
    FUZZ_CHECK(back != NULL);
    *packed_len = want;
    return back;
}

#endif
