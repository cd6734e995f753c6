/* kn_arena: per-call memory. Everything a request allocates (the decoded
 * request, the response, strings from the database) comes from the call's
 * arena and is freed in one go when the call ends, as nginx pools and
 * PostgreSQL memory contexts do. protobuf-c uses it through
 * kn_arena_allocator(). Not thread-safe: one arena belongs to one call. */
#ifndef KN_ARENA_H
#define KN_ARENA_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct kn_arena kn_arena;

kn_arena *kn_arena_new(size_t block_size);
void kn_arena_free(kn_arena *a);
/* Frees all but the first block and rewinds it: a worker reuses one arena
 * for all its calls. */
void kn_arena_reset(kn_arena *a);

/* Never returns NULL: aborts on out-of-memory like the rest of the runtime
 * (malloc failing on Linux means the process is already lost). Memory is
 * aligned for any type and zeroed. */
void *kn_arena_alloc(kn_arena *a, size_t size);
char *kn_arena_strdup(kn_arena *a, const char *s);
char *kn_arena_strndup(kn_arena *a, const char *s, size_t n);
char *kn_arena_sprintf(kn_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Allocates a protobuf-c message of the given descriptor and initialises it. */
void *kn_arena_msg(kn_arena *a, const ProtobufCMessageDescriptor *desc);

/* An allocator whose free() is a no-op; valid while the arena lives. */
ProtobufCAllocator *kn_arena_allocator(kn_arena *a);

/* Bytes handed out since the last reset (for metrics and tests). */
size_t kn_arena_used(const kn_arena *a);

#endif
