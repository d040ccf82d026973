-- AlterTable
ALTER TABLE "steps" ADD COLUMN     "automatic_retries" INTEGER NOT NULL DEFAULT 0;
