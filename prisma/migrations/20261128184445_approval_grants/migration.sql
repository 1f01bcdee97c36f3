-- AlterTable
ALTER TABLE "approval_request" ADD COLUMN     "action_hash" TEXT,
ADD COLUMN     "grant_ttl_seconds" INTEGER;

-- CreateTable
CREATE TABLE "grant_use" (
    "request_id" UUID NOT NULL,
    "used_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "key_id" UUID NOT NULL,
    "key_name" TEXT NOT NULL,

    CONSTRAINT "grant_use_pkey" PRIMARY KEY ("request_id")
);

-- AddForeignKey
ALTER TABLE "grant_use" ADD CONSTRAINT "grant_use_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "approval_request"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
