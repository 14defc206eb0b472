// A chat template is a program that comes with the model (chat_template.jinja, tokenizer_config.json),
// and models come from anyone on the Hub. @huggingface/jinja runs it without limits: two nested
// `range(100000)` loops held the studio's backend loop for hours (the Train wizard's preview renders
// on it), and `range(10**10)` or a list doubled in a loop ends the process out of memory. Here a
// render gets a budget, counted where the work happens, and stops with one clear error past it:
//   - steps: every node evaluated plus every item of every list a node produces, so a loop's
//     iterations, a range's numbers and a filter's output count (an empty loop body included);
//   - characters: the length of every string a node produces, and no one string over MAX_CHARS.
// Qwen2.5's template takes about 29 steps a message (28,517 for 1,000 messages, 89 ms): the budget
// leaves room for conversations far longer than any context window, and stops a hostile template
// within a second or two (a few on a loaded 2-core machine).

import { type Environment, Interpreter } from '@huggingface/jinja';

/** Nodes evaluated plus list items produced, per render. */
export const MAX_STEPS = 500_000;
/** Characters of the strings produced, per render (a message's text is read a few times). */
export const MAX_TOTAL_CHARS = 200_000_000;
/** The longest string one node may produce. */
export const MAX_CHARS = 64 * 1024 * 1024;

/** Thrown when a render passes its budget; chat-template.ts words it. */
export class TemplateOverBudget extends Error {}

/** A runtime value of the interpreter: `type` is its class name ('StringValue', 'ArrayValue', …). */
interface Value {
  type: string;
  value: unknown;
}

// The slice of the interpreter used here. The package's typings do not resolve under this project's
// module resolution (its index.d.ts imports './runtime' without an extension): Interpreter is untyped.
interface JinjaInterpreter {
  run(program: unknown): Value;
  evaluate(statement: unknown, environment: Environment): Value;
}
const Base = Interpreter as unknown as new (env: Environment) => JinjaInterpreter;

const count = (n: number) => n.toLocaleString('en');

/** An interpreter that counts its work and stops past the budget. */
export class BudgetedInterpreter extends Base {
  #steps = 0;
  #chars = 0;

  #charge(n: number): void {
    this.#steps += n;
    if (this.#steps > MAX_STEPS) throw new TemplateOverBudget(`it ran more than ${count(MAX_STEPS)} steps`);
  }

  override evaluate(statement: unknown, environment: Environment): Value {
    this.#charge(1);
    const v = super.evaluate(statement, environment);
    if (v.type === 'ArrayValue' || v.type === 'TupleValue') this.#charge((v.value as unknown[]).length);
    else if (v.type === 'StringValue') {
      const n = (v.value as string).length;
      if (n > MAX_CHARS)
        throw new TemplateOverBudget(`it made a text of more than ${count(MAX_CHARS)} characters`);
      this.#chars += n;
      if (this.#chars > MAX_TOTAL_CHARS)
        throw new TemplateOverBudget(`it handled more than ${count(MAX_TOTAL_CHARS)} characters of text`);
    }
    return v;
  }
}

/** Python's range(stop) / range(start, stop[, step]); past the step budget it is refused unmade. */
export function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  if (!(Math.ceil((stop - start) / step) <= MAX_STEPS))
    throw new TemplateOverBudget(`it asked for range() of more than ${count(MAX_STEPS)} numbers`);
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}
