-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('PENDING', 'RUNNING', 'AWAITING_INPUT', 'COMPLETED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "StepStatus" AS ENUM ('PENDING', 'RUNNING', 'AWAITING_SELECTION', 'COMPLETED', 'FAILED', 'SKIPPED');

-- CreateTable
CREATE TABLE "runs" (
    "id" TEXT NOT NULL,
    "workspace_id" TEXT NOT NULL,
    "pipeline" TEXT NOT NULL,
    "status" "RunStatus" NOT NULL,
    "phase" TEXT,
    "revision" INTEGER NOT NULL,
    "input" JSONB,
    "error" TEXT,
    "idempotency_key" TEXT,
    "worker_id" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "takeovers" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),
    "position" TEXT NOT NULL,

    CONSTRAINT "runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "steps" (
    "run_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "status" "StepStatus" NOT NULL,
    "attempt" INTEGER NOT NULL,
    "progress" DOUBLE PRECISION,
    "message" TEXT,
    "output" JSONB,
    "output_truncated" BOOLEAN NOT NULL DEFAULT false,
    "alternatives" JSONB,
    "selected_index" INTEGER,
    "error" TEXT,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "steps_pkey" PRIMARY KEY ("run_id","id")
);

-- CreateTable
CREATE TABLE "run_leases" (
    "run_id" TEXT NOT NULL,
    "worker_id" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "run_leases_pkey" PRIMARY KEY ("run_id")
);

-- CreateTable
CREATE TABLE "projection_checkpoints" (
    "name" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "position" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "projection_checkpoints_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "runs_workspace_id_created_at_id_idx" ON "runs"("workspace_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "runs_workspace_id_status_created_at_id_idx" ON "runs"("workspace_id", "status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "runs_workspace_id_pipeline_created_at_id_idx" ON "runs"("workspace_id", "pipeline", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "runs_status_worker_id_idx" ON "runs"("status", "worker_id");

-- CreateIndex
CREATE INDEX "steps_run_id_index_idx" ON "steps"("run_id", "index");

-- CreateIndex
CREATE INDEX "run_leases_expires_at_idx" ON "run_leases"("expires_at");

-- AddForeignKey
ALTER TABLE "steps" ADD CONSTRAINT "steps_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_leases" ADD CONSTRAINT "run_leases_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

