/**
 * What a token may do; each role includes the ones before it. `system` is above any workspace: it is
 * for process-wide operations (rebuilding read models of every workspace) and its tokens are created
 * from the admin CLI only (`npm run admin -- tokens create --role system`), never through the API.
 */
export const ROLES = ["viewer", "operator", "admin", "system"] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2, system: 3 };

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);

export const roleAllows = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

/** The higher of two roles. */
export const higherRole = (a: Role, b: Role): Role => (RANK[a] >= RANK[b] ? a : b);
