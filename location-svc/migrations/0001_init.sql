-- location-svc: locations, doors, packages, activity, locker stock.
-- Every table carries tenant_id and every query filters on it; composite
-- foreign keys on (tenant_id, id) make a cross-tenant reference impossible
-- even for a buggy query.

-- Trigram indexes for SearchActivity / ListPackages partial matches.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Timestamps cross the wire as microseconds since the epoch (exact, unlike
-- a double), for page tokens and protobuf Timestamps.
CREATE FUNCTION kn_us(t timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;
CREATE FUNCTION kn_ts(us bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT timestamptz 'epoch' + us * interval '1 microsecond' $$;

CREATE TABLE locations (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL CHECK (name <> ''),
    code text NOT NULL CHECK (code <> ''),
    address text NOT NULL DEFAULT '',
    time_zone text NOT NULL,
    request_id text,
    create_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT locations_tenant_id_key UNIQUE (tenant_id, id)
);
-- CreateLocation: code unique per tenant, case-insensitively (ALREADY_EXISTS).
CREATE UNIQUE INDEX locations_code_key ON locations (tenant_id, lower(code));
-- CreateLocation retried with the same request_id returns the first result.
CREATE UNIQUE INDEX locations_request_key ON locations (tenant_id, request_id)
    WHERE request_id IS NOT NULL;
-- ListLocations: newest first, keyset on (create_time, id).
CREATE INDEX locations_list_idx ON locations (tenant_id, create_time DESC, id DESC);

-- state: 1 EMPTY, 2 OCCUPIED, 4 OUT_OF_SERVICE (OPEN is momentary and is
-- recorded as DOOR_OPENED activity, never stored). package_count counts the
-- IN_LOCKER packages; the checks make "at most one package unless
-- multi-item" and "OCCUPIED follows the contents" database rules.
CREATE TABLE doors (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    location_id uuid NOT NULL,
    label text NOT NULL CHECK (label <> ''),
    size smallint NOT NULL CHECK (size BETWEEN 1 AND 4),
    state smallint NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 4)),
    multi_item boolean NOT NULL DEFAULT false,
    package_count integer NOT NULL DEFAULT 0 CHECK (package_count >= 0),
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT doors_location_fk FOREIGN KEY (tenant_id, location_id)
        REFERENCES locations (tenant_id, id),
    CONSTRAINT doors_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT doors_tenant_location_id_key UNIQUE (tenant_id, location_id, id),
    CONSTRAINT doors_capacity CHECK (multi_item OR package_count <= 1),
    CONSTRAINT doors_state_follows_contents CHECK (state = 4 OR (state = 2) = (package_count > 0))
);
-- CreateDoor: label unique per location, case-insensitively; ListDoors sorts by label.
CREATE UNIQUE INDEX doors_label_key ON doors (location_id, lower(label));
CREATE INDEX doors_list_idx ON doors (tenant_id, location_id, label);

-- state: 1 EXPECTED, 2 IN_LOCKER, 3 COLLECTED, 4 RETURNED.
-- assignee_token: the fencing token of the last assignment applied.
-- order_identifier: copied from AttachPackages so activity rows carry it.
CREATE TABLE packages (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    barcode text NOT NULL CHECK (barcode <> ''),
    tracking_number text NOT NULL DEFAULT '',
    carrier text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    location_id uuid NOT NULL,
    door_id uuid,
    state smallint NOT NULL DEFAULT 1 CHECK (state BETWEEN 1 AND 4),
    assignee_user_id uuid,
    assignee_token bigint NOT NULL DEFAULT 0,
    order_id uuid,
    order_identifier text NOT NULL DEFAULT '',
    request_id text,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT packages_location_fk FOREIGN KEY (tenant_id, location_id)
        REFERENCES locations (tenant_id, id),
    -- A package's door is always a door of the package's location.
    CONSTRAINT packages_door_fk FOREIGN KEY (tenant_id, location_id, door_id)
        REFERENCES doors (tenant_id, location_id, id),
    CONSTRAINT packages_barcode_key UNIQUE (tenant_id, barcode),
    CONSTRAINT packages_in_locker_has_door CHECK (state <> 2 OR door_id IS NOT NULL)
);
-- RegisterPackage retried with the same request_id returns the first result.
CREATE UNIQUE INDEX packages_request_key ON packages (tenant_id, request_id)
    WHERE request_id IS NOT NULL;
