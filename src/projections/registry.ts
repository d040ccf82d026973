import type { Projection } from "./projection.js";
import { runsProjection } from "./runs/runs-projection.js";

/** Every read model the application keeps; the engine follows each, the admin command rebuilds them. */
export const PROJECTIONS: readonly Projection[] = [runsProjection];

export class UnknownProjectionError extends Error {
  override name = "UnknownProjectionError";
}

export function projectionsNamed(
  names: readonly string[] | null,
  registry: readonly Projection[] = PROJECTIONS,
): Projection[] {
  if (names === null || names.length === 0) return [...registry];
  return names.map((name) => {
    const projection = registry.find((candidate) => candidate.name === name);
    if (!projection) {
      const known = registry.map((candidate) => candidate.name).join(", ");
      throw new UnknownProjectionError(`unknown projection ${name} (known: ${known})`);
    }
    return projection;
  });
}
