export { start, current } from './agent.js';
export { run } from './context.js';
export { DEFAULTS } from './config.js';
export { LoopwatchError, LoopwatchTypeError, LoopwatchRangeError, ERROR_CODES, WARNING_CODES } from './errors.js';
export type { Monitor } from './agent.js';
export type { Options, LogDestination } from './config.js';
export type { BlockEvent } from './event.js';
export type { BlockContext, RunContext } from './context.js';
export type { StackFrame } from './attribution/frames.js';
