/** ioredis connection for plain commands (relay publishes, readiness ping). */
export const REDIS_COMMANDS = Symbol('REDIS_COMMANDS');
/** ioredis connection shared by the BullMQ workers (maxRetriesPerRequest: null, as BullMQ requires). */
export const REDIS_BULL = Symbol('REDIS_BULL');
