-- order-svc schema: orders, their packages and stock lines, the append-only
-- history, per-tenant identifier counters and the create/edit intents that
-- the repair tick uses to undo half-finished calls to location-svc.
--
-- Status codes: 1 ACTIVE, 2 COLLECTED, 3 CANCELLED (OrderStatus); type 1 JOB,
-- 2 STOCK (OrderType). The numbers are the proto enum values so that no
-- mapping table can drift.

CREATE TABLE orders (
    id               uuid        PRIMARY KEY,
    tenant_id        uuid        NOT NULL,
    type             smallint    NOT NULL CHECK (type IN (1, 2)),
    identifier       text        NOT NULL
        CHECK (octet_length(identifier) BETWEEN 1 AND 64 AND identifier !~ '[[:cntrl:]]'),
    status           smallint    NOT NULL DEFAULT 1 CHECK (status IN (1, 2, 3)),
    location_id      uuid        NOT NULL,
    -- The location's IANA time zone copied at create time: dates in
    -- ListOrders are the order's local creation date.
    time_zone        text        NOT NULL,
    assignee_user_id uuid,
    -- The nil uuid stands for "unassigned" so that every assignment filter
    -- is an index range (see the list indexes below).
    assignee_key     uuid        NOT NULL GENERATED ALWAYS AS
        (coalesce(assignee_user_id, '00000000-0000-0000-0000-000000000000'::uuid)) STORED,
    fencing_token    bigint      NOT NULL DEFAULT 0 CHECK (fencing_token >= 0),
    -- The etag: bumped by every change, checked in the UPDATE's WHERE.
    version          bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    request_id       text,
    request_hash     text,
    create_time      timestamptz NOT NULL,
    -- Local creation date in time_zone, computed at insert from create_time.
    create_date      date        NOT NULL,
    update_time      timestamptz NOT NULL,
    collect_time     timestamptz,
    cancel_time      timestamptz,
    CONSTRAINT orders_identifier_unique UNIQUE (tenant_id, identifier),
    CONSTRAINT orders_request_unique UNIQUE (tenant_id, request_id),
    CONSTRAINT orders_collected_time CHECK ((status = 2) = (collect_time IS NOT NULL)),
    CONSTRAINT orders_cancelled_time CHECK ((status = 3) = (cancel_time IS NOT NULL)),
    CONSTRAINT orders_date_matches CHECK (create_date = (create_time AT TIME ZONE time_zone)::date)
);

-- Status moves only ACTIVE -> COLLECTED or ACTIVE -> CANCELLED, and a
-- finished order is frozen: whatever the C code does, the database refuses.
CREATE FUNCTION orders_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 1 THEN
        RAISE EXCEPTION 'order % is finished', OLD.id USING ERRCODE = 'check_violation',
            CONSTRAINT = 'orders_finished';
    END IF;
    IF NEW.tenant_id <> OLD.tenant_id OR NEW.type <> OLD.type
       OR NEW.location_id <> OLD.location_id OR NEW.create_time <> OLD.create_time THEN
        RAISE EXCEPTION 'immutable order column changed' USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.version <= OLD.version THEN
        RAISE EXCEPTION 'order version must grow' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER orders_guard BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION orders_guard();

-- ListOrders: every query is "tenant, optionally one leading equality,
-- newest first (create_time DESC, id DESC) from a keyset cursor, LIMIT n",
-- and every other filter is a range on a trailing key column, so it is an
-- Index Cond checked on the index tuple (no heap visit for rows that do not
-- match) and the plan is the same for generic and custom plans. The shape
-- is chosen in order_logic.c (order_list_shape).
-- Serves: no filter, type only, status ACTIVE-heavy scans, assigned only,
-- date range only (create_time bounds derived from the dates).
CREATE INDEX orders_list_all ON orders
    (tenant_id, create_time DESC, id DESC, status, type, location_id, assignee_key, create_date);
-- Serves: location_id (alone or with any other filter except a specific
-- assignee).
CREATE INDEX orders_list_location ON orders
    (tenant_id, location_id, create_time DESC, id DESC, status, type, assignee_key, create_date);
-- Serves: assignee_user_id (with anything), ASSIGNMENT_FILTER_UNASSIGNED
-- (assignee_key = nil), and a technician's view (own UNION ALL unassigned).
CREATE INDEX orders_list_assignee ON orders
    (tenant_id, assignee_key, create_time DESC, id DESC, status, type, location_id, create_date);
-- Serves: status (alone or with type / assigned / dates).
CREATE INDEX orders_list_status ON orders
    (tenant_id, status, create_time DESC, id DESC, type, location_id, assignee_key, create_date);

