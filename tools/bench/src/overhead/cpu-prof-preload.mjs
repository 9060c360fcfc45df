// Preloaded into the stack's Node processes by `npm run bench -- overhead --cpu-prof DIR` (through
// NODE_OPTIONS=--import, since Node refuses --cpu-prof there): the first SIGWINCH starts a V8 CPU
// profile, the second writes it to $SWITCHYARD_CPU_PROF_DIR/CPU.<pid>.cpuprofile — so only the
// load phase is profiled, not start-up. (Not SIGUSR2: NestJS's enableShutdownHooks() shuts down on it.)
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.SWITCHYARD_CPU_PROF_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  let running = false;
  process.on('SIGWINCH', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, res) => {
      if (!err) fs.writeFileSync(path.join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
