/** The scheduler's command connection, from `@switchyard/redis`'s RedisModule (imported by the app module). */
export { REDIS } from '@switchyard/redis';
