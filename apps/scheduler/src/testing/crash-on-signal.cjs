// Test fixture (node --require): on SIGWINCH (which nothing else here listens to; NestJS's shutdown hooks take SIGUSR2) the process throws an error nothing catches, as a
// defect would, from inside the running service (not a signal that kills it from outside).
process.on('SIGWINCH', () => {
  setImmediate(() => {
    throw new Error('a crash the test asked for');
  });
});
