// A Playground reply saved as a training example: the row a dataset of a given format stores for
// "this conversation, then this answer" (the ReFT curation loop: ask, fix the answer, train on it).
// A prompt-completion or alpaca row holds one prompt and its answer, which is what training sends
// through the chat template as one user message; a conversation with earlier turns or a system
// prompt needs a chat row (messages), or it would train on a different prompt than was asked.

export type ExampleFormat = 'prompt-completion' | 'alpaca' | 'chat';

export interface ExampleMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * The row `format` stores for `prompt` (the messages sent, ending with the user's) answered by
 * `completion`, or why it cannot hold it (one line). `datasetName` names the dataset in that line.
 */
export function trainingRow(
  format: ExampleFormat,
  prompt: readonly ExampleMessage[],
  completion: string,
  datasetName: string,
): { row: Record<string, unknown> } | { problem: string } {
  if (!completion.trim()) return { problem: 'The answer to learn is empty: write the answer you want.' };
  const user = prompt.at(-1)?.content ?? '';
  if (format === 'chat')
    return { row: { messages: [...prompt, { role: 'assistant', content: completion }] } };
  if (prompt.length > 1) {
    const what = prompt[0].role === 'system' && prompt.length === 2 ? 'a system prompt' : 'earlier turns';
    return {
      problem: `“${datasetName}” holds ${format} rows, one prompt and its answer; this reply follows ${what}, which only a chat dataset holds: choose a chat dataset or a new one.`,
    };
  }
  return format === 'alpaca'
    ? { row: { instruction: user, input: '', output: completion } }
    : { row: { prompt: user, completion } };
}

/** The format a new dataset gets for `prompt`: prompt-completion for one message, else chat. */
export function newDatasetFormat(prompt: readonly ExampleMessage[]): ExampleFormat {
  return prompt.length === 1 ? 'prompt-completion' : 'chat';
}
