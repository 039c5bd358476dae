// How the gateway process is started, wherever that happens (bin, npm start, tests, benchmark, Docker). An edge box
// has little memory: a 1 MB young-generation semi-space, and glibc malloc kept to two arenas that return freed
// memory early, hold the resident size under 100 MB with 200 devices (npm run bench -- gateway measures it).
export const GATEWAY_NODE_FLAGS = ["--max-semi-space-size=1"];
export const GATEWAY_ENV = { MALLOC_ARENA_MAX: "2", MALLOC_TRIM_THRESHOLD_: "131072" };
