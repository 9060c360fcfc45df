// Test fixture (node --require): on SIGWINCH the process throws an error nothing catches, as a defect
// would, from inside the running service (not a signal that kills it from outside). SIGWINCH because
// nothing else here listens to it (NestJS's shutdown hooks take SIGUSR2 and the usual others).
process.on('SIGWINCH', () => {
  setImmediate(() => {
    throw new Error('a crash the test asked for');
  });
});
