-- CreateIndex
CREATE INDEX "approval_request_parent_request_id_idx" ON "approval_request"("parent_request_id");
