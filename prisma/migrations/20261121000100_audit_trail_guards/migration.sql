-- Hand-written: what Prisma's schema language cannot express for the append-only, hash-chained audit trail.
-- The runner sends this file as one simple query (one implicit transaction), so the $$ bodies below are safe.

-- Audit events are spread over 16 chains so that appends do not all queue on one row lock; each chain starts from
-- an all-zero hash.
INSERT INTO "audit_chain_head" ("chain", "last_seq", "last_hash")
SELECT c, 0, repeat('0', 64) FROM generate_series(0, 15) AS c;

-- Links each new event to its chain: takes the chain head's row lock, assigns seq under that lock (so seq order is
-- chain order within a chain, whatever the column default drew before), and computes
-- hash = sha256(prev_hash || '|' || seq || '|' || payload). Whatever the client sent for seq, prev_hash and hash is
-- overwritten.
CREATE FUNCTION audit_event_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  prev text;
BEGIN
  SELECT last_hash INTO prev FROM audit_chain_head WHERE chain = NEW.chain FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'audit chain % does not exist', NEW.chain
      USING ERRCODE = 'foreign_key_violation', HINT = 'audit_chain_head holds the valid chains (0..15)';
  END IF;
  NEW.seq := nextval(pg_get_serial_sequence('audit_event', 'seq'));
  NEW.prev_hash := prev;
  NEW.hash := encode(sha256(convert_to(prev || '|' || NEW.seq::text || '|' || NEW.payload, 'UTF8')), 'hex');
  UPDATE audit_chain_head SET last_hash = NEW.hash, last_seq = NEW.seq WHERE chain = NEW.chain;
  RETURN NEW;
END;
$$;

CREATE TRIGGER audit_event_chain
  BEFORE INSERT ON "audit_event"
  FOR EACH ROW EXECUTE FUNCTION audit_event_chain();

-- The audit trail is append-only. SQLSTATE 55000 (object_not_in_prerequisite_state) lets the application tell this
-- refusal apart from other errors.
CREATE FUNCTION audit_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_event is append-only'
    USING ERRCODE = '55000', DETAIL = TG_OP || ' refused';
END;
$$;

CREATE TRIGGER audit_event_no_update_delete
  BEFORE UPDATE OR DELETE ON "audit_event"
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();

CREATE TRIGGER audit_event_no_truncate
  BEFORE TRUNCATE ON "audit_event"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
