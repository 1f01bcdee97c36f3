-- AlterTable
ALTER TABLE "approval_request" ADD COLUMN     "trace_parent" TEXT;
