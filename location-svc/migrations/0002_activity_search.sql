-- SearchActivity with a query (location_store.c: activity_exact_stmt and
-- activity_prefix_stmt). One index per searchable field, lowered, in
-- text_pattern_ops so that it serves both `lower(f) = q` (the exact tier)
-- and `lower(f) LIKE 'q%'` (the prefix tier, a range scan), and ending in
-- the result order (time DESC, id DESC) so that the exact tier reads the
-- newest matches first and stops after one page. Not partial: ANALYZE
-- keeps statistics of lower(f) for an expression index, which the planner
-- reads only from a non-partial one, and without them it cannot tell a
-- rare prefix (read the range, sort it) from a common one (walk the tenant
-- newest first).
CREATE INDEX activity_barcode_search_idx
    ON activity (tenant_id, lower(barcode) text_pattern_ops, time DESC, id DESC);
CREATE INDEX activity_tracking_search_idx
    ON activity (tenant_id, lower(tracking_number) text_pattern_ops, time DESC, id DESC);
CREATE INDEX activity_order_search_idx
    ON activity (tenant_id, lower(order_identifier) text_pattern_ops, time DESC, id DESC);
CREATE INDEX activity_door_search_idx
    ON activity (tenant_id, lower(door_label) text_pattern_ops, time DESC, id DESC);
CREATE INDEX activity_location_search_idx
    ON activity (tenant_id, lower(location_name) text_pattern_ops, time DESC, id DESC);
-- Superseded by the first two (same leading columns); nothing else reads them.
DROP INDEX activity_barcode_idx;
DROP INDEX activity_tracking_idx;
