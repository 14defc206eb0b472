// The devices a session, a run or a command may ask for. A module of its own so the backend, the CLI
// and the renderer can name them without loading ONNX Runtime (session.ts does).
export const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'] as const;
export type DeviceChoice = (typeof DEVICES)[number];
