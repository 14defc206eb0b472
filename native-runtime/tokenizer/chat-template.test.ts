import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import { FormatError, ValidationError } from '../errors.ts';
import { findChatTemplate, renderChatTemplate, validateMessages } from './chat-template.ts';

const dir = tempDir('reft-chat-');

const msgs = [
  { role: 'user', content: 'hi' },
  { role: 'assistant', content: 'hello' },
];

describe('findChatTemplate', () => {
  test('string in tokenizer_config.json', () => {
    const src = findChatTemplate(dir, { chat_template: '{{ messages[0].content }}' });
    assert.deepEqual(src, {
      template: '{{ messages[0].content }}',
      source: 'tokenizer_config.json chat_template',
    });
  });

  test('list of named templates: default and by name', () => {
    const cfg = {
      chat_template: [
        { name: 'default', template: 'D' },
        { name: 'tool_use', template: 'T' },
      ],
    };
    assert.equal(findChatTemplate(dir, cfg)?.template, 'D');
    assert.equal(findChatTemplate(dir, cfg, 'tool_use')?.template, 'T');
    assert.throws(
      () => findChatTemplate(dir, cfg, 'rag'),
      (e: unknown) =>
        e instanceof FormatError && e.code === 'missing-chat-template' && e.message.includes('rag'),
    );
  });

  test('none at all → null', () => {
    assert.equal(findChatTemplate(dir, {}), null);
  });

  test('chat_template.jinja wins over tokenizer_config.json; additional_chat_templates by name', () => {
    const d = mkdtempSync(join(dir, 'j-'));
    writeFileSync(join(d, 'chat_template.jinja'), 'FILE');
    mkdirSync(join(d, 'additional_chat_templates'));
    writeFileSync(join(d, 'additional_chat_templates', 'tool_use.jinja'), 'TOOLS');
    assert.deepEqual(findChatTemplate(d, { chat_template: 'CFG' }), {
      template: 'FILE',
      source: 'chat_template.jinja',
    });
    assert.equal(findChatTemplate(d, {}, 'tool_use')?.template, 'TOOLS');
  });
});

describe('renderChatTemplate', () => {
  const src = (template: string) => ({ template, source: 'test.jinja' });

  test('variables: messages, bos/eos, add_generation_prompt, extra', () => {
    const t = src(
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m['content'] }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}{{ flag }}",
    );
    assert.equal(
      renderChatTemplate(t, msgs, { bosToken: '<s>', eosToken: '</s>' }),
      '<s>[user]hi</s>[assistant]hello</s>',
    );
    assert.equal(
      renderChatTemplate(t, msgs, {
        bosToken: '<s>',
        eosToken: '</s>',
        addGenerationPrompt: true,
        extra: { flag: '!' },
      }),
      '<s>[user]hi</s>[assistant]hello</s>[assistant]!',
    );
  });

  test('raise_exception → ValidationError with the template message', () => {
    const t = src(
      "{% if messages[0].role != 'system' %}{{ raise_exception('System message first!') }}{% endif %}ok",
    );
    assert.throws(
      () => renderChatTemplate(t, msgs),
      (e: unknown) =>
        e instanceof ValidationError &&
        e.code === 'chat-template-rejected' &&
        e.message.includes('System message first!') &&
        e.message.includes('test.jinja'),
    );
  });

  test('globals: range, true/none, strftime_now, namespace', () => {
    const t = src(
      "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}{{ true }}{{ none is none }}{{ strftime_now('%Y')|length }}",
    );
    assert.equal(renderChatTemplate(t, []), '3truetrue4');
  });

  test('extra variables cannot override the reserved ones', () => {
    assert.equal(renderChatTemplate(src('{{ messages|length }}'), msgs, { extra: { messages: [] } }), '2');
  });

  test('a template that does not parse → FormatError naming the source', () => {
    assert.throws(
      () => renderChatTemplate(src('{% for %}'), msgs),
      (e: unknown) =>
        e instanceof FormatError && e.code === 'bad-chat-template' && e.message.startsWith('test.jinja'),
    );
  });

  // The template comes with the model, from anyone on the Hub: its work is bounded (template-budget.ts).
  test('a hostile template is stopped with one clear error: loops, huge ranges, doubling lists and texts', () => {
    const hostile = [
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x',
      '{% for i in range(10000000000) %}{% endfor %}x',
      '{% set s = namespace(a=[1]) %}{% for i in range(64) %}{% set s.a = s.a + s.a %}{% endfor %}{{ s.a|length }}',
      '{% set s = namespace(v="xx") %}{% for i in range(40) %}{% set s.v = s.v ~ s.v %}{% endfor %}{{ s.v|length }}',
    ];
    for (const t of hostile) {
      const started = Date.now();
      assert.throws(
        () => renderChatTemplate(src(t), msgs),
        (e: unknown) =>
          e instanceof FormatError &&
          e.code === 'chat-template-too-costly' &&
          /^test\.jinja: the chat template was stopped: it /.test(e.message),
        t,
      );
      // Unbounded, the first ran for hours and the others ended the process out of memory.
      assert.ok(Date.now() - started < 30_000, `${t}: ${Date.now() - started} ms`);
    }
  });

  test('a long conversation still renders within the budget', () => {
    const long = Array.from({ length: 2000 }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: `message ${i} `.repeat(50),
    }));
    const t = src(
      "{% for m in messages %}{% if m.role == 'user' %}{{ '<|user|>' + m.content|trim }}{% else %}{{ '<|bot|>' + m.content }}{% endif %}{% endfor %}",
    );
    assert.equal(renderChatTemplate(t, long).split('<|').length - 1, 2000);
  });
});

test('validateMessages', () => {
  assert.equal(validateMessages(msgs).length, 2);
  assert.throws(
    () => validateMessages({}, 'chat.json'),
    (e: unknown) => e instanceof ValidationError && e.message.startsWith('chat.json'),
  );
  assert.throws(
    () => validateMessages([{ content: 'x' }], 'chat.json'),
    (e: unknown) => e instanceof ValidationError && e.message.includes('chat.json[0].role'),
  );
  assert.throws(() => validateMessages([{ role: 'user', content: 3 }]), /messages\[0\]\.content/);
});
