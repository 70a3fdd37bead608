// Preloaded (node --import) into every app `npm start` runs. Node has no PR_SET_PDEATHSIG: a child learns of
// its parent's death only through something the parent held open. start.ts gives each app an IPC channel;
// when the start process dies, however it dies (kill -9 included), the channel closes and the app stops
// itself as if sent SIGTERM (its own graceful shutdown), with a hard exit in case that hangs.
const HARD_EXIT_MS = 20_000;
/** Set by start.ts on the apps it spawns; removed here so that processes an app forks (the gateway's
 *  cluster workers, whose IPC channel is the cluster's) keep their own behaviour. */
const MARKER = 'FLEET_START_WATCH_PARENT';

const marked = process.env[MARKER] === '1';
delete process.env[MARKER];
if (marked && process.channel) {
  // The channel must not keep the app alive by itself, nor stop it from exiting on its own.
  process.channel.unref();
  process.once('disconnect', () => {
    setTimeout(() => process.exit(1), HARD_EXIT_MS).unref();
    process.kill(process.pid, 'SIGTERM');
  });
}
