// Training worker (thread `t`): claims work of each phase (see hist-kernel.mjs) on the shared
// training memory. Phases are started and joined through Atomics on the control words; after init
// the thread only posts 'ready' once and then blocks in its serve loop until told to stop.
import { parentPort } from 'node:worker_threads';
import { serveWorker } from './hist-kernel.mjs';

parentPort.once('message', (msg) => {
  parentPort.postMessage('ready');
  serveWorker(msg.memory, msg.config, msg.thread);
  parentPort.close();
});
