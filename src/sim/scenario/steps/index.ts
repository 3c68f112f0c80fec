/**
 * The step modules of every system, in the order their ops are listed in the schema. A system
 * that adds steps (mmu/devices, vcm, gmem, gunyah) adds its module here.
 */
import { createStepRegistry } from "../registry.js";
import type { StepRegistry } from "../registry.js";
import type { StepModule } from "../step-module.js";
import { gmemSteps } from "./gmem.js";
import { graphSteps } from "./graph.js";
import { gunyahSteps } from "./gunyah.js";
import { physSteps } from "./phys.js";
import { statisticsSteps } from "./statistics.js";
import { translationSteps } from "./translation.js";
import { vcmSteps } from "./vcm.js";

export { gmemSteps } from "./gmem.js";
export { graphSteps, reachTable } from "./graph.js";
export { ACCEPTED, GUNYAH_VM, gunyahSteps, PARCEL } from "./gunyah.js";
export { ALLOCATION, physSteps } from "./phys.js";
export { statisticsSteps } from "./statistics.js";
export { translationSteps } from "./translation.js";
export { ASSOCIATION, BOUND, PHYSMEM, RESERVATION, VCM, vcmSpace, vcmSteps } from "./vcm.js";

/** Every built-in step module. */
export const BUILTIN_STEP_MODULES: readonly StepModule[] = [
  physSteps,
  statisticsSteps,
  translationSteps,
  graphSteps,
  vcmSteps,
  gunyahSteps,
  gmemSteps,
];

/** The registry of the built-in step modules, used when no other registry is given. */
export const defaultStepRegistry: StepRegistry = createStepRegistry(BUILTIN_STEP_MODULES);