-- ListPackages: newest first, keyset on (create_time, id).
CREATE INDEX packages_list_idx ON packages (tenant_id, create_time DESC, id DESC);
-- ListPackages by location / assignee.
CREATE INDEX packages_location_idx ON packages (tenant_id, location_id, create_time DESC);
CREATE INDEX packages_assignee_idx ON packages (tenant_id, assignee_user_id, create_time DESC);
-- ListDoorContents, and the door's contents on collect/return.
CREATE INDEX packages_door_idx ON packages (door_id) WHERE state = 2;
-- ListPackages by order; DetachPackages / CollectPackages of a whole order.
CREATE INDEX packages_order_idx ON packages (tenant_id, order_id) WHERE order_id IS NOT NULL;
-- ListPackages free text (barcode, tracking number, carrier, description).
-- The unit separator (a control character, never accepted in a query) keeps
-- a match from spanning two fields.
CREATE INDEX packages_text_trgm ON packages USING gin
    (lower(barcode || E'\x1f' || tracking_number || E'\x1f' || carrier || E'\x1f' || description)
     gin_trgm_ops);

-- Append-only log of every change to a package or door. The names are
-- copied in (denormalised) when the row is written so that SearchActivity
-- reads one table.
CREATE TABLE activity (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL,
    -- clock_timestamp: rows of one transaction keep their order.
    time timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind smallint NOT NULL CHECK (kind BETWEEN 1 AND 9),
    actor_user_id uuid,
    location_id uuid,
    door_id uuid,
    package_id uuid,
    order_id uuid,
    barcode text NOT NULL DEFAULT '',
    tracking_number text NOT NULL DEFAULT '',
    order_identifier text NOT NULL DEFAULT '',
    door_label text NOT NULL DEFAULT '',
    location_name text NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT '',
    search_text text GENERATED ALWAYS AS (lower(barcode || E'\x1f' || tracking_number || E'\x1f'
        || order_identifier || E'\x1f' || door_label || E'\x1f' || location_name)) STORED
);
-- SearchActivity without a query: newest first per tenant, keyset on (time, id).
CREATE INDEX activity_time_idx ON activity (tenant_id, time DESC, id DESC);
-- SearchActivity filtered by package (the package's history).
CREATE INDEX activity_package_idx ON activity (package_id, time DESC);
-- SearchActivity filtered by location.
CREATE INDEX activity_location_idx ON activity (tenant_id, location_id, time DESC);
-- SearchActivity free text: exact, prefix and partial matches over the five
-- searchable fields (LIKE '%q%' on the trigram index).
CREATE INDEX activity_search_trgm ON activity USING gin (search_text gin_trgm_ops);
-- SearchActivity by exact barcode / tracking number (and prefixes).
CREATE INDEX activity_barcode_idx ON activity (tenant_id, lower(barcode) text_pattern_ops);
CREATE INDEX activity_tracking_idx ON activity (tenant_id, lower(tracking_number) text_pattern_ops);

CREATE FUNCTION activity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'activity is append-only';
END $$;
CREATE TRIGGER activity_append_only BEFORE UPDATE OR DELETE ON activity
    FOR EACH ROW EXECUTE FUNCTION activity_append_only();

CREATE TABLE stock_items (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL,
    location_id uuid NOT NULL,
    sku text NOT NULL CHECK (sku <> ''),
    description text NOT NULL DEFAULT '',
    quantity_on_hand integer NOT NULL DEFAULT 0,
    quantity_reserved integer NOT NULL DEFAULT 0,
    update_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stock_items_location_fk FOREIGN KEY (tenant_id, location_id)
        REFERENCES locations (tenant_id, id),
    -- AdjustStock / ReserveStock: no oversell, never below the reserved.
    CONSTRAINT stock_items_reserved_range CHECK (quantity_reserved >= 0
        AND quantity_reserved <= quantity_on_hand),
    -- ListStock sorts by sku; AdjustStock upserts on it.
    CONSTRAINT stock_items_sku_key UNIQUE (tenant_id, location_id, sku)
);

-- One row per (order, item) reserved by ReserveStock; ReleaseStock marks it
-- released, so both are idempotent.
CREATE TABLE stock_reservations (
    tenant_id uuid NOT NULL,
    order_id uuid NOT NULL,
    stock_item_id uuid NOT NULL REFERENCES stock_items (id),
    quantity integer NOT NULL CHECK (quantity > 0),
    released boolean NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id, stock_item_id)
);

-- Every AdjustStock (delta, reason, who): the stock's own history.
CREATE TABLE stock_movements (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    stock_item_id uuid NOT NULL REFERENCES stock_items (id),
    delta integer NOT NULL,
    reason text NOT NULL,
    actor_user_id uuid,
    time timestamptz NOT NULL DEFAULT now()
);
