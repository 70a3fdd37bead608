// Preload (NODE_OPTIONS="--import <this file>", env FLEET_CPU_PROFILE_DIR): records a V8 CPU profile of the
// whole process and writes <dir>/<pid>.cpuprofile on exit. Used by bench/e2e.ts with BENCH_PROFILE_DIR
// (node refuses --cpu-prof in NODE_OPTIONS). Same-thread inspector sessions answer synchronously, so the
// profile can be taken inside the 'exit' handler.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.FLEET_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err)
        writeFileSync(
          join(dir, `${process.argv[1]?.split('/').at(-3) ?? 'node'}-${process.pid}.cpuprofile`),
          JSON.stringify(res.profile),
        );
    });
  });
}
