-- AlterTable
ALTER TABLE "audit_event" DROP COLUMN "chain",
DROP COLUMN "hash",
DROP COLUMN "prev_hash",
ADD COLUMN     "txid" BIGINT NOT NULL DEFAULT ((pg_current_xact_id())::text)::bigint;

-- DropTable
DROP TABLE "audit_chain_head";

-- CreateTable
CREATE TABLE "audit_leaf" (
    "leaf_index" BIGINT NOT NULL,
    "seq" BIGINT NOT NULL,
    "leaf_hash" BYTEA NOT NULL,

    CONSTRAINT "audit_leaf_pkey" PRIMARY KEY ("leaf_index")
);

-- CreateTable
CREATE TABLE "audit_node" (
    "level" SMALLINT NOT NULL,
    "idx" BIGINT NOT NULL,
    "hash" BYTEA NOT NULL,

    CONSTRAINT "audit_node_pkey" PRIMARY KEY ("level","idx")
);

-- CreateTable
CREATE TABLE "audit_checkpoint" (
    "tree_size" BIGINT NOT NULL,
    "root_hash" BYTEA NOT NULL,
    "origin" TEXT NOT NULL,
    "note" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "prev_hash" BYTEA,
    "horizon" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_checkpoint_pkey" PRIMARY KEY ("tree_size")
);

-- CreateTable
CREATE TABLE "audit_checkpoint_publication" (
    "tree_size" BIGINT NOT NULL,
    "sink" TEXT NOT NULL,
    "published_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_checkpoint_publication_pkey" PRIMARY KEY ("tree_size","sink")
);

-- CreateIndex
CREATE UNIQUE INDEX "audit_leaf_seq_key" ON "audit_leaf"("seq");

-- CreateIndex
CREATE INDEX "audit_event_txid_idx" ON "audit_event"("txid");
