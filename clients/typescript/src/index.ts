/**
 * `@toolkit-sync/client`: typed access to the Toolkit Sync API for frontends.
 * See docs/console.md for how it is generated and used.
 */
export * from "./client";
export * from "./realtime";
export * from "./problems";
export type { paths, components } from "./schema";