CREATE TABLE order_packages (
    order_id   uuid     NOT NULL REFERENCES orders (id),
    package_id uuid     NOT NULL,
    tenant_id  uuid     NOT NULL,
    position   integer  NOT NULL,
    -- true while the order is ACTIVE; cancel and collect clear it, so the
    -- package may go into another order while the finished order still
    -- shows its packages.
    holds      boolean  NOT NULL DEFAULT true,
    PRIMARY KEY (order_id, package_id)
);
-- A package is in at most one ACTIVE order.
CREATE UNIQUE INDEX order_packages_one_active ON order_packages (tenant_id, package_id) WHERE holds;

CREATE TABLE order_stock_lines (
    order_id uuid    NOT NULL REFERENCES orders (id),
    sku      text    NOT NULL CHECK (octet_length(sku) BETWEEN 1 AND 64),
    quantity integer NOT NULL CHECK (quantity > 0),
    position integer NOT NULL,
    PRIMARY KEY (order_id, sku)
);

CREATE TABLE order_history (
    seq           bigserial   PRIMARY KEY,
    id            uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    tenant_id     uuid        NOT NULL,
    order_id      uuid        NOT NULL REFERENCES orders (id),
    time          timestamptz NOT NULL DEFAULT now(),
    actor_user_id uuid        NOT NULL,
    kind          smallint    NOT NULL CHECK (kind BETWEEN 1 AND 8),
    before        jsonb       NOT NULL DEFAULT '{}',
    after         jsonb       NOT NULL DEFAULT '{}',
    detail        text        NOT NULL DEFAULT ''
);
-- Serves: ListOrderHistory (order, oldest first, keyset on seq).
CREATE INDEX order_history_order ON order_history (tenant_id, order_id, seq);

-- Append-only: history is never rewritten.
CREATE FUNCTION order_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order_history is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER order_history_append_only BEFORE UPDATE OR DELETE ON order_history
    FOR EACH ROW EXECUTE FUNCTION order_history_append_only();

-- Generated identifiers JO-000001 / SO-000001, per tenant and type. The
-- counter row is bumped inside the caller's transaction; a number already
-- taken by a hand-chosen identifier is skipped.
CREATE TABLE order_identifier_counters (
    tenant_id uuid     NOT NULL,
    type      smallint NOT NULL CHECK (type IN (1, 2)),
    last      bigint   NOT NULL,
    PRIMARY KEY (tenant_id, type)
);

CREATE FUNCTION order_next_identifier(p_tenant uuid, p_type smallint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    ident text;
BEGIN
    LOOP
        INSERT INTO order_identifier_counters AS c (tenant_id, type, last)
        VALUES (p_tenant, p_type, 1)
        ON CONFLICT (tenant_id, type) DO UPDATE SET last = c.last + 1
        RETURNING c.last INTO n;
        ident := (CASE WHEN p_type = 1 THEN 'JO-' ELSE 'SO-' END) || lpad(n::text, 6, '0');
        IF NOT EXISTS (SELECT 1 FROM orders WHERE tenant_id = p_tenant AND identifier = ident)
           AND NOT EXISTS (SELECT 1 FROM order_intents WHERE tenant_id = p_tenant
                                                         AND identifier = ident) THEN
            RETURN ident;
        END IF;
    END LOOP;
END $$;

-- Work in flight at location-svc. A row is written (committed) before
-- order-svc asks location-svc to attach/reserve (create, add) or after it
-- committed a change that must be undone there (remove, cancel), and it is
-- deleted in the transaction that makes the order consistent. The repair
-- tick takes rows older than 30 s (FOR UPDATE SKIP LOCKED: a call still
-- working holds its row lock) and detaches every package of the row that
-- the order does not hold, or releases the stock of an order that does not
-- exist or was cancelled.
CREATE TABLE order_intents (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid        NOT NULL,
    order_id     uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('create', 'add', 'remove', 'cancel', 'collect')),
    type         smallint    NOT NULL CHECK (type IN (1, 2)),
    location_id  uuid        NOT NULL,
    identifier   text        NOT NULL DEFAULT '',
    request_hash text        NOT NULL DEFAULT '',
    package_ids  uuid[]      NOT NULL DEFAULT '{}',
    created      timestamptz NOT NULL DEFAULT now()
);
-- Serves: the create path (one intent per order id and kind 'create').
CREATE UNIQUE INDEX order_intents_create ON order_intents (order_id) WHERE kind = 'create';
-- Serves: the repair tick (oldest first).
CREATE INDEX order_intents_created ON order_intents (created);
-- Serves: order_next_identifier's check of identifiers reserved in flight.
CREATE INDEX order_intents_identifier ON order_intents (tenant_id, identifier);
