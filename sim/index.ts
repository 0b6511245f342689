/**
 * `spive/sim`: the simulator as a library, for users' own tests.
 *
 *   import { simulate } from 'spive/sim';
 *   const result = await simulate(app, { seed: 1, faults: 'swarm' });
 *   expect(result.violations).toEqual([]);   // else: result.repro is the command that reproduces it
 */
export { simulate, reproCommand, type SimulateOptions, type SimulationResult, type Violation } from './simulate.ts';
export { DEFAULT_FAULTS, NO_FAULTS, FAULT_KINDS, resolveFaults, swarmFaults, type FaultOptions, type FaultPreset, type FaultKind } from './faults.ts';
export { DeterminismViolationError } from './real-world-guard.ts';
export type { WorkloadShape } from './workload.ts';
export { SimDisk, DEFAULT_SIM_DISK_OPTIONS, type SimDiskOptions } from './disk.ts';
export { Scheduler, SIM_EPOCH_MS } from './scheduler.ts';
export { fuzz } from './fuzz.ts';
