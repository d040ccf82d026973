-- A role above workspace admin, for process-wide operations (rebuilds); tokens with it are created
-- from the admin CLI only.
ALTER TYPE "api_role" ADD VALUE IF NOT EXISTS 'system';
