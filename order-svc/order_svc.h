/* order_svc: what the handler files of order-svc share. */
#ifndef ORDER_SVC_H
#define ORDER_SVC_H

#include "kn_client.h"
#include "kn_server.h"
#include "kn_service.h"
#include "kn_status.h"

#include "konnect/location/v1/location.pb-c.h"
#include "konnect/order/v1/order.pb-c.h"

#include "order_logic.h"
#include "order_store.h"

#define ORDER_SERVICE_NAME "order-svc"
#define LOC_PATH(m)        "/konnect.location.v1.LocationService/" m

/* The channel to location-svc, made in setup(). */
extern kn_channel *order_location_channel;

/* Handlers. */
kn_code order_create(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_get(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_list(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_update(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_add_packages(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_remove_packages(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_cancel(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_collect(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_list_history(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code order_set_assignee(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

/* Edits (orders_update.c): BEGIN, lock the row, check visibility, ACTIVE
 * and etag; on failure the transaction is rolled back and the call's error
 * recorded. finish reloads, commits, invalidates the cache and answers. */
kn_code order_lock_for_edit(kn_call *call, const char *id, const char *etag, int etag_required,
                            order_row **row);
kn_code order_finish_edit(kn_call *call, const char *id, ProtobufCMessage **resp);
void order_detach_after_commit(kn_call *call, const order_row *row, char *const *ids, size_t n,
                               const char *intent_id);

/* The repair tick (repair.c). */
void order_repair_tick(kn_worker *w);

/* Builds the API message of a row (strings point into the row). */
Konnect__Order__V1__Order *order_to_pb(kn_arena *a, const order_row *row);

/* 1 when the caller may see the order: hq, or a technician who is its
 * assignee or when it is unassigned. Others get NOT_FOUND (no leak). */
int order_visible(const kn_identity *id, const char *assignee);

/* Maps a downstream failure to the client's status: the callee's client
 * errors pass through (they name the package), transport failures answer
 * UNAVAILABLE. */
kn_code order_downstream_fail(kn_call *call, const char *what, const kn_status *st);

/* 1 when a downstream error is a definite refusal (nothing changed there). */
int order_downstream_definite(const kn_status *st);

/* Cache-aside for GetOrder (order_cache.c). */
Konnect__Order__V1__Order *order_cache_get(kn_worker *w, kn_arena *a, const char *tenant,
                                           const char *id);
void order_cache_put(kn_worker *w, kn_arena *a, const char *tenant,
                     const Konnect__Order__V1__Order *o);
/* Deletes the key after a write; remembers it when Redis cannot be reached
 * so that it is deleted before this process trusts the cache again. */
void order_cache_invalidate(kn_worker *w, const char *tenant, const char *id);
/* Retries remembered deletes (called by the tick and before cache reads). */
int order_cache_flush_pending(kn_worker *w);

#endif
