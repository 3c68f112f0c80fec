/**
 * `memweave rm serve --scenario FILE`: the resource manager of the Gunyah platform a scenario
 * builds, as its steps leave it (VMs allocated, parcels lent, ... by the scenario are there
 * when the endpoint starts).
 *
 * The scenario's own message-queue hub (its `gunyah.*` steps' clients) stops delivering
 * notifications once the run is over, so that every notification the RM posts afterwards goes
 * to the endpoint's connections.
 */
import type { ResourceManager } from "../gunyah/rm/rm.js";
import type { ScenarioGunyah } from "../sim/scenario/machine/gunyah.js";
import { gunyahOf } from "../sim/scenario/machine/gunyah.js";
import { formatScenarioError, runScenario } from "../sim/index.js";
import { loadScenarioFile } from "../sim/node/index.js";

/** The scenario's RM, or the lines to print about why there is none. */
export type ScenarioRm =
  | { readonly ok: true; readonly rm: ResourceManager; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Load and run the scenario in `file`; take its Gunyah machine's RM. */
export async function scenarioRm(file: string): Promise<ScenarioRm> {
  const loaded = await loadScenarioFile(file);
  if (!loaded.ok) return { ok: false, errors: loaded.errors.map(formatScenarioError) };
  let g: ScenarioGunyah | undefined;
  const result = runScenario(loaded.scenario, {
    onFinish: (machine) => {
      g = gunyahOf(machine);
    },
  });
  if (g === undefined)
    return {
      ok: false,
      errors: [`${file}: the machine has no gunyah section (machine.gunyah): nothing to serve`],
    };
  g.hub.dispose();
  const { failed } = result.expectations;
  const warnings =
    failed > 0 || result.stoppedAt !== undefined
      ? [
          `warning: ${file}: ${failed} expectation${failed === 1 ? "" : "s"} failed${result.stoppedAt !== undefined ? `, stopped at step ${result.stoppedAt}` : ""}; serving the machine as the steps left it`,
        ]
      : [];
  return { ok: true, rm: g.rm, warnings };
}
