// Histogram worker: instantiates the kernel on the shared training memory and builds the
// histograms of the feature range it is given for each batch of nodes (one batch per tree level).
import { parentPort } from 'node:worker_threads';
import { buildHistograms, instantiateKernel } from './hist-kernel.mjs';

let memory, kernel, layout;

parentPort.on('message', (msg) => {
  if (msg.type === 'init') {
    memory = msg.memory;
    layout = msg.layout;
    kernel = instantiateKernel(memory);
    return;
  }
  try {
    buildHistograms(kernel, memory, layout, msg.bins, msg.features, msg.from, msg.to, msg.nodes, msg.nNodes);
    parentPort.postMessage({ ok: true });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.stack ? err.stack : err) });
  }
});
