/** The two-cluster example configuration the guide walks through. */
import { projectFile } from './doc-blocks';

/** Path of the example configuration, relative to the project root. */
export const DOCS_EXAMPLE_CONFIG = 'examples/config/multi-cluster.json';

/** The example configuration as parsed JSON (before validation). */
export function exampleConfig(): { clusters: Record<string, unknown>[] } {
  return JSON.parse(projectFile(DOCS_EXAMPLE_CONFIG)) as { clusters: Record<string, unknown>[] };
}
