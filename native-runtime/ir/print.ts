// Human-readable dump of a graph: numbered nodes with their inputs, outputs, dtypes and shapes.

import type { Graph } from './graph.ts';

export function printGraph(g: Graph, indent = ''): string {
  const lines: string[] = [`${indent}graph ${g.name}`];
  for (const v of g.inputs) lines.push(`${indent}  input  ${v}`);
  lines.push(`${indent}  ${g.initializers.length} initializers`);
  g.nodes.forEach((n, i) => {
    const ins = n.inputs.map((v) => (v ? `%${v.name}` : '_')).join(', ');
    const outs = n.outputs.map(String).join(', ');
    lines.push(
      `${indent}  ${String(i).padStart(4)}: ${outs} = ${n.domain ? `${n.domain}.` : ''}${n.op}(${ins})`,
    );
    for (const a of Object.values(n.attrs))
      if (a.type === 'graph') lines.push(printGraph(a.value, `${indent}      `));
  });
  for (const v of g.outputs) lines.push(`${indent}  output ${v}`);
  return lines.join('\n');
}
