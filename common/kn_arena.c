/* kn_arena: a list of blocks; allocation bumps a pointer in the current
 * block. The first block is kept across resets so that a worker serving
 * small calls never touches malloc after warm-up. */
#include "kn_arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KN_ARENA_ALIGN       16
#define KN_ARENA_MIN_BLOCK   ((size_t)1024)
#define KN_ARENA_DEFAULT_BLK ((size_t)64 * 1024)

typedef struct kn_block {
    struct kn_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    /* Keeps data[] 16-byte aligned whatever the header size. */
    _Alignas(KN_ARENA_ALIGN) unsigned char data[];
} kn_block;

struct kn_arena {
    kn_block *first;
    kn_block *cur;
    size_t block_size;
    size_t used_total;
    ProtobufCAllocator allocator;
};

static void kn_arena_oom(void)
{
    fputs("kn_arena: out of memory\n", stderr);
    abort();
}

static kn_block *kn_block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(kn_block))
        kn_arena_oom();
    kn_block *b = malloc(sizeof(kn_block) + size);
    if (b == NULL)
        kn_arena_oom();
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

static void *kn_arena_pb_alloc(void *data, size_t size)
{
    return kn_arena_alloc(data, size);
}

static void kn_arena_pb_free(void *data, void *ptr)
{
    /* Freed with the arena. */
}

kn_arena *kn_arena_new(size_t block_size)
{
    kn_arena *a = calloc(1, sizeof *a);
    if (a == NULL)
        kn_arena_oom();
    if (block_size == 0)
        block_size = KN_ARENA_DEFAULT_BLK;
    if (block_size < KN_ARENA_MIN_BLOCK)
        block_size = KN_ARENA_MIN_BLOCK;
    a->block_size = block_size;
    a->first = a->cur = kn_block_new(block_size);
    a->allocator.alloc = kn_arena_pb_alloc;
    a->allocator.free = kn_arena_pb_free;
    a->allocator.allocator_data = a;
    return a;
}

void kn_arena_free(kn_arena *a)
{
    if (a == NULL)
        return;
    kn_block *b = a->first;
    while (b != NULL) {
        kn_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void kn_arena_reset(kn_arena *a)
{
    kn_block *b = a->first->next;
    while (b != NULL) {
        kn_block *next = b->next;
        free(b);
        b = next;
    }
    a->first->next = NULL;
    a->first->used = 0;
    a->cur = a->first;
    a->used_total = 0;
}

void *kn_arena_alloc(kn_arena *a, size_t size)
{
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - KN_ARENA_ALIGN)
        kn_arena_oom();
    size_t rounded = (size + KN_ARENA_ALIGN - 1) & ~(size_t)(KN_ARENA_ALIGN - 1);
    kn_block *b = a->cur;
    if (b->size - b->used < rounded) {
        /* A large request gets a block of its own, so one big message does
         * not make every later block big. */
        size_t bs = rounded > a->block_size ? rounded : a->block_size;
        kn_block *nb = kn_block_new(bs);
        nb->next = b->next;
        b->next = nb;
        a->cur = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += rounded;
    a->used_total += rounded;
    memset(p, 0, size);
    return p;
}

char *kn_arena_strndup(kn_arena *a, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = kn_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *kn_arena_strdup(kn_arena *a, const char *s)
{
    if (s == NULL)
        return NULL;
    return kn_arena_strndup(a, s, strlen(s));
}

char *kn_arena_sprintf(kn_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return kn_arena_strdup(a, "");
    char *p = kn_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void *kn_arena_msg(kn_arena *a, const ProtobufCMessageDescriptor *desc)
{
    void *m = kn_arena_alloc(a, desc->sizeof_message);
    desc->message_init(m);
    return m;
}

ProtobufCAllocator *kn_arena_allocator(kn_arena *a)
{
    return &a->allocator;
}

size_t kn_arena_used(const kn_arena *a)
{
    return a->used_total;
}
