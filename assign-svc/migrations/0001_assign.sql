-- assign-svc: tenants, users (with Argon2id password hashes), failed logins,
-- and the assignment ledger whose sequence issues every fencing token.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    code        text NOT NULL,
    name        text NOT NULL,
    time_zone   text NOT NULL DEFAULT 'UTC',
    create_time timestamptz NOT NULL DEFAULT now()
);
-- Authenticate: the tenant by its login code, case-insensitively.
CREATE UNIQUE INDEX tenants_code_key ON tenants (lower(code));

-- users.tenant_id has no foreign key on purpose: tenants are created by the
-- operator script, but every other service trusts the tenant in the token,
-- and a user row for a tenant without a tenants row is harmless (nobody can
-- log in to it).
CREATE TABLE users (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    display_name    text NOT NULL,
    email           text NOT NULL,
    employee_number text NOT NULL DEFAULT '',
    role            smallint NOT NULL CHECK (role IN (1, 2)),
    active          boolean NOT NULL DEFAULT true,
    -- Argon2id (libsodium crypto_pwhash_str); NULL: cannot log in.
    password_hash   text,
    request_id      text NOT NULL DEFAULT '',
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now()
);
-- CreateUser: email unique per tenant, case-insensitively; also the lookup of
-- Authenticate (tenant, lower(email)).
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));
-- CreateUser/UpdateUser: a non-empty employee number is unique per tenant.
CREATE UNIQUE INDEX users_tenant_employee_key ON users (tenant_id, employee_number)
    WHERE employee_number <> '';
-- CreateUser idempotency: the same request_id returns the user it created.
CREATE UNIQUE INDEX users_tenant_request_key ON users (tenant_id, request_id)
    WHERE request_id <> '';
-- ListUsers without a query: keyset (create_time DESC, id DESC) per tenant.
CREATE INDEX users_tenant_list_idx ON users (tenant_id, create_time DESC, id DESC);
-- ListUsers with a query: ILIKE '%q%' on name, email or employee number.
CREATE INDEX users_search_trgm_idx ON users
    USING gin (display_name gin_trgm_ops, email gin_trgm_ops, employee_number gin_trgm_ops);

-- Authenticate: failed attempts per account (tenant code + email, whether or
-- not they exist, so the lockout says nothing about existence).
CREATE TABLE login_failures (
    account_key text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
-- Authenticate: count of recent failures of one account; the tick's purge.
CREATE INDEX login_failures_key_idx ON login_failures (account_key, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);

-- Every fencing token of the cluster, whichever lock (Redis or PostgreSQL)
-- guarded the change: one sequence makes them monotonic.
CREATE SEQUENCE fencing_token_seq;

CREATE TABLE assignments (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    target         smallint NOT NULL CHECK (target IN (1, 2)), -- 1 order, 2 package
    order_id       uuid,
    package_id     uuid,
    -- Packages the change was applied to (for an order: its packages).
    package_ids    uuid[] NOT NULL DEFAULT '{}',
    actor_user_id  uuid NOT NULL,
    before_user_id uuid,
    after_user_id  uuid,
    fencing_token  bigint NOT NULL UNIQUE DEFAULT nextval('fencing_token_seq'),
    -- 1 pending, 2 done, 3 rolled back
    state          smallint NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
    -- While pending: 0 reserved (nothing sent downstream yet, the checks not
    -- passed), 1 applying (calls with the token may have reached order-svc or
    -- location-svc, so the repair must roll it forward).
    phase          smallint NOT NULL DEFAULT 0,
    owner          text NOT NULL DEFAULT '',
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    complete_time  timestamptz,
    CHECK ((target = 1 AND order_id IS NOT NULL) OR (target = 2 AND package_id IS NOT NULL))
);
-- The ledger's mutual exclusion: at most one pending change per order and
-- per package. Locks only keep contenders from queueing here; this index is
-- what makes two holders (a Redis lock and a PostgreSQL lock during a
-- failover, or a holder whose lock expired) unable to work at once.
CREATE UNIQUE INDEX assignments_pending_order_key ON assignments (tenant_id, order_id)
    WHERE state = 1 AND target = 1;
CREATE UNIQUE INDEX assignments_pending_package_key ON assignments (tenant_id, package_id)
    WHERE state = 1 AND target = 2;
-- Repair tick: pending entries by age.
CREATE INDEX assignments_pending_idx ON assignments (update_time) WHERE state = 1;
-- ListAssignments by order / by user (either side) / by package, newest token first.
CREATE INDEX assignments_order_idx ON assignments (tenant_id, order_id, fencing_token DESC);
CREATE INDEX assignments_after_idx ON assignments (tenant_id, after_user_id, fencing_token DESC);
CREATE INDEX assignments_before_idx ON assignments (tenant_id, before_user_id, fencing_token DESC);
CREATE INDEX assignments_package_idx ON assignments (tenant_id, package_id, fencing_token DESC);
-- ListAssignments by package also finds the changes of the package's orders.
CREATE INDEX assignments_package_ids_idx ON assignments USING gin (package_ids);
-- ListAssignments of the whole tenant.
CREATE INDEX assignments_tenant_idx ON assignments (tenant_id, fencing_token DESC);
