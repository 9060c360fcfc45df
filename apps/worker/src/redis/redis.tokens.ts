/** The worker's names for the connections of `@switchyard/redis`'s RedisModule. */
export { REDIS as REDIS_COMMANDS, REDIS_BLOCKING as REDIS_BULL } from '@switchyard/redis';
