export * from "./types.js";
export type { GmemCostSink } from "./cost-sink.js";
export * from "./policy.js";
export type { GmFault, GmMemcpy, GmMmu, GmPmap, GmPmapShare, GmRange } from "./mmu.js";
export { GmDev } from "./device.js";
export { GmPage, Hnode } from "./hnode.js";
export type { HnodeStats } from "./hnode.js";
export { GmMapping, VmObject } from "./vm-object.js";
export type { GmPieces, HostPage } from "./vm-object.js";
export { GmAs, GmContext } from "./as.js";
export { GmProcess, MMAP_BASE, MMAP_END } from "./process.js";
export type { MmapOptions, Vma } from "./process.js";
export { GmemCore } from "./core.js";
export type { DevFaultPath, FaultOutcome, GmemDetail, GmemOptions, GmemStats } from "./core.js";
export { cpuFault, freeBlock, gmDevFault, gmHostFaultLocked, moveToHost } from "./fault.js";
export { allocDevicePage, evictRound, finishReclaim, reclaim } from "./evict.js";
export { hmadvise } from "./madvise.js";
export { hmemcpy } from "./hmemcpy.js";
export { AcceleratorDriver, DriverPmap } from "./accelerator-driver.js";
export type { AcceleratorDriverOptions, AcceleratorDriverStats } from "./accelerator-driver.js";
export { Gmem } from "./gmem.js";
export type { AddAcceleratorResult, CreateProcessOptions, DevCreateOptions } from "./gmem.js";
export {
  COST_PARAM_KEYS,
  CostModel,
  DEFAULT_COST_PARAMS,
  formatDuration,
  linkName,
} from "./cost.js";
export type { CostBreakdown, CostCounts, CostParams, LinkCost } from "./cost.js";
export * from "./trace/index.js";
export {
  choosePolicy,
  costModelOf,
  createReplayMachine,
  diffBreakdown,
  offsetCursor,
  POLICY_NAMES,
  policyKeys,
  policyPreset,
  REPLAY_COUNTERS,
  REPLAY_LAYOUT,
  replayStats,
  replayTrace,
  settingKeys,
  splitSettings,
} from "./replay.js";
export type {
  PolicyChoice,
  ReplayCounter,
  ReplayMachine,
  ReplayMachineOptions,
  ReplayMismatch,
  ReplayOptions,
  ReplayResult,
  ReplayStats,
  SettingValue,
  SplitSettings,
} from "./replay.js";
export { compareTable, countersTable, timeTable } from "./replay-report.js";
export type { ReplaySummary, ReplayTable } from "./replay-report.js";
export * from "./uvm/index.js";
