-- Hand-written: what Prisma's schema language cannot express for the transparency log.
-- The runner sends this file as one simple query (one implicit transaction), so the $$ bodies below are safe.

-- The per-row hash chain is retired: audit events are now plain appends, and the sealer (src/evidence/sealer.ts)
-- gives them leaves of a Merkle tree whose signed checkpoints leave the database.
DROP TRIGGER audit_event_chain ON "audit_event";
DROP FUNCTION audit_event_chain();

-- One refusal for every append-only table, naming the table. SQLSTATE 55000 (object_not_in_prerequisite_state) lets
-- the application tell this refusal apart from other errors.
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
    USING ERRCODE = '55000', DETAIL = TG_OP || ' refused';
END;
$$;

-- The log's own tables are append-only too: the sealer inserts leaves, node hashes, checkpoints and publication
-- records and never changes one. (The runtime role has no UPDATE, DELETE or TRUNCATE on them either; these triggers
-- also stop the owner's accidents.)
CREATE TRIGGER audit_leaf_no_update_delete BEFORE UPDATE OR DELETE ON "audit_leaf"
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_leaf_no_truncate BEFORE TRUNCATE ON "audit_leaf"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_node_no_update_delete BEFORE UPDATE OR DELETE ON "audit_node"
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_node_no_truncate BEFORE TRUNCATE ON "audit_node"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_checkpoint_no_update_delete BEFORE UPDATE OR DELETE ON "audit_checkpoint"
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON "audit_checkpoint"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_checkpoint_publication_no_update_delete BEFORE UPDATE OR DELETE ON "audit_checkpoint_publication"
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_checkpoint_publication_no_truncate BEFORE TRUNCATE ON "audit_checkpoint_publication"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
