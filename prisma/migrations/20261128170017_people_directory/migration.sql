-- Hand-edited after `npm run db:diff`: the owner columns are renamed (keeping their data), not dropped and re-added.
-- An owner was an email; it is now a person reference (a person id or any identity), and an email still is one.
ALTER TABLE "api_key" RENAME COLUMN "owner_email" TO "owner";
ALTER TABLE "approval_request" RENAME COLUMN "key_owner_email" TO "key_owner";

-- AlterTable
ALTER TABLE "api_key" ADD COLUMN     "callback_hosts" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "long_polls" INTEGER,
ADD COLUMN     "max_pending" INTEGER,
ADD COLUMN     "pinned_environment" TEXT,
ADD COLUMN     "pinned_requester_id" TEXT,
ADD COLUMN     "pinned_requester_type" TEXT,
ADD COLUMN     "rate_limit_per_minute" INTEGER;

-- AlterTable
ALTER TABLE "approval_request" ADD COLUMN     "key_owner_person" TEXT,
ADD COLUMN     "on_behalf_of_person" TEXT,
ADD COLUMN     "pinned_fields" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "requester_person" TEXT;

-- AlterTable
ALTER TABLE "vote" ADD COLUMN     "attested_by" TEXT;

-- CreateTable
CREATE TABLE "person" (
    "id" TEXT NOT NULL,
    "name" TEXT,
    "source" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "person_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "person_identity" (
    "identity" TEXT NOT NULL,
    "person_id" TEXT NOT NULL,
    "scope" TEXT,
    "verified_by" TEXT NOT NULL,
    "linked_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "person_identity_pkey" PRIMARY KEY ("identity")
);

-- CreateTable
CREATE TABLE "directory_version" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "directory_version_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "person_identity_person_id_idx" ON "person_identity"("person_id");

-- AddForeignKey
ALTER TABLE "person_identity" ADD CONSTRAINT "person_identity_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "person"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The directory's version counter has exactly one row.
INSERT INTO "directory_version" ("id", "version") VALUES (1, 0);
