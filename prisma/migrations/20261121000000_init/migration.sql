-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "RequestStatus" AS ENUM ('pending', 'approved', 'denied', 'expired', 'cancelled');

-- CreateEnum
CREATE TYPE "Risk" AS ENUM ('low', 'medium', 'high', 'critical');

-- CreateEnum
CREATE TYPE "PolicyOutcome" AS ENUM ('approve', 'deny', 'require');

-- CreateEnum
CREATE TYPE "VoteDecision" AS ENUM ('approve', 'deny');

-- CreateEnum
CREATE TYPE "DeliveryStatus" AS ENUM ('pending', 'delivered', 'skipped', 'failed');

-- CreateTable
CREATE TABLE "api_key" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "scopes" TEXT[],
    "owner_email" TEXT,
    "source" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_key_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "approval_request" (
    "id" UUID NOT NULL,
    "status" "RequestStatus" NOT NULL,
    "action" TEXT NOT NULL,
    "resource" TEXT NOT NULL,
    "requester_id" TEXT NOT NULL,
    "requester_type" TEXT NOT NULL,
    "requester_email" TEXT,
    "requester" JSONB NOT NULL,
    "on_behalf_of" JSONB,
    "justification" TEXT,
    "context" JSONB NOT NULL DEFAULT '{}',
    "risk" "Risk",
    "environment" TEXT,
    "callback_url" TEXT,
    "trace_id" TEXT,
    "parent_request_id" UUID,
    "api_key_id" UUID NOT NULL,
    "api_key_name" TEXT NOT NULL,
    "key_owner_email" TEXT,
    "idempotency_key" TEXT,
    "body_hash" TEXT NOT NULL,
    "policy_rule" TEXT NOT NULL,
    "policy_outcome" "PolicyOutcome" NOT NULL,
    "policy_hash" TEXT NOT NULL,
    "requirement" JSONB,
    "approvals_required" INTEGER NOT NULL DEFAULT 0,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "decided_at" TIMESTAMPTZ(3),
    "decided_by" TEXT,
    "decision_reason" TEXT,
    "outcome_report" JSONB,

    CONSTRAINT "approval_request_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "vote" (
    "id" UUID NOT NULL,
    "request_id" UUID NOT NULL,
    "person_key" TEXT NOT NULL,
    "approver" JSONB NOT NULL,
    "channel" TEXT NOT NULL,
    "decision" "VoteDecision" NOT NULL,
    "reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "vote_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "delivery" (
    "id" UUID NOT NULL,
    "request_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "status" "DeliveryStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "message_ref" JSONB,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "delivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_event" (
    "seq" BIGSERIAL NOT NULL,
    "chain" SMALLINT NOT NULL,
    "request_id" UUID,
    "type" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "actor_ids" TEXT[],
    "channel" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "payload" TEXT NOT NULL,
    "prev_hash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,

    CONSTRAINT "audit_event_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "audit_chain_head" (
    "chain" SMALLINT NOT NULL,
    "last_seq" BIGINT NOT NULL DEFAULT 0,
    "last_hash" TEXT NOT NULL,

    CONSTRAINT "audit_chain_head_pkey" PRIMARY KEY ("chain")
);

-- CreateTable
CREATE TABLE "teams_conversation" (
    "conversation_id" TEXT NOT NULL,
    "tenant_id" TEXT,
    "reference" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "teams_conversation_pkey" PRIMARY KEY ("conversation_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_key_name_key" ON "api_key"("name");

-- CreateIndex
CREATE UNIQUE INDEX "api_key_secret_hash_key" ON "api_key"("secret_hash");

-- CreateIndex
CREATE INDEX "approval_request_status_created_at_idx" ON "approval_request"("status", "created_at");

-- CreateIndex
CREATE INDEX "approval_request_status_expires_at_idx" ON "approval_request"("status", "expires_at");

-- CreateIndex
CREATE INDEX "approval_request_created_at_idx" ON "approval_request"("created_at");

-- CreateIndex
CREATE INDEX "approval_request_requester_id_idx" ON "approval_request"("requester_id");

-- CreateIndex
CREATE INDEX "approval_request_trace_id_idx" ON "approval_request"("trace_id");

-- CreateIndex
CREATE UNIQUE INDEX "approval_request_api_key_id_idempotency_key_key" ON "approval_request"("api_key_id", "idempotency_key");

-- CreateIndex
CREATE UNIQUE INDEX "vote_request_id_person_key_key" ON "vote"("request_id", "person_key");

-- CreateIndex
CREATE INDEX "delivery_status_idx" ON "delivery"("status");

-- CreateIndex
CREATE UNIQUE INDEX "delivery_request_id_kind_target_key" ON "delivery"("request_id", "kind", "target");

-- CreateIndex
CREATE INDEX "audit_event_request_id_seq_idx" ON "audit_event"("request_id", "seq");

-- CreateIndex
CREATE INDEX "audit_event_at_idx" ON "audit_event"("at");

-- CreateIndex
CREATE INDEX "audit_event_actor_ids_idx" ON "audit_event" USING GIN ("actor_ids");

-- AddForeignKey
ALTER TABLE "approval_request" ADD CONSTRAINT "approval_request_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_key"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "vote" ADD CONSTRAINT "vote_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "approval_request"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "delivery" ADD CONSTRAINT "delivery_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "approval_request"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
