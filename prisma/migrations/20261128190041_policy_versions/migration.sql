-- CreateTable
CREATE TABLE "policy_version" (
    "hash" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "first_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "policy_version_pkey" PRIMARY KEY ("hash")
);

-- CreateTable
CREATE TABLE "policy_in_force" (
    "id" BIGSERIAL NOT NULL,
    "hash" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "source" TEXT NOT NULL,

    CONSTRAINT "policy_in_force_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "policy_in_force_at_idx" ON "policy_in_force"("at");

-- AddForeignKey
ALTER TABLE "policy_in_force" ADD CONSTRAINT "policy_in_force_hash_fkey" FOREIGN KEY ("hash") REFERENCES "policy_version"("hash") ON DELETE RESTRICT ON UPDATE CASCADE;
