/**
 * Algorithm 13 (DTraining) and its parts: loss, optimisers, schedules, clipping, training checkpoints.
 */
export { dTraining, type TrainingOptions, type TrainingResult, type TrainingStatus } from "./dtraining.js";
export { nextTokenLoss, _nextTokenLoss, accumulatedGrads, evaluateLoss, checkBatch } from "./loss.js";
export { Optimizer, createOptimizer, optimizerFromState, resolveOptimizer, selector, isNoDecay, optimizerDefaults, type OptimizerOptions, type AdamWOptions, type SGDOptions, type OptimizerHyper, type OptimizerState, type Selector } from "./optim.js";
export { schedule, lrAt, resolveSchedule, scheduleDefaults, type ScheduleSpec, type ResolvedSchedule } from "./schedule.js";
export { clipByGlobalNorm, globalNorm, clipScale } from "./clip.js";
export { saveTrainingState, loadTrainingState, CTXLAB_VERSION, TRAINER_STATE_FILE, OPTIMIZER_FILE, METRICS_FILE, type TrainingState, type LoadedTrainingState } from "./state.js";
export { logTable, logCsv, LOG_COLUMNS, type TrainRow } from "./log.js";
