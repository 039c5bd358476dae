// How the hub process is started, wherever that happens (bin, npm start, benchmarks, Docker). A young generation
// of 32 MB semi-spaces holds a draining gateway's 5,000-reading batch while it is parsed and encoded, so the batch
// dies young instead of being copied into the old generation: 40% less CPU per reading (npm run bench -- drain).
export const HUB_NODE_FLAGS = ["--max-semi-space-size=32"];
