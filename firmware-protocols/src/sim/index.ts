export { generateDay, seededRandom, type TimelineEvent, type DayOptions, withExtraKeypads } from "./day.ts";
export { SimDevice, type SimDeviceSpec } from "./device.ts";
export { backfill, LivePlayer, type PlayedDevice, PlayPosition, type Progress, SeqStore, toPayload } from "./player.ts";
export { type ApprovalEvent, approvalEvents, ApprovalSystemsPlayer } from "./approvals.ts";
export { DEMO_SCENARIOS, demoHallScenario, demoSiteScenario, liveDayStart, type Scenario } from "./scenario.ts";
export { SerialDeviceSimulator } from "./serial-device.ts";
export { AdmsTerminalSimulator, type AdmsTerminalOptions } from "./adms-terminal.ts";
