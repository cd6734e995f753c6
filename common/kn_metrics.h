/* kn_metrics: the process's metrics in the Prometheus text exposition
 * format (version 0.0.4), served on /metrics by kn_admin.
 *
 * Recording is lock-free: every series is a set of relaxed C11 atomics in
 * static storage, so a worker thread pays a few atomic adds per call and
 * never a lock or an allocation. The label sets are bounded and known at
 * start: gRPC methods are registered up front (kn_server registers every
 * method it serves) and a method that was not registered is counted as
 * "other", so a client sending random paths cannot grow the series count.
 *
 * Series (docs/operations.md explains how to read them):
 *   konnect_grpc_requests_total{method,code}             counter
 *   konnect_grpc_request_duration_seconds{method,code}   histogram 0.5 ms .. 5 s
 *   konnect_grpc_requests_in_flight                      gauge
 *   konnect_db_connections_open                          gauge
 *   konnect_db_connections_in_use                        gauge
 *   konnect_db_errors_total                              counter
 *   konnect_cache_requests_total{result="hit|miss|error"} counter
 *   konnect_lock_wait_seconds                            histogram
 *   konnect_lock_acquire_total{result="acquired|fallback|busy|error"} counter
 *   konnect_build_info{service,version}                  gauge (1)
 *   konnect_process_start_time_seconds                   gauge
 *   konnect_process_resident_memory_bytes                gauge (/proc/self/statm)
 */
#ifndef KN_METRICS_H
#define KN_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* At most this many registered methods; later registrations count as
 * "other". */
#define KN_METRICS_MAX_METHODS 64
#define KN_METRICS_OTHER       (-1)

/* Records the start time and the service name of konnect_build_info.
 * Idempotent; rendering calls it with a NULL name if nobody did. */
void kn_metrics_init(const char *service);

/* Registers a gRPC method path ("/konnect.order.v1.OrderService/CreateOrder")
 * and returns its index, the same index for a name registered before, or
 * KN_METRICS_OTHER when the table is full. Takes a mutex: call at start,
 * not per request. */
int kn_metrics_method_register(const char *method);

/* The index of a registered method, KN_METRICS_OTHER if unknown. Lock-free
 * (a scan of the registered names). */
int kn_metrics_method_index(const char *method);

/* One finished gRPC call: code is a kn_code (0..16, anything else counts
 * as UNKNOWN), duration in microseconds. */
void kn_metrics_grpc_observe(int method_index, int code, int64_t duration_us);
/* The same with a lookup by path (NULL or unknown: "other"). */
void kn_metrics_grpc_request(const char *method, int code, int64_t duration_us);
/* +1 when a call starts being served, -1 when its status is sent. */
void kn_metrics_grpc_in_flight(int delta);

/* Database: connections opened (+1) / closed (-1); a statement running on
 * a connection (+1 before, -1 after); a failed statement or connect. */
void kn_metrics_db_open(int delta);
void kn_metrics_db_in_use(int delta);
void kn_metrics_db_error(void);

typedef enum {
    KN_METRICS_CACHE_HIT = 0,
    KN_METRICS_CACHE_MISS,
    KN_METRICS_CACHE_ERROR,
} kn_metrics_cache_result;
void kn_metrics_cache(kn_metrics_cache_result r);

typedef enum {
    KN_METRICS_LOCK_ACQUIRED = 0, /* taken through Redis */
    KN_METRICS_LOCK_FALLBACK,     /* taken through the PostgreSQL fallback */
    KN_METRICS_LOCK_BUSY,         /* held by someone else */
    KN_METRICS_LOCK_ERROR,        /* neither store answered */
} kn_metrics_lock_result;
/* One lock attempt (or a sequence of retries) that took wait_us. */
void kn_metrics_lock(kn_metrics_lock_result r, int64_t wait_us);

/* Writes the exposition text into buf (NUL-terminated when cap > 0) and
 * returns its full length, like snprintf: a return >= cap means buf was too
 * small and the text is cut. */
size_t kn_metrics_render(char *buf, size_t cap);
/* The text in a malloc'd buffer the caller frees; NULL when out of memory. */
char *kn_metrics_render_alloc(size_t *len);

/* Zeroes every series and forgets the registered methods (tests only: not
 * safe while other threads record). */
void kn_metrics_reset(void);

#endif
