// Loaded first by main.ts: OpenTelemetry must patch http, Nest and pg before they are required.
// The telemetry entry point loads nothing but OpenTelemetry (see docs/operations.md).
import { startTelemetry } from '@runforge/telemetry/start';

startTelemetry('gateway');
