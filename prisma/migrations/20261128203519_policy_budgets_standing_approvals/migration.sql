-- AlterTable
ALTER TABLE "approval_request" ADD COLUMN     "stage" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "standing_approval_id" UUID;

-- CreateTable
CREATE TABLE "policy_budget" (
    "rule" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "window_start" TIMESTAMPTZ(3) NOT NULL,
    "window_end" TIMESTAMPTZ(3) NOT NULL,
    "used" INTEGER NOT NULL,

    CONSTRAINT "policy_budget_pkey" PRIMARY KEY ("rule","key","window_start")
);

-- CreateTable
CREATE TABLE "standing_approval" (
    "id" UUID NOT NULL,
    "request_id" UUID NOT NULL,
    "rule" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "resource" TEXT NOT NULL,
    "environment" TEXT,
    "requester_id" TEXT NOT NULL,
    "requester_type" TEXT NOT NULL,
    "granted_by" TEXT NOT NULL,
    "granted_by_label" TEXT NOT NULL,
    "approvers" TEXT[],
    "max_uses" INTEGER NOT NULL,
    "uses_left" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "revoked_by" TEXT,

    CONSTRAINT "standing_approval_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "policy_budget_window_end_idx" ON "policy_budget"("window_end");

-- CreateIndex
CREATE INDEX "standing_approval_rule_action_resource_requester_id_idx" ON "standing_approval"("rule", "action", "resource", "requester_id");

-- CreateIndex
CREATE INDEX "standing_approval_expires_at_idx" ON "standing_approval"("expires_at");
