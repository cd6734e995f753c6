-- Serves: order_list_assignee_loc and order_list_tech_loc (order_store.c):
-- an assignee's, the unassigned or a technician's orders at one location.
-- Without it those walk the assignee's rows of every location in time
-- order and skip the others' (orders_list_assignee): a technician's list
-- at one of 50 locations read 317 buffers a page at 1M rows, about twice
-- the page's own rows and subqueries; with it each range starts at its
-- first matching row. The write cost is one more btree entry per insert
-- and per assignee change.
CREATE INDEX orders_list_assignee_location ON orders
    (tenant_id, assignee_key, location_id, create_time DESC, id DESC, status, type, create_date);
