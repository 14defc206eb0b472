// The keys a stored row of each training data format has, as messages list them: in a module of its
// own, with no Node imports, so that the window says it as the CLI and the backend do.

export const ROW_KEYS = {
  'prompt-completion': '"prompt" and "completion"',
  alpaca: '"instruction", "input" and "output"',
  chat: '"messages"',
} as const;
